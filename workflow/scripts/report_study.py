"""Snakemake adapter: the study report (table, intervals, paired differences, figures) from the records."""

import logging

from advdiff.reporting.study import write_study_report

smk = snakemake  # type: ignore[name-defined]  # noqa: F821  (injected by Snakemake)
logging.basicConfig(filename=smk.log[0], level=logging.INFO)
write_study_report(
    records=list(smk.input.records),
    outputs=dict(smk.output.items()),
    runs_dir=smk.params.runs_dir,
    benchmarks=smk.params.benchmarks,
    cross_machine_table=smk.params.cross_machine or None,
)
