"""Snakemake adapter: log one sweep point's record to MLflow (one run per point, no duplicates)."""

import json
from pathlib import Path

from advdiff.sweep import configure_job, write_record
from advdiff.tracking import track_record

smk = snakemake  # type: ignore[name-defined]  # noqa: F821  (injected by Snakemake)
configure_job(log_file=smk.log[0])
record = json.loads(Path(smk.input[0]).read_text())
result = track_record(record, smk.params.experiment, uri=smk.params.uri, extra_artifacts=[smk.input[0]])
write_record(result, smk.output[0])
