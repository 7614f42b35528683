"""Any folder of images (FFHQ, AFHQ, your own) as a lazy :class:`ImageFolderDataset`.

Image files (:data:`IMAGE_EXTENSIONS`, any case, hidden ones skipped) are found recursively and taken
in sorted order of their relative path, centre-cropped to a square, resized (bicubic) and converted
to grey (ITU-R 601 luma) or RGB; they have no labels (-1). A ``train/`` or ``test/`` subfolder is a
split; a flat folder (FFHQ) can hold a fixed, seeded subset out as its test split. A corrupt or
unsupported file raises :class:`DataError` naming it before any work starts. See docs/data.md,
section "Image folders".
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from os import PathLike
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from advdiff.data.base import UNLABELLED, DataError, DataUnavailableError, ImageDataset
from advdiff.data_settings import (
    SPLITS,
    check_channels,
    check_holdout,
    check_holdout_seed,
    check_limit,
    check_size,
    check_split,
)
from advdiff.errors import ConfigError, bad_value

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm", ".pnm")
SUPPORTED_MODES = ("1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr")
SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N")
_CAUGHT = (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError)

HOLDOUT_FRACTION = 0.1
"""Share of a flat folder's images held out when no size is configured (see :func:`default_holdout`)."""
HOLDOUT_MAX = 5000
"""Most images held out by default: 5 000 of FFHQ's 70 000 (enough for a held-out FID reference)."""


def list_images(folder: Path) -> list[Path]:
    """Image files under ``folder`` (recursive, hidden entries skipped), sorted by relative path."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            if not name.startswith(".") and name.lower().endswith(IMAGE_EXTENSIONS):
                found.append(Path(dirpath) / name)
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())


def default_holdout(count: int) -> int:
    """Images held out of a flat folder of ``count`` when no size is given: 10 %, 1 to 5 000 (0 for one image)."""
    if count < 2:
        return 0
    return min(HOLDOUT_MAX, max(1, int(count * HOLDOUT_FRACTION)))


def _holdout_rank(seed: int, name: str) -> bytes:
    return hashlib.sha256(f"advdiff-holdout:{seed}:{name}".encode()).digest()


def holdout_split(names: Sequence[str], size: int, seed: int) -> tuple[list[int], list[int]]:
    """Split files (relative paths) into (training, held-out) positions, both in the given order.

    The held-out files are the ``size`` whose SHA-256 of ``seed`` and relative path is smallest: a
    function of the seed and the names alone (no RNG, no platform dependence), and a file keeps its
    side when other files are added, unless a new file ranks before it.
    """
    if not 0 <= size < max(1, len(names)):
        raise bad_value("holdout", size, f"0 to {max(0, len(names) - 1)} (fewer than the {len(names)} files)")
    ranked = sorted(range(len(names)), key=lambda i: _holdout_rank(seed, names[i]))
    held = set(ranked[:size])
    return [i for i in range(len(names)) if i not in held], sorted(held)


def names_sha256(names: Sequence[str]) -> str:
    """SHA-256 of a list of relative paths, one per line (what a record keeps instead of the list)."""
    return hashlib.sha256("".join(f"{name}\n" for name in names).encode()).hexdigest()


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


def image_to_uint8(image: Image.Image) -> torch.Tensor:
    """An ``L`` or ``RGB`` PIL image as a uint8 tensor (C, H, W)."""
    array = np.asarray(image, dtype=np.uint8)
    if array.ndim == 2:
        array = array[:, :, None]
    return torch.from_numpy(array.transpose(2, 0, 1).copy())


def image_to_tensor(image: Image.Image) -> torch.Tensor:
    """An ``L`` or ``RGB`` PIL image as a float32 tensor (C, H, W) in [0, 1]."""
    return image_to_uint8(image).to(torch.float32).div_(255.0)


def _workers() -> int:
    return max(1, min(8, os.cpu_count() or 1))


class ImageFolderDataset(ImageDataset):
    """Lazy data set of the images in a folder; each item is read from disk when asked for.

    ``root`` is searched recursively; ``size`` (pixels; required, folders mix sizes) and ``channels``
    (1 or 3; None: 3) set the output. ``split`` selects ``root/<split>`` when that subfolder exists, else,
    in a flat folder, the files outside (``train``) or inside (``test``) the subset of ``holdout`` files
    (0: none; None: :func:`default_holdout`) chosen by :func:`holdout_split` with ``holdout_seed``.
    ``limit`` keeps the first files of the split; the held-out subset is chosen from every file first.
    ``verify`` decodes every kept file now, so a bad one is named at once. See docs/data.md, section
    "Splits of a folder".
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
        holdout: int | None = 0,
        holdout_seed: int = 0,
    ) -> None:
        self.name = "folder"
        self.split = check_split(split)
        size = check_size(size)
        if size is None:
            raise bad_value("size", size, "an integer >= 1 (required by the folder loader: images differ in size)")
        self.size = size
        self.channels = check_channels(channels) or 3
        limit = check_limit(limit)
        holdout = check_holdout(holdout)
        self.holdout_seed = check_holdout_seed(holdout_seed)
        root = Path(root)
        if not root.exists():
            raise DataUnavailableError(f"image folder {root} does not exist")
        if not root.is_dir():
            raise DataError(f"image folder {root} is not a folder")
        # flat: no split subfolder at all (a train/ or test/ subfolder alone makes the folder split by folders)
        self.flat = not any((root / name).is_dir() for name in SPLITS)
        self.root = root / self.split if (root / self.split).is_dir() else root
        if not self.flat and self.root == root and self.split == "test":
            raise DataError(f"image folder {root} has no 'test' subfolder, so it has no test split")
        files = list_images(self.root)
        if not self.flat and self.root == root:  # train/ missing: the whole folder less its test/ subfolder
            files = [f for f in files if f.relative_to(root).parts[0] != "test"]
        if not files:
            others = sum(len(names) for _, _, names in os.walk(self.root))
            raise DataError(
                f"image folder {self.root} holds no image files ({others} other files); "
                f"expected files ending in {', '.join(IMAGE_EXTENSIONS)}"
            )
        self.total = len(files)
        self.holdout = 0
        self.heldout_names: list[str] = []
        if self.flat:
            names = [p.relative_to(self.root).as_posix() for p in files]
            self.holdout = default_holdout(len(files)) if holdout is None else holdout
            if self.holdout >= len(files):
                raise bad_value(
                    "holdout",
                    holdout,
                    f"0 to {len(files) - 1}: fewer than the {len(files)} images "
                    f"in {self.root} (some must be left to train on)",
                )
            train, held = holdout_split(names, self.holdout, self.holdout_seed)
            self.heldout_names = [names[i] for i in held]
            if self.split == "test" and not held:
                raise DataError(
                    f"image folder {root} has no 'test' subfolder and holds nothing out (holdout=0), so it has no "
                    "test split: set dataset.holdout > 0 (or null for the default size) to hold out a fixed subset"
                )
            files = [files[i] for i in (held if self.split == "test" else train)]
        self.files = files[:limit]
        if verify:
            self.verify()
        log.info(
            "image folder %s (%s): %d images at %dx%d, %d channel(s)%s",
            self.root,
            self.split,
            len(self.files),
            size,
            size,
            self.channels,
            f"; {self.holdout} of {self.total} held out (seed {self.holdout_seed})" if self.holdout else "",
        )

    def split_info(self) -> dict[str, object]:
        """How the folder was split, for a run's record: counts, seed and the SHA-256 of the held-out names.

        ``kind`` is ``subfolders`` (``root/train``, ``root/test``), ``holdout`` (a flat folder with a
        held-out subset) or ``none`` (a flat folder that holds nothing out).
        """
        if not self.flat:
            return {"kind": "subfolders", "root": str(self.root), "split": self.split, "images": len(self.files)}
        info: dict[str, object] = {
            "kind": "holdout" if self.holdout else "none",
            "root": str(self.root),
            "split": self.split,
            "images": len(self.files),
            "files": self.total,
            "holdout": self.holdout,
            "holdout_seed": self.holdout_seed,
            "train": self.total - self.holdout,
            "test": self.holdout,
        }
        if self.holdout:
            info["holdout_sha256"] = names_sha256(self.heldout_names)
        return info

    def verify(self) -> None:
        """Decode every file once (a few threads); raise :class:`DataError` naming the first bad one."""
        channels = self.channels
        with ThreadPoolExecutor(max_workers=_workers()) as pool:
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

    def read_uint8(self, indices: Sequence[int]) -> torch.Tensor:
        """Images ``indices`` as one uint8 tensor (B, C, H, W), read from disk now (a few threads)."""

        def one(i: int) -> torch.Tensor:
            return image_to_uint8(read_image(self.files[i], channels=self.channels, size=self.size))

        out = torch.empty((len(indices), *self.shape), dtype=torch.uint8)
        if len(indices) < 4:
            for j, i in enumerate(indices):
                out[j] = one(i)
            return out
        with ThreadPoolExecutor(max_workers=_workers()) as pool:
            for j, image in enumerate(pool.map(one, indices)):
                out[j] = image
        return out


