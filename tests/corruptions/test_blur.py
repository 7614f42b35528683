"""``blur``: blurring diffusion's closed form in DCT space (after Hoogeboom & Salimans 2023)."""

import math

import pytest
import scipy.fft
import torch

from advdiff.corruptions import build
from advdiff.corruptions.dct import laplacian_eigenvalues
from advdiff.errors import ConfigError

N = 4000


def fixed_image(seed=0):
    return torch.rand((1, 1, 8, 8), generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def dct(x):
    return torch.from_numpy(scipy.fft.dctn(x.numpy(), type=2, norm="ortho", axes=(-2, -1)))


def alpha_sigma(blur, k):
    """alpha_t, sigma_t of the cosine schedule truncated so that log(alpha_1^2 / sigma_1^2) = logsnr_min:
    the angle runs linearly from 0 to theta_max with tan(theta_max)^2 = exp(-logsnr_min)."""
    theta = k / blur.K * math.atan(math.sqrt(math.exp(-blur.params["logsnr_min"])))
    return math.cos(theta), math.sin(theta)


def sigma2(blur, k):
    return alpha_sigma(blur, k)[1] ** 2


def expected_signal(blur, k, H, W):
    """alpha_t d_t per frequency, written out from the formulas."""
    t = k / blur.K
    sigma_b = blur.params["sigma_max"] * math.sin(math.pi * t / 2) ** 2
    d_min = blur.params["d_min"]
    d = (1 - d_min) * torch.exp(-laplacian_eigenvalues(H, W) * sigma_b**2 / 2) + d_min
    return alpha_sigma(blur, k)[0] * d


def check_moments(u, mean, var):
    n, pixels = u.shape[0], u[0].numel()
    assert (u.mean(0) - mean).abs().max() <= 5 * math.sqrt(var / n)
    pooled = ((u - mean) ** 2).mean()
    assert abs(pooled - var) <= 5 * var * math.sqrt(2 / (n * pixels))


@pytest.mark.parametrize("k", [2, 5, 9])
def test_degrade_matches_the_closed_form_in_frequency_space(k):
    """DCT(2 x_t - 1) has mean alpha_t d_t * DCT(2 x0 - 1) and white variance sigma_t^2."""
    blur = build("blur", K=10, sigma_max=3.0)
    x0 = fixed_image()
    torch.testing.assert_close(blur.signal_coefficient(torch.tensor(k), 8, 8), expected_signal(blur, k, 8, 8))
    u = dct(2 * blur.degrade(x0.expand(N, -1, -1, -1), k, torch.Generator().manual_seed(k)) - 1)
    mean = expected_signal(blur, k, 8, 8) * dct(2 * x0[0] - 1)
    check_moments(u, mean, sigma2(blur, k))


def test_log_snr_ends_at_its_bound():
    """Level 0 is clean (alpha 1, sigma 0), log(alpha^2 / sigma^2) decreases to logsnr_min at t = 1, and the
    schedule stays variance preserving."""
    blur = build("blur", K=10, sigma_max=3.0)
    assert blur.alphas[0] == 1 and blur.noise_sigmas[0] == 0
    logsnr = torch.log(blur.alphas[1:] ** 2 / blur.noise_sigmas[1:] ** 2)
    assert float(logsnr[-1]) == pytest.approx(-10.0)
    assert torch.all(logsnr[1:] < logsnr[:-1])
    torch.testing.assert_close(blur.alphas**2 + blur.noise_sigmas**2, torch.ones(11, dtype=torch.float64))
    assert float(torch.log(build("blur", K=4, logsnr_min=-6).alphas[-1] ** 2 / 1)) < 0
    with pytest.raises(ConfigError, match="logsnr_min"):
        build("blur", logsnr_min=float("nan"))


def test_signal_vanishes_at_the_last_level():
    """At t = 1 only noise is left (alpha_1^2 = sigmoid(-10) = 4.5e-5): the last level is the prior N(0, I)."""
    blur = build("blur", K=10, sigma_max=3.0)
    assert blur.signal_coefficient(torch.tensor(10), 8, 8).abs().max() < 7e-3
    assert blur.noise_std(torch.tensor(10)) == pytest.approx(1, abs=3e-5)
    u = dct(2 * blur.degrade(fixed_image().expand(N, -1, -1, -1), 10, torch.Generator().manual_seed(0)) - 1)
    check_moments(u, torch.zeros(()), 1.0)


def test_blur_factor_limits():
    """d_0 = 1 (clean), the mean (DC) is never blurred, and a vanishing blur width leaves the cosine DDPM."""
    blur = build("blur", K=10, sigma_max=20.0)
    assert torch.equal(blur.frequency_scaling(torch.tensor(0), 8, 8), torch.ones(8, 8, dtype=torch.float64))
    d = blur.frequency_scaling(torch.arange(11), 8, 8)
    assert torch.all(d[:, 0, 0] == 1) and d.min() >= 0.001 and torch.all(d[1:] <= d[:-1])
    plain = build("blur", K=10, sigma_max=1e-9)
    torch.testing.assert_close(
        plain.signal_coefficient(torch.arange(11), 8, 8), plain.alphas[:, None, None].expand(11, 8, 8)
    )


def test_trajectory_marginals_and_steps():
    """Trajectory levels have the closed-form marginals; each step adds the per-frequency transition noise."""
    blur = build("blur", K=10, sigma_max=3.0)
    x0 = fixed_image(1)
    u = dct(2 * blur.trajectory(x0.expand(N, -1, -1, -1), torch.Generator().manual_seed(1)) - 1)
    for k in (4, 10):
        check_moments(u[k], expected_signal(blur, k, 8, 8) * dct(2 * x0[0] - 1), sigma2(blur, k))
    k = 6
    ratio = expected_signal(blur, k, 8, 8) / expected_signal(blur, k - 1, 8, 8)
    q2 = sigma2(blur, k) - ratio**2 * sigma2(blur, k - 1)
    step = (u[k] - ratio * u[k - 1]) / q2.sqrt()
    check_moments(step, torch.zeros(()), 1.0)


def test_degrade_with_noise_and_prior():
    blur = build("blur", K=10, sigma_max=3.0)
    x0 = fixed_image().expand(2, -1, -1, -1)
    xk, eps = blur.degrade_with_noise(x0, 4, torch.Generator().manual_seed(0))
    mean, std = blur.model_space_moments(x0, 4)
    torch.testing.assert_close(2 * xk - 1, mean + std.view(-1, 1, 1, 1) * eps)
    out = blur.prior(N, torch.Generator().manual_seed(3), shape=(1, 8, 8))
    check_moments(2 * out - 1, torch.zeros(()), 1.0)


def test_parameters():
    """sigma_max is sigma_B,max; sigma_min is accepted and unused; d_min must lie in (0, 1)."""
    blur = build("blur")
    assert (blur.K, blur.params["sigma_max"], blur.params["d_min"]) == (1000, 20.0, 0.001)
    a = build("blur", K=10, sigma_min=0.5)
    b = build("blur", K=10)
    x0 = fixed_image()
    assert torch.equal(
        a.degrade(x0, 5, torch.Generator().manual_seed(0)), b.degrade(x0, 5, torch.Generator().manual_seed(0))
    )
    for params, key in [({"d_min": 0.0}, "d_min"), ({"d_min": 1.0}, "d_min"), ({"sigma_max": 0}, "sigma_max")]:
        with pytest.raises(ConfigError, match=key):
            build("blur", **params)
