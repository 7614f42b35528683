"""Image sets (folders, tensors, bad input) and the cache of reference statistics."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from advdiff.data import DataError
from advdiff.errors import ConfigError
from advdiff.metrics import read_folder, reference_key, reference_stats, to_uint8
from tests.metrics.conftest import write_pngs


def test_to_uint8_rounds_clips_and_keeps_uint8():
    x = torch.tensor([0.0, 0.5, 1.0, 1.02, -0.03, 0.499 / 255]).reshape(1, 1, 2, 3)
    assert to_uint8(x).flatten().tolist() == [0, 128, 255, 255, 0, 0]
    u = torch.randint(0, 256, (2, 3, 4, 4), dtype=torch.uint8)
    assert torch.equal(to_uint8(u), u)


def test_nan_in_a_sample_batch_is_named():
    x = torch.rand(6, 1, 4, 4)
    x[2, 0, 1, 1] = float("nan")
    x[4, 0, 0, 0] = float("inf")
    with pytest.raises(
        ConfigError,
        match=r"generated images hold 2 NaN or infinite values in 2 of 6 images.*first: "
        r"image 2.*sampler diverged",
    ):
        to_uint8(x, "generated images")


@pytest.mark.parametrize(
    ("shape", "dtype"),
    [
        ((4, 4), torch.float32),
        ((1, 2, 4, 4), torch.float32),
        ((0, 1, 4, 4), torch.float32),
        ((1, 1, 4, 4), torch.int64),
    ],
)
def test_bad_tensors_are_refused(shape, dtype):
    with pytest.raises(ConfigError, match="images"):
        to_uint8(torch.zeros(shape, dtype=dtype))


def test_read_folder_keeps_grey_grey_and_rgb_rgb(tmp_path):
    grey = write_pngs(tmp_path / "grey", torch.rand(3, 1, 5, 5))
    rgb = write_pngs(tmp_path / "rgb", torch.rand(3, 3, 5, 5))
    assert read_folder(grey).shape == (3, 1, 5, 5)
    assert read_folder(rgb).shape == (3, 3, 5, 5) and read_folder(rgb, limit=2).shape[0] == 2


def test_read_folder_round_trips_8_bit_images(tmp_path):
    x = torch.rand(4, 3, 6, 6)
    assert torch.equal(read_folder(write_pngs(tmp_path / "x", x)), to_uint8(x))


def test_empty_folder_is_an_error_with_the_fix(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no images")
    with pytest.raises(DataError, match=r"holds no images.*write the images there first"):
        read_folder(tmp_path / "empty", "fake")


def test_missing_folder_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match=r"fake=.*nowhere.*existing folder"):
        read_folder(tmp_path / "nowhere", "fake")


def test_mixed_sizes_are_an_error_naming_both(tmp_path):
    folder = write_pngs(tmp_path / "mixed", torch.rand(2, 1, 8, 8))
    Image.new("L", (10, 12)).save(folder / "0002.png")
    with pytest.raises(DataError, match=r"mixes image sizes: 0000.png is 8x8 but 0002.png is 10x12.*resize"):
        read_folder(folder, "real")


# --------------------------------------------------------------------------- reference cache


class Loader:
    """Counts calls: the cache must not load (or extract) anything on a hit."""

    def __init__(self, images):
        self.images, self.calls = images, 0

    def __call__(self):
        self.calls += 1
        return self.images


def test_reference_statistics_are_computed_once_and_reused(fmnist, tiny, tmp_path):
    images = to_uint8(fmnist[:50])
    key = reference_key(tiny, dataset="fashion_mnist", split="test", size=None, channels=None, n=50)
    load = Loader(images)
    first = reference_stats(key, load, tiny, cache=tmp_path)
    second = reference_stats(key, load, tiny, cache=tmp_path)
    assert load.calls == 1
    assert not first.from_cache and second.from_cache
    assert second.path.parent == tmp_path / "reference" and second.path.name.startswith("fashion_mnist-test-n50-")
    assert torch.equal(first.features, second.features) and torch.equal(first.sigma, second.sigma)
    assert torch.equal(first.histograms, second.histograms) and second.image_size == (28, 28)


def test_reference_cache_key_separates_sizes_splits_and_extractors(fmnist, tiny, tmp_path):
    load = Loader(to_uint8(fmnist[:20]))
    base = dict(dataset="fashion_mnist", split="test", size=None, channels=None, n=20)
    for change in ({}, {"n": 21}, {"split": "train"}, {"size": 32}):
        reference_stats(reference_key(tiny, **{**base, **change}), load, tiny, cache=tmp_path)
    assert load.calls == 4
    other = {**reference_key(tiny, **base), "weights_sha256": "0" * 64}
    reference_stats(other, load, tiny, cache=tmp_path)
    assert load.calls == 5


def test_a_damaged_cache_file_is_recomputed(fmnist, tiny, tmp_path, caplog):
    key = reference_key(tiny, dataset="x", n=10)
    load = Loader(to_uint8(fmnist[:10]))
    ref = reference_stats(key, load, tiny, cache=tmp_path)
    ref.path.write_bytes(b"not a torch file")
    again = reference_stats(key, load, tiny, cache=tmp_path)
    assert load.calls == 2 and not again.from_cache and "unreadable" in caplog.text


def test_no_cache_means_no_file(fmnist, tiny, tmp_path):
    load = Loader(to_uint8(fmnist[:10]))
    reference_stats(reference_key(tiny, dataset="x", n=10), load, tiny, cache=tmp_path, use_cache=False)
    assert not (tmp_path / "reference").exists()


def test_jobs_asking_for_one_reference_at_once_compute_it_once(fmnist, tiny, tmp_path):
    import threading

    key = reference_key(tiny, dataset="fashion_mnist", split="test", n=30)
    load = Loader(to_uint8(fmnist[:30]))
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(reference_stats(key, load, tiny, cache=tmp_path)))
        for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert load.calls == 1 and len(results) == 3
    assert sum(not r.from_cache for r in results) == 1
    assert all(torch.equal(r.features, results[0].features) for r in results)


@pytest.mark.parametrize("name", ["tiny-test", "inception"])
def test_channels_last_features_equal_nchw_ones_to_float_rounding(fmnist, name):
    from advdiff.metrics.features import build_extractor

    images = to_uint8(fmnist[:6])
    nhwc = build_extractor(name, device="cpu")
    assert nhwc.channels_last == (name == "inception")  # the CPU default where it is faster
    nhwc.use_channels_last(True)
    fast = nhwc.features(images, batch_size=3)
    slow = nhwc.use_channels_last(False).features(images, batch_size=3)
    assert not nhwc.channels_last
    scale = slow.abs().max()
    assert torch.allclose(fast, slow, rtol=0, atol=1e-5 * float(scale))


def test_folded_batch_norm_gives_the_plain_features_to_float_rounding(fmnist):
    """The fast CPU path (norms folded, NHWC, passes of 16) against the plain one, image by image."""
    from advdiff.metrics.features import CPU_MICRO_BATCH, build_extractor

    images = to_uint8(fmnist[:20])  # more than one pass of CPU_MICRO_BATCH
    fast = build_extractor("inception", device="cpu")
    plain = build_extractor("inception", device="cpu", channels_last=False, fast=False)
    assert fast.folded and fast.micro_batch == CPU_MICRO_BATCH and fast.channels_last
    assert not plain.folded and plain.micro_batch == 0 and not plain.channels_last
    assert fast.weights_sha256 == plain.weights_sha256  # the checksum is of the published weights
    norms = [m for m in fast.module.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert norms == []
    a, b = fast.features(images, batch_size=20), plain.features(images, batch_size=20)
    assert a.shape == b.shape == (20, 2048)
    assert torch.allclose(a, b, rtol=0, atol=1e-5 * float(b.abs().max()))
    assert not torch.equal(a, b)  # the paths really differ (else this test would prove nothing)


def test_fold_batch_norm_is_exact_on_a_small_block():
    """Folding a conv + eval batch norm block: the same outputs, and the norm is gone."""
    from advdiff.metrics.features import fold_batch_norm

    torch.manual_seed(0)

    class Block(torch.nn.Module):
        def __init__(self, bias):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 5, 3, padding=1, bias=bias)
            self.bn = torch.nn.BatchNorm2d(5, eps=1e-3)

        def forward(self, x):
            return torch.relu(self.bn(self.conv(x)))

    for bias in (False, True):
        block = Block(bias)
        with torch.no_grad():
            block.bn.running_mean.uniform_(-1, 1)
            block.bn.running_var.uniform_(0.5, 2)
            block.bn.weight.uniform_(0.5, 1.5)
            block.bn.bias.uniform_(-0.5, 0.5)
        x = torch.randn(4, 3, 8, 8)
        train_mode = Block(bias).train()
        assert fold_batch_norm(train_mode) == 0  # a norm that still learns its statistics is left alone
        before = block.eval()(x)
        assert fold_batch_norm(block) == 1
        assert isinstance(block.bn, torch.nn.Identity)
        assert torch.allclose(block(x), before, atol=1e-5)
