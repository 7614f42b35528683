"""Snakemake adapter: copy results/reports/ into the tracked reports/ (the workflow's last step)."""

import logging

from advdiff.reporting.publish import publish_reports

smk = snakemake  # type: ignore[name-defined]  # noqa: F821  (injected by Snakemake)
logging.basicConfig(filename=smk.log[0], level=logging.INFO)
# the outputs are the report inputs' published paths, in the same order (workflow/rules/publish.smk)
published = publish_reports(zip(smk.input.reports, smk.output, strict=True), sweeps=[smk.params.sweep])
logging.info("published %d files: %s", len(published), ", ".join(map(str, published)))
