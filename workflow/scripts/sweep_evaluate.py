"""Snakemake adapter: score one sweep point's samples, as `advdiff evaluate --run` does, into its MLflow run."""

import json
from pathlib import Path

from advdiff.runs import evaluate_run
from advdiff.sweep import configure_job
from advdiff.tracking import SweepTracking
from advdiff.training.trainer import CONFIG_FILE, SUMMARY_FILE

smk = snakemake  # type: ignore[name-defined]  # noqa: F821  (injected by Snakemake)
configure_job(smk.threads, smk.log[0], smk.resources.get("gpu", 0))
run_dir = Path(smk.params.run_dir)
config = json.loads((run_dir / CONFIG_FILE).read_text())
step = json.loads((run_dir / SUMMARY_FILE).read_text())["step"]
ev = smk.params.evaluate
with SweepTracking.from_config(smk.config).point_run(smk.wildcards.point, config, stage="evaluate") as run:
    scores = evaluate_run(
        run_dir,
        ev["n"],
        smk.output[0],
        samples=smk.input.samples,
        n_real=ev["n_real"],
        real_split=ev["real_split"],
        feature_extractor=ev["feature_extractor"],
        device=ev["device"],
        batch_size=ev["batch_size"],
        kid_subset=ev["kid_subset_size"],
        progress=False,
        clean_fid=ev.get("clean_fid", False),
    )
    # the scores are written: a tracking failure from here on is a warning (the track job replays it)
    run.log_metrics({f"eval.{key}": value for key, value in scores.items()}, step=step)
    run.log_artifact(smk.output[0], "metrics")
