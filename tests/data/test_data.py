"""Tests of advdiff.data: Fashion-MNIST from Debian's files, the folder loader, errors. No network access."""

from __future__ import annotations

import gzip
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from advdiff.data import (
    DataError,
    DataUnavailableError,
    ImageFolderDataset,
    TensorImageDataset,
    available_datasets,
    find_fashion_mnist,
    load_dataset,
    read_idx,
)
from advdiff.data import builtin as builtin_module
from advdiff.errors import ConfigError

needs_fashion_mnist = pytest.mark.skipif(
    find_fashion_mnist() is None,
    reason="Fashion-MNIST idx files not installed (apt-get install -y dataset-fashion-mnist, "
    "or workflow/scripts/install_fashion_mnist.sh)",
)


@pytest.fixture(autouse=True)
def _no_download(monkeypatch):
    """Any torchvision download attempt fails at once instead of reaching for the network."""
    import torchvision.datasets

    def refuse(*args, **kwargs):
        raise RuntimeError("network disabled in tests")

    for cls in (torchvision.datasets.MNIST, torchvision.datasets.CIFAR10):  # FashionMNIST inherits MNIST's
        monkeypatch.setattr(cls, "download", refuse)


def _rng_image(rng: np.random.Generator, mode: str, width: int, height: int) -> Image.Image:
    rgb = Image.fromarray(rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8), "RGB")
    if mode == "RGBA":
        rgba = rgb.convert("RGBA")
        rgba.putalpha(Image.fromarray(rng.integers(0, 256, size=(height, width), dtype=np.uint8), "L"))
        return rgba
    if mode == "P":
        return rgb.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    return rgb.convert(mode)


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    """A folder tree of PNG/JPEG/BMP images of mixed sizes and modes, plus files that must be ignored."""
    rng = np.random.default_rng(0)
    root = tmp_path / "images"
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / ".hidden").mkdir()
    specs = [
        ("a.png", "RGB", 40, 30),
        ("b.JPG", "L", 17, 25),
        ("sub/c.png", "RGBA", 64, 64),
        ("sub/d.png", "P", 33, 50),
        ("sub/deeper/e.jpeg", "RGB", 100, 20),
        ("sub/deeper/f.bmp", "L", 8, 8),
    ]
    for name, mode, w, h in specs:
        _rng_image(rng, mode, w, h).save(root / name)
    (root / "notes.txt").write_text("not an image, not listed")
    (root / ".hidden" / "g.png").write_text("hidden, skipped")
    (root / "._a.png").write_text("macOS resource fork, skipped")
    return root


# --------------------------------------------------------------------------- Fashion-MNIST


@needs_fashion_mnist
def test_fashion_mnist_train_and_test():
    train = load_dataset()  # the default data set
    assert isinstance(train, TensorImageDataset) and train.name == "fashion_mnist"
    x = train.tensor()
    assert x.shape == (60000, 1, 28, 28) and x.dtype == torch.float32
    assert float(x.min()) == 0.0 and float(x.max()) == 1.0
    assert abs(float(x.mean()) - 0.2860) < 1e-3
    assert abs(float(x.std()) - 0.3530) < 1e-3
    labels = train.labels()
    assert labels.dtype == torch.int64 and torch.equal(labels.bincount(), torch.full((10,), 6000))
    assert labels[:5].tolist() == [9, 0, 0, 3, 0]  # the published first labels
    assert train.classes[9] == "Ankle boot"

    test = load_dataset("fashion_mnist", split="test")
    xt = test.tensor()
    assert xt.shape == (10000, 1, 28, 28)
    assert abs(float(xt.mean()) - 0.2868) < 1e-3
    assert torch.equal(test.labels().bincount(), torch.full((10,), 1000))

    image, label = train[0]
    assert image.shape == (1, 28, 28) and torch.equal(image, x[0]) and label == 9


@needs_fashion_mnist
def test_fashion_mnist_limit_size_channels():
    small = load_dataset("Fashion-MNIST", limit=100)  # case and '-' are ignored
    assert len(small) == 100 and small.tensor().shape == (100, 1, 28, 28)
    assert small.tensor(limit=7).shape == (7, 1, 28, 28) and small.labels(7).shape == (7,)
    assert small.tensor(limit=1000).shape[0] == 100

    rgb = load_dataset(size=32, channels=3, limit=8)
    batch = rgb.tensor()
    assert rgb.shape == (3, 32, 32) and batch.shape == (8, 3, 32, 32)
    assert float(batch.min()) >= 0.0 and float(batch.max()) <= 1.0
    assert torch.equal(batch[:, 0], batch[:, 1]) and torch.equal(batch[:, 1], batch[:, 2])
    assert abs(float(batch.mean()) - float(small.tensor(8).mean())) < 0.02
    assert torch.equal(rgb[3][0], batch[3])


