"""Physics limits: what the lattice cannot compute is refused before any work, naming the bound."""

import logging

import numpy as np
import pytest
import yaml

from advdiff.corruptions import build
from advdiff.errors import ConfigError
from advdiff.lbm import solve, units
from advdiff.sweep import build_sweep


@pytest.fixture
def data():
    return np.random.default_rng(0).random((2, 1, 16, 16)).astype(np.float32)


@pytest.mark.parametrize("alpha", [5.0, 1e6])
def test_diffusivity_beyond_the_stable_range_is_refused(data, alpha):
    with pytest.raises(ConfigError, match=rf"diffusivity={alpha!r}.*from 1e-06 to 1 .*maximum principle"):
        solve(data, alpha, 20)


@pytest.mark.parametrize("alpha", [1e-30, 1e-9])
def test_diffusivity_too_small_for_float32_tau_is_refused(data, alpha):
    with pytest.raises(ConfigError, match=r"diffusivity=.*not resolved in float32"):
        solve(data, alpha, 20)


def test_diffusivity_inside_the_stable_range_keeps_data_in_range(data):
    out = solve(data, units.ALPHA_STABLE_MAX, 200, collision="bgk")
    assert data.min() <= out.min() and out.max() <= data.max()


def test_alpha_max_that_needs_absurd_step_counts_is_refused():
    with pytest.raises(ConfigError, match=r"alpha_max=1e-09.*at most 10,000,000 LBM steps"):
        units.build_schedule(100, 20, length=28, alpha_max=1e-9)
    with pytest.raises(ConfigError, match=r"alpha_max=2.0.*<= 1"):
        units.build_schedule(100, 20, length=28, alpha_max=2.0)


@pytest.mark.parametrize("sigma_min", [0.001, 0.01, 0.3])
def test_sub_validated_blur_is_refused(sigma_min):
    with pytest.raises(ConfigError, match=rf"sigma_min={sigma_min!r}.*>= 0.5 pixels.*validated"):
        build("advdiff", sigma_min=sigma_min)


def test_limiter_saturation_is_measured():
    adv = build("advdiff", peclet=1.0)
    rms = adv.velocity_rms(28, 28)
    assert rms["limiter_ratio"] < 0.9  # Pe 1 at 28 px: the limiter keeps about three quarters
    assert rms["realised"] == pytest.approx(rms["requested"] * rms["limiter_ratio"])
    assert build("advdiff", peclet=0.06).velocity_rms(28, 28)["limiter_ratio"] > 0.99


def _sweep(**changes):
    with open("config/config.yaml") as fh:
        section = yaml.safe_load(fh)["sweep"]
    section.update(changes)
    return section


def test_sweep_refuses_peclet_values_the_limiter_makes_indistinguishable():
    with pytest.raises(ConfigError, match=r"sweep.peclet\[1\] = 5 and sweep.peclet\[2\] = 19.*limiter"):
        build_sweep(_sweep(peclet=[0.0, 5.0, 19.0]))


def test_sweep_logs_a_saturated_peclet(caplog):
    with caplog.at_level(logging.WARNING, logger="advdiff.sweep"):
        build_sweep(_sweep(peclet=[0.0, 1.0]))
    assert "Pe 1 realises" in caplog.text and "limiter" in caplog.text
