"""Snakemake adapter: write results/reports/lbm.md from the validation and benchmark JSON files."""

import logging

from advdiff.reporting.lbm import write_lbm_report

smk = snakemake  # type: ignore[name-defined]  # noqa: F821  (injected by Snakemake)
logging.basicConfig(filename=smk.log[0], level=logging.INFO)
write_lbm_report(smk.input.validation, list(smk.input.bench), list(smk.input.figures), smk.output[0])
