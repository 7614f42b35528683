"""Snakemake adapter: write results/reports/corruptions.md from the corrupt summaries and benchmark files."""

import logging

from advdiff.reporting.corruptions import write_corruption_report

smk = snakemake  # type: ignore[name-defined]  # noqa: F821  (injected by Snakemake)
logging.basicConfig(filename=smk.log[0], level=logging.INFO)
write_corruption_report(list(smk.input.summaries), list(smk.input.bench), smk.output[0])
