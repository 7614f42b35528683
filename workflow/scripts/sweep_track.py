"""Snakemake adapter: complete one sweep point's MLflow run from its record (FINISHED; a rerun adds nothing)."""

import json
from pathlib import Path

from advdiff.sweep import build_sweep, configure_job, write_record
from advdiff.tracking import track_record

smk = snakemake  # type: ignore[name-defined]  # noqa: F821  (injected by Snakemake)
configure_job(log_file=smk.log[0])
record = json.loads(Path(smk.input[0]).read_text())
points = len(build_sweep(smk.config["sweep"]).points)  # the sweep's parent run finishes with its last point
result = track_record(
    record,
    smk.params.experiment,
    uri=smk.params.uri,
    extra_artifacts=[smk.input[0]],
    sweep=smk.config["sweep"],
    sweep_points=points,
    benchmarks=smk.params.benchmarks,
)
write_record(result, smk.output[0])
