"""Snakemake adapter: the study report (table, intervals, paired differences, figures) from the records."""

from advdiff.reporting.study import write_study_report
from advdiff.sweep import configure_job

smk = snakemake  # type: ignore[name-defined]  # noqa: F821  (injected by Snakemake)
configure_job(smk.threads, smk.log[0])  # one thread per reserved core: no oversubscription
write_study_report(
    records=list(smk.input.records),
    outputs=dict(smk.output.items()),
    runs_dir=smk.params.runs_dir,
    benchmarks=smk.params.benchmarks,
    cross_machine_table=smk.params.cross_machine or None,
)
