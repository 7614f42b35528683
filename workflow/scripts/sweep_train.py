"""Snakemake adapter: train (or resume) one sweep point, as `advdiff train` does."""

from advdiff.runs import train_run
from advdiff.sweep import configure_job
from advdiff.training import TrainConfig

smk = snakemake  # type: ignore[name-defined]  # noqa: F821  (injected by Snakemake)
configure_job(smk.threads, smk.log[0], smk.resources.get("gpu", 0))
train_run(TrainConfig.from_dict(smk.params.config), smk.params.run_dir, progress=False)
