"""Snakemake adapter: score one sweep point's samples, as `advdiff evaluate --run` does."""

from advdiff.metrics import evaluate_run
from advdiff.sweep import configure_job

smk = snakemake  # type: ignore[name-defined]  # noqa: F821  (injected by Snakemake)
configure_job(smk.threads, smk.log[0], smk.resources.get("gpu", 0))
ev = smk.params.evaluate
evaluate_run(smk.params.run_dir, ev["n"], smk.output[0], samples=smk.input.samples, n_real=ev["n_real"],
             real_split=ev["real_split"], feature_extractor=ev["feature_extractor"], device=ev["device"],
             batch_size=ev["batch_size"], kid_subset=ev["kid_subset_size"], progress=False)  # fmt: skip
