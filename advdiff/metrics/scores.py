"""The scores themselves, on features or pixel histograms (no networks here).

FID (Heusel et al. 2017; :func:`fid_from_stats`) and KID (Binkowski et al. 2018; :func:`kid`, unbiased
polynomial-kernel estimator over random subsets) use torch-fidelity's formulas. Precision, recall,
density and coverage (Naeem et al. 2020; :func:`prdc`) use k-nearest-neighbour balls in float64 row
chunks, so 50 000 x 50 000 distances never sit in memory. The palette score (:func:`palette_scores`)
is, per channel, the 1-Wasserstein distance between 256-level intensity histograms in intensity
units (a uniform shift by d scores d), with the signed mean intensity shift. Sizes a score cannot
use (k >= n, fewer than 2 images) raise :class:`~advdiff.errors.ConfigError` naming the score, the
count and what is needed.
"""

from __future__ import annotations

import numpy as np
import torch

from advdiff.errors import ConfigError

LEVELS = 256
"""Intensity levels of the palette histograms (8-bit images)."""


def check_count(score: str, side: str, n: int, needed: int, fix: str) -> None:
    """Raise a ConfigError when ``n`` images are fewer than the ``needed`` of ``score``."""
    if n < needed:
        raise ConfigError(f"{score} needs at least {needed} {side} images, got {n}: {fix}")


# --------------------------------------------------------------------------- FID


def gaussian_stats(features: torch.Tensor) -> dict[str, np.ndarray]:
    """Mean (D,) and covariance (D, D) of features (N, D), in float64."""
    check_count("FID", "", features.shape[0], 2, "a covariance needs two images or more")
    x = features.detach().cpu().to(torch.float64).numpy()
    return {"mu": x.mean(axis=0), "sigma": np.atleast_2d(np.cov(x, rowvar=False))}


def fid_from_stats(real: dict[str, np.ndarray], fake: dict[str, np.ndarray]) -> float:
    """Fréchet distance between two Gaussians ``{"mu", "sigma"}`` (torch-fidelity's computation)."""
    from torch_fidelity.metric_fid import KEY_METRIC_FID, fid_statistics_to_metric

    if real["mu"].shape != fake["mu"].shape:
        raise ConfigError(f"FID compares features of one size, got {real['mu'].shape} and {fake['mu'].shape}")
    return float(fid_statistics_to_metric(real, fake, verbose=False)[KEY_METRIC_FID])


def fid(real: torch.Tensor, fake: torch.Tensor) -> float:
    """FID between two feature sets (N, D) and (M, D)."""
    return fid_from_stats(gaussian_stats(real), gaussian_stats(fake))


# --------------------------------------------------------------------------- KID


def kid_subset_size(n_real: int, n_fake: int, wanted: int = 1000) -> int:
    """The KID subset size actually used: ``wanted`` capped by both set sizes (at least 2 needed)."""
    size = min(wanted, n_real, n_fake)
    check_count("KID", "real and generated", size, 2, "the unbiased estimator needs 2 images per subset")
    return size


def kid(
    real: torch.Tensor, fake: torch.Tensor, *, subsets: int = 100, subset_size: int = 1000, seed: int = 2020
) -> tuple[float, float]:
    """KID mean and std over ``subsets`` random subsets (torch-fidelity's estimator, cubic kernel)."""
    from torch_fidelity.metric_kid import KEY_METRIC_KID_MEAN, KEY_METRIC_KID_STD, kid_features_to_metric

    if subsets < 1:
        raise ConfigError(f"kid_subsets={subsets!r} is not allowed: expected an integer >= 1")
    size = kid_subset_size(len(real), len(fake), subset_size)
    out = kid_features_to_metric(
        fake.to(torch.float64),
        real.to(torch.float64),
        kid_subsets=subsets,
        kid_subset_size=size,
        rng_seed=seed,
        verbose=False,
    )
    return float(out[KEY_METRIC_KID_MEAN]), float(out[KEY_METRIC_KID_STD])


# --------------------------------------------------------------------------- PRDC


def _kth_neighbour_distances(x: torch.Tensor, k: int, chunk: int) -> torch.Tensor:
    """Distance of each row of ``x`` to its k-th nearest other row (the row itself excluded)."""
    out = []
    for start in range(0, x.shape[0], chunk):
        d = torch.cdist(x[start : start + chunk], x)
        out.append(d.kthvalue(k + 1, dim=1).values)  # the 1st smallest is the row itself (0)
    return torch.cat(out)


