"""Snakemake adapter: copy results/reports/ into the tracked reports/ (the workflow's last step).

Writes exactly its declared outputs and deletes nothing: per-point figures that an earlier sweep
published (points no longer in it) stay in reports/figures/ and are listed in the log and on stderr,
for the user to `git rm`.
"""

import logging
import sys

from advdiff.reporting.publish import publish_reports
from advdiff.reporting.sweep import stale_point_figures

smk = snakemake  # type: ignore[name-defined]  # noqa: F821  (injected by Snakemake)
logging.basicConfig(filename=smk.log[0], level=logging.INFO)
# the outputs are the report inputs' published paths, in the same order (workflow/rules/publish.smk)
published = publish_reports(zip(smk.input.reports, smk.output, strict=True))
logging.info("published %d files: %s", len(published), ", ".join(map(str, published)))
name = smk.params.sweep
folders = sorted({p.parent for p in published if p.parent.name == "figures"})
stale = [str(path) for folder in folders for path in stale_point_figures(folder, name, set(published))]
if stale:
    message = (
        f"{len(stale)} per-point figures in reports/ are not published by this sweep (points that left "
        f"it); left in place: git rm {' '.join(stale)}"
    )
    logging.warning(message)
    sys.stderr.write(f"publish: {message}\n")
