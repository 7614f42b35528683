"""Samplers of the Gaussian families: DDPM ancestral, DDIM, and blurring diffusion's ancestral sampler.

The model predicts the pixel-space noise ``eps`` of
:meth:`~advdiff.corruptions.gaussian.GaussianCorruption.degrade_with_noise` from ``z_k = 2 x_k - 1``.
In the family's orthonormal basis ``T`` (identity for ``ddpm``, the 2-D DCT-II for ``blur``) the
marginals are ``u_k = a_k ⊙ u_0 + s_k eps`` with ``u = T(z)``, per-frequency ``a_k``
(:meth:`signal_coefficient`) and scalar ``s_k`` (:meth:`noise_std`); ``T(eps)`` is white noise too.
The ancestral samplers use this process's Gaussian posterior frequency by frequency; for ``ddpm`` it
is Ho et al. (2020), eqs. 6-7 and 11. Derivations: docs/training.md, "Samplers".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from advdiff.corruptions.gaussian import to_data, to_model
from advdiff.corruptions.validate import check_int, check_real
from advdiff.errors import bad_value
from advdiff.sampling.base import Model, Run, check_fits, check_flag, progress_bar

if TYPE_CHECKING:
    import torch

VARIANCES = ("posterior", "beta")
"""Reverse-step variances: the posterior's (beta-tilde) or the forward transition's (beta)."""

_TINY = 1e-30  # floor of a_k before dividing by it (a_K of blur is cos(pi/2) ~ 6e-17, never exactly 0 in float64)


def _check_variance(variance: Any) -> str:
    if variance not in VARIANCES:
        raise bad_value("variance", variance, f"one of {', '.join(VARIANCES)}")
    return variance


def _posterior_coefficients(
    corruption: Any, k: int, H: int, W: int
) -> tuple[float, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Float64 coefficients of the reverse step from level ``t = k`` to ``s = k - 1`` (see :func:`blur_ancestral`).

    Returns ``(s_t, 1 / a_t, c_z, c_x0, var_posterior, var_transition)``, each per frequency
    (shape (h, w), h, w = H, W or 1) except the scalar ``s_t``.
    """
    import torch

    levels = torch.tensor([k, k - 1], dtype=torch.int64)
    a = corruption.signal_coefficient(levels, H, W).to(torch.float64)  # (2, h, w)
    sig = corruption.noise_std(levels).to(torch.float64)  # (2,)
    a_t, a_s = a[0], a[1]
    s_t, s_s = float(sig[0]), float(sig[1])
    ratio = a_t / a_s  # a_{t|s}
    var_transition = torch.clamp(s_t**2 - ratio**2 * s_s**2, min=0.0)  # sigma_{t|s}^2
    c_z = ratio * (s_s**2 / s_t**2)
    c_x0 = a_s * var_transition / s_t**2
    var_posterior = var_transition * (s_s**2 / s_t**2)
    return s_t, 1.0 / torch.clamp(a_t, min=_TINY), c_z, c_x0, var_posterior, var_transition