class StreamedImages:
    """A folder's images read from disk per batch, indexed like the uint8 tensor ``compact_tensor()`` gives.

    For data sets larger than the memory they may use (``dataset.memory_budget_mb``): ``images[idx]``
    (an int, a slice, or an int64 tensor or list of indices) reads those files now and returns uint8
    (B, C, H, W), equal to the same rows of the in-memory tensor; ``shape``, ``dtype``, ``device``,
    ``dim()`` and ``numel()`` answer as the tensor would.
    """

    dtype = torch.uint8
    device = torch.device("cpu")

    def __init__(self, data: ImageFolderDataset) -> None:
        self.data = data

    @property
    def shape(self) -> torch.Size:
        return torch.Size((len(self.data), *self.data.shape))

    def __len__(self) -> int:
        return len(self.data)

    def dim(self) -> int:
        return 4

    def numel(self) -> int:
        return self.shape.numel()

    def __getitem__(self, index: object) -> torch.Tensor:
        n = len(self.data)
        if isinstance(index, slice):
            return self.data.read_uint8(range(n)[index])
        if isinstance(index, int) and not isinstance(index, bool):
            return self.data.read_uint8([range(n)[index]])[0]
        if isinstance(index, torch.Tensor) and not index.is_floating_point() and index.dim() <= 1:
            index = index.reshape(-1).tolist()
        if isinstance(index, list | tuple) and all(isinstance(i, int) and not isinstance(i, bool) for i in index):
            return self.data.read_uint8([range(n)[i] for i in index])
        raise ConfigError(f"streamed images are indexed by an int, a slice or a 1-D integer tensor, not {index!r}")

    def __repr__(self) -> str:
        return f"StreamedImages({self.data!r})"
