"""Image data sets for training and corrupting.

:func:`load_dataset` gives every data set by name (``fashion_mnist``, the default; ``mnist``;
``cifar10``; ``folder``, any folder of images, read lazily) as an :class:`ImageDataset` of
``(image, label)`` with float32 (C, H, W) images in [0, 1]; ``.tensor(limit)`` gives a batch
(N, C, H, W). See docs/data.md for where the files are found, the splits and an example.
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
