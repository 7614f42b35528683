"""Snakemake adapter: write results/reports/lbm.md from the validation and benchmark JSON files."""

from advdiff.reporting.lbm import write_lbm_report
from advdiff.sweep import configure_job

smk = snakemake  # type: ignore[name-defined]  # noqa: F821  (injected by Snakemake)
configure_job(smk.threads, smk.log[0])  # one thread per reserved core: no oversubscription
write_lbm_report(smk.input.validation, list(smk.input.bench), list(smk.input.figures), smk.output[0])
