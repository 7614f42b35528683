"""Any folder of images (FFHQ, AFHQ, your own) as a lazy :class:`ImageFolderDataset`.

The folder is searched recursively for files with an image extension (:data:`IMAGE_EXTENSIONS`,
any case); hidden files and folders (name starting with ``.``) are skipped; files are taken in
sorted order of their path relative to the folder. If the folder has a subfolder named like the
split (``train/``, ``test/``) only that subfolder is used; without one, ``split="train"`` uses the
whole folder and ``split="test"`` is an error.

Every image is centre-cropped to a square, resized to ``size`` x ``size`` (bicubic) and converted
to grey (``channels=1``, ITU-R 601 luma) or RGB (``channels=3``, the default); alpha is dropped,
palette images go through RGBA, 16-bit grey is scaled to 8 bits. Images have no labels (-1).

When the data set is made, every file is opened and fully decoded once, so a corrupt, truncated,
non-image or unsupported-mode file raises :class:`DataError` naming it before any work starts.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from os import PathLike
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from advdiff.data.base import (
    UNLABELLED,
    DataError,
    DataUnavailableError,
    ImageDataset,
    check_channels,
    check_limit,
    check_size,
    check_split,
)
from advdiff.errors import bad_value

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm", ".pnm")
SUPPORTED_MODES = ("1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr")
SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N")
_CAUGHT = (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError)


def list_images(folder: Path) -> list[Path]:
    """Image files under ``folder`` (recursive, hidden entries skipped), sorted by relative path."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            if not name.startswith(".") and name.lower().endswith(IMAGE_EXTENSIONS):
                found.append(Path(dirpath) / name)
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())


def _to_mode(image: Image.Image, path: Path, channels: int) -> Image.Image:
    """Convert a loaded image to ``L`` (channels=1) or ``RGB`` (channels=3), or raise naming the file."""
    mode = image.mode
    if mode in SIXTEEN_BIT_MODES:
        values = np.asarray(image, dtype=np.float64)
        image = Image.fromarray(np.round(values / 257.0).astype(np.uint8), mode="L")
    elif mode not in SUPPORTED_MODES:
        raise DataError(
            f"image file {path} has mode {mode!r}, which is not supported: expected one of "
            f"{', '.join(SUPPORTED_MODES + SIXTEEN_BIT_MODES)} (8-bit, or 16-bit grey)"
        )
    elif mode in ("P", "PA"):
        image = image.convert("RGBA")  # applies palette transparency without a warning
    return image.convert("L" if channels == 1 else "RGB")


def read_image(path: str | PathLike[str], *, channels: int = 3, size: int | None = None) -> Image.Image:
    """Open and fully decode one image file, convert it, and optionally crop/resize it to ``size``.

    Raises :class:`DataError` naming the file if it is unreadable, not an image, corrupt,
    truncated or of an unsupported mode.
    """
    path = Path(path)
    try:
        with Image.open(path) as opened:
            opened.load()
            image = _to_mode(opened, path, channels)
    except DataError:
        raise
    except _CAUGHT as exc:
        raise DataError(f"cannot read image file {path}: {exc}") from exc
    width, height = image.size
    if width < 1 or height < 1:
        raise DataError(f"image file {path} is empty ({width}x{height} pixels)")
    if size is not None and (width, height) != (size, size):
        side = min(width, height)
        left, top = (width - side) // 2, (height - side) // 2
        box = (left, top, left + side, top + side)
        image = image.resize((size, size), Image.Resampling.BICUBIC, box=box)
    return image


def image_to_tensor(image: Image.Image) -> torch.Tensor:
    """An ``L`` or ``RGB`` PIL image as a float32 tensor (C, H, W) in [0, 1]."""
    array = np.asarray(image, dtype=np.uint8)
    if array.ndim == 2:
        array = array[:, :, None]
    return torch.from_numpy(array.transpose(2, 0, 1).copy()).to(torch.float32).div_(255.0)


class ImageFolderDataset(ImageDataset):
    """Lazy data set of the images in a folder; each item is read from disk when asked for.

    Parameters
    ----------
    root
        The folder (searched recursively).
    size
        Side of the square output images, in pixels (required: folders mix sizes).
    channels
        1 (grey) or 3 (RGB, the default when None).
    split
        ``train`` or ``test``: selects ``root/<split>`` when that subfolder exists.
    limit
        Keep only the first ``limit`` files (sorted order); None keeps all.
    verify
        Open and decode every kept file now so that bad files are reported at once (default).
    """

    def __init__(
        self,
        root: str | PathLike[str],
        size: int,
        channels: int | None = None,
        *,
        split: str = "train",
        limit: int | None = None,
        verify: bool = True,
    ) -> None:
        self.name = "folder"
        self.split = check_split(split)
        size = check_size(size)
        if size is None:
            raise bad_value("size", size, "an integer >= 1 (required by the folder loader: images differ in size)")
        self.size = size
        self.channels = check_channels(channels) or 3
        limit = check_limit(limit)
        self.root = self._split_folder(Path(root), self.split)
        files = list_images(self.root)
        if not files:
            others = sum(len(names) for _, _, names in os.walk(self.root))
            raise DataError(
                f"image folder {self.root} holds no image files ({others} other files); "
                f"expected files ending in {', '.join(IMAGE_EXTENSIONS)}"
            )
        self.files = files[:limit]
        if verify:
            self.verify()
        log.info(
            "image folder %s: %d images at %dx%d, %d channel(s)", self.root, len(self.files), size, size, self.channels
        )

    @staticmethod
    def _split_folder(root: Path, split: str) -> Path:
        if not root.exists():
            raise DataUnavailableError(f"image folder {root} does not exist")
        if not root.is_dir():
            raise DataError(f"image folder {root} is not a folder")
        if (root / split).is_dir():
            return root / split
        if split == "train":
            return root
        raise DataError(f"image folder {root} has no {split!r} subfolder, so it has no {split} split")

    def verify(self) -> None:
        """Decode every file once (a few threads); raise :class:`DataError` naming the first bad one."""
        channels = self.channels
        workers = max(1, min(8, os.cpu_count() or 1))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for _ in pool.map(lambda p: read_image(p, channels=channels), self.files):
                pass

    def __len__(self) -> int:
        return len(self.files)

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.channels, self.size, self.size)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image = read_image(self.files[index], channels=self.channels, size=self.size)
        return image_to_tensor(image), UNLABELLED
