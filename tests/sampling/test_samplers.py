"""Samplers: bookkeeping, determinism, oracle models that must recover a single training image, and dispatch checks.

An oracle for a data set of one image ``x*`` knows the exact answer: the eps-oracle of a
Gaussian family is ``(z_k - a_k ⊙ (2 x* - 1)) / s_k`` (in the family's basis), the residual
oracle of heat dissipation is ``degrade(x*, k - 1) - u``. Every sampler must return ``x*``.
"""

from __future__ import annotations

import math

import pytest
import torch

from advdiff.corruptions import build
from advdiff.corruptions.tensors import randn
from advdiff.errors import ConfigError
from advdiff.sampling import (
    DEFAULT_SAMPLERS,
    FITS,
    SAMPLERS,
    blur_ancestral,
    ddim,
    ddim_levels,
    ddpm_ancestral,
    default_sampler,
    frequency_moments,
    heat_sampler,
    sample,
    sampler_options,
    samplers_for,
)

SHAPE = (3, 8, 8)

# (family, family params, sampler, sampler options): one case per sampler and family it fits.
CASES = [
    ("ddpm", {"K": 20}, "ddpm", {}),
    ("ddpm", {"K": 20}, "ddpm", {"variance": "beta", "clip_denoised": False}),
    ("ddpm", {"K": 20}, "ddim", {"steps": 5, "eta": 0.5}),
    ("blur", {"K": 20, "sigma_max": 3.0}, "blur", {}),
    ("heat", {"K": 20, "sigma_max": 3.0}, "heat", {}),
    ("advdiff", {"K": 3, "sigma_max": 2.0, "peclet": 1.0}, "heat", {}),
]
IDS = [f"{fam}-{smp}-{i}" for i, (fam, _, smp, _) in enumerate(CASES)]


