"""Shared pieces of :mod:`advdiff.data`: errors, argument checks and the dataset interface.

Every loader returns an :class:`ImageDataset`: a ``torch.utils.data.Dataset`` whose items are
``(image, label)`` with ``image`` a float32 tensor of shape (C, H, W) in [0, 1] and ``label`` an
int (-1 where the data set has no labels), plus :meth:`ImageDataset.tensor` and
:meth:`ImageDataset.labels` to get the first N items as one batch, and
:meth:`ImageDataset.compact_tensor` for the same batch held as uint8 where that is exact
(:func:`unit_float` turns it, or any part of it, back into the float32 images bit for bit).
"""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from advdiff.data_settings import CHANNELS, check_channels, check_limit, check_size, check_split
from advdiff.errors import AdvdiffError, ConfigError, bad_value

LUMA = (0.299, 0.587, 0.114)  # ITU-R 601-2, the weights PIL uses for RGB -> L
UNLABELLED = -1

_CHUNK_BYTES = 64 * 2**20  # float32 images converted at a time by tensor() and compact_tensor()

log = logging.getLogger(__name__)


class DataError(AdvdiffError, RuntimeError):
    """A data file or folder cannot be used (corrupt, truncated, unsupported, empty); the message names it."""


class DataUnavailableError(DataError):
    """A data set is not on this machine and could not be fetched; the message says how to get it."""


class DataRootError(DataUnavailableError, ConfigError):
    """A configured data root is not an existing folder; the message names the key and the path.

    Both a :class:`DataError` (the data are not there) and a :class:`~advdiff.errors.ConfigError`
    (the configured value is wrong), so either ``except`` clause catches it.
    """


# --------------------------------------------------------------------------- tensor transforms


def convert_channels(images: torch.Tensor, channels: int | None) -> torch.Tensor:
    """Grey <-> RGB on a float batch (N, C, H, W): grey is repeated, RGB becomes ITU-R 601 luma."""
    have = images.shape[1]
    if channels is None or channels == have:
        return images
    if have == 1 and channels == 3:
        return images.expand(-1, 3, -1, -1).contiguous()
    if have == 3 and channels == 1:
        weights = torch.tensor(LUMA, dtype=images.dtype, device=images.device).view(1, 3, 1, 1)
        return (images * weights).sum(dim=1, keepdim=True)
    raise bad_value("channels", channels, f"1 or 3 (cannot convert {have}-channel images)")


def resize_square(images: torch.Tensor, size: int | None) -> torch.Tensor:
    """Centre-crop a float batch (N, C, H, W) to a square and resize it to ``size`` x ``size``.

    Bicubic with antialiasing (close to PIL's bicubic resize used by the folder loader), clamped to [0, 1].
    """
    height, width = images.shape[-2:]
    if size is None or (height == size and width == size):
        return images
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    images = images[..., top : top + side, left : left + side]
    if side == size:
        return images.contiguous()
    out = F.interpolate(images, size=(size, size), mode="bicubic", antialias=True, align_corners=False)
    return out.clamp_(0.0, 1.0)


def unit_float(images: torch.Tensor) -> torch.Tensor:
    """Images as float32 in [0, 1]: uint8 values divided by 255 (the loaders' own conversion), floats as given."""
    if images.dtype == torch.uint8:
        return images.to(torch.float32).div_(255.0)
    return images


def pack_uint8(images: torch.Tensor) -> torch.Tensor | None:
    """A uint8 copy of float images that :func:`unit_float` turns back into them bit for bit, else ``None``.

    8-bit sources at their native size and channels pack; resized or luma-converted images do not.
    """
    packed = images.mul(255.0).round_().clamp_(0.0, 255.0).to(torch.uint8)
    return packed if torch.equal(unit_float(packed), images) else None


# --------------------------------------------------------------------------- datasets


