"""``heat``: inverse heat dissipation (IHDM), after Rissanen et al. 2023.

Level k is the exact heat equation with zero-flux walls at time ``t_k = sigma_k^2 / 2``, a Gaussian
blur of width ``sigma_k`` pixels (:func:`~advdiff.corruptions.dct.heat_blur`), along IHDM's blur
schedule (``sigma_k`` log-spaced from ``sigma_min`` to ``sigma_max``, ``sigma_0 = 0``).
Deterministic; keeps each channel's mean exactly and data in [0, 1]. The prior is the last level of
training images, as in the released IHDM code; the trainer adds ``training_noise`` to the network
input and the sampler uses ``sampling_delta``. See docs/families.md, section "Heat dissipation and
the DCT".
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from advdiff.corruptions.base import Corruption
from advdiff.corruptions.registry import register
from advdiff.corruptions.tensors import blur_widths_array
from advdiff.corruptions.validate import check_real, compute_dtype

if TYPE_CHECKING:
    import torch


@register("heat")
class HeatDissipation(Corruption):
    """Inverse-heat-dissipation forward process (after Rissanen et al. 2023); deterministic.

    ``sigma_min`` and ``sigma_max`` are the blur widths of levels 1 and K in pixels (the paper: K = 100
    and sigma_max = 20 at 28 px, K = 200 at 128 px). ``noise_sigma`` is the standard deviation of the
    noise added to the network input in training; the sampling noise is
    ``delta = delta_factor * noise_sigma`` (1.25 in Beyond Blur).
    """

    deterministic = True
    prior_needs_images = True
    batched_generators = True  # the generator is never used

    def __init__(
        self,
        K: int = 100,  # levels after the clean one
        sigma_min: float = 0.5,  # blur width of level 1, pixels
        sigma_max: float = 20.0,  # blur width of level K, pixels
        noise_sigma: float = 0.01,  # training noise on the network input, data units
        delta_factor: float = 1.25,  # sampling noise delta = delta_factor * noise_sigma
    ) -> None:
        widths = blur_widths_array(K, sigma_min, sigma_max)
        noise = check_real("noise_sigma", noise_sigma, low=0.0)
        factor = check_real("delta_factor", delta_factor, low=0.0)
        super().__init__(
            K=int(K),
            sigma_min=float(sigma_min),
            sigma_max=float(sigma_max),
            noise_sigma=noise,
            delta_factor=factor,
        )
        self._widths = widths
        self.training_noise: float = noise
        """Standard deviation of the noise the trainer adds to the network input."""
        self.sampling_delta: float = factor * noise
        """Standard deviation of the noise the sampler adds per step (delta = 1.25 sigma by default)."""

    @cached_property
    def sigmas(self) -> torch.Tensor:
        """Blur widths sigma_0..sigma_K in pixels, float64 (K+1,), sigma_0 = 0 (made on first use: needs torch)."""
        import torch

        return torch.from_numpy(self._widths)

    def heat_factors(self, k: torch.Tensor, H: int, W: int) -> torch.Tensor:
        """DCT-space multipliers ``exp(-lambda sigma_k^2 / 2)``, float64, shape ``k.shape + (H, W)``.

        After Rissanen et al. 2023.
        """
        import torch

        from advdiff.corruptions.dct import laplacian_eigenvalues

        lam = laplacian_eigenvalues(H, W, device=k.device)
        var = self.sigmas.to(k.device)[k] ** 2
        return torch.exp(-lam * (var / 2.0)[..., None, None])

    def _degrade(self, x0, k, generator):
        from advdiff.corruptions.dct import dct2, idct2

        dtype = compute_dtype(x0.dtype)
        factors = self.heat_factors(k, x0.shape[-2], x0.shape[-1]).to(dtype)[:, None]
        return idct2(factors * dct2(x0.to(dtype)))

    def _trajectory(self, x0, generator):
        import torch

        from advdiff.corruptions.dct import dct2, idct2

        dtype = compute_dtype(x0.dtype)
        levels = torch.arange(self.K + 1, device=x0.device)
        factors = self.heat_factors(levels, x0.shape[-2], x0.shape[-1]).to(dtype)[:, None, None]
        return idct2(factors * dct2(x0.to(dtype))[None])

    def _describe_extra(self) -> dict[str, Any]:
        return {
            "space": "data [0, 1]",
            "sigma_last": float(self._widths[-1]),
            "training_noise": self.training_noise,
            "sampling_delta": self.sampling_delta,
        }