def prdc(real: torch.Tensor, fake: torch.Tensor, k: int = 5, chunk: int = 1024) -> dict[str, float]:
    """Precision, recall, density and coverage of ``fake`` against ``real`` (Naeem et al. 2020).

    Balls around each real (fake) feature reach its k-th nearest real (fake) neighbour.
    precision: share of fakes inside some real ball; recall: share of reals inside some fake ball;
    density: mean number of real balls holding a fake, over k; coverage: share of real balls that
    hold a fake. Strict inequality, as in the authors' code.
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ConfigError(f"prdc_k={k!r} is not allowed: expected an integer >= 1")
    fix = f"use more images (n > k) or a smaller k (prdc_k={k})"
    check_count(f"PRDC with k={k}", "real", real.shape[0], k + 1, fix)
    check_count(f"PRDC with k={k}", "generated", fake.shape[0], k + 1, fix)
    real = real.detach().cpu().to(torch.float64)
    fake = fake.detach().cpu().to(torch.float64)
    real_radius = _kth_neighbour_distances(real, k, chunk)
    fake_radius = _kth_neighbour_distances(fake, k, chunk)
    fake_in_real_ball = torch.zeros(fake.shape[0], dtype=torch.bool)
    real_balls_per_fake = torch.zeros(fake.shape[0], dtype=torch.float64)
    real_in_fake_ball = []
    real_ball_covered = []
    for start in range(0, real.shape[0], chunk):
        d = torch.cdist(real[start : start + chunk], fake)  # (chunk, M)
        inside = d < real_radius[start : start + chunk, None]
        fake_in_real_ball |= inside.any(dim=0)
        real_balls_per_fake += inside.sum(dim=0)
        real_in_fake_ball.append((d < fake_radius[None, :]).any(dim=1))
        real_ball_covered.append(inside.any(dim=1))
    return {
        "precision": float(fake_in_real_ball.double().mean()),
        "recall": float(torch.cat(real_in_fake_ball).double().mean()),
        "density": float(real_balls_per_fake.mean() / k),
        "coverage": float(torch.cat(real_ball_covered).double().mean()),
    }


# --------------------------------------------------------------------------- palette


def channel_histograms(images: torch.Tensor) -> torch.Tensor:
    """Per-channel counts of the 256 intensity levels of uint8 images (N, C, H, W): float64 (C, 256)."""
    if images.dtype != torch.uint8 or images.dim() != 4:
        raise ConfigError(
            f"channel histograms need uint8 images (N, C, H, W), got {images.dtype} {tuple(images.shape)}"
        )
    flat = images.transpose(0, 1).reshape(images.shape[1], -1).to(torch.int64)
    return torch.stack([torch.bincount(row, minlength=LEVELS) for row in flat]).to(torch.float64)


def _match_channels(real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if real.shape[0] == fake.shape[0]:
        return real, fake
    if real.shape[0] == 1:
        return real.expand(fake.shape[0], -1), fake
    if fake.shape[0] == 1:
        return real, fake.expand(real.shape[0], -1)
    raise ConfigError(
        f"palette: real images have {real.shape[0]} channels and generated ones {fake.shape[0]}; "
        "expected the same number, or grey (1) against RGB (3)"
    )


def palette_scores(real_hist: torch.Tensor, fake_hist: torch.Tensor) -> dict[str, object]:
    """Palette scores from per-channel histograms (C, 256) of real and generated images.

    ``palette``: mean over channels of the 1-Wasserstein distance between the normalised
    histograms, in intensity units (0 = same palette; a uniform shift by d gives d);
    ``palette_per_channel``: the same per channel; ``intensity_shift``: generated minus real mean
    intensity per channel (signed, [0, 1] units).
    """
    real_hist, fake_hist = _match_channels(real_hist.to(torch.float64), fake_hist.to(torch.float64))
    for name, h in (("real", real_hist), ("generated", fake_hist)):
        if (h.sum(dim=1) <= 0).any():
            raise ConfigError(f"palette: the {name} images have no pixels")
    p = real_hist / real_hist.sum(dim=1, keepdim=True)
    q = fake_hist / fake_hist.sum(dim=1, keepdim=True)
    step = 1.0 / (LEVELS - 1)
    w1 = (p.cumsum(dim=1) - q.cumsum(dim=1))[:, :-1].abs().sum(dim=1) * step
    levels = torch.arange(LEVELS, dtype=torch.float64) * step
    shift = (q * levels).sum(dim=1) - (p * levels).sum(dim=1)
    return {
        "palette": float(w1.mean()),
        "palette_per_channel": [float(v) for v in w1],
        "intensity_shift": [float(v) for v in shift],
    }
