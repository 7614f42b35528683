"""Publishing: copy the reports the workflow built under ``results/reports/`` into the tracked ``reports/``.

The workflow writes every report, table and figure under ``results/reports/`` (never committed), and
only its last step copies them into ``reports/``, after every point record and MLflow run exists: a
record never sees a working tree that the same run has already changed.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path

from advdiff.reporting.sweep import remove_stale_point_figures


def published_path(
    path: str | os.PathLike[str], src_root: str | os.PathLike[str], dst_root: str | os.PathLike[str]
) -> Path:
    """Where ``path`` (a file under ``src_root``) is published: the same relative path under ``dst_root``."""
    rel = Path(path).relative_to(Path(src_root))
    return Path(dst_root) / rel


def publish_reports(
    pairs: Iterable[tuple[str | os.PathLike[str], str | os.PathLike[str]]], sweeps: Sequence[str] = ()
) -> list[Path]:
    """Copy each (source, target) pair of files; the targets are the sources' :func:`published_path`.

    Each copy is written next to its target and renamed over it, so a killed copy never leaves half a
    figure behind. Then, for each sweep name in ``sweeps``, per-point figure copies in the targets'
    ``figures`` folders that were not published now (points that left the sweep) are removed, as the
    sweep report does in its own folder. Returns the published paths.
    """
    out = []
    for src, dst in pairs:
        src, dst = Path(src), Path(dst)
        if src.name != dst.name:
            raise ValueError(f"publishing {src} as {dst}: a report keeps its name (and its relative path)")
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_name(f".{dst.name}.publishing")
        shutil.copyfile(src, tmp)
        os.replace(tmp, dst)
        out.append(dst)
    for figures in sorted({p.parent for p in out if p.parent.name == "figures"}):
        for name in sweeps:
            remove_stale_point_figures(figures, name, set(out))
    return out
