"""Image data sets for training and corrupting.

``load_dataset(name, root=..., split=..., size=..., channels=..., limit=...)`` returns an
:class:`ImageDataset` (a ``torch.utils.data.Dataset`` of ``(image, label)``, image float32
(C, H, W) in [0, 1]); ``.tensor(limit)`` gives a batch (N, C, H, W).

Data sets: ``fashion_mnist`` (default; Debian's ``dataset-fashion-mnist`` files, else a torchvision
download), ``mnist`` and ``cifar10`` (torchvision folders), ``folder`` (any folder of images, lazy; a
flat one can hold a fixed, seeded subset out as its test split: ``holdout``, ``holdout_seed``).

Example::

    from advdiff.data import load_dataset
    x = load_dataset("fashion_mnist", split="train", limit=1000).tensor()   # (1000, 1, 28, 28)
    faces = load_dataset("folder", root="ffhq128", size=64)                   # lazy, RGB 64x64
"""

from advdiff.data.base import (
    UNLABELLED,
    DataError,
    DataRootError,
    DataUnavailableError,
    ImageDataset,
    TensorImageDataset,
    pack_uint8,
    unit_float,
)
from advdiff.data.builtin import (
    FASHION_MNIST_DEBIAN_DIR,
    FASHION_MNIST_DEBIAN_PACKAGE,
    default_root,
    find_fashion_mnist,
    load_cifar10,
    load_fashion_mnist,
    load_mnist,
)
from advdiff.data.folder import IMAGE_EXTENSIONS, ImageFolderDataset, StreamedImages, read_image
from advdiff.data.idx import read_idx
from advdiff.data.registry import DEFAULT_DATASET, available_datasets, check_root, load_dataset, preview_images
from advdiff.data_settings import CHANNELS, SPLITS

__all__ = [
    "CHANNELS",
    "DEFAULT_DATASET",
    "FASHION_MNIST_DEBIAN_DIR",
    "FASHION_MNIST_DEBIAN_PACKAGE",
    "IMAGE_EXTENSIONS",
    "SPLITS",
    "UNLABELLED",
    "StreamedImages",
    "DataError",
    "DataRootError",
    "DataUnavailableError",
    "ImageDataset",
    "ImageFolderDataset",
    "TensorImageDataset",
    "available_datasets",
    "check_root",
    "default_root",
    "find_fashion_mnist",
    "load_cifar10",
    "load_dataset",
    "load_fashion_mnist",
    "load_mnist",
    "pack_uint8",
    "preview_images",
    "read_idx",
    "read_image",
    "unit_float",
]
