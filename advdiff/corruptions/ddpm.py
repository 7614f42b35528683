"""``ddpm``: denoising diffusion with a linear beta schedule, after Ho et al. 2020.

In model space ``z = 2 x - 1`` (data [0, 1] mapped to [-1, 1]):

    z_k = sqrt(abar_k) z_0 + sqrt(1 - abar_k) eps,   abar_k = prod_{j <= k} (1 - beta_j),

with ``beta_1..beta_K`` linear from ``beta_min`` to ``beta_max`` and ``abar_0 = 1`` (level 0 is
clean). Outputs are in data units, ``x_k = (z_k + 1) / 2``. Trajectories are sample paths of
the chain ``z_k = sqrt(1 - beta_k) z_{k-1} + sqrt(beta_k) eps_k``; the prior is ``N(0, I)`` in
model space.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from advdiff.corruptions.gaussian import GaussianCorruption
from advdiff.corruptions.registry import register
from advdiff.corruptions.validate import check_K, check_real
from advdiff.errors import bad_value

if TYPE_CHECKING:
    import torch


@register("ddpm")
class DDPM(GaussianCorruption):
    """DDPM forward process with linear betas (after Ho et al. 2020).

    Parameters
    ----------
    K
        Number of noise levels after the clean one (1000 in Ho et al.).
    beta_min, beta_max
        First and last per-step noise variance, ``0 < beta_min <= beta_max < 1``.
    """

    def __init__(
        self,
        K: int = 1000,  # noise levels after the clean one
        beta_min: float = 1e-4,  # beta_1, per-step noise variance of level 1
        beta_max: float = 0.02,  # beta_K, per-step noise variance of level K
        sigma_min: float | None = None,  # unused; accepted for the common interface (K, sigma_min, sigma_max)
        sigma_max: float | None = None,  # unused; accepted for the common interface
    ) -> None:
        K = check_K(K)
        smin = None if sigma_min is None else check_real("sigma_min", sigma_min, low=0.0, open_low=True)
        smax = None if sigma_max is None else check_real("sigma_max", sigma_max, low=0.0, open_low=True)
        bmin = check_real("beta_min", beta_min, low=0.0, high=1.0, open_low=True)
        bmax = check_real("beta_max", beta_max, low=bmin, high=1.0)
        if bmax >= 1.0:
            raise bad_value("beta_max", beta_max, f"a number with beta_min={bmin:g} <= beta_max < 1")
        super().__init__(K=K, beta_min=bmin, beta_max=bmax, sigma_min=smin, sigma_max=smax)

    @cached_property
    def betas(self) -> torch.Tensor:
        """beta_0..beta_K, float64 (K+1,), beta_0 = 0 (made on first use: needs torch)."""
        import torch

        bmin, bmax = self.params["beta_min"], self.params["beta_max"]
        return torch.cat([torch.zeros(1, dtype=torch.float64), torch.linspace(bmin, bmax, self.K, dtype=torch.float64)])

    @cached_property
    def alphas_cumprod(self) -> torch.Tensor:
        """abar_0..abar_K, float64 (K+1,), abar_0 = 1: the signal variance of level k in model space."""
        import torch

        return torch.cumprod(1.0 - self.betas, dim=0)

    def signal_coefficient(self, levels: torch.Tensor, H: int, W: int) -> torch.Tensor:
        """``sqrt(abar_k)``, float64, shape ``levels.shape + (1, 1)`` (after Ho et al. 2020)."""
        import torch

        return torch.sqrt(self.alphas_cumprod.to(levels.device)[levels])[..., None, None]

    def noise_std(self, levels: torch.Tensor) -> torch.Tensor:
        """``sqrt(1 - abar_k)``, float64, shape ``levels.shape`` (after Ho et al. 2020)."""
        import torch

        return torch.sqrt(1.0 - self.alphas_cumprod.to(levels.device)[levels])

    def _describe_extra(self) -> dict[str, Any]:
        return {
            "space": "data [0, 1] (model space 2x-1)",
            "alpha_bar_K": float(self.alphas_cumprod[-1]),
            "sigma_min_used": False,
            "sigma_max_used": False,
        }
