"""Writing files so that readers never see half of one."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any


def atomic_write(
    path: str | os.PathLike[str],
    write: Callable[[IO[Any]], object],
    mode: str = "wb",
    *,
    keep: str | os.PathLike[str] | None = None,
    fsync: bool = False,
) -> Path:
    """Write ``path`` through ``write(file)`` on a temporary file beside it, then rename it over ``path``.

    ``mode`` is ``wb`` or ``w`` (UTF-8). With ``keep``, the old ``path`` moves there first (a crash in
    between leaves both files readable, never only the old one); ``fsync`` flushes the data to disk
    before the rename. Returns ``path``.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, mode, encoding=None if "b" in mode else "utf-8") as fh:
            write(fh)
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
        if keep is not None and target.exists():
            # a second name for the old file, then the new file in its place
            old = Path(keep)
            link = old.with_name(f".{old.name}.{os.getpid()}.tmp")
            link.unlink(missing_ok=True)
            os.link(target, link)
            os.replace(link, old)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically (:func:`atomic_write`); returns ``path``."""
    return atomic_write(path, lambda fh: fh.write(text), "w")
