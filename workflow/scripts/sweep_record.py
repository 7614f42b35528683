"""Snakemake adapter: gather one sweep point's result files into its record (what reports and MLflow read)."""

from advdiff.sweep import build_record, build_sweep, configure_job, write_record
from advdiff.tracking import SweepTracking

smk = snakemake  # type: ignore[name-defined]  # noqa: F821  (injected by Snakemake)
configure_job(log_file=smk.log[0])
sweep = build_sweep(smk.config["sweep"])
point = sweep.points[smk.wildcards.point]
with SweepTracking.from_config(smk.config).point_run(point.point_id, point.config.to_dict(), stage="record") as run:
    record = build_record(sweep, point, smk.params.run_dir, smk.input.samples, smk.input.scores, smk.params.figures)
    write_record(record, smk.output[0])
    # the record is written: a tracking failure from here on is a warning (the track job replays it)
    for name, path in record["files"].items():
        if name in ("trajectory_strip", "velocity_field", "power_spectra"):
            run.log_artifact(path, "figures")