@needs_fashion_mnist
def test_fashion_mnist_from_root_in_torchvision_layout(tmp_path):
    images_path, labels_path = find_fashion_mnist()
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    # Uncompressed copies, as torchvision leaves them, holding only the first 50 images.
    images, labels = read_idx(images_path)[:50], read_idx(labels_path)[:50]
    (raw / "train-images-idx3-ubyte").write_bytes(b"\0\0\x08\x03" + struct.pack(">3I", 50, 28, 28) + images.tobytes())
    (raw / "train-labels-idx1-ubyte").write_bytes(b"\0\0\x08\x01" + struct.pack(">I", 50) + labels.tobytes())
    data = load_dataset(root=tmp_path)
    assert len(data) == 50
    assert torch.equal(data.tensor(), load_dataset(limit=50).tensor())


def _missing_fashion_mnist(monkeypatch, tmp_path, download_error: Exception | None) -> str:
    monkeypatch.setattr(builtin_module, "system_fashion_mnist_dirs", list)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    calls = []

    class FailingFashionMNIST:
        def __init__(self, root, train=True, download=False, **kwargs):
            calls.append((root, download))
            raise download_error

    import torchvision.datasets

    monkeypatch.setattr(torchvision.datasets, "FashionMNIST", FailingFashionMNIST)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataUnavailableError) as info:
        load_dataset("fashion_mnist", root=empty, download=download_error is not None)
    assert calls == ([(str(empty), True)] if download_error is not None else [])
    return str(info.value)


def test_fashion_mnist_missing_says_both_ways(monkeypatch, tmp_path):
    message = _missing_fashion_mnist(monkeypatch, tmp_path, RuntimeError("Error downloading train-images-idx3-ubyte"))
    assert "apt-get install -y dataset-fashion-mnist" in message
    assert "internet" in message and "download" in message
    assert "Error downloading" in message and str(tmp_path / "empty") in message


def test_fashion_mnist_missing_without_download(monkeypatch, tmp_path):
    message = _missing_fashion_mnist(monkeypatch, tmp_path, None)
    assert "download=False" in message and "apt-get install -y dataset-fashion-mnist" in message


# --------------------------------------------------------------------------- idx reader


def test_read_idx_rejects_truncated_and_foreign_files(tmp_path):
    good = b"\0\0\x08\x03" + struct.pack(">3I", 2, 3, 4) + bytes(range(24))
    (tmp_path / "ok.gz").write_bytes(gzip.compress(good))
    assert read_idx(tmp_path / "ok.gz").shape == (2, 3, 4)

    (tmp_path / "short").write_bytes(good[:-5])
    with pytest.raises(DataError, match=r"short.*truncated"):
        read_idx(tmp_path / "short")
    (tmp_path / "cut.gz").write_bytes(gzip.compress(good)[:-10])
    with pytest.raises(DataError, match=r"cut\.gz"):
        read_idx(tmp_path / "cut.gz")
    (tmp_path / "text").write_text("hello world")
    with pytest.raises(DataError, match=r"text is not an idx file"):
        read_idx(tmp_path / "text")


# --------------------------------------------------------------------------- MNIST and CIFAR-10 through torchvision


