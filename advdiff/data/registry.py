"""``load_dataset``: one entry point for every data set, by name."""

from __future__ import annotations

import logging
from collections.abc import Callable
from os import PathLike
from pathlib import Path
from typing import Any

from advdiff.data.base import DataRootError, ImageDataset, check_channels, check_limit, check_size, check_split
from advdiff.data.builtin import load_cifar10, load_fashion_mnist, load_mnist
from advdiff.data.folder import ImageFolderDataset
from advdiff.errors import bad_value

log = logging.getLogger(__name__)

DEFAULT_DATASET = "fashion_mnist"


def _load_folder(root, split, *, size, channels, limit, download, verify=True) -> ImageDataset:
    if root is None:
        raise bad_value("root", root, "the folder of images to load (required by dataset 'folder')")
    return ImageFolderDataset(root, size, channels, split=split, limit=limit, verify=verify)


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
    if root is None:
        return None
    if not isinstance(root, str | PathLike) or not str(root).strip():
        raise bad_value(key, root, "None (the default location) or a folder path")
    path = Path(root)
    if not path.is_dir():
        what = "it is a file" if path.exists() else "it does not exist"
        allowed = (f"an existing folder holding data set {name!r} ({what}); create it first to download "
                   "into it, or set no root to use the default location")  # fmt: skip
        if name == "folder":
            allowed = f"an existing folder of images ({what})"
        raise DataRootError(str(bad_value(key, str(root), allowed)))
    return path


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
) -> ImageDataset:
    """Load a data set by name as an :class:`~advdiff.data.base.ImageDataset`.

    Parameters
    ----------
    name
        ``fashion_mnist`` (default), ``mnist``, ``cifar10`` or ``folder``; case and ``-``/``_`` are ignored.
    root
        Where the data lives: the image folder for ``folder`` (required); for the others a folder
        searched first and the download target (default :func:`~advdiff.data.builtin.default_root`).
    split
        ``train`` or ``test`` (for ``folder``: the ``root/<split>`` subfolder when there is one).
    size
        Side of the square output images in pixels (centre crop + resize); None keeps the native
        size (28 for (Fashion-)MNIST, 32 for CIFAR-10) and is not allowed for ``folder``.
    channels
        1 (grey) or 3 (RGB); None keeps the native channels (RGB for ``folder``).
    limit
        Keep only the first ``limit`` images.
    download
        Whether torchvision may download a data set that is not found locally; None means the
        data set's default (yes for ``fashion_mnist``, no for ``mnist`` and ``cifar10``).
    verify
        ``folder`` only: decode every file now, so that a bad one is named at once (default). Turn it
        off when every image is about to be read anyway (the read names a bad file the same way).
    root_key
        How errors about ``root`` name it (e.g. ``--data-root`` for the command line, ``dataset.root``).

    Returns
    -------
    ImageDataset
        Items ``(image, label)`` with ``image`` float32 (C, H, W) in [0, 1]; ``.tensor(limit)``
        gives a batch (N, C, H, W) and ``.labels(limit)`` the int64 labels (-1 where there are none).

    Raises
    ------
    advdiff.errors.ConfigError
        An argument is outside what is allowed (the message names it, its value and what is allowed).
    advdiff.data.DataError
        A file or folder cannot be used (named in the message); :class:`~advdiff.data.DataUnavailableError`
        when the data set is not here and could not be fetched (the message says how to get it);
        :class:`~advdiff.data.base.DataRootError` when ``root`` is given but is not an existing folder.
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
    check_root(key, root, root_key)
    loader, download_default = DATASETS[key]
    return loader(
        root,
        split,
        size=size,
        channels=channels,
        limit=limit,
        download=download_default if download is None else download,
        **({"verify": verify} if key == "folder" else {}),
    )


def preview_images(
    name: str,
    *,
    root: str | PathLike[str] | None = None,
    size: int | None = None,
    channels: int | None = None,
    n: int = 4,
) -> tuple[Any, str]:
    """``n`` images to illustrate a corruption with, and the split they came from.

    The test split where the data set has one; a flat image folder has none, and then its first
    training images are used (figures only: nothing is scored on them). Returns ``(tensor, split)``.
    """
    if name == "folder" and root is not None and not (Path(root) / "test").is_dir():
        log.info("image folder %s has no test/ subfolder: figures use its first %d training images", root, n)
        split = "train"
    else:
        split = "test"
    data = load_dataset(name, root=root, split=split, size=size, channels=channels, limit=n)
    return data.tensor(n), split
