"""Snakemake adapter: copy results/reports/ into the tracked reports/ (the workflow's last step).

Writes exactly its declared outputs and deletes nothing: per-point figures that an earlier sweep
published (points no longer in it) stay in reports/figures/ and are listed in the log and on stderr,
for the user to `git rm`.
"""

import logging
import re
import sys

from advdiff.naming import POINT_ID_PATTERN
from advdiff.reporting.publish import publish_reports
from advdiff.reporting.sweep import POINT_FIGURES

smk = snakemake  # type: ignore[name-defined]  # noqa: F821  (injected by Snakemake)
logging.basicConfig(filename=smk.log[0], level=logging.INFO)
# the outputs are the report inputs' published paths, in the same order (workflow/rules/publish.smk)
published = publish_reports(zip(smk.input.reports, smk.output, strict=True))
logging.info("published %d files: %s", len(published), ", ".join(map(str, published)))
name = smk.params.sweep
keep = set(published)
pattern = re.compile(rf"sweep_{re.escape(name)}_{POINT_ID_PATTERN}_(?:{'|'.join(POINT_FIGURES)})\.png")
stale = sorted(
    str(path)
    for folder in {p.parent for p in published if p.parent.name == "figures"}
    for path in folder.glob(f"sweep_{name}_*.png")
    if path not in keep and pattern.fullmatch(path.name)
)
if stale:
    message = (
        f"{len(stale)} per-point figures in reports/ are not published by this sweep (points that left "
        f"it); left in place: git rm {' '.join(stale)}"
    )
    logging.warning(message)
    sys.stderr.write(f"publish: {message}\n")
