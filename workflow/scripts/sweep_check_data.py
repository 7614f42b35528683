"""Snakemake adapter: check that the sweep's images are there (else say where to put them)."""

from advdiff.sweep import check_data, configure_job

smk = snakemake  # type: ignore[name-defined]  # noqa: F821  (injected by Snakemake)
configure_job(log_file=smk.log[0])
check_data(smk.params.dataset, smk.output[0])
