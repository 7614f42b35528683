"""The sweep's data check: the training images are where the configuration says (a JSON note)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from advdiff.errors import AdvdiffError, ConfigError


class DataMissingError(AdvdiffError, FileNotFoundError):
    """The sweep's images are not where the configuration says; the message says where to put them."""


def check_data(dataset: Mapping[str, Any], out: str | os.PathLike[str]) -> dict[str, Any]:
    """Check that the sweep's images exist (loading one); write a short JSON note.

    For a flat image folder the note is also the manifest of its held-out split: seed, size, the
    held-out files by name and their SHA-256 (the training runs record the same SHA-256). Raises
    :class:`DataMissingError` saying where to put the images when they are not there, and
    :class:`~advdiff.errors.ConfigError` naming ``sweep.dataset.holdout`` when it leaves nothing to train on.
    """
    from advdiff.data import DataError, load_dataset
    from advdiff.data.folder import ImageFolderDataset

    ds = dict(dataset)
    folder_args = {"holdout": ds.get("holdout"), "holdout_seed": ds.get("holdout_seed", 0)}
    try:
        data = load_dataset(
            ds["name"],
            root=ds.get("root"),
            split=ds.get("split", "train"),
            size=ds.get("size"),
            channels=ds.get("channels"),
            limit=ds.get("limit"),
            root_key="sweep.dataset.root",
            **(folder_args if ds["name"] == "folder" else {}),
        )
        n = len(data)
        if n < 1:
            raise DataError(f"no images in data set {ds['name']!r}")
        first = data[0][0]
    except ConfigError as exc:
        if exc.key in ("holdout", "holdout_seed"):
            raise exc.prefixed("sweep.dataset") from None
        raise _missing(ds, exc) from None
    except (DataError, OSError) as exc:
        raise _missing(ds, exc) from None
    info = {"dataset": ds, "images": n, "shape": list(first.shape)}
    if isinstance(data, ImageFolderDataset):
        info["split"] = data.split_info()
        if data.heldout_names:
            info["holdout_files"] = list(data.heldout_names)
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(info, indent=2) + "\n")
    return info


def _missing(ds: Mapping[str, Any], exc: Exception) -> DataMissingError:
    """The error of :func:`check_data` when the images are not there: what failed and where to put them."""
    if ds["name"] == "folder":
        root = Path(ds.get("root") or "data/images").resolve()
        where = (
            f"Put the images (PNG or JPEG files, e.g. FFHQ at 128x128) in {root}"
            + (f"/{ds.get('split')}" if ds.get("split") else "")
            + " (or in that folder directly), or set sweep.dataset.root to where they are."
        )
    else:
        where = (
            f"Install data set {ds['name']!r} (Fashion-MNIST: `make data`, Debian package "
            "dataset-fashion-mnist) or set sweep.dataset.root to its folder."
        )
    return DataMissingError(f"sweep.dataset: the images are not here ({exc}). {where}")
