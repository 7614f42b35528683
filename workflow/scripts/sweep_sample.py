"""Snakemake adapter: draw one sweep point's samples, as `advdiff sample` does, and add them to its MLflow run."""

from advdiff.runs import sample_run
from advdiff.sweep import configure_job
from advdiff.tracking import SweepTracking
from advdiff.training import TrainConfig

smk = snakemake  # type: ignore[name-defined]  # noqa: F821  (injected by Snakemake)
configure_job(smk.threads, smk.log[0], smk.resources.get("gpu", 0))
config = TrainConfig.from_dict(smk.params.config)
with SweepTracking.from_config(smk.config).point_run(smk.wildcards.point, config.to_dict(), stage="sample") as run:
    summary = sample_run(
        config,
        smk.params.n,
        smk.params.run_dir,
        sampler=smk.params.sampler,
        seed=smk.params.seed,
        out=smk.output.grid,
        progress=False,
    )
    # the files are written: a tracking failure from here on is a warning (the track job replays it)
    run.log_metrics(
        {"sample.images_per_second": summary["images_per_second"], "sample.seconds": summary["seconds"]},
        step=summary["step"],
    )
    run.log_artifact(smk.output.grid, "samples")
    run.log_artifact(smk.output.summary, "samples")
    run.log_reference(smk.output.samples, "samples")
