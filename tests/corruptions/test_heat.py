"""``heat``: the exact DCT heat operator is a Gaussian blur of width sigma_k with reflecting walls."""

import math

import numpy as np
import pytest
import scipy.ndimage
import torch

from advdiff.corruptions import HeatDissipation, build
from advdiff.corruptions.dct import dct2, heat_blur
from advdiff.errors import ConfigError
from advdiff.lbm import units
from advdiff.lbm.validation import heat_dct


def noise_images(shape=(2, 3, 32, 40), dtype=torch.float64, seed=0):
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def test_level_k_is_a_gaussian_blur_of_width_sigma_k():
    """Against scipy's Gaussian filter, whose 'reflect' mode is the half-sample symmetric extension of the DCT-II.

    The sampled, normalised Gaussian kernel differs from the continuous heat kernel by aliasing,
    ~exp(-pi^2 sigma^2 / 2) at the Nyquist frequency: 0.3 at sigma = 0.5, 1e-5 at 1.5, 3e-9 at 2.
    So the comparison is exact for sigma_k >= 2 and within that bound at sigma_k = 1.5; white noise
    (all frequencies at full amplitude) is the hardest input.
    """
    heat = build("heat", K=12, sigma_min=0.5, sigma_max=6.0)
    x0 = noise_images()
    checked = 0
    for k in range(1, heat.K + 1):
        sigma = float(heat.sigmas[k])
        if sigma < 1.5:
            continue
        ours = heat.degrade(x0, k).numpy()
        ref = scipy.ndimage.gaussian_filter(x0.numpy(), sigma=(0, 0, sigma, sigma), mode="reflect", truncate=12.0)
        atol = 1e-8 if sigma >= 2 else 5e-6
        np.testing.assert_allclose(ours, ref, atol=atol, rtol=0, err_msg=f"level {k}, sigma {sigma:.3f}")
        rim = int(np.ceil(3 * sigma))  # away from the border the walls do not matter at all
        np.testing.assert_allclose(ours[..., rim:-rim, rim:-rim], ref[..., rim:-rim, rim:-rim], atol=atol, rtol=0)
        checked += 1
    assert checked >= 6


def test_matches_the_numpy_dct_oracle_and_float32():
    """Equals the SciPy DCT heat operator of the LBM validation (float64), and float32 agrees to 1e-5."""
    heat = build("heat", K=10, sigma_max=8.0)
    x0 = noise_images((2, 3, 16, 20))
    for k in (1, 5, 10):
        ref = heat_dct(x0.numpy(), float(heat.sigmas[k]))
        np.testing.assert_allclose(heat.degrade(x0, k).numpy(), ref, atol=1e-12, rtol=0)
        single = heat.degrade(x0.float(), k)
        assert single.dtype == torch.float32
        np.testing.assert_allclose(single.numpy(), ref, atol=1e-5, rtol=0)


def test_channel_means_are_conserved_and_values_stay_in_range():
    """lambda_00 = 0 keeps each channel's mean; the positive heat kernel keeps values within [min, max] of x0."""
    heat = build("heat", K=20, sigma_max=20.0)
    x0 = noise_images((2, 3, 28, 28))
    traj = heat.trajectory(x0)
    means = traj.mean(dim=(-2, -1))
    torch.testing.assert_close(means, x0.mean(dim=(-2, -1)).expand_as(means), atol=1e-12, rtol=0)
    assert traj.min() >= x0.min() - 1e-12 and traj.max() <= x0.max() + 1e-12
    # the slowest non-constant mode decays by exp(-(pi/28)^2 sigma_max^2 / 2), about 0.08
    ratio = dct2(traj[-1])[..., 0, 1] / dct2(x0)[..., 0, 1]
    torch.testing.assert_close(ratio, torch.full_like(ratio, np.exp(-((np.pi / 28) ** 2) * 200)))


def test_levels_compose_as_a_semigroup():
    """Blurring level j by sqrt(sigma_k^2 - sigma_j^2) gives level k."""
    heat = build("heat", K=8, sigma_max=5.0)
    x0 = noise_images((1, 2, 12, 14))
    j, k = 3, 7
    extra = math.sqrt(float(heat.sigmas[k] ** 2 - heat.sigmas[j] ** 2))
    torch.testing.assert_close(heat_blur(heat.degrade(x0, j), extra), heat.degrade(x0, k), atol=1e-12, rtol=0)


def test_schedule_prior_and_sampling_constants():
    """sigma_k is the heat-dissipation schedule; the prior is the last level of training images; delta = 1.25 sigma."""
    heat = HeatDissipation()
    assert (heat.K, heat.params["sigma_min"], heat.params["sigma_max"]) == (100, 0.5, 20.0)
    np.testing.assert_allclose(heat.sigmas.numpy(), units.sigma_schedule(100, 0.5, 20.0))
    assert heat.training_noise == 0.01 and heat.sampling_delta == pytest.approx(0.0125)
    x0 = noise_images((2, 1, 8, 8), dtype=torch.float32)
    assert torch.equal(heat.prior(x0), heat.degrade(x0, heat.K))
    with pytest.raises(ConfigError, match="training images"):
        heat.prior(5, shape=(1, 8, 8))


@pytest.mark.parametrize(
    ("params", "key"),
    [
        ({"K": 0}, "K"),
        ({"K": "ten"}, "K"),
        ({"sigma_min": -1.0}, "sigma_min"),
        ({"sigma_min": 2.0, "sigma_max": 1.0}, "sigma_max"),
        ({"noise_sigma": float("nan")}, "noise_sigma"),
        ({"delta_factor": -1}, "delta_factor"),
    ],
)
def test_bad_parameters_name_the_key(params, key):
    with pytest.raises(ConfigError, match=key):
        build("heat", **params)