def test_mnist_from_torchvision_folder(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    images = np.arange(5 * 28 * 28, dtype=np.int64).reshape(5, 28, 28).astype(np.uint8)
    for prefix in ("train", "t10k"):
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(
            b"\0\0\x08\x03" + struct.pack(">3I", 5, 28, 28) + images.tobytes()
        )
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(
            b"\0\0\x08\x01" + struct.pack(">I", 5) + bytes([1, 2, 3, 4, 5])
        )
    data = load_dataset("mnist", root=tmp_path, split="test", limit=3)
    assert len(data) == 3 and data.labels().tolist() == [1, 2, 3]
    assert torch.allclose(data.tensor(), torch.from_numpy(images[:3, None]).float() / 255)


def test_mnist_and_cifar10_missing_say_how_to_get_them(tmp_path):
    for name, kind in (("mnist", "MNIST"), ("cifar10", "CIFAR10")):
        with pytest.raises(DataUnavailableError) as info:
            load_dataset(name, root=tmp_path)
        message = str(info.value)
        assert kind in message and str(tmp_path) in message and "download=True" in message


def test_cifar10_conversion(monkeypatch, tmp_path):
    import torchvision.datasets

    pixels = np.random.default_rng(1).integers(0, 256, size=(4, 32, 32, 3), dtype=np.uint8)

    class FakeCIFAR10:
        def __init__(self, root, train=True, download=False, **kwargs):
            self.data, self.targets = pixels, [3, 1, 4, 1]

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", FakeCIFAR10)
    rgb = load_dataset("cifar10", root=tmp_path)
    assert rgb.shape == (3, 32, 32) and rgb.labels().tolist() == [3, 1, 4, 1] and rgb.classes[3] == "cat"
    assert torch.equal(rgb.tensor(), torch.from_numpy(pixels).permute(0, 3, 1, 2).float() / 255)
    grey = load_dataset("cifar10", root=tmp_path, channels=1, size=16).tensor()
    assert grey.shape == (4, 1, 16, 16) and 0.0 <= float(grey.min()) and float(grey.max()) <= 1.0


# --------------------------------------------------------------------------- folder loader


@pytest.mark.parametrize(("size", "channels"), [(24, 3), (16, 1), (32, None)])
def test_folder_gives_configured_size_and_channels(image_folder, size, channels):
    data = load_dataset("folder", root=image_folder, size=size, channels=channels)
    assert isinstance(data, ImageFolderDataset)
    names = [p.relative_to(image_folder).as_posix() for p in data.files]
    assert names == ["a.png", "b.JPG", "sub/c.png", "sub/d.png", "sub/deeper/e.jpeg", "sub/deeper/f.bmp"]
    c = channels or 3
    batch = data.tensor()
    assert batch.shape == (6, c, size, size) and batch.dtype == torch.float32
    assert float(batch.min()) >= 0.0 and float(batch.max()) <= 1.0 and float(batch.std()) > 0.05
    image, label = data[2]
    assert image.shape == (c, size, size) and label == -1
    assert data.labels().tolist() == [-1] * 6
    assert load_dataset("folder", root=image_folder, size=size, limit=2).tensor().shape[0] == 2


def test_folder_keeps_pixels_when_size_matches(tmp_path):
    pixels = np.random.default_rng(2).integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
    Image.fromarray(pixels, "RGB").save(tmp_path / "x.png")
    x = load_dataset("folder", root=tmp_path, size=8).tensor()[0]
    assert torch.equal(x, torch.from_numpy(pixels).permute(2, 0, 1).float() / 255)
    grey = load_dataset("folder", root=tmp_path, size=8, channels=1).tensor()[0, 0]
    expected = np.asarray(Image.fromarray(pixels, "RGB").convert("L"), dtype=np.float32) / 255
    assert torch.allclose(grey, torch.from_numpy(expected))


def test_folder_split_subfolder(image_folder):
    (image_folder / "test").mkdir()
    _rng_image(np.random.default_rng(3), "RGB", 10, 10).save(image_folder / "test" / "t.png")
    assert len(load_dataset("folder", root=image_folder, split="test", size=8)) == 1
    with pytest.raises(DataError, match="'test' subfolder"):
        load_dataset("folder", root=image_folder / "sub", split="test", size=8)


@pytest.mark.parametrize("name", ["cut.png", "cut.jpg"])
def test_folder_truncated_file_is_named(image_folder, name):
    buffer = image_folder / "sub" / name
    _rng_image(np.random.default_rng(4), "RGB", 64, 64).save(buffer)
    data = buffer.read_bytes()
    buffer.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=str(buffer)):
        load_dataset("folder", root=image_folder, size=16)
    # without the up-front check (the trainer reads every image anyway) the read names the file
    lazy = load_dataset("folder", root=image_folder, size=16, verify=False)
    with pytest.raises(DataError, match=str(buffer)):
        lazy.compact_tensor()
    from advdiff.training.config import DatasetConfig
    from advdiff.training.trainer import load_images

    with pytest.raises(DataError, match=str(buffer)):
        load_images(DatasetConfig(name="folder", root=str(image_folder), size=16), compact=True)


def test_folder_text_file_with_image_extension_is_named(image_folder):
    fake = image_folder / "sub" / "fake.png"
    fake.write_text("this is not a PNG")
    with pytest.raises(DataError, match=str(fake)):
        load_dataset("folder", root=image_folder, size=16)


def test_folder_unsupported_mode_is_named(image_folder):
    odd = image_folder / "float.tif"
    Image.fromarray(np.zeros((4, 4), dtype=np.float32), "F").save(odd)
    with pytest.raises(DataError, match=rf"{odd}.*mode 'F'"):
        load_dataset("folder", root=image_folder, size=16)


def test_folder_sixteen_bit_grey(tmp_path):
    values = np.array([[0, 65535], [32896, 257]], dtype=np.uint16)
    Image.fromarray(values).save(tmp_path / "deep.png")
    x = load_dataset("folder", root=tmp_path, size=2, channels=1).tensor()
    assert torch.allclose(x[0, 0], torch.tensor([[0.0, 1.0], [128 / 255, 1 / 255]]))


