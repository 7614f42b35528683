"""Snakemake adapter: gather one sweep point's result files into its record (what reports and MLflow read)."""

from advdiff.sweep import build_record, build_sweep, configure_job, write_record

smk = snakemake  # type: ignore[name-defined]  # noqa: F821  (injected by Snakemake)
configure_job(log_file=smk.log[0])
sweep = build_sweep(smk.config["sweep"])
point = sweep.points[smk.wildcards.point]
record = build_record(sweep, point, smk.params.run_dir, smk.input.samples, smk.input.scores, smk.params.figures)
write_record(record, smk.output[0])
