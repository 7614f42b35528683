"""Fashion-MNIST (the default), MNIST and CIFAR-10 as in-memory :class:`TensorImageDataset` s.

Fashion-MNIST is read with NumPy from the original idx files: in ``root`` alone when it is given (a
run never uses data its configuration does not name), else ``$ADVDIFF_FASHION_MNIST_DIR``, Debian's
``dataset-fashion-mnist`` package or an earlier torchvision download, else downloaded by torchvision
when ``download`` is true. MNIST and CIFAR-10 come through torchvision's folder layouts under
``root`` and are downloaded only with ``download=True``. See docs/data.md, section "Fashion-MNIST".
"""

from __future__ import annotations

import logging
import os
from os import PathLike
from pathlib import Path

import numpy as np
import torch

from advdiff.data.base import DataError, DataUnavailableError, TensorImageDataset
from advdiff.data.idx import read_idx
from advdiff.data_settings import check_limit

log = logging.getLogger(__name__)

FASHION_MNIST_DEBIAN_PACKAGE = "dataset-fashion-mnist"
FASHION_MNIST_DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_ENV = "ADVDIFF_FASHION_MNIST_DIR"
FASHION_MNIST_INSTALL_SCRIPT = "workflow/scripts/install_fashion_mnist.sh"
FASHION_MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
MNIST_CLASSES = tuple(str(d) for d in range(10))
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

# What torchvision raises when it cannot find or fetch a data set (URLError is an OSError).
_FETCH_ERRORS = (ImportError, OSError, RuntimeError, ValueError)

Root = str | PathLike[str] | None


def default_root() -> Path:
    """Where torchvision data sets are looked for and downloaded when no ``root`` is given.

    ``$XDG_CACHE_HOME/advdiff/data``, or ``~/.cache/advdiff/data``.
    """
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "advdiff" / "data"


def system_fashion_mnist_dirs() -> list[Path]:
    """Machine-wide folders that may hold the Fashion-MNIST idx files (env override, then Debian's)."""
    dirs = []
    override = os.environ.get(FASHION_MNIST_ENV)
    if override:
        dirs.append(Path(override))
    dirs.append(FASHION_MNIST_DEBIAN_DIR)
    return dirs


def fashion_mnist_dirs(root: Root = None) -> list[Path]:
    """Every folder searched for the Fashion-MNIST idx files, in order (see docs/data.md, section "Fashion-MNIST")."""
    if root is not None:  # only the configured root: no fall-back to another copy
        base = Path(root)
        return [base, base / "FashionMNIST" / "raw", base / "fashion-mnist"]
    dirs = [*system_fashion_mnist_dirs(), default_root() / "FashionMNIST" / "raw"]
    return list(dict.fromkeys(dirs))  # de-duplicated, order kept


def _idx_file(directory: Path, stem: str) -> Path | None:
    for name in (f"{stem}.gz", stem):
        if (directory / name).is_file():
            return directory / name
    return None


def find_fashion_mnist(root: Root = None, split: str = "train") -> tuple[Path, Path] | None:
    """The (images, labels) idx files of ``split`` in the first folder holding both, or None."""
    image_stem, label_stem = FASHION_MNIST_FILES[split]
    for directory in fashion_mnist_dirs(root):
        images, labels = _idx_file(directory, image_stem), _idx_file(directory, label_stem)
        if images is not None and labels is not None:
            return images, labels
    return None


