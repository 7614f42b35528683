"""Units, dimensionless numbers and the blur schedule."""

import math

import numpy as np
import pytest

from advdiff.errors import ConfigError
from advdiff.lbm import units


@pytest.mark.parametrize(
    ("sigma_max", "total", "max_steps", "single_step_levels"),
    [(128, 49_267, 2_665, 59), (64, 12_413, 585, 70), (32, 3_195, 126, 85), (20, 1_325, 44, 99)],
)
def test_schedule_matches_the_papers_code(sigma_max, total, max_steps, single_step_levels):
    """Step counts for L = 128, K = 200 equal those of the authors' schedule (Beyond Blur, ICCV 2025).

    Their loop also gives level 0 (sigma_0 = 0) one step at alpha = 0, i.e. tau = 1/2, a
    no-op that we do not run (level 0 is the clean image), hence the ``- 1``.
    """
    s = units.build_schedule(200, sigma_max, length=128)
    assert s.total_steps == total - 1
    assert s.steps.max() == max_steps
    assert int(np.sum(s.steps[1:] == 1)) == single_step_levels - 1
    assert s.fourier[-1] == pytest.approx(sigma_max**2 / (2 * 128**2))


def test_schedule_reproduces_the_blur_variances():
    """Each level adds exactly sigma_k^2 - sigma_{k-1}^2 of variance (2 alpha n) and keeps alpha <= alpha_max."""
    s = units.build_schedule(100, 20, length=28)
    assert s.sigmas[0] == 0 and s.sigmas[1] == pytest.approx(0.5) and s.sigmas[-1] == pytest.approx(20)
    np.testing.assert_allclose(np.cumsum(2 * s.alphas * s.steps), s.sigmas**2, rtol=1e-12)
    assert s.alphas[1:].max() <= 1 / 6 + 1e-15
    assert np.all(s.alphas[1:] > 0)
    per_step = s.per_step_diffusivity()
    assert per_step.shape == (s.total_steps,)
    assert np.sum(2 * per_step) == pytest.approx(400)
    assert s.level_end[-1] == s.total_steps and s.level_end[0] == 0


def test_peclet_sets_velocity_and_transport_bound():
    """U_n = Pe alpha_n / L; their sum, the transport bound, is Pe sigma_max^2 / (2 L) (not a displacement)."""
    s = units.build_schedule(200, 128, length=128, peclet=0.06)
    np.testing.assert_allclose(s.velocity_rms, 0.06 * s.alphas / 128)
    assert s.transport_bound == pytest.approx(0.06 * 128**2 / (2 * 128))
    assert s.transport_bound == pytest.approx(units.transport_bound(0.06, 128, 128))
    assert s.per_step_velocity_rms().shape == (s.total_steps,)
    summary = s.summary()
    assert summary["peclet"] == 0.06 and summary["total_steps"] == s.total_steps
    assert summary["transport_bound_px"] == pytest.approx(s.transport_bound)
    assert not any("displacement" in key for key in summary)
    assert not hasattr(s, "displacement") and not hasattr(units, "advective_displacement")
    assert units.build_schedule(200, 128, length=128).velocity_rms.max() == 0


def test_tau_and_omega():
    """tau = 3 alpha + 1/2 and its inverse."""
    assert units.tau(1 / 6) == pytest.approx(1.0)
    assert units.omega(1 / 6) == pytest.approx(1.0)
    assert units.diffusivity_from_tau(0.8) == pytest.approx(0.1)
    assert units.sigma_from_fourier(units.fourier(20.0, 28), 28) == pytest.approx(20.0)


@pytest.mark.parametrize(
    ("call", "key"),
    [
        (lambda: units.tau(0.0), "alpha"),
        (lambda: units.tau(-0.1), "alpha"),
        (lambda: units.tau(float("nan")), "alpha"),
        (lambda: units.diffusivity_from_tau(0.5), "tau"),
        (lambda: units.check_diffusivity([0.1, 0.0, 0.1], 3), "diffusivity[1]"),
        (lambda: units.check_diffusivity([0.1, np.inf], 2), "diffusivity[1]"),
        (lambda: units.check_diffusivity([0.1, 0.1], 3), "diffusivity"),
        (lambda: units.build_schedule(0, 20, length=28), "K"),
        (lambda: units.build_schedule(2.5, 20, length=28), "K"),
        (lambda: units.build_schedule(10, 20, length=28, sigma_min=0), "sigma_min"),
        (lambda: units.build_schedule(10, 0.4, length=28), "sigma_max"),
        (lambda: units.build_schedule(10, 20, length=28, peclet=-1), "peclet"),
        (lambda: units.build_schedule(10, 20, length=28, peclet=float("inf")), "peclet"),
        (lambda: units.build_schedule(10, 20, length=0), "length"),
        (lambda: units.build_schedule(10, 20, length=28, alpha_max=0), "alpha_max"),
        (lambda: units.check_speed(0.2), "max |velocity|"),
        (lambda: units.check_speed(float("nan")), "velocity"),
    ],
)
def test_bad_values_name_key_value_and_range(call, key):
    """Every rejected input raises ConfigError naming the key and what is allowed."""
    with pytest.raises(ConfigError) as err:
        call()
    assert str(err.value).startswith(key)
    assert "expected" in str(err.value)


def test_mach_limit_rejects_large_peclet_before_work():
    """A Péclet number whose velocity exceeds the Mach limit is refused with the allowed maximum."""
    with pytest.raises(ConfigError, match=r"peclet=.*<= "):
        units.build_schedule(10, 20, length=28, peclet=100)
    limit = units.MAX_SPEED * 28 / (1 / 6)
    assert units.build_schedule(10, 20, length=28, peclet=0.99 * limit).velocity_rms.max() <= units.MAX_SPEED
    assert units.MAX_SPEED == pytest.approx(units.MACH_LIMIT / math.sqrt(3))


def test_schedule_from_the_fourier_number():
    """Fo_max = sigma_max^2 / (2 L^2) sets the same schedule as sigma_max; giving both or neither is an error."""
    a = units.build_schedule(100, 20, length=28, peclet=0.1)
    b = units.build_schedule(100, length=28, peclet=0.1, fourier_max=20**2 / (2 * 28**2))
    np.testing.assert_allclose(b.sigmas, a.sigmas)
    np.testing.assert_array_equal(b.steps, a.steps)
    assert b.fourier[-1] == pytest.approx(20**2 / (2 * 28**2))
    with pytest.raises(ConfigError, match="sigma_max"):
        units.build_schedule(100, 20, length=28, fourier_max=0.2)
    with pytest.raises(ConfigError, match="sigma_max"):
        units.build_schedule(100, length=28)
    with pytest.raises(ConfigError, match="fourier"):
        units.build_schedule(100, length=28, fourier_max=-1)