class ImageDataset(Dataset):
    """Common interface of every loader's result.

    Items are ``(image, label)``: ``image`` float32 (C, H, W) in [0, 1], ``label`` an int
    (:data:`UNLABELLED` = -1 where the data set has none). Attributes: ``name``, the registry name
    (``fashion_mnist``, ``folder``, ...); ``split``, ``train`` or ``test``; ``classes``, the class
    names indexed by label (empty for unlabelled data).
    """

    name: str = ""
    split: str = "train"
    classes: tuple[str, ...] = ()

    def __len__(self) -> int:
        raise NotImplementedError

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        raise NotImplementedError

    @property
    def shape(self) -> tuple[int, int, int]:
        """(C, H, W) of every image."""
        raise NotImplementedError

    def _count(self, limit: int | None) -> int:
        limit = check_limit(limit)
        return len(self) if limit is None else min(limit, len(self))

    def _batch(self, start: int, stop: int) -> torch.Tensor:
        """Images ``start..stop-1`` as one float32 tensor (loaders with the data in memory do this faster)."""
        return torch.stack([self[i][0] for i in range(start, stop)])

    def _chunk(self) -> int:
        """Images per converted batch: about 64 MB of float32, so that temporaries stay small."""
        c, h, w = self.shape
        return max(1, _CHUNK_BYTES // (4 * c * h * w))

    def _fill(self, out: torch.Tensor, start: int = 0) -> torch.Tensor:
        """Write images ``start..len(out)-1`` into the float32 tensor ``out``, a batch at a time."""
        count, chunk = len(out), self._chunk()
        for a in range(start, count, chunk):
            out[a : min(a + chunk, count)] = self._batch(a, min(a + chunk, count))
        return out

    def tensor(self, limit: int | None = None) -> torch.Tensor:
        """The first ``limit`` images (all by default) as one float32 tensor (N, C, H, W) in [0, 1]."""
        return self._fill(torch.empty((self._count(limit), *self.shape), dtype=torch.float32))

    def compact_tensor(self, limit: int | None = None) -> torch.Tensor:
        """Like :meth:`tensor`, but uint8 (a quarter of the memory) when every image is exactly k/255.

        Pass batches of the result through :func:`unit_float`: they are then equal, bit for bit, to
        the same rows of :meth:`tensor`. When some image is not 8-bit exact (resized or converted to
        grey), the result is the float32 tensor, built without reading any image twice.
        """
        count, chunk = self._count(limit), self._chunk()
        out = torch.empty((count, *self.shape), dtype=torch.uint8)
        for start in range(0, count, chunk):
            stop = min(start + chunk, count)
            batch = self._batch(start, stop)
            packed = pack_uint8(batch)
            if packed is None:
                log.info("%s: images are not 8-bit exact after conversion; holding them as float32", self.name)
                full = torch.empty((count, *self.shape), dtype=torch.float32)
                full[:start] = unit_float(out[:start])
                full[start:stop] = batch
                return self._fill(full, stop)
            out[start:stop] = packed
        return out

    def labels(self, limit: int | None = None) -> torch.Tensor:
        """The first ``limit`` labels (all by default) as an int64 tensor (N,); -1 where unlabelled."""
        count = self._count(limit)
        return torch.full((count,), UNLABELLED, dtype=torch.int64)

    def __repr__(self) -> str:
        c, h, w = self.shape
        return f"{type(self).__name__}(name={self.name!r}, split={self.split!r}, n={len(self)}, shape=({c}, {h}, {w}))"


class TensorImageDataset(ImageDataset):
    """An in-memory data set (Fashion-MNIST, MNIST, CIFAR-10).

    The images are kept as uint8 (N, C, H, W) at their native size; ``size`` and ``channels``
    are applied when images are read, so memory stays small whatever the output size.
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor | None = None,
        *,
        name: str = "",
        split: str = "train",
        size: int | None = None,
        channels: int | None = None,
        classes: tuple[str, ...] = (),
    ) -> None:
        if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] not in CHANNELS:
            raise bad_value("images", f"{images.dtype} tensor of shape {tuple(images.shape)}", "uint8 (N, 1|3, H, W)")
        if labels is not None and labels.shape != images.shape[:1]:
            raise bad_value("labels", f"tensor of shape {tuple(labels.shape)}", f"shape ({images.shape[0]},)")
        self.images = images
        self._labels = None if labels is None else labels.to(torch.int64)
        self.name = name
        self.split = check_split(split)
        self.size = check_size(size)
        self.channels = check_channels(channels)
        self.classes = tuple(classes)

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def shape(self) -> tuple[int, int, int]:
        _, c, h, w = self.images.shape
        return (self.channels or c, self.size or h, self.size or w)

    def _convert(self, batch: torch.Tensor) -> torch.Tensor:
        images = batch.to(torch.float32).div_(255.0)
        return resize_square(convert_channels(images, self.channels), self.size)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image = self._convert(self.images[index].unsqueeze(0))[0]
        label = UNLABELLED if self._labels is None else int(self._labels[index])
        return image, label

    def _batch(self, start: int, stop: int) -> torch.Tensor:
        return self._convert(self.images[start:stop])

    def labels(self, limit: int | None = None) -> torch.Tensor:
        if self._labels is None:
            return super().labels(limit)
        return self._labels[: self._count(limit)].clone()