def frequency_moments(corruption: Any, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-frequency mean and variance of ``images`` (data units, (N, C, H, W)) in the family's basis.

    Model space ``2 x - 1``, basis ``corruption.to_basis`` (the DCT for ``blur``), float64, each
    of shape (C, H, W): the ``data_moments`` option of :func:`blur_ancestral`.
    """
    import torch

    if not isinstance(images, torch.Tensor) or images.ndim != 4 or images.shape[0] < 2:
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise bad_value("images", shape, "a tensor (N, C, H, W) of at least 2 images")
    u = corruption.to_basis(to_model(images.to(torch.float64)))
    return u.mean(0), u.var(0, unbiased=False)


def _check_moments(
    moments: Any, shape: torch.Size, device: torch.device, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor] | None:
    """``data_moments``: None or (mean, variance) tensors of shape (C, H, W) of the samples; finite, variance >= 0."""
    import torch

    if moments is None:
        return None
    allowed = f"None or (mean, variance) tensors of shape {tuple(shape)} (see frequency_moments)"
    if not isinstance(moments, tuple | list) or len(moments) != 2:
        raise bad_value("data_moments", type(moments).__name__, allowed)
    mean, var = moments
    for name, t in (("mean", mean), ("variance", var)):
        if not isinstance(t, torch.Tensor) or tuple(t.shape) != tuple(shape):
            got = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
            raise bad_value(f"data_moments {name}", got, allowed)
        if not bool(torch.isfinite(t).all()):
            raise bad_value(f"data_moments {name}", "non-finite values", "finite numbers")
    if bool((var < 0).any()):
        raise bad_value("data_moments variance", float(var.min()), "numbers >= 0")
    return mean.to(device=device, dtype=dtype), var.to(device=device, dtype=dtype)


def _shrink_unresolved(
    x0: torch.Tensor,
    u: torch.Tensor,
    a_t: torch.Tensor,
    s_t: float,
    moments: tuple[torch.Tensor, torch.Tensor],
    snr_floor: float,
) -> torch.Tensor:
    """Replace the clean-image estimate at frequencies the state does not resolve by the data's linear estimate.

    Where the data carry less than ``snr_floor`` of the state's energy, ``a_t^2 E[u_0^2] < snr_floor
    sigma_t^2``, the model's estimate ``(u_t - sigma_t eps_hat) / a_t`` multiplies the network's eps
    error by ``sigma_t / a_t`` (up to ~1e3 / alpha_t at blur's d_min floor); it is replaced by the
    linear minimum-mean-square estimate of a prior with the data's per-frequency mean ``m`` and
    variance ``v``: ``m + a_t v (u_t - a_t m) / (a_t^2 v + sigma_t^2)``.
    """
    import torch

    mean, var = moments
    unresolved = a_t**2 * (var + mean**2) < snr_floor * s_t**2
    linear = mean + a_t * var * (u - a_t * mean) / (a_t**2 * var + s_t**2)
    return torch.where(unresolved, linear, x0)


def _ancestral(
    model: Model,
    corruption: Any,
    x_K: torch.Tensor,
    generator: Any,
    *,
    sampler: str,
    progress: bool,
    variance: str,
    clip_denoised: bool,
    clip: bool,
    data_moments: tuple[torch.Tensor, torch.Tensor] | None = None,
    snr_floor: float = 0.0,
) -> torch.Tensor:
    """Ancestral sampling with the per-frequency Gaussian posterior, shared by ``ddpm`` and ``blur``."""
    import torch

    check_fits(corruption, sampler)
    variance = _check_variance(variance)
    clip_denoised = check_flag("clip_denoised", clip_denoised)
    clip = check_flag("clip", clip)
    snr_floor = check_real("snr_floor", snr_floor, low=0.0)
    run = Run(model, x_K, generator)
    H, W = run.shape[-2:]
    moments = _check_moments(data_moments, run.shape[-3:], run.device, run.dtype)
    T, T_inv = corruption.to_basis, corruption.from_basis
    z = to_model(run.x_K)  # model space, pixel basis
    with torch.no_grad():
        for k in progress_bar(range(corruption.K, 0, -1), progress, f"{sampler} sampling", corruption.K):
            s_t, inv_a_t, c_z, c_x0, var_post, var_trans = (
                c if isinstance(c, float) else c.to(device=run.device, dtype=run.dtype)
                for c in _posterior_coefficients(corruption, k, H, W)
            )
            eps = run.call(z, k)
            u = T(z)
            x0 = (u - s_t * T(eps)) * inv_a_t  # predicted clean image, in the basis
            if moments is not None and snr_floor > 0.0:
                x0 = _shrink_unresolved(x0, u, 1.0 / inv_a_t, s_t, moments, snr_floor)
            if clip_denoised:
                x0 = T(T_inv(x0).clamp(-1.0, 1.0))
            mean = c_z * u + c_x0 * x0
            if k > 1:  # the last step returns the mean (Ho et al. 2020, Algorithm 2)
                var = var_post if variance == "posterior" else var_trans
                mean = mean + torch.sqrt(var) * run.randn()  # white noise is white in any orthonormal basis
            z = T_inv(mean)
    return run.finish(to_data(z), clip)


def ddpm_ancestral(
    model: Model,
    corruption: Any,
    x_K: torch.Tensor,
    generator: torch.Generator | Sequence[torch.Generator] | None = None,
    *,
    progress: bool = False,
    variance: str = "posterior",
    clip_denoised: bool = True,
    clip: bool = False,
) -> torch.Tensor:
    """DDPM ancestral sampling, levels K..1 (Ho et al. 2020, Algorithm 2).

    Each step estimates ``x0_hat = (z_k - sqrt(1 - abar_k) eps_hat) / sqrt(abar_k)`` from
    ``model(z, k) -> eps_hat`` (clipped to [-1, 1] in model space if ``clip_denoised``, as Ho et al.'s
    released sampler does) and draws ``z_{k-1}`` from the posterior q(z_{k-1} | z_k, x0_hat) (their
    eqs. 6-7) with variance beta-tilde (``variance="posterior"``) or ``beta_k`` (``"beta"``); the last
    step adds no noise. ``corruption`` is a ``ddpm`` family and ``x_K`` a prior draw (B, C, H, W) in data
    units. Returns ``x_0`` in data units, ``x_K``'s dtype, on the model's device, clipped to [0, 1] only
    if ``clip``. Step formulas: docs/training.md, "Samplers".
    """
    return _ancestral(
        model,
        corruption,
        x_K,
        generator,
        sampler="ddpm",
        progress=progress,
        variance=variance,
        clip_denoised=clip_denoised,
        clip=clip,
    )


def blur_ancestral(
    model: Model,
    corruption: Any,
    x_K: torch.Tensor,
    generator: torch.Generator | Sequence[torch.Generator] | None = None,
    *,
    progress: bool = False,
    variance: str = "posterior",
    clip_denoised: bool = True,
    clip: bool = False,
    data_moments: tuple[torch.Tensor, torch.Tensor] | None = None,
    snr_floor: float = 0.01,
) -> torch.Tensor:
    """Blurring diffusion's ancestral sampler in the DCT basis, levels K..1 (after Hoogeboom & Salimans 2023).

    Each step draws from the per-frequency Gaussian posterior q(u_s | u_t, u_0) with the model's estimate of
    u_0 (clipped to [-1, 1] in pixels if ``clip_denoised``, needed at the first step, where a_K is about
    6e-17); with a scalar a_t it is :func:`ddpm_ancestral`. ``variance``: ``"posterior"`` (sigma_tilde^2) or
    ``"beta"`` (sigma_{t|s}^2). Given ``data_moments`` (the training data's per-frequency mean and variance,
    each (C, H, W), from :func:`frequency_moments`), frequencies where the data carry less than ``snr_floor``
    of the state's energy take the data prior's linear estimate (0: never). Returns ``x_0`` in data units,
    ``x_K``'s dtype, on the model's device, [0, 1]-clipped only if ``clip``. Derivation: docs/training.md, "Samplers".
    """
    return _ancestral(
        model,
        corruption,
        x_K,
        generator,
        sampler="blur",
        progress=progress,
        variance=variance,
        clip_denoised=clip_denoised,
        clip=clip,
        data_moments=data_moments,
        snr_floor=snr_floor,
    )


def ddim_levels(K: int, steps: int | Sequence[int] | None) -> list[int]:
    """The decreasing levels ``K = tau_n > ... > tau_1 > tau_0 = 0`` that DDIM visits.

    ``steps`` is ``None`` (every level), a number of steps ``n`` (``1 <= n <= K``, levels evenly
    spaced: ``round(i K / n)``), or an explicit collection of levels in ``1..K`` that contains ``K``.
    """
    if steps is None:
        return list(range(K, -1, -1))
    if isinstance(steps, Sequence) and not isinstance(steps, str):
        allowed = f"levels 1 <= k <= K={K} that include K (sampling starts from the prior at level K)"
        if not steps:
            raise bad_value("steps", steps, allowed)
        levels = sorted({check_int("steps[]", s, low=1, high=K) for s in steps}, reverse=True)
        if levels[0] != K:
            raise bad_value("steps", list(steps), allowed)
        return [*levels, 0]
    n = check_int("steps", steps, low=1, high=K)
    return [round(i * K / n) for i in range(n, -1, -1)]


def ddim(
    model: Model,
    corruption: Any,
    x_K: torch.Tensor,
    generator: torch.Generator | Sequence[torch.Generator] | None = None,
    *,
    progress: bool = False,
    steps: int | Sequence[int] | None = None,
    eta: float = 0.0,
    clip_denoised: bool = False,
    clip: bool = False,
) -> torch.Tensor:
    """DDIM sampling on a subsequence of levels (Song, Meng & Ermon 2021, eq. 12).

    From level ``t`` to the next visited level ``s < t``, ``z_s = sqrt(abar_s) x0_hat +
    sqrt(1 - abar_s - sigma^2) eps_hat + sigma xi``, with ``sigma`` scaled by ``eta`` (0 <= eta <= 1;
    0 is deterministic and draws no noise, 1 matches DDPM's posterior variance); the last step returns
    ``x0_hat``. ``steps`` is ``None`` (all K levels), a number of evenly spaced steps, or the levels to
    visit, which must include K (:func:`ddim_levels`). ``clip_denoised`` clips ``x0_hat`` to [-1, 1] and
    recomputes ``eps_hat`` from it (off by default, as in Song et al.'s released sampler). Returns ``x_0``
    in data units, ``x_K``'s dtype, on the model's device. Formulas: docs/training.md, "Samplers".
    """
    import torch

    check_fits(corruption, "ddim")
    levels = ddim_levels(corruption.K, steps)
    eta = check_real("eta", eta, low=0.0, high=1.0)
    clip_denoised = check_flag("clip_denoised", clip_denoised)
    clip = check_flag("clip", clip)
    run = Run(model, x_K, generator)
    abar = [float(a) for a in corruption.alphas_cumprod]
    z = to_model(run.x_K)
    pairs = list(zip(levels[:-1], levels[1:], strict=True))
    with torch.no_grad():
        for i in progress_bar(range(len(pairs)), progress, "ddim sampling", len(pairs)):
            t, s = pairs[i]
            eps = run.call(z, t)
            x0 = (z - math.sqrt(1.0 - abar[t]) * eps) / math.sqrt(abar[t])
            if clip_denoised:
                x0 = x0.clamp(-1.0, 1.0)
                eps = (z - math.sqrt(abar[t]) * x0) / math.sqrt(1.0 - abar[t])
            sigma = eta * math.sqrt((1.0 - abar[s]) / (1.0 - abar[t]) * (1.0 - abar[t] / abar[s]))
            z = math.sqrt(abar[s]) * x0 + math.sqrt(max(1.0 - abar[s] - sigma**2, 0.0)) * eps
            if sigma > 0.0:
                z = z + sigma * run.randn()
    return run.finish(to_data(z), clip)
