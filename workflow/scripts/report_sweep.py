"""Snakemake adapter: the sweep's tables and figures from the point records (not from MLflow)."""

import logging

from advdiff.reporting.sweep import write_sweep_report

smk = snakemake  # type: ignore[name-defined]  # noqa: F821  (injected by Snakemake)
logging.basicConfig(filename=smk.log[0], level=logging.INFO)
write_sweep_report(list(smk.input.records), smk.output.md, name=smk.params.name,
                   compare_paper=smk.params.compare_paper)  # fmt: skip
