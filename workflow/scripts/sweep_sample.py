"""Snakemake adapter: draw one sweep point's samples, as `advdiff sample` does."""

from advdiff.runs import sample_run
from advdiff.sweep import configure_job
from advdiff.training import TrainConfig

smk = snakemake  # type: ignore[name-defined]  # noqa: F821  (injected by Snakemake)
configure_job(smk.threads, smk.log[0], smk.resources.get("gpu", 0))
sample_run(TrainConfig.from_dict(smk.params.config), smk.params.n, smk.params.run_dir, sampler=smk.params.sampler,
           seed=smk.params.seed, out=smk.output.grid, progress=False)  # fmt: skip
