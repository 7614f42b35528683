"""The inverse-heat-dissipation sampler, for the ``heat`` and ``advdiff`` families.

Follows Rissanen et al. 2023 (IHDM) as used by Beyond Blur (Gruszczynski et al. 2025): the
model predicts a residual, ``u_{k-1} ≈ u_k + f(u_k, k)``, and each step adds Gaussian noise of
standard deviation ``delta`` (``corruption.sampling_delta``, 1.25 times the training noise).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from advdiff.corruptions.validate import check_real
from advdiff.sampling.base import Model, Run, check_fits, check_flag, progress_bar

if TYPE_CHECKING:
    import torch


def heat_sampler(
    model: Model,
    corruption: Any,
    x_K: torch.Tensor,
    generator: torch.Generator | Sequence[torch.Generator] | None = None,
    *,
    progress: bool = False,
    delta: float | None = None,
    clip: bool = False,
) -> torch.Tensor:
    """Reverse heat dissipation / advection-diffusion, levels K..1 (Rissanen et al. 2023; Beyond Blur).

    For ``k = K..1``: ``mu_k = u_k + f(u_k, k)`` and, for ``k > 1``, ``u_{k-1} = mu_k + delta * eps_k``;
    the result is the last mean ``mu_1`` (no noise on the final step), as in the released IHDM and Beyond
    Blur code. ``model(u, k)`` returns the residual ``f`` towards level ``k - 1``; ``corruption`` is a
    ``heat`` or ``advdiff`` family; ``x_K`` is ``corruption.prior(x_train)``, fully corrupted training
    images (B, C, H, W). ``delta`` is the per-step noise standard deviation (``None``:
    ``corruption.sampling_delta``, 1.25 * 0.01 by default; 0 draws no noise). Everything is in data
    units; returns ``u_0`` in ``x_K``'s dtype on the model's device, clipped to [0, 1] only if ``clip``.
    """
    import torch

    check_fits(corruption, "heat")
    delta = float(corruption.sampling_delta) if delta is None else check_real("delta", delta, low=0.0)
    clip = check_flag("clip", clip)
    run = Run(model, x_K, generator)
    u = run.x_K
    with torch.no_grad():
        for k in progress_bar(range(corruption.K, 0, -1), progress, f"{corruption.name} sampling", corruption.K):
            mean = u + run.call(u, k)
            u = mean + delta * run.randn() if k > 1 and delta > 0.0 else mean
    return run.finish(mean, clip)