def _read_idx_pair(images_path: Path, labels_path: Path, limit: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.dtype != np.uint8 or images.ndim != 3:
        raise DataError(f"{images_path} holds {images.dtype} data of shape {images.shape}, not uint8 (N, H, W) images")
    if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise DataError(f"{labels_path} holds labels of shape {labels.shape}, expected ({images.shape[0]},)")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise DataError(f"{labels_path} holds labels outside 0..9")
    images, labels = images[:limit], labels[:limit]
    return torch.from_numpy(images).unsqueeze(1), torch.from_numpy(labels.astype(np.int64))


def _fashion_mnist_missing(dirs: list[Path], reason: str, root: Root = None) -> DataUnavailableError:
    searched = ", ".join(str(d) for d in dirs)
    debian = (
        f"install Debian's package as root: `apt-get update && apt-get install -y "
        f"{FASHION_MNIST_DEBIAN_PACKAGE}` (or run {FASHION_MNIST_INSTALL_SCRIPT}; it puts the files in "
        f"{FASHION_MNIST_DEBIAN_DIR})"
    )
    if root is None:
        where, local = "Fashion-MNIST is not available", debian
    else:  # a configured root is used alone: say so, and how to fill it or drop it
        files = ", ".join(name for pair in FASHION_MNIST_FILES.values() for name in pair)
        where = f"root={str(root)!r} does not hold Fashion-MNIST (only a configured root is searched)"
        local = f"copy the idx files ({files}, optionally .gz) into {root}, or set no root and {debian}"
    return DataUnavailableError(
        f"{where}: its idx files are in none of {searched}, and {reason}. "
        f"Get it either way: (1) {local}; "
        f"or (2) connect to the internet and load it with download=True, which fetches it through torchvision."
    )


def load_fashion_mnist(
    root: Root = None,
    split: str = "train",
    *,
    size: int | None = None,
    channels: int | None = None,
    limit: int | None = None,
    download: bool = True,
) -> TensorImageDataset:
    """Fashion-MNIST: 60 000 train / 10 000 test 28x28 grey images, labels 0..9 (:data:`FASHION_MNIST_CLASSES`)."""
    limit = check_limit(limit)
    found = find_fashion_mnist(root, split)
    if found is not None:
        log.info("Fashion-MNIST %s: reading %s and %s", split, *found)
        images, labels = _read_idx_pair(*found, limit)
    else:
        dirs = fashion_mnist_dirs(root)
        if not download:
            raise _fashion_mnist_missing(dirs, "downloading is disabled (download=False)", root)
        target = Path(root) if root is not None else default_root()
        log.info("Fashion-MNIST not found locally; downloading it through torchvision into %s", target)
        try:
            import torchvision.datasets

            fetched = torchvision.datasets.FashionMNIST(str(target), train=split == "train", download=True)
        except _FETCH_ERRORS as exc:
            raise _fashion_mnist_missing(dirs, f"torchvision's download into {target} failed ({exc})", root) from exc
        images, labels = _mnist_format(fetched, limit)
    return TensorImageDataset(
        images, labels, name="fashion_mnist", split=split, size=size, channels=channels, classes=FASHION_MNIST_CLASSES
    )


def _mnist_format(data, limit: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 images (N, 1, 28, 28) and int64 labels of a torchvision MNIST-format data set."""
    return data.data[:limit].unsqueeze(1).to(torch.uint8), torch.as_tensor(data.targets[:limit], dtype=torch.int64)


def _torchvision_dataset(kind: str, root: Root, split: str, download: bool, how: str):
    target = Path(root) if root is not None else default_root()
    try:
        import torchvision.datasets

        cls = getattr(torchvision.datasets, kind)
        return cls(str(target), train=split == "train", download=download)
    except _FETCH_ERRORS as exc:
        tried = "downloading it failed" if download else "it is not there and download=False"
        raise DataUnavailableError(
            f"{kind} is not available under {target}: {tried} ({exc}). Get it either way: "
            f"(1) where the internet is reachable, load it with download=True (torchvision fetches it into {target}); "
            f"or (2) copy torchvision's {how} into {target} and pass root={str(target)!r}."
        ) from exc


def load_mnist(
    root: Root = None,
    split: str = "train",
    *,
    size: int | None = None,
    channels: int | None = None,
    limit: int | None = None,
    download: bool = False,
) -> TensorImageDataset:
    """MNIST through torchvision (``root/MNIST/raw``): 60 000 train / 10 000 test 28x28 grey digits."""
    limit = check_limit(limit)
    data = _torchvision_dataset("MNIST", root, split, download, "MNIST folder (MNIST/raw/*-idx?-ubyte)")
    images, labels = _mnist_format(data, limit)
    return TensorImageDataset(
        images, labels, name="mnist", split=split, size=size, channels=channels, classes=MNIST_CLASSES
    )


def load_cifar10(
    root: Root = None,
    split: str = "train",
    *,
    size: int | None = None,
    channels: int | None = None,
    limit: int | None = None,
    download: bool = False,
) -> TensorImageDataset:
    """CIFAR-10 through torchvision (``root/cifar-10-batches-py``): 50 000 train / 10 000 test 32x32 RGB images."""
    limit = check_limit(limit)
    how = "extracted cifar-10-python.tar.gz (cifar-10-batches-py/)"
    data = _torchvision_dataset("CIFAR10", root, split, download, how)
    images = torch.from_numpy(np.ascontiguousarray(data.data[:limit])).permute(0, 3, 1, 2).contiguous()
    labels = torch.as_tensor(data.targets[:limit], dtype=torch.int64)
    return TensorImageDataset(
        images, labels, name="cifar10", split=split, size=size, channels=channels, classes=CIFAR10_CLASSES
    )
