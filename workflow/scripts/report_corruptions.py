"""Snakemake adapter: write results/reports/corruptions.md from the corrupt summaries and benchmark files."""

from advdiff.reporting.corruptions import write_corruption_report
from advdiff.sweep import configure_job

smk = snakemake  # type: ignore[name-defined]  # noqa: F821  (injected by Snakemake)
configure_job(smk.threads, smk.log[0])  # one thread per reserved core: no oversubscription
write_corruption_report(list(smk.input.summaries), list(smk.input.bench), smk.output[0])
