"""Snakemake adapter: trajectory strip (and velocity field) of one sweep point's corruption, as `advdiff corrupt`."""

from pathlib import Path

from advdiff.data import preview_images
from advdiff.reporting.family_figures import corruption_figures
from advdiff.sweep import configure_job
from advdiff.training import TrainConfig

smk = snakemake  # type: ignore[name-defined]  # noqa: F821  (injected by Snakemake)
configure_job(smk.threads, smk.log[0])
config = TrainConfig.from_dict(smk.params.config)
ds = config.dataset
# the test split's first images; for a flat image folder (FFHQ) its held-out subset, which training never reads
x0, _ = preview_images(
    ds.name,
    root=ds.root,
    size=ds.size,
    channels=ds.channels,
    n=smk.params.n_images,
    holdout=ds.holdout,
    holdout_seed=ds.holdout_seed,
)
corruption_figures({config.family: config.build_corruption()}, x0, Path(smk.output.strip).parent)
