"""The maths of the scores: FID, KID, PRDC and palette against known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from advdiff.errors import ConfigError
from advdiff.metrics import channel_histograms, fid, kid, palette_scores, prdc, to_uint8


def noisy(images: torch.Tensor, sigma: float, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (images + sigma * torch.randn(images.shape, generator=g)).clamp(0, 1)


# --------------------------------------------------------------------------- FID


def test_fid_of_a_set_against_itself_is_zero(fmnist, tiny):
    feats = tiny.features(to_uint8(fmnist[:200]))
    assert abs(fid(feats, feats)) < 1e-8


def test_fid_of_gaussians_matches_the_closed_form():
    """Two Gaussians with diagonal covariances: |mu1 - mu2|^2 + sum (s1 - s2)^2 for standard deviations s."""
    g = torch.Generator().manual_seed(0)
    a = torch.randn(20000, 3, generator=g, dtype=torch.float64)
    b = torch.randn(20000, 3, generator=g, dtype=torch.float64) * torch.tensor([1.0, 2.0, 0.5]) + 1.0
    exact = 3 * 1.0 + (1 - 1) ** 2 + (2 - 1) ** 2 + (0.5 - 1) ** 2
    assert fid(a, b) == pytest.approx(exact, rel=0.03)


def test_fid_grows_monotonically_with_noise(fmnist, tiny):
    real = tiny.features(to_uint8(fmnist[:200]))
    sigmas = [0.0, 0.02, 0.05, 0.1, 0.2, 0.4]
    scores = [fid(real, tiny.features(to_uint8(noisy(fmnist[:200], s)))) for s in sigmas]
    assert scores[0] < 1e-8
    assert all(b > a for a, b in zip(scores, scores[1:], strict=False)), scores


def test_fid_needs_two_images_and_one_feature_size():
    with pytest.raises(ConfigError, match="FID needs at least 2"):
        fid(torch.randn(1, 4), torch.randn(5, 4))
    with pytest.raises(ConfigError, match="one size"):
        fid(torch.randn(5, 4), torch.randn(5, 3))


# --------------------------------------------------------------------------- KID


def test_kid_is_near_zero_for_one_distribution_and_grows_with_noise(fmnist, tiny):
    real = tiny.features(to_uint8(fmnist[:200]))
    other = tiny.features(to_uint8(fmnist[200:400]))
    noisy_feats = tiny.features(to_uint8(noisy(fmnist[200:400], 0.2)))
    same, _ = kid(real, other, subsets=20, subset_size=100)
    far, std = kid(real, noisy_feats, subsets=20, subset_size=100)
    assert abs(same) < 0.2 * far
    assert far > 0 and std >= 0


def test_kid_subset_larger_than_the_sets_is_capped_and_too_few_images_refused():
    a, b = torch.randn(30, 4), torch.randn(40, 4)
    mean, _ = kid(a, b, subsets=5, subset_size=1000)  # capped to 30
    assert math.isfinite(mean)
    with pytest.raises(ConfigError, match="KID needs at least 2"):
        kid(torch.randn(1, 4), b)


# --------------------------------------------------------------------------- PRDC


def expected_coverage(n_real: int, n_fake: int, k: int) -> float:
    """E[coverage] for identical distributions (Naeem et al. 2020, eq. 8)."""
    log_p = sum(math.log(n_real - 1 - i) - math.log(n_real + n_fake - 1 - i) for i in range(k))
    return 1.0 - math.exp(log_p)


@pytest.mark.parametrize("dim", [2, 8])
def test_prdc_of_identical_gaussian_clouds(dim):
    """Same distribution: density 1 and coverage 1 - (1/2)^k in expectation; P and R near 1 in low dimension."""
    g = torch.Generator().manual_seed(dim)
    real, fake = torch.randn(1000, dim, generator=g), torch.randn(1000, dim, generator=g)
    out = prdc(real, fake, k=5)
    assert out["density"] == pytest.approx(1.0, abs=0.08)
    assert out["coverage"] == pytest.approx(expected_coverage(1000, 1000, 5), abs=0.025)
    floor = 0.97 if dim == 2 else 0.9
    assert out["precision"] > floor and out["recall"] > floor


def test_prdc_of_disjoint_clouds_is_zero():
    g = torch.Generator().manual_seed(1)
    real = torch.randn(500, 8, generator=g)
    out = prdc(real, torch.randn(500, 8, generator=g) + 100.0, k=5)
    assert out == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


def test_prdc_precision_drops_when_fakes_leave_the_data_and_recall_when_they_collapse():
    g = torch.Generator().manual_seed(2)
    real = torch.randn(800, 4, generator=g)
    half_out = torch.cat([torch.randn(400, 4, generator=g), torch.randn(400, 4, generator=g) + 50.0])
    collapsed = 0.1 * torch.randn(800, 4, generator=g)
    assert prdc(real, half_out)["precision"] == pytest.approx(0.5, abs=0.05)
    out = prdc(real, collapsed)
    assert out["precision"] > 0.95 and out["recall"] < 0.3 and out["coverage"] < 0.3


def test_precision_recall_agree_with_torch_fidelity():
    from torch_fidelity.metric_prc import calculate_precision_recall_full

    g = torch.Generator().manual_seed(3)
    real, fake = torch.randn(300, 6, generator=g), 1.3 * torch.randn(300, 6, generator=g) + 0.3
    ours = prdc(real, fake, k=5, chunk=64)
    precision, recall = calculate_precision_recall_full(fake, real, neighborhood=5)
    assert ours["precision"] == pytest.approx(precision, abs=1e-6)
    assert ours["recall"] == pytest.approx(recall, abs=1e-6)


def test_prdc_chunking_does_not_change_the_result():
    g = torch.Generator().manual_seed(4)
    real, fake = torch.randn(210, 5, generator=g), torch.randn(190, 5, generator=g) + 0.5
    assert prdc(real, fake, chunk=17) == prdc(real, fake, chunk=4096)


@pytest.mark.parametrize(("n_real", "n_fake"), [(5, 50), (50, 5), (3, 3)])
def test_prdc_refuses_k_not_below_n(n_real, n_fake):
    with pytest.raises(ConfigError, match=r"k=5.*needs at least 6 .*images, got [35].*smaller k"):
        prdc(torch.randn(n_real, 3), torch.randn(n_fake, 3), k=5)


@pytest.mark.parametrize("k", [0, -1, 2.5, True])
def test_prdc_refuses_a_bad_k(k):
    with pytest.raises(ConfigError, match="prdc_k"):
        prdc(torch.randn(20, 3), torch.randn(20, 3), k=k)


# --------------------------------------------------------------------------- palette


def test_palette_is_zero_for_identical_sets(fmnist):
    images = to_uint8(fmnist[:100])
    out = palette_scores(channel_histograms(images), channel_histograms(images))
    assert out["palette"] == 0.0 and out["intensity_shift"] == [0.0]


def test_palette_of_a_uniform_shift_is_the_shift():
    g = torch.Generator().manual_seed(0)
    base = torch.randint(0, 200, (20, 3, 16, 16), generator=g, dtype=torch.uint8)
    shifted = base + 10
    out = palette_scores(channel_histograms(base), channel_histograms(shifted))
    assert out["palette"] == pytest.approx(10 / 255, abs=1e-12)
    assert out["intensity_shift"] == pytest.approx([10 / 255] * 3, abs=1e-12)


def test_palette_sees_a_colour_shift_in_its_channel_only():
    g = torch.Generator().manual_seed(1)
    base = torch.rand(30, 3, 12, 12, generator=g) * 0.8
    reddened = base.clone()
    reddened[:, 0] += 0.15
    out = palette_scores(channel_histograms(to_uint8(base)), channel_histograms(to_uint8(reddened)))
    red, green, blue = out["palette_per_channel"]
    assert red == pytest.approx(0.15, abs=0.01) and green == 0.0 and blue == 0.0
    assert out["palette"] == pytest.approx(0.05, abs=0.004)
    assert out["intensity_shift"][0] == pytest.approx(0.15, abs=0.01)


def test_palette_of_a_contrast_change_is_positive_with_no_mean_shift():
    """The histogram distance sees what the mean misses: a contrast stretch around the mean."""
    g = torch.Generator().manual_seed(2)
    base = 0.5 + 0.1 * torch.randn(40, 1, 16, 16, generator=g)
    stretched = 0.5 + 2.0 * (base - 0.5)
    out = palette_scores(channel_histograms(to_uint8(base)), channel_histograms(to_uint8(stretched)))
    assert out["palette"] > 0.05
    assert abs(out["intensity_shift"][0]) < 0.01


def test_palette_compares_grey_with_rgb_and_refuses_other_channel_mixes():
    grey = torch.full((2, 1, 4, 4), 100, dtype=torch.uint8)
    rgb = torch.full((2, 3, 4, 4), 100, dtype=torch.uint8)
    assert palette_scores(channel_histograms(grey), channel_histograms(rgb))["palette"] == 0.0
    with pytest.raises(ConfigError, match="channels"):
        palette_scores(torch.ones(2, 256), torch.ones(3, 256))


def test_channel_histograms_count_every_pixel():
    images = torch.tensor(np.arange(2 * 3 * 4 * 4) % 256, dtype=torch.uint8).reshape(2, 3, 4, 4)
    hist = channel_histograms(images)
    assert hist.shape == (3, 256) and torch.all(hist.sum(dim=1) == 32)
