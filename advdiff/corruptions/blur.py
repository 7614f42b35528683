"""``blur``: blurring diffusion, after Hoogeboom & Salimans 2023.

In model space ``z = 2 x - 1`` and the orthonormal DCT-II basis,
``u_t = alpha_t d_t ⊙ u_0 + sigma_t eps`` at ``t = k / K``: a heat blur of width
``sigma_B(t) = sigma_max sin^2(pi t / 2)``, floored at ``d_min`` per frequency, under a cosine noise
schedule truncated at log-SNR ``logsnr_min`` (default -10) so that the sampler's first reverse step
does not divide by ~1e-14. Outputs are in data units; the prior is N(0, I); trajectories are sample
paths of the per-frequency Markov chain (:mod:`advdiff.corruptions.gaussian`). See docs/families.md,
section "Blurring diffusion".
"""

from __future__ import annotations

import math
from functools import cached_property
from typing import TYPE_CHECKING, Any

from advdiff.corruptions.gaussian import GaussianCorruption
from advdiff.corruptions.registry import register
from advdiff.corruptions.validate import check_K, check_real
from advdiff.errors import bad_value

if TYPE_CHECKING:
    import torch


@register("blur")
class BlurringDiffusion(GaussianCorruption):
    """Blurring-diffusion forward process (after Hoogeboom & Salimans 2023).

    Level k is time ``t = k / K``. ``sigma_max`` is the largest blur width ``sigma_B,max`` in pixels,
    reached at t = 1; ``d_min`` in (0, 1) floors the per-frequency blur factor; ``logsnr_min`` is
    log(alpha_t^2 / sigma_t^2) at t = 1. ``sigma_min`` is accepted for the common interface and unused
    (None or a positive number).
    """

    def __init__(
        self,
        K: int = 1000,  # levels after the clean one; level k is t = k / K
        sigma_max: float = 20.0,  # sigma_B,max: blur width at t = 1, pixels
        d_min: float = 0.001,  # floor of the per-frequency blur factor d_t
        sigma_min: float | None = None,  # unused; accepted for the common interface
        logsnr_min: float = -10.0,  # log(alpha^2 / sigma^2) at t = 1
    ) -> None:
        K = check_K(K)
        smax = check_real("sigma_max", sigma_max, low=0.0, open_low=True)
        dmin = check_real("d_min", d_min, low=0.0, high=1.0, open_low=True)
        if dmin >= 1.0:
            raise bad_value("d_min", d_min, "a number with 0 < d_min < 1")
        smin = None if sigma_min is None else check_real("sigma_min", sigma_min, low=0.0, open_low=True)
        lo = check_real("logsnr_min", logsnr_min, high=20.0)
        super().__init__(K=K, sigma_max=smax, d_min=dmin, sigma_min=smin, logsnr_min=lo)

    # The schedules are made on first use (they need torch; building the family to check its
    # parameters does not).
    @cached_property
    def times(self) -> torch.Tensor:
        """t_k = k / K, float64 (K+1,)."""
        import torch

        return torch.arange(self.K + 1, dtype=torch.float64) / self.K

    @cached_property
    def _theta(self) -> torch.Tensor:
        return self.times * math.atan(math.exp(-self.params["logsnr_min"] / 2.0))

    @cached_property
    def alphas(self) -> torch.Tensor:
        """alpha_t = cos(t theta_max), float64 (K+1,): 1 at level 0, alpha_1^2 = sigmoid(logsnr_min)."""
        import torch

        return torch.cos(self._theta)

    @cached_property
    def noise_sigmas(self) -> torch.Tensor:
        """sigma_t = sin(t theta_max), float64 (K+1,): the noise standard deviation in model space."""
        import torch

        return torch.sin(self._theta)

    @cached_property
    def blur_sigmas(self) -> torch.Tensor:
        """sigma_B(t) = sigma_B,max sin^2(pi t / 2), float64 (K+1,): the blur width in pixels."""
        import torch

        return self.params["sigma_max"] * torch.sin(math.pi * self.times / 2.0) ** 2

    def frequency_scaling(self, levels: torch.Tensor, H: int, W: int) -> torch.Tensor:
        """``d_t = (1 - d_min) exp(-lambda sigma_B(t)^2 / 2) + d_min``, float64, shape ``levels.shape + (H, W)``.

        After Hoogeboom & Salimans 2023.
        """
        import torch

        from advdiff.corruptions.dct import laplacian_eigenvalues

        lam = laplacian_eigenvalues(H, W, device=levels.device)
        tau = self.blur_sigmas.to(levels.device)[levels] ** 2 / 2.0
        dmin = self.params["d_min"]
        return (1.0 - dmin) * torch.exp(-lam * tau[..., None, None]) + dmin

    def signal_coefficient(self, levels: torch.Tensor, H: int, W: int) -> torch.Tensor:
        """``alpha_t d_t`` per DCT frequency, float64, shape ``levels.shape + (H, W)``."""
        return self.alphas.to(levels.device)[levels][..., None, None] * self.frequency_scaling(levels, H, W)

    def noise_std(self, levels: torch.Tensor) -> torch.Tensor:
        """``sigma_t = sin(t theta_max)``, float64, shape ``levels.shape``."""
        return self.noise_sigmas.to(levels.device)[levels]

    def to_basis(self, z: torch.Tensor) -> torch.Tensor:
        """Orthonormal 2-D DCT-II over the last two axes."""
        from advdiff.corruptions.dct import dct2

        return dct2(z)

    def from_basis(self, u: torch.Tensor) -> torch.Tensor:
        """Inverse 2-D DCT (DCT-III) over the last two axes."""
        from advdiff.corruptions.dct import idct2

        return idct2(u)

    def _describe_extra(self) -> dict[str, Any]:
        return {"space": "data [0, 1] (model space 2x-1, DCT basis)", "sigma_min_used": False}
