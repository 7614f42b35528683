"""``load_dataset``: one entry point for every data set, by name."""

from __future__ import annotations

import logging
from collections.abc import Callable
from os import PathLike
from pathlib import Path
from typing import Any

import advdiff.data_settings as settings
from advdiff.data.base import DataRootError, ImageDataset
from advdiff.data.builtin import load_cifar10, load_fashion_mnist, load_mnist
from advdiff.data.folder import ImageFolderDataset
from advdiff.data_settings import (
    check_channels,
    check_holdout,
    check_holdout_seed,
    check_limit,
    check_size,
    check_split,
)
from advdiff.errors import bad_value

log = logging.getLogger(__name__)

DEFAULT_DATASET = "fashion_mnist"


def _load_folder(
    root, split, *, size, channels, limit, download, verify=True, holdout=0, holdout_seed=0
) -> ImageDataset:
    if root is None:
        raise bad_value("root", root, "the folder of images to load (required by dataset 'folder')")
    return ImageFolderDataset(
        root, size, channels, split=split, limit=limit, verify=verify, holdout=holdout, holdout_seed=holdout_seed
    )


# name -> (loader, default of `download`)
DATASETS: dict[str, tuple[Callable[..., ImageDataset], bool]] = {
    "fashion_mnist": (load_fashion_mnist, True),
    "mnist": (load_mnist, False),
    "cifar10": (load_cifar10, False),
    "folder": (_load_folder, False),
}


def check_root(name: str, root: object, key: str = "root") -> Path | None:
    """``None`` (the data set's default locations) or ``root`` as a path, which must be an existing folder.

    A configured root is used alone (never replaced by another copy of the data), so one that does
    not exist is refused here, before any work: :class:`~advdiff.data.base.DataRootError` (a
    ``ConfigError`` and a ``DataError``) naming ``key`` and the path. Whether the folder holds the
    data is checked by the loader, which names the folders it searched.
    """
    return settings.check_root(name, root, key, missing=DataRootError)


def available_datasets() -> tuple[str, ...]:
    """Names accepted by :func:`load_dataset`."""
    return tuple(DATASETS)


def load_dataset(
    name: str = DEFAULT_DATASET,
    *,
    root: str | PathLike[str] | None = None,
    split: str = "train",
    size: int | None = None,
    channels: int | None = None,
    limit: int | None = None,
    download: bool | None = None,
    verify: bool = True,
    root_key: str = "root",
    holdout: int | None = 0,
    holdout_seed: int = 0,
) -> ImageDataset:
    """Load a data set by name as an :class:`~advdiff.data.base.ImageDataset`.

    ``name``: ``fashion_mnist``, ``mnist``, ``cifar10`` or ``folder`` (case and ``-``/``_`` ignored).
    ``size`` is the side of the square output in pixels (None: native, not allowed for ``folder``) and
    ``channels`` 1 or 3 (None: native, RGB for ``folder``); ``download=None`` is the data set's default
    (yes only for ``fashion_mnist``); ``holdout``/``holdout_seed`` choose a flat folder's test split.
    Items are ``(image, label)``, image float32 (C, H, W) in [0, 1], label -1 where there is none. Raises
    :class:`~advdiff.errors.ConfigError` for a bad argument and :class:`~advdiff.data.base.DataError` for
    an unusable file or folder (:class:`~advdiff.data.base.DataUnavailableError`: not here and not
    fetched; :class:`~advdiff.data.base.DataRootError`: ``root`` is no folder). See docs/data.md.
    """
    key = name.strip().lower().replace("-", "_") if isinstance(name, str) else None
    if key not in DATASETS:
        raise bad_value("dataset", name, f"one of {', '.join(DATASETS)}")
    split = check_split(split)
    size = check_size(size)
    channels = check_channels(channels)
    limit = check_limit(limit)
    if download is not None and not isinstance(download, bool):
        raise bad_value("download", download, "None, True or False")
    if not isinstance(verify, bool):
        raise bad_value("verify", verify, "True or False")
    holdout = check_holdout(holdout)
    holdout_seed = check_holdout_seed(holdout_seed)
    if key != "folder" and holdout:
        raise bad_value("holdout", holdout, f"0 or null for dataset {key!r} (it has its own test split)")
    check_root(key, root, root_key)
    loader, download_default = DATASETS[key]
    folder_args = {"verify": verify, "holdout": holdout, "holdout_seed": holdout_seed} if key == "folder" else {}
    return loader(
        root,
        split,
        size=size,
        channels=channels,
        limit=limit,
        download=download_default if download is None else download,
        **folder_args,
    )


def preview_images(
    name: str,
    *,
    root: str | PathLike[str] | None = None,
    size: int | None = None,
    channels: int | None = None,
    n: int = 4,
    holdout: int | None = None,
    holdout_seed: int = 0,
) -> tuple[Any, str]:
    """``n`` images to illustrate a corruption with, and the split they came from.

    The test split: for a flat image folder its held-out subset (``holdout``, ``holdout_seed``; the
    default size when None), the images training never reads. Only a flat folder that holds nothing
    out (``holdout=0``) gives its first training images (figures only: nothing is scored on them).
    Returns ``(tensor, split)``.
    """
    split = "test"
    if name == "folder" and root is not None and not (Path(root) / "test").is_dir() and holdout == 0:
        log.info(
            "image folder %s has no test/ subfolder and holds nothing out: figures use its first %d training images",
            root,
            n,
        )
        split = "train"
    folder_args = {"holdout": holdout, "holdout_seed": holdout_seed} if name == "folder" else {}
    data = load_dataset(name, root=root, split=split, size=size, channels=channels, limit=n, **folder_args)
    return data.tensor(n), split
