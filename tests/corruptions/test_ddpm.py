"""``ddpm``: the closed-form marginal q(x_k | x_0) and the Markov chain of its trajectories (after Ho et al. 2020)."""

import math

import pytest
import torch

from advdiff.corruptions import DDPM, build
from advdiff.errors import ConfigError

N = 4000  # draws per statistic


def fixed_image(seed=0):
    return torch.rand((1, 1, 8, 8), generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def check_moments(z, mean, var):
    """Per-pixel means within 5 standard errors; the pooled variance within 5 of its standard errors."""
    n, pixels = z.shape[0], z[0].numel()
    se = math.sqrt(var / n)
    assert (z.mean(0) - mean).abs().max() <= 5 * se
    pooled = ((z - mean) ** 2).mean()
    assert abs(pooled - var) <= 5 * var * math.sqrt(2 / (n * pixels))


def test_schedule():
    """Linear betas from beta_min to beta_max over K steps; abar_0 = 1 and abar_k = prod (1 - beta_j)."""
    ddpm = DDPM()
    assert ddpm.K == 1000 and ddpm.betas.shape == (1001,) and ddpm.alphas_cumprod[0] == 1
    assert ddpm.betas[1] == pytest.approx(1e-4) and ddpm.betas[-1] == pytest.approx(0.02)
    torch.testing.assert_close(ddpm.alphas_cumprod[500], torch.prod(1 - ddpm.betas[1:501]))
    assert 0 < ddpm.alphas_cumprod[-1] < 1e-4  # the last level is nearly pure noise


@pytest.mark.parametrize("k", [3, 10, 20])
def test_degrade_matches_the_closed_form(k):
    """2 x_k - 1 has mean sqrt(abar_k)(2 x0 - 1) and variance 1 - abar_k."""
    ddpm = build("ddpm", K=20, beta_max=0.2)
    x0 = fixed_image()
    z = 2 * ddpm.degrade(x0.expand(N, -1, -1, -1), k, torch.Generator().manual_seed(k)) - 1
    abar = float(ddpm.alphas_cumprod[k])
    check_moments(z, math.sqrt(abar) * (2 * x0[0] - 1), 1 - abar)


def test_degrade_with_noise_returns_the_noise_used():
    ddpm = build("ddpm", K=20, beta_max=0.2)
    x0 = fixed_image().expand(3, -1, -1, -1)
    k = torch.tensor([0, 5, 20])
    xk, eps = ddpm.degrade_with_noise(x0, k, torch.Generator().manual_seed(0))
    assert torch.equal(xk, ddpm.degrade(x0, k, torch.Generator().manual_seed(0)))
    abar = ddpm.alphas_cumprod[k].view(-1, 1, 1, 1)
    torch.testing.assert_close(2 * xk - 1, abar.sqrt() * (2 * x0 - 1) + (1 - abar).sqrt() * eps)
    assert torch.equal(xk[0], x0[0])


def test_trajectory_is_a_markov_sample_path_with_the_same_marginals():
    """Levels of one trajectory have the closed-form marginals, and each step adds beta_k of fresh noise."""
    ddpm = build("ddpm", K=20, beta_max=0.2)
    x0 = fixed_image(1)
    z = 2 * ddpm.trajectory(x0.expand(N, -1, -1, -1), torch.Generator().manual_seed(1)) - 1
    for k in (5, 20):
        abar = float(ddpm.alphas_cumprod[k])
        check_moments(z[k], math.sqrt(abar) * (2 * x0[0] - 1), 1 - abar)
    k = 12
    beta = float(ddpm.betas[k])
    step = z[k] - math.sqrt(1 - beta) * z[k - 1]
    check_moments(step, torch.zeros(()), beta)
    # the fresh noise is independent of the previous level
    corr = ((step - step.mean(0)) * (z[k - 1] - z[k - 1].mean(0))).mean() / (step.std() * z[k - 1].std())
    assert abs(corr) < 5 / math.sqrt(N * 64)


def test_prior_is_standard_normal_in_model_space():
    ddpm = build("ddpm", K=20)
    out = ddpm.prior(N, torch.Generator().manual_seed(2), shape=(1, 8, 8))
    check_moments(2 * out - 1, torch.zeros(()), 1.0)


@pytest.mark.parametrize(
    ("params", "key"),
    [
        ({"beta_min": 0.0}, "beta_min"),
        ({"beta_max": 1.0}, "beta_max"),
        ({"beta_min": 0.1, "beta_max": 0.01}, "beta_max"),
    ],
)
def test_bad_parameters_name_the_key(params, key):
    with pytest.raises(ConfigError, match=key):
        build("ddpm", **params)
