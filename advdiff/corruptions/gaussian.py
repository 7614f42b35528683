"""Shared machinery of the Gaussian families (``ddpm``, ``blur``): linear signal decay plus white noise.

Such a family works in model space ``z = 2 x - 1`` in an orthonormal basis ``T`` (the identity for
DDPM, the 2-D DCT-II for blurring diffusion) with marginals ``q(u_k | u_0) = N(a_k ⊙ u_0, s_k^2 I)``,
``u = T(z)``, ``a_0 = 1``, ``s_0 = 0``; outputs are mapped back to data units. Trajectories are true
sample paths of the Markov chain with these marginals (after Ho et al. 2020 and Hoogeboom & Salimans
2023). See docs/families.md, section "Gaussian families", for the chain.
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING

from advdiff.corruptions.base import Corruption, GeneratorLike, Level
from advdiff.corruptions.tensors import randn
from advdiff.corruptions.validate import check_generator, check_images, check_level, compute_dtype

if TYPE_CHECKING:
    import torch


def to_model(x: torch.Tensor) -> torch.Tensor:
    """Data units [0, 1] to model space [-1, 1]: ``2 x - 1``."""
    return 2.0 * x - 1.0


def to_data(z: torch.Tensor) -> torch.Tensor:
    """Model space [-1, 1] to data units [0, 1]: ``(z + 1) / 2``."""
    return (z + 1.0) / 2.0


class GaussianCorruption(Corruption):
    """A family with Gaussian marginals ``N(a_k ⊙ T(2 x_0 - 1), s_k^2 I)`` in an orthonormal basis ``T``.

    Subclasses define :meth:`signal_coefficient`, :meth:`noise_std` and, if ``T`` is not the
    identity, :meth:`to_basis` and :meth:`from_basis`.
    """

    batched_generators = True
    prior_needs_images = False

    @abc.abstractmethod
    def signal_coefficient(self, levels: torch.Tensor, H: int, W: int) -> torch.Tensor:
        """``a_k`` in ``T``'s basis, float64 on ``levels.device``, shape ``levels.shape + (H or 1, W or 1)``."""

    @abc.abstractmethod
    def noise_std(self, levels: torch.Tensor) -> torch.Tensor:
        """``s_k``, float64 on ``levels.device``, shape ``levels.shape``."""

    def to_basis(self, z: torch.Tensor) -> torch.Tensor:
        """The orthonormal transform ``T`` over the last two axes (identity here)."""
        return z

    def from_basis(self, u: torch.Tensor) -> torch.Tensor:
        """The inverse of :meth:`to_basis`."""
        return u

    def degrade_with_noise(
        self, x0: torch.Tensor, k: Level, generator: GeneratorLike = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Level ``k`` of ``x0`` and the pixel-space noise ``eps ~ N(0, I)`` that made it (for eps-prediction).

        ``x0`` is (B, C, H, W) in [0, 1]; ``k`` an int or (B,) tensor in ``0..K``; ``generator`` one
        generator or one per image. Returns ``x_k`` in data units (exactly ``x0`` where ``k == 0``) and
        ``eps`` with ``2 x_k - 1 = T^-1(a_k ⊙ T(2 x0 - 1)) + s_k eps``, both shaped and typed like ``x0``.
        """
        import torch

        x0 = check_images(x0)
        levels = check_level(k, x0.shape[0], self.K, x0.device)
        gens = check_generator(generator, x0.shape[0])
        xk, eps = self._sample(x0, levels, gens)
        xk = torch.where((levels == 0).view(-1, 1, 1, 1), x0, xk.to(x0.dtype))
        return xk, eps.to(x0.dtype)

    def _sample(self, x0, levels, generator) -> tuple[torch.Tensor, torch.Tensor]:
        dtype = compute_dtype(x0.dtype)
        B, _, H, W = x0.shape
        a = self.signal_coefficient(levels, H, W).to(dtype)[:, None]  # (B, 1, h, w)
        s = self.noise_std(levels).to(dtype).view(B, 1, 1, 1)
        eps = randn(x0.shape, generator, x0.device, dtype)
        mean = self.from_basis(a * self.to_basis(to_model(x0.to(dtype))))
        return to_data(mean + s * eps), eps

    def _degrade(self, x0, k, generator):
        return self._sample(x0, k, generator)[0]

    def _trajectory(self, x0, generator):
        import torch

        dtype = compute_dtype(x0.dtype)
        B, C, H, W = x0.shape
        out = torch.empty((self.K + 1, B, C, H, W), dtype=dtype, device=x0.device)
        u = self.to_basis(to_model(x0.to(dtype)))
        out[0] = u
        levels = torch.arange(self.K + 1, device=x0.device)
        a_all = self.signal_coefficient(levels, H, W)  # float64 (K+1, h, w)
        s_all = self.noise_std(levels)
        for k in range(1, self.K + 1):
            ratio = a_all[k] / a_all[k - 1]
            q = torch.sqrt(torch.clamp(s_all[k] ** 2 - ratio**2 * s_all[k - 1] ** 2, min=0.0))
            eta = randn((B, C, H, W), generator, x0.device, dtype)
            u = ratio.to(dtype) * u + q.to(dtype) * eta
            out[k] = u
        return to_data(self.from_basis(out))

    def _prior(
        self,
        n: int,
        shape: tuple[int, ...],
        x0: torch.Tensor | None,
        generator,
        device: torch.device,
        dtype: torch.dtype,
    ) -> torch.Tensor:
        """``N(0, I)`` in model space, in data units: ``(eps + 1) / 2``."""
        return to_data(randn((n, *shape), generator, device, compute_dtype(dtype)))

    def model_space_moments(self, x0: torch.Tensor, k: Level) -> tuple[torch.Tensor, torch.Tensor]:
        """Closed-form mean (pixels, model space) and standard deviation (B,) of level ``k`` given ``x0``.

        Returns ``(T^-1(a_k ⊙ T(2 x0 - 1)), s_k)``; the mean in data units is ``(mean + 1) / 2``
        and the standard deviation ``s_k / 2``.
        """
        x0 = check_images(x0)
        levels = check_level(k, x0.shape[0], self.K, x0.device)
        dtype = compute_dtype(x0.dtype)
        a = self.signal_coefficient(levels, x0.shape[-2], x0.shape[-1]).to(dtype)[:, None]
        return self.from_basis(a * self.to_basis(to_model(x0.to(dtype)))), self.noise_std(levels).to(dtype)