def test_folder_empty_or_missing_is_named(tmp_path):
    empty = tmp_path / "empty"
    (empty / "sub").mkdir(parents=True)
    (empty / "readme.txt").write_text("no images here")
    with pytest.raises(DataError, match=rf"{empty}.*no image files"):
        load_dataset("folder", root=empty, size=16)
    with pytest.raises(DataUnavailableError, match=str(tmp_path / "nowhere")):
        load_dataset("folder", root=tmp_path / "nowhere", size=16)


# --------------------------------------------------------------------------- argument checks


def test_unknown_name_lists_known_names():
    with pytest.raises(ConfigError) as info:
        load_dataset("imagenet")
    message = str(info.value)
    assert "dataset='imagenet'" in message
    for name in available_datasets():
        assert name in message
    assert set(available_datasets()) == {"fashion_mnist", "mnist", "cifar10", "folder"}


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"split": "val"}, "split"),
        ({"size": 0}, "size"),
        ({"size": 12.5}, "size"),
        ({"size": True}, "size"),
        ({"channels": 2}, "channels"),
        ({"channels": "rgb"}, "channels"),
        ({"limit": 0}, "limit"),
        ({"download": "yes"}, "download"),
        ({"verify": "no"}, "verify"),
    ],
)
def test_bad_arguments_name_key_value_and_allowed(kwargs, key):
    with pytest.raises(ConfigError) as info:
        load_dataset("fashion_mnist", **kwargs)
    message = str(info.value)
    value = next(iter(kwargs.values()))
    assert message.startswith(f"{key}={value!r} is not allowed: expected")


def test_folder_needs_root_and_size(image_folder):
    with pytest.raises(ConfigError, match=r"root=None"):
        load_dataset("folder", size=16)
    with pytest.raises(ConfigError, match=r"size=None.*folder"):
        load_dataset("folder", root=image_folder)


# --------------------------------------------------------------------------- install script (never runs apt here)


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash not available")
def test_install_script_is_a_no_op_when_data_present(tmp_path):
    script = Path(__file__).resolve().parents[2] / "workflow" / "scripts" / "install_fashion_mnist.sh"
    for stem in (
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    ):
        (tmp_path / f"{stem}.gz").write_bytes(b"x")
    env = {"PATH": "/usr/bin:/bin", "ADVDIFF_FASHION_MNIST_DIR": str(tmp_path)}
    done = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "already present" in done.stdout


# --------------------------------------------------------------------------- compact (uint8) batches


@needs_fashion_mnist
def test_compact_tensor_is_uint8_where_exact_and_gives_the_float_images_back():
    from advdiff.data import unit_float

    data = load_dataset(limit=3000)
    packed, floats = data.compact_tensor(), data.tensor()
    assert packed.dtype == torch.uint8 and packed.shape == floats.shape
    assert torch.equal(unit_float(packed), floats)  # bit for bit
    resized = load_dataset(size=32, limit=50)  # bicubic resize: not 8-bit exact, stays float32
    assert resized.compact_tensor().dtype == torch.float32 and torch.equal(resized.compact_tensor(), resized.tensor())


def test_compact_tensor_of_a_folder_is_uint8_and_exact(image_folder):
    from advdiff.data import unit_float

    data = ImageFolderDataset(image_folder, size=16, channels=3)
    packed = data.compact_tensor()
    assert packed.dtype == torch.uint8 and torch.equal(unit_float(packed), data.tensor())


def test_compact_tensor_falls_back_to_float_when_a_later_image_is_not_exact(monkeypatch):
    """Exact images first, then one that is not: the result is the float32 tensor, each image read once."""
    from advdiff.data import base, pack_uint8, unit_float

    monkeypatch.setattr(base, "_CHUNK_BYTES", 2 * 4 * 16)  # two 1x4x4 float32 images per batch
    exact = torch.randint(0, 256, (5, 1, 4, 4), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    values = unit_float(exact)
    values[3, 0, 1, 1] = 0.5  # not k/255
    reads = []

    class Five(base.ImageDataset):
        name = "five"

        def __len__(self):
            return 5

        @property
        def shape(self):
            return (1, 4, 4)

        def __getitem__(self, index):
            reads.append(index)
            return values[index], base.UNLABELLED

    out = Five().compact_tensor()
    assert out.dtype == torch.float32 and torch.equal(out, values) and sorted(reads) == list(range(5))
    assert pack_uint8(values[:3]) is not None and pack_uint8(values) is None
    assert torch.equal(unit_float(values), values)  # floats pass through
