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

    For ``k = K..1``::

        mu_k = u_k + f(u_k, k)
        u_{k-1} = mu_k + delta * eps_k    (k > 1),

    and the result is the last mean ``mu_1`` (no noise on the final step), as in the released
    IHDM and Beyond Blur code. Everything is in data units [0, 1].

    Parameters
    ----------
    model
        ``model(u, k) -> f``: the residual from level ``k`` towards level ``k - 1`` (data units).
    corruption
        A ``heat`` or ``advdiff`` family (it provides ``K`` and ``sampling_delta``).
    x_K
        Prior draw ``corruption.prior(x_train)``: fully corrupted training images (B, C, H, W).
    generator
        ``None``, one generator, or one per image (no noise is drawn when ``delta == 0``).
    progress
        Show a progress bar over the K steps.
    delta
        Per-step noise standard deviation, data units; ``None`` uses ``corruption.sampling_delta``
        (``1.25 * 0.01`` by default).
    clip
        Clip the returned images to [0, 1] (default False).

    Returns
    -------
    torch.Tensor
        ``u_0`` in data units, dtype of ``x_K``, on the model's device.
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
