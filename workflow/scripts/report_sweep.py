"""Snakemake adapter: the sweep's tables and figures from the point records (not from MLflow).

The report is written into a staging folder and exactly the rule's declared outputs are moved into
results/reports/ (a file it did not declare stops the job): the job neither writes nor deletes any
other file there, e.g. the per-point figure copies of points that left the sweep.
"""

import logging
import os
import shutil
import tempfile
from pathlib import Path

from advdiff.reporting.sweep import write_sweep_report
from advdiff.sweep import configure_job

smk = snakemake  # type: ignore[name-defined]  # noqa: F821  (injected by Snakemake)
configure_job(smk.threads, smk.log[0])  # one thread per reserved core: no oversubscription
page = Path(smk.output.md)
root = page.parent  # results/reports: the page, tables/ and figures/ keep their relative paths
declared = {Path(os.path.relpath(f, root)) for f in smk.output}
with tempfile.TemporaryDirectory(prefix="report_sweep.") as tmp:
    staged = Path(tmp)
    write_sweep_report(
        list(smk.input.records), staged / page.name, name=smk.params.name, compare_paper=smk.params.compare_paper
    )
    written = {p.relative_to(staged) for p in staged.rglob("*") if p.is_file()}
    if written != declared:
        raise RuntimeError(
            f"write_sweep_report wrote {sorted(map(str, written - declared))} that the rule does not "
            f"declare, and not {sorted(map(str, declared - written))} that it does "
            "(workflow/rules/report.smk)"
        )
    for rel in sorted(declared):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.move(staged / rel, root / rel)
logging.info("moved %d declared files into %s", len(declared), root)
