"""Snakemake adapter: train (or resume) one sweep point, as `advdiff train` does, into its live MLflow run."""

from advdiff.runs import train_run
from advdiff.sweep import configure_job
from advdiff.tracking import SweepTracking
from advdiff.training import TrainConfig

smk = snakemake  # type: ignore[name-defined]  # noqa: F821  (injected by Snakemake)
configure_job(smk.threads, smk.log[0], smk.resources.get("gpu", 0))
config = TrainConfig.from_dict(smk.params.config)
tracking = SweepTracking.from_config(smk.config)
# opens (or resumes) the point's run; KILLED on SIGTERM/SIGINT, FAILED if training raises
with tracking.point_run(smk.wildcards.point, config.to_dict(), stage="train", dataset=smk.input[0]) as run:
    train_run(config, smk.params.run_dir, progress=False, on_log=run.on_log)
