"""Checks of data-set settings (name, split, size, channels, limit, hold-out, root) that need no torch.

:class:`~advdiff.training.TrainConfig` and the workflow's parse-time checks use these: Snakemake
resolves every point's configuration before any job starts, in a process that may have no torch.
:mod:`advdiff.data`, whose loaders import torch, uses these same functions.
"""

from __future__ import annotations

import operator
from os import PathLike
from pathlib import Path

from advdiff.errors import ConfigError, bad_value

DATASETS: tuple[str, ...] = ("fashion_mnist", "mnist", "cifar10", "folder")
"""Names :func:`advdiff.data.load_dataset` accepts (:func:`advdiff.data.available_datasets`)."""
SPLITS = ("train", "test")
CHANNELS = (1, 3)


def _check_int(key: str, value: object, allowed: str, minimum: int) -> int:
    if isinstance(value, bool):
        raise bad_value(key, value, allowed)
    try:
        number = operator.index(value)  # int and NumPy integers, not floats or strings
    except TypeError:
        raise bad_value(key, value, allowed) from None
    if number < minimum:
        raise bad_value(key, value, allowed)
    return number


def check_split(split: object) -> str:
    """Return ``split`` if it is one of :data:`SPLITS`, else raise :class:`~advdiff.errors.ConfigError`."""
    if not isinstance(split, str) or split not in SPLITS:
        raise bad_value("split", split, f"one of {', '.join(SPLITS)}")
    return split


def check_size(size: object) -> int | None:
    """``None`` (keep the native size) or an integer >= 1: the side of the square output images."""
    if size is None:
        return None
    return _check_int("size", size, "None or an integer >= 1 (side of the square images, in pixels)", 1)


def check_channels(channels: object) -> int | None:
    """``None`` (keep the native channels), 1 (grey) or 3 (RGB)."""
    if channels is None:
        return None
    allowed = "None, 1 (grey) or 3 (RGB)"
    number = _check_int("channels", channels, allowed, 1)
    if number not in CHANNELS:
        raise bad_value("channels", channels, allowed)
    return number


def check_limit(limit: object) -> int | None:
    """``None`` (all images) or an integer >= 1: how many images to keep, from the start."""
    if limit is None:
        return None
    return _check_int("limit", limit, "None or an integer >= 1", 1)


def check_holdout(holdout: object, key: str = "holdout") -> int | None:
    """``None`` (the default size of a flat folder's held-out split) or an integer >= 0 (0: nothing held out)."""
    allowed = "null (10 % of a flat folder's images, at most 5 000) or an integer >= 0 (0: nothing held out)"
    if holdout is None:
        return None
    if isinstance(holdout, bool) or not isinstance(holdout, int) or holdout < 0:
        raise bad_value(key, holdout, allowed)
    return holdout


def check_holdout_seed(seed: object, key: str = "holdout_seed") -> int:
    """The seed of the held-out subset: an integer >= 0."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise bad_value(key, seed, "an integer >= 0")
    return seed


def check_root(name: str, root: object, key: str = "root", missing: type[ConfigError] = ConfigError) -> Path | None:
    """``None`` (the data set's default locations) or ``root`` as a path, which must be an existing folder.

    A folder that does not exist raises ``missing`` (:func:`advdiff.data.check_root` passes its
    ``DataRootError``, which lives with the loaders); a value that is no path, a ``ConfigError``.
    """
    if root is None:
        return None
    if not isinstance(root, str | PathLike) or not str(root).strip():
        raise bad_value(key, root, "None (the default location) or a folder path")
    path = Path(root)
    if not path.is_dir():
        what = "it is a file" if path.exists() else "it does not exist"
        allowed = (
            f"an existing folder holding data set {name!r} ({what}); create it first to download "
            "into it, or set no root to use the default location"
        )
        if name == "folder":
            allowed = f"an existing folder of images ({what})"
        error = bad_value(key, str(root), allowed)
        raise error if missing is ConfigError else missing(str(error))
    return path
