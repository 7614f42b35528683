"""Snakemake adapter: trajectory strip (and velocity field) of one sweep point's corruption, as `advdiff corrupt`."""

from pathlib import Path

from advdiff.corrupt import corruption_figures
from advdiff.data import load_dataset
from advdiff.sweep import configure_job
from advdiff.training import TrainConfig

smk = snakemake  # type: ignore[name-defined]  # noqa: F821  (injected by Snakemake)
configure_job(smk.threads, smk.log[0])
config = TrainConfig.from_dict(smk.params.config)
ds = config.dataset
x0 = load_dataset(ds.name, root=ds.root, split="test", size=ds.size, channels=ds.channels,
                  limit=smk.params.n_images).tensor(smk.params.n_images)  # fmt: skip
corruption_figures({config.family: config.build_corruption()}, x0, Path(smk.output.strip).parent)
