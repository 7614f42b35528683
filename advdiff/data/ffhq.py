"""FFHQ at 128 x 128 from the user's own copy: checked, resized where needed, written as a flat folder.

FFHQ (Karras et al. 2019, https://github.com/NVlabs/ffhq-dataset; CC BY-NC-SA 4.0 by NVIDIA, each
image under its Flickr author's licence) cannot be downloaded here. :func:`prepare_ffhq` reads the
official ``thumbnails128x128`` folder (or a zip of it) or resizes ``images1024x1024``, checks the count
(70 000 in the official sets) and optionally each file's MD5 against ``ffhq-dataset-v2.json``, and
writes one PNG per image (``00000.png`` ...) into a staging folder renamed into place at the end, so
an interruption leaves no half-filled folder; ``manifest.sha256`` and ``prepared.json`` record it.
:func:`verify_prepared` re-checks a folder against its manifest. See
docs/reproducing-the-paper.md, "2. Prepare FFHQ from your own copy".
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import shutil
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import Any

from PIL import Image
from tqdm.auto import tqdm

from advdiff.data.base import DataError
from advdiff.errors import bad_value
from advdiff.files import atomic_write_text

log = logging.getLogger(__name__)

FFHQ_COUNT = 70_000
"""Images in the official FFHQ sets."""
SIZE = 128
MANIFEST = "manifest.sha256"
SUMMARY = "prepared.json"
_EXTENSIONS = (".png", ".jpg", ".jpeg")


def _sources(source: Path) -> tuple[str, list[str]]:
    """The kind of ``source`` (``folder`` or ``zip``) and its image names, sorted (relative paths)."""
    if source.is_dir():
        names = [
            p.relative_to(source).as_posix()
            for p in source.rglob("*")
            if p.is_file()
            and p.suffix.lower() in _EXTENSIONS
            and not any(part.startswith(".") for part in p.relative_to(source).parts)
        ]
        return "folder", sorted(names)
    if source.is_file() and zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as zf:
            names = [n for n in zf.namelist() if n.lower().endswith(_EXTENSIONS) and not n.endswith("/")]
        return "zip", sorted(names)
    raise DataError(
        f"source={str(source)!r} is not a folder or a zip file of images: pass the official "
        "thumbnails128x128 or images1024x1024 folder (or a zip of it)"
    )


def _read(source: Path, kind: str, names: list[str]) -> Iterator[tuple[str, bytes]]:
    if kind == "folder":
        for name in names:
            yield name, (source / name).read_bytes()
        return
    with zipfile.ZipFile(source) as zf:
        for name in names:
            yield name, zf.read(name)


def _official_md5(metadata: str | PathLike[str] | None) -> dict[str, str]:
    """File name (``00000.png``) -> MD5 from ``ffhq-dataset-v2.json``, for thumbnails and 1024 px images alike."""
    if metadata is None:
        return {}
    try:
        data = json.loads(Path(metadata).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(
            f"metadata={str(metadata)!r} is not a readable FFHQ metadata file (ffhq-dataset-v2.json): {exc}"
        ) from None
    out: dict[str, str] = {}
    entries = data.values() if isinstance(data, dict) else data
    for entry in entries:
        for part in ("thumbnail", "image"):
            info = entry.get(part) if isinstance(entry, dict) else None
            if isinstance(info, dict) and "file_path" in info and "file_md5" in info:
                out[f"{part}:{Path(info['file_path']).name}"] = str(info["file_md5"])
    if not out:
        raise DataError(f"metadata={str(metadata)!r} lists no thumbnail or image with file_path and file_md5")
    return out


def _check_names(src: Path, names: Sequence[str], expect: int | None) -> None:
    """The source holds ``expect`` images (when given), with no file name twice (FFHQ's names are unique)."""
    if expect is not None and len(names) != expect:
        raise DataError(
            f"source={str(src)!r} holds {len(names)} images, expected {expect} (the official FFHQ "
            "sets hold 70 000): point it at the complete thumbnails128x128 or images1024x1024 set, "
            "or pass --expect N for a subset on purpose"
        )
    stems = [Path(n).stem for n in names]
    if len(set(stems)) != len(stems):
        dup = next(s for s in stems if stems.count(s) > 1)
        raise DataError(
            f"source={str(src)!r}: two images are named {dup!r} (in different folders); FFHQ's names "
            "are unique, so this is not one FFHQ set"
        )


def _to_png(src: Path, name: str, raw: bytes, md5: Mapping[str, str] | None, size: int) -> tuple[bytes, bool] | None:
    """One source image as a ``size`` x ``size`` RGB PNG and whether it was resized; ``None`` when its MD5
    is not the published one. An unreadable or non-square image is a :class:`DataError`."""
    try:
        with Image.open(io.BytesIO(raw)) as img:
            img.load()
            rgb = img.convert("RGB")
    except OSError as exc:
        raise DataError(f"source={str(src)!r}: {name} is not a readable image ({exc})") from None
    if md5:
        part = "thumbnail" if rgb.size == (128, 128) else "image"
        want = md5.get(f"{part}:{Path(name).name}")
        if want is None or hashlib.md5(raw).hexdigest() != want:  # noqa: S324 - FFHQ's published checksums
            return None
    resized = rgb.size != (size, size)
    if resized:
        if rgb.size[0] != rgb.size[1]:
            raise DataError(
                f"source={str(src)!r}: {name} is {rgb.size[0]} x {rgb.size[1]}, not square: "
                "FFHQ's images are aligned squares"
            )
        rgb = rgb.resize((size, size), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    rgb.save(buf, format="PNG")
    return buf.getvalue(), resized


def prepare_ffhq(
    source: str | PathLike[str],
    out: str | PathLike[str],
    *,
    size: int = SIZE,
    expect: int | None = FFHQ_COUNT,
    metadata: str | PathLike[str] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Write FFHQ from ``source`` as ``size`` x ``size`` RGB PNGs in ``out``; returns the ``prepared.json`` content.

    A folder already prepared from the same source with the same settings is left as it is.
    """
    src, dst = Path(source), Path(out)
    if isinstance(size, bool) or not isinstance(size, int) or size < 8:
        raise bad_value("size", size, "an integer >= 8")
    if expect is not None and (isinstance(expect, bool) or not isinstance(expect, int) or expect < 1):
        raise bad_value("expect", expect, "an integer >= 1, or None to accept any count")
    kind, names = _sources(src)
    _check_names(src, names, expect)
    settings = {
        "source": str(src.resolve()),
        "kind": kind,
        "count": len(names),
        "size": size,
        "metadata_checked": metadata is not None,
    }
    summary_path = dst / SUMMARY
    if summary_path.is_file():
        done = json.loads(summary_path.read_text(encoding="utf-8"))
        if all(done.get(k) == v for k, v in settings.items()):
            log.info("FFHQ already prepared in %s (%d images); nothing to do", dst, done["count"])
            return done
        raise DataError(
            f"out={str(dst)!r} holds a different preparation ({summary_path}); choose another folder or remove it"
        )
    if dst.exists() and any(dst.iterdir()):
        raise DataError(
            f"out={str(dst)!r} exists and is not an FFHQ folder prepared by advdiff; choose an empty or new folder"
        )
    md5 = _official_md5(metadata)
    staging = dst.with_name(f".{dst.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    manifest, bad, resized = [], [], 0
    try:
        for name, raw in tqdm(_read(src, kind, names), total=len(names), desc="FFHQ", unit="img", disable=not progress):
            converted = _to_png(src, name, raw, md5, size)
            if converted is None:
                bad.append(name)
                continue
            data, was_resized = converted
            resized += was_resized
            target = f"{Path(name).stem}.png"
            (staging / target).write_bytes(data)
            manifest.append(f"{hashlib.sha256(data).hexdigest()}  {target}")
    except DataError:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if bad:
        shutil.rmtree(staging, ignore_errors=True)
        raise DataError(
            f"{len(bad)} of {len(names)} images do not match the MD5 of {metadata} (first: "
            f"{', '.join(bad[:3])}): the copy is damaged or not the official one"
        )
    manifest_text = "\n".join(manifest) + "\n"
    (staging / MANIFEST).write_text(manifest_text, encoding="utf-8")
    summary = {
        **settings,
        "resized": resized,
        "resample": "PIL Lanczos" if resized else "none",
        "manifest_sha256": hashlib.sha256(manifest_text.encode()).hexdigest(),
    }
    atomic_write_text(staging / SUMMARY, json.dumps(summary, indent=2) + "\n")
    if dst.exists():
        dst.rmdir()  # empty (checked above)
    staging.rename(dst)
    log.info("prepared %d FFHQ images (%d resized) in %s", len(names), resized, dst)
    return summary


def verify_prepared(folder: str | PathLike[str]) -> dict[str, Any]:
    """Re-check a prepared folder against its manifest; raises :class:`DataError` naming what differs."""
    root = Path(folder)
    if not (root / MANIFEST).is_file() or not (root / SUMMARY).is_file():
        raise DataError(f"{root} is not a folder prepared by `advdiff prepare ffhq` (no {MANIFEST} / {SUMMARY})")
    summary = json.loads((root / SUMMARY).read_text(encoding="utf-8"))
    lines = (root / MANIFEST).read_text(encoding="utf-8").splitlines()
    wrong = []
    for line in lines:
        digest, name = line.split("  ", 1)
        path = root / name
        if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            wrong.append(name)
    if wrong or len(lines) != summary.get("count"):
        raise DataError(
            f"{root}: {len(wrong)} of {len(lines)} files differ from {MANIFEST} (first: "
            f"{', '.join(wrong[:3]) or 'none'}), or the count is not {summary.get('count')}; "
            "prepare the folder again"
        )
    return summary