def image(seed: int = 0, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """A fixed clean image (1, C, H, W), data in [0, 1]."""
    return torch.rand((1, *SHAPE), generator=torch.Generator().manual_seed(seed), dtype=dtype)


def prior(corruption, n: int, seed: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    if corruption.prior_needs_images:
        images = torch.rand((n, *SHAPE), generator=torch.Generator().manual_seed(seed + 1000), dtype=dtype)
        return corruption.prior(images, gen)
    return corruption.prior(n, gen, shape=SHAPE, dtype=dtype)


def zero_model(x, k):
    return torch.zeros_like(x)


def wobbly_model(x, k):
    """A per-image, level-dependent, nonlinear model (no batch coupling)."""
    return 0.1 * torch.tanh(3.0 * x) * (k.to(x.dtype) / 10.0).view(-1, 1, 1, 1)


def eps_oracle(corruption, x_star: torch.Tensor, record: list | None = None):
    """The exact eps of a Gaussian family for the data set {x_star}, from the family's closed-form moments."""

    def model(z, k):
        if record is not None:
            record.append((int(k[0]), z.clone()))
        mean, std = corruption.model_space_moments(x_star.expand(z.shape[0], -1, -1, -1).to(z.dtype), k)
        return (z - mean) / std.view(-1, 1, 1, 1)

    return model


def residual_oracle(corruption, x_star: torch.Tensor, record: list | None = None):
    """The exact residual of heat dissipation for the data set {x_star}: u_{k-1} - u."""

    def model(u, k):
        f = corruption.degrade(x_star.expand(u.shape[0], -1, -1, -1).to(u.dtype), k - 1) - u
        if record is not None:
            record.append((int(k[0]), u.clone(), f.clone()))
        return f

    return model


# --------------------------------------------------------------------------- bookkeeping


@pytest.mark.parametrize(("family", "params", "name", "options"), CASES, ids=IDS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_shape_dtype_and_clip(family, params, name, options, dtype):
    corruption = build(family, **params)
    x_K = prior(corruption, 2, seed=1, dtype=dtype)
    out = sample(wobbly_model, corruption, x_K, name, torch.Generator().manual_seed(2), **options)
    assert out.shape == x_K.shape and out.dtype == dtype and out.device == x_K.device
    assert bool(torch.isfinite(out).all())
    clipped = sample(wobbly_model, corruption, x_K, name, torch.Generator().manual_seed(2), clip=True, **options)
    assert clipped.min() >= 0 and clipped.max() <= 1
    torch.testing.assert_close(clipped, out.clamp(0, 1))


def test_zero_model_gives_the_expected_outputs():
    """A zero model: heat returns x_K (delta = 0); DDPM's x0-estimate is z_k / sqrt(abar_k), clipped by default."""
    heat = build("heat", K=5, sigma_max=2.0)
    x_K = prior(heat, 2, seed=0)
    assert torch.equal(heat_sampler(zero_model, heat, x_K, delta=0.0), x_K)
    ddpm = build("ddpm", K=10)
    out = ddpm_ancestral(zero_model, ddpm, prior(ddpm, 2, seed=0), torch.Generator().manual_seed(0))
    assert out.min() >= 0 and out.max() <= 1  # clip_denoised keeps x0_hat in [-1, 1]: the last step returns it


def test_module_models_run_in_their_own_precision():
    """An nn.Module model gets inputs in its dtype and (B,) int64 levels; the result has x_K's dtype."""

    class Probe(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = torch.nn.Parameter(torch.zeros((), dtype=torch.float64))
            self.seen = []

        def forward(self, x, k):
            self.seen.append((x.dtype, k.dtype, tuple(k.shape), torch.is_grad_enabled()))
            return self.scale * x

    probe = Probe()
    heat = build("heat", K=4, sigma_max=2.0)
    out = heat_sampler(probe, heat, prior(heat, 3, seed=0), torch.Generator().manual_seed(0))
    assert out.dtype == torch.float32
    assert probe.seen == [(torch.float64, torch.int64, (3,), False)] * 4


def test_progress_bar_runs(capsys):
    ddpm = build("ddpm", K=5)
    sample(zero_model, ddpm, prior(ddpm, 1, seed=0), progress=True)
    assert "ddpm sampling" in capsys.readouterr().err


# --------------------------------------------------------------------------- determinism


@pytest.mark.parametrize(("family", "params", "name", "options"), CASES, ids=IDS)
def test_same_seed_same_samples_and_batch_independence(family, params, name, options):
    corruption = build(family, **params)
    x_K = prior(corruption, 3, seed=4)
    first = sample(wobbly_model, corruption, x_K, name, torch.Generator().manual_seed(7), **options)
    again = sample(wobbly_model, corruption, x_K, name, torch.Generator().manual_seed(7), **options)
    assert torch.equal(first, again)
    gens = [torch.Generator().manual_seed(s) for s in (10, 11, 12)]
    batch = sample(wobbly_model, corruption, x_K, name, gens, **options)
    alone = sample(wobbly_model, corruption, x_K[1:2], name, [torch.Generator().manual_seed(11)], **options)
    torch.testing.assert_close(batch[1:2], alone, rtol=0, atol=1e-6)
    other = sample(wobbly_model, corruption, x_K, name, torch.Generator().manual_seed(8), **options)
    stochastic = name != "ddim" or options.get("eta", 0) > 0
    assert (not torch.equal(first, other)) == stochastic


# --------------------------------------------------------------------------- oracles: Gaussian families


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("ddpm", {}),
        ("ddpm", {"variance": "beta"}),
        ("ddpm", {"clip_denoised": False}),
        ("ddim", {"steps": 50}),
        ("ddim", {"steps": 50, "eta": 1.0}),
    ],
)
def test_ddpm_oracle_recovers_the_single_training_image(name, options):
    ddpm = build("ddpm", K=1000)
    x_star = image(0, torch.float32)
    x_K = prior(ddpm, 4, seed=5)
    out = sample(eps_oracle(ddpm, x_star), ddpm, x_K, name, torch.Generator().manual_seed(6), **options)
    assert (out - x_star).abs().max() < 1e-5


@pytest.mark.parametrize("options", [{}, {"variance": "beta"}, {"clip_denoised": False}])
def test_blur_oracle_recovers_the_single_training_image(options):
    blur = build("blur", K=200, sigma_max=3.0)
    x_star = image(1, torch.float32)
    x_K = prior(blur, 4, seed=5)
    out = blur_ancestral(eps_oracle(blur, x_star), blur, x_K, torch.Generator().manual_seed(6), **options)
    assert (out - x_star).abs().max() < 1e-5


def _check_marginal(u: torch.Tensor, mean: torch.Tensor, var: float) -> None:
    """Sample mean per coordinate within 5 standard errors, pooled variance within 5 standard errors."""
    n, coords = u.shape[0], u[0].numel()
    assert (u.mean(0) - mean).abs().max() <= 5 * math.sqrt(var / n)
    pooled = ((u - mean) ** 2).mean()
    assert abs(pooled - var) <= 5 * var * math.sqrt(2 / (n * coords))


@pytest.mark.parametrize("name", ["ddpm", "blur"])
def test_ancestral_states_follow_the_forward_marginals(name):
    """With the oracle and posterior variance, the reverse chain's states are distributed as q(u_k | x*).

    The chain starts from q(u_K | x*) itself (DDPM's level K still holds a little signal). This
    checks every posterior coefficient and variance, not only the last step: in the family's basis,
    ``T(2 x_k - 1) ~ N(a_k ⊙ T(2 x* - 1), s_k^2)``.
    """
    corruption = build(name, K=50, **({"sigma_max": 3.0} if name == "blur" else {"beta_max": 0.2}))
    x_star = image(2)
    record: list = []
    x_K = corruption.degrade(x_star.expand(3000, -1, -1, -1), corruption.K, torch.Generator().manual_seed(8))
    sample(eps_oracle(corruption, x_star, record), corruption, x_K, name, torch.Generator().manual_seed(9))
    for k, z in record:
        if k in (40, 25, 5):
            levels = torch.tensor([k])
            mean, std = corruption.model_space_moments(x_star, levels)
            T = corruption.to_basis
            _check_marginal(T(z), T(mean)[0], float(std) ** 2)


def test_ddim_eta_zero_keeps_the_initial_noise():
    """Deterministic DDIM with the oracle stays on the line z_t = sqrt(abar_t) x* + sqrt(1 - abar_t) eps_K."""
    ddpm = build("ddpm", K=1000)
    x_star = image(3)
    x_K = prior(ddpm, 2, seed=10, dtype=torch.float64)
    record: list = []
    ddim(eps_oracle(ddpm, x_star, record), ddpm, x_K, steps=50)
    assert [k for k, _ in record] == list(range(1000, 0, -20))
    abar = ddpm.alphas_cumprod
    z_star = 2 * x_star - 1
    eps_K = (record[0][1] - abar[-1].sqrt() * z_star) / (1 - abar[-1]).sqrt()
    for k, z in record:
        torch.testing.assert_close(z, abar[k].sqrt() * z_star + (1 - abar[k]).sqrt() * eps_K, rtol=0, atol=1e-12)


# --------------------------------------------------------------------------- oracle: heat dissipation


def test_heat_oracle_without_noise_is_exact():
    heat = build("heat", K=30, sigma_max=4.0)
    x_star = image(4)
    out = heat_sampler(residual_oracle(heat, x_star), heat, heat.prior(x_star.expand(2, -1, -1, -1)), delta=0.0)
    assert (out - x_star).abs().max() < 1e-14


@pytest.mark.parametrize("family", ["heat", "advdiff"])
def test_heat_oracle_with_noise_and_a_noise_free_last_step(family):
    """delta > 0: the oracle corrects every step's noise; the output is the last mean, with no noise added."""
    params = {"K": 30, "sigma_max": 4.0} if family == "heat" else {"K": 3, "sigma_max": 2.0}
    corruption = build(family, **params)
    oracle_family = build("heat", **params)  # the oracle's targets: any fixed trajectory will do
    x_star = image(5)
    record: list = []
    x_K = corruption.prior(x_star.expand(3, -1, -1, -1), torch.Generator().manual_seed(0))
    model = residual_oracle(oracle_family, x_star, record)
    out = sample(model, corruption, x_K, generator=torch.Generator().manual_seed(11))
    assert corruption.sampling_delta == pytest.approx(0.0125)
    assert [k for k, *_ in record] == list(range(corruption.K, 0, -1))
    k, u_1, f_1 = record[-1]
    assert k == 1 and torch.equal(out, u_1 + f_1)
    assert (out - x_star).abs().max() < 1e-14
    # the earlier states did carry delta-level noise, which the oracle removed
    k2, u_2, _ = record[-2]
    noise = u_2 - oracle_family.degrade(x_star, k2)
    assert 0.5 * corruption.sampling_delta < float(noise.std()) < 1.5 * corruption.sampling_delta


def test_heat_noise_is_added_on_every_step_but_the_last():
    """With a zero model, u_0 = u_K + delta * (eps_K + ... + eps_2): exactly K - 1 draws, none on the last step."""
    heat = build("heat", K=6, sigma_max=2.0)
    x_K = prior(heat, 2, seed=0, dtype=torch.float64)
    out = heat_sampler(zero_model, heat, x_K, torch.Generator().manual_seed(3), delta=0.05)
    gen = torch.Generator().manual_seed(3)
    draws = [randn(x_K.shape, gen, "cpu", torch.float64) for _ in range(heat.K - 1)]
    torch.testing.assert_close(out, x_K + 0.05 * sum(draws), rtol=0, atol=1e-14)


# --------------------------------------------------------------------------- dispatch and checks


def test_registry_and_defaults():
    assert set(SAMPLERS) == set(FITS) == {"ddpm", "ddim", "blur", "heat"}
    assert {fam: default_sampler(fam) for fam in ("ddpm", "blur", "heat", "advdiff")} == DEFAULT_SAMPLERS
    assert DEFAULT_SAMPLERS == {"ddpm": "ddpm", "blur": "blur", "heat": "heat", "advdiff": "heat"}
    assert samplers_for("ddpm") == ("ddpm", "ddim") and samplers_for("advdiff") == ("heat",)
    for family, name in DEFAULT_SAMPLERS.items():
        assert family in FITS[name]
    assert sampler_options("ddim") == ("progress", "steps", "eta", "clip_denoised", "clip")
    with pytest.raises(ConfigError, match="ddpm, blur, heat, advdiff"):
        default_sampler("nope")


def test_incompatible_and_unknown_samplers_and_options():
    heat = build("heat", K=3, sigma_max=2.0)
    x_K = prior(heat, 1, seed=0)
    with pytest.raises(ConfigError, match=r"sampler='ddim'.*family 'heat': heat"):
        sample(zero_model, heat, x_K, "ddim")
    with pytest.raises(ConfigError, match="ddpm, ddim, blur, heat"):
        sample(zero_model, heat, x_K, "euler")
    with pytest.raises(ConfigError, match="family 'blur': blur"):
        ddim(zero_model, build("blur", K=3), x_K)
    with pytest.raises(ConfigError, match="family 'ddpm': ddpm, ddim"):
        blur_ancestral(zero_model, build("ddpm", K=3), x_K)
    with pytest.raises(ConfigError, match="family 'advdiff': heat"):
        ddpm_ancestral(zero_model, build("advdiff", K=3, sigma_max=2.0), x_K)
    with pytest.raises(ConfigError, match=r"option='eta'.*progress, delta, clip"):
        sample(zero_model, heat, x_K, eta=0.5)


@pytest.mark.parametrize(
    ("name", "options", "key"),
    [
        ("ddpm", {"variance": "large"}, "variance"),
        ("ddpm", {"clip_denoised": 1}, "clip_denoised"),
        ("ddim", {"eta": 1.5}, "eta"),
        ("ddim", {"steps": 0}, "steps"),
        ("ddim", {"steps": 11}, "steps"),
        ("ddim", {"steps": [5, 3]}, "steps"),
        ("ddim", {"clip": "yes"}, "clip"),
        ("ddim", {"progress": None}, "progress"),
    ],
)
def test_bad_option_values(name, options, key):
    ddpm = build("ddpm", K=10)
    with pytest.raises(ConfigError, match=key):
        sample(zero_model, ddpm, prior(ddpm, 1, seed=0), name, **options)


def test_bad_inputs():
    heat = build("heat", K=3, sigma_max=2.0)
    x_K = prior(heat, 2, seed=0)
    with pytest.raises(ConfigError, match="delta"):
        heat_sampler(zero_model, heat, x_K, delta=-1.0)
    with pytest.raises(ConfigError, match="x_K"):
        heat_sampler(zero_model, heat, x_K[0])
    with pytest.raises(ConfigError, match="generator"):
        heat_sampler(zero_model, heat, x_K, [torch.Generator()])
    with pytest.raises(RuntimeError, match="model"):
        heat_sampler(lambda x, k: x[:, :1], heat, x_K)


def test_ddim_levels():
    assert ddim_levels(1000, 50) == list(range(1000, -1, -20))
    assert ddim_levels(10, None) == list(range(10, -1, -1))
    assert ddim_levels(10, 3) == [10, 7, 3, 0]
    assert ddim_levels(10, [10, 2, 5, 5]) == [10, 5, 2, 0]


# --------------------------------------------------------------------------- blur: unresolved frequencies


def _gaussian_blur_case(H: int = 16):
    """Blur at 16 px and a Gaussian data law per DCT frequency: dark mean, power-law variance.

    For Gaussian data the exact eps-prediction is linear, E[eps | u_t] = sigma_t (u_t - a_t m) / (a_t^2 v + sigma_t^2).
    """
    blur = build("blur", K=200, sigma_max=8.0)
    i = torch.arange(H, dtype=torch.float64)
    var = (0.5 / (1.0 + i[:, None] ** 2 + i[None, :] ** 2))[None]
    mean = torch.zeros(1, H, H, dtype=torch.float64)
    mean[0, 0, 0] = -4.0  # model-space pixel mean -4 / 16: data 0.375 on average

    def model(relative_error: float):
        def eps(z, k):
            a = blur.signal_coefficient(k[:1], H, H)[0]
            s = float(blur.noise_std(k[:1])[0])
            e = (blur.to_basis(z.double()) - a * mean) * s / (a * a * var + s * s)
            return blur.from_basis(e).to(z.dtype) * (1.0 + relative_error)

        return eps

    return blur, mean, var, model


@pytest.mark.parametrize("with_moments", [False, True])
def test_blur_data_moments_keep_the_low_frequencies_that_a_pixel_clip_loses(with_moments):
    """A 1 % eps error at the blur floor, amplified by sigma_t / a_t, then clipped in pixels, wipes the image mean.

    With the data's moments at the unresolved frequencies the samples keep the data's mean and spectrum.
    """
    blur, mean, var, model = _gaussian_blur_case()
    x_K = blur.prior(128, torch.Generator().manual_seed(5), shape=(1, 16, 16))
    moments = (mean, var) if with_moments else None
    out = blur_ancestral(model(1e-2), blur, x_K, torch.Generator().manual_seed(6), data_moments=moments)
    u = blur.to_basis(2.0 * out.double() - 1.0)
    dc = float(u[:, 0, 0, 0].mean())
    if not with_moments:
        assert dc > -2.0  # the failure this option exists for: the image mean is mostly gone
        return
    assert dc == pytest.approx(-4.0, abs=0.1)
    low = float(u.var(0)[0, :4, :4].mean() / var[0, :4, :4].mean())
    assert 0.8 < low < 1.1


def test_blur_exact_gaussian_model_is_unchanged_by_the_data_moments():
    blur, mean, var, model = _gaussian_blur_case()
    x_K = blur.prior(16, torch.Generator().manual_seed(5), shape=(1, 16, 16))
    plain = blur_ancestral(model(0.0), blur, x_K, torch.Generator().manual_seed(6))
    shrunk = blur_ancestral(model(0.0), blur, x_K, torch.Generator().manual_seed(6), data_moments=(mean, var))
    assert (plain - shrunk).abs().max() < 1e-4


def test_blur_oracle_with_the_moments_of_its_single_image():
    blur = build("blur", K=200, sigma_max=3.0)
    x_star = image(1, torch.float32)
    moments = frequency_moments(blur, x_star.expand(2, -1, -1, -1))
    assert moments[1].abs().max() < 1e-12 and moments[0].shape == SHAPE
    x_K = prior(blur, 4, seed=5)
    out = blur_ancestral(eps_oracle(blur, x_star), blur, x_K, torch.Generator().manual_seed(6), data_moments=moments)
    assert (out - x_star).abs().max() < 1e-5


def test_frequency_moments_and_bad_data_moments():
    blur = build("blur", K=20, sigma_max=3.0)
    images = torch.rand((5, *SHAPE), generator=torch.Generator().manual_seed(3))
    mean, var = frequency_moments(blur, images)
    u = blur.to_basis(2.0 * images.double() - 1.0)
    assert torch.allclose(mean, u.mean(0)) and torch.allclose(var, u.var(0, unbiased=False))
    x_K = prior(blur, 2, seed=1)
    bad = [
        ((mean,), "data_moments"),
        ((mean[:, :4], var), "shape"),
        ((mean, -var), "variance"),
        ((mean * float("nan"), var), "non-finite"),
    ]
    for moments, words in bad:
        with pytest.raises(ConfigError, match=words):
            blur_ancestral(zero_model, blur, x_K, data_moments=moments)
    with pytest.raises(ConfigError, match="snr_floor"):
        blur_ancestral(zero_model, blur, x_K, data_moments=(mean, var), snr_floor=-1.0)
    with pytest.raises(ConfigError, match="images"):
        frequency_moments(blur, images[:1])


def test_data_options_give_a_sampler_with_data_moments_the_training_data_moments():
    """Only a sampler that takes ``data_moments`` (blur) gets the moments; the others get no options."""
    from advdiff.sampling import data_options

    images = torch.rand((6, 1, 8, 8), generator=torch.Generator().manual_seed(0))
    blur = build("blur", K=10, sigma_max=3.0)
    mean, var = data_options("blur", blur, images)["data_moments"]
    assert mean.shape == var.shape == (1, 8, 8) and float(var.sum()) > 0
    assert data_options("heat", build("heat", K=10, sigma_max=3.0), images) == {}
    assert data_options("ddpm", build("ddpm", K=10), images) == {}

    assert data_options("ddim", build("ddpm", K=10), images) == {}
