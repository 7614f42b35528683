"""The corruption-family contract: what every family offers, and how.

Every family is a :class:`Corruption`, a forward process on images with levels ``k = 0..K`` (0 is the
clean image) offering ``degrade``, ``degrade_pair``, ``trajectory``, ``prior``, ``K``, ``name``,
``params`` (the resolved constructor arguments) and ``describe()``. Images are float tensors
(B, C, H, W) with data in [0, 1], and outputs keep their units, dtype and device. Families hold no
random state: randomness comes only from ``generator`` (``None``, one ``torch.Generator`` or one per
image, so results do not depend on batching). Bad inputs raise :class:`~advdiff.errors.ConfigError`
naming the argument. The registry (:mod:`advdiff.corruptions.registry`), the input checks and the
tensor helpers are importable from here too. See docs/families.md, section "The interface".
"""

from __future__ import annotations

import abc
import numbers
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TypeAlias

import numpy as np

from advdiff.corruptions.tensors import blur_widths, blur_widths_array, draw_seeds, randn
from advdiff.corruptions.validate import (
    DATA_TOLERANCE,
    check_data,
    check_generator,
    check_images,
    check_int,
    check_K,
    check_level,
    check_real,
    compute_dtype,
)
from advdiff.errors import bad_value

if TYPE_CHECKING:  # torch is imported where tensors are made: building a family (its config) needs no torch
    import torch

GeneratorLike: TypeAlias = "torch.Generator | Sequence[torch.Generator] | None"
"""``None`` (torch's global generator), one generator for the batch, or one per image."""

Level: TypeAlias = "int | torch.Tensor"
"""A corruption level: an int, or a (B,) integer tensor with one level per image."""


class Corruption(abc.ABC):
    """A corruption family: a forward process on images with levels ``0..K`` (0 = clean).

    Subclasses implement :meth:`_degrade` (usually also :meth:`_trajectory` and :meth:`_prior`); the
    public methods check inputs, handle per-image generators, make level 0 exactly ``x0`` and cast back
    to the input dtype. A subclass sets ``deterministic`` (no randomness, ``generator`` ignored),
    ``prior_needs_images`` (the prior corrupts a batch of training images, by default
    ``degrade(x0, K)``; False for a data-free prior, which overrides :meth:`_prior`) and
    ``batched_generators`` (its private methods take a list of per-image generators; otherwise they are
    called one image at a time). See docs/families.md, section "The interface".
    """

    name: ClassVar[str] = ""
    deterministic: ClassVar[bool] = False
    prior_needs_images: ClassVar[bool] = True
    batched_generators: ClassVar[bool] = False

    def __init__(self, **params: Any) -> None:
        """Store the resolved parameters (every constructor argument, validated, defaults filled in)."""
        if "K" not in params:
            raise TypeError(f"{type(self).__name__} must pass its resolved parameters, including K, to Corruption")
        self.K: int = check_K(params["K"])
        params["K"] = self.K
        self.params: dict[str, Any] = params

    # -- public interface ------------------------------------------------------------

    def degrade(self, x0: torch.Tensor, k: Level, generator: GeneratorLike = None) -> torch.Tensor:
        """Corrupt ``x0`` (B, C, H, W), data in [0, 1], to level ``k``: an int or a (B,) tensor, ``0 <= k <= K``.

        Returns level-``k`` images in data units with the shape, dtype and device of ``x0``, exactly ``x0``
        where ``k == 0``. ``generator`` is the only source of randomness (docs/families.md, section "The
        interface"); deterministic families ignore it.
        """
        import torch

        x0, dtype = check_data(x0)
        batch = x0.shape[0]
        levels = check_level(k, batch, self.K, x0.device)
        gens = check_generator(generator, batch)
        if isinstance(gens, list) and not self.batched_generators:
            out = torch.cat([self._degrade(x0[b : b + 1], levels[b : b + 1], gens[b]) for b in range(batch)])
        else:
            out = self._degrade(x0, levels, gens)
        self._check_output("degrade", out, tuple(x0.shape))
        return torch.where((levels == 0).view(-1, 1, 1, 1), x0, out.to(x0.dtype)).to(dtype)

    def degrade_pair(
        self, x0: torch.Tensor, k: Level, generator: GeneratorLike = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Levels ``k - 1`` and ``k`` of the same forward run (the training pair of heat dissipation).

        ``x0`` is (B, C, H, W) in [0, 1]; ``k`` an int or (B,) integer tensor with ``1 <= k <= K``. Returns
        ``(u_{k-1}, u_k)``, each like ``x0``. The default runs :meth:`degrade` twice from the same generator
        state, which is one forward run for deterministic families; stochastic families whose two levels
        must share one sample path override :meth:`_degrade_pair`.
        """
        import torch

        x0, dtype = check_data(x0)
        batch = x0.shape[0]
        levels = check_level(k, batch, self.K, x0.device)
        if bool((levels < 1).any()):
            i = int(torch.nonzero(levels < 1)[0, 0])
            raise bad_value(
                f"k[{i}]" if isinstance(k, torch.Tensor) and k.dim() else "k",
                int(levels[i]),
                f"a level 1 <= k <= K={self.K} (a pair needs level k - 1)",
            )
        gens = check_generator(generator, batch)
        prev, cur = self._degrade_pair(x0, levels, gens)
        self._check_output("degrade_pair", cur, tuple(x0.shape))
        self._check_output("degrade_pair", prev, tuple(x0.shape))
        keep = (levels == 1).view(-1, 1, 1, 1)
        return torch.where(keep, x0, prev.to(x0.dtype)).to(dtype), cur.to(dtype)

    def _degrade_pair(
        self, x0: torch.Tensor, k: torch.Tensor, generator: torch.Generator | list[torch.Generator] | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if self.deterministic or generator is None:
            return self.degrade(x0, k - 1, generator), self.degrade(x0, k, generator)
        gens = generator if isinstance(generator, list) else [generator]
        states = [g.get_state() for g in gens]
        prev = self.degrade(x0, k - 1, generator)
        for g, state in zip(gens, states, strict=True):
            g.set_state(state)
        return prev, self.degrade(x0, k, generator)

    def trajectory(self, x0: torch.Tensor, generator: GeneratorLike = None) -> torch.Tensor:
        """All levels ``0..K`` of one forward run from ``x0`` (B, C, H, W), data in [0, 1].

        Returns (K+1, B, C, H, W) in data units with the dtype and device of ``x0``; entry 0 is ``x0``.
        Memory grows as (K+1)·B·C·H·W.
        """
        import torch

        x0, dtype = check_data(x0)
        batch = x0.shape[0]
        gens = check_generator(generator, batch)
        if isinstance(gens, list) and not self.batched_generators:
            out = torch.cat([self._trajectory(x0[b : b + 1], gens[b]) for b in range(batch)], dim=1)
        else:
            out = self._trajectory(x0, gens)
        self._check_output("trajectory", out, (self.K + 1, *x0.shape))
        out = out.to(x0.dtype)
        out[0] = x0
        return out.to(dtype)

    def prior(
        self,
        x0_or_n: torch.Tensor | int,
        generator: GeneratorLike = None,
        *,
        shape: Sequence[int] | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> torch.Tensor:
        """Draw from the fully corrupted distribution that sampling starts from: (B or n, C, H, W), data units.

        ``x0_or_n`` is a batch of training images (B, C, H, W), or a number of samples ``n`` for families
        whose prior needs no data (``prior_needs_images`` False); ``shape`` (C, H, W) is then required and
        ``device``/``dtype`` default to the CPU and float32. With images, ``shape`` is ignored and their
        device and dtype are used.
        """
        import torch

        if isinstance(x0_or_n, torch.Tensor):
            x0, dtype = check_data(x0_or_n, key="x0_or_n")
            n, each, device = x0.shape[0], tuple(x0.shape[1:]), x0.device
        else:
            if self.prior_needs_images:
                raise bad_value(
                    "x0_or_n",
                    x0_or_n,
                    f"a batch of training images (B, C, H, W): family '{self.name}' starts sampling from "
                    "fully corrupted data, not from a distribution that a count alone defines",
                )
            x0 = None
            n = check_int("x0_or_n", x0_or_n, low=1)
            each = self._check_shape(shape)
            device = torch.device(device if device is not None else "cpu")
            dtype = torch.float32 if dtype is None else dtype
            if not dtype.is_floating_point:
                raise bad_value("dtype", dtype, "a floating-point torch dtype")
        gens = check_generator(generator, n)
        if isinstance(gens, list) and not self.batched_generators:
            parts = [
                self._prior(1, each, None if x0 is None else x0[b : b + 1], gens[b], device, compute_dtype(dtype))
                for b in range(n)
            ]
            out = torch.cat(parts)
        else:
            out = self._prior(n, each, x0, gens, device, compute_dtype(dtype))
        self._check_output("prior", out, (n, *each))
        return out.to(dtype)

    def describe(self) -> dict[str, Any]:
        """A JSON-friendly summary for reports: family, class, K, determinism and resolved parameters."""
        cls = type(self)
        return {
            "family": self.name,
            "class": f"{cls.__module__}.{cls.__qualname__}",
            "K": self.K,
            "deterministic": self.deterministic,
            "prior_needs_images": self.prior_needs_images,
            "params": self.plain_params(),
            **self._describe_extra(),
        }

    def check_shape(self, height: int, width: int) -> None:
        """Checks that need the image size, made before any work (the sweep calls it for every point):
        raise :class:`~advdiff.errors.ConfigError` naming the parameter. Default: none."""
        return None

    def shape_summary(self, height: int, width: int) -> dict[str, Any] | None:
        """What tables show of this family at this image size (JSON values), or None (the default) when
        nothing depends on the size. Records keep it as their ``schedule``."""
        return None

    def plain_params(self) -> dict[str, Any]:
        """The resolved parameters as JSON values (``describe()["params"]``, without the family's extras)."""
        return {key: _plain(value) for key, value in self.params.items()}

    def __repr__(self) -> str:
        args = ", ".join(f"{key}={value!r}" for key, value in self.params.items())
        return f"{type(self).__name__}({args})"

    # -- to implement ------------------------------------------------------------------

    @abc.abstractmethod
    def _degrade(
        self, x0: torch.Tensor, k: torch.Tensor, generator: torch.Generator | list[torch.Generator] | None
    ) -> torch.Tensor:
        """Level ``k`` ((B,) int64 on ``x0``'s device, already checked) of checked images ``x0``."""

    def _trajectory(self, x0: torch.Tensor, generator: torch.Generator | list[torch.Generator] | None) -> torch.Tensor:
        """Levels 0..K stacked. Default: ``_degrade`` at every level, which is a sample path only for
        deterministic families (stochastic ones get independent draws per level: override)."""
        import torch

        batch = x0.shape[0]
        return torch.stack(
            [
                self._degrade(x0, torch.full((batch,), k, dtype=torch.int64, device=x0.device), generator)
                for k in range(self.K + 1)
            ]
        )

    def _prior(
        self,
        n: int,
        shape: tuple[int, ...],
        x0: torch.Tensor | None,
        generator: torch.Generator | list[torch.Generator] | None,
        device: torch.device,
        dtype: torch.dtype,
    ) -> torch.Tensor:
        """Prior samples; default: level K of ``x0`` (never None while ``prior_needs_images`` is True)."""
        import torch

        if x0 is None:
            raise NotImplementedError(
                f"family '{self.name}' sets prior_needs_images=False but does not override _prior"
            )
        return self._degrade(x0, torch.full((n,), self.K, dtype=torch.int64, device=x0.device), generator)

    def _describe_extra(self) -> dict[str, Any]:
        """Family-specific entries for :meth:`describe` (JSON-friendly)."""
        return {}

    # -- helpers -------------------------------------------------------------------------

    @staticmethod
    def _check_shape(shape: Any) -> tuple[int, int, int]:
        allowed = "(C, H, W), three integers >= 1, the shape of each sample"
        if shape is None or isinstance(shape, str) or not isinstance(shape, Sequence) or len(shape) != 3:
            raise bad_value("shape", shape, allowed)
        if any(isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 1 for s in shape):
            raise bad_value("shape", shape, allowed)
        return tuple(int(s) for s in shape)

    def _check_output(self, what: str, out: Any, expected: tuple[int, ...]) -> None:
        import torch

        if not isinstance(out, torch.Tensor) or tuple(out.shape) != expected:
            got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise RuntimeError(f"family '{self.name}' {what} returned {got}, expected shape {expected}")


def _plain(value: Any) -> Any:
    torch = sys.modules.get("torch")  # a tensor exists only once torch is imported
    if isinstance(value, np.ndarray) or (torch is not None and isinstance(value, torch.Tensor)):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return list(value)
    return value


_REGISTRY_NAMES = (
    "FamilyUnavailableError",
    "build",
    "families",
    "family_class",
    "known_params",
    "register",
    "register_lazy",
)


def __getattr__(name: str) -> Any:
    """The registry's names under their old path (the registry imports this module, so not eagerly)."""
    if name in _REGISTRY_NAMES:
        from advdiff.corruptions import registry

        return getattr(registry, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DATA_TOLERANCE",
    "Corruption",
    "GeneratorLike",
    "Level",
    "blur_widths",
    "blur_widths_array",
    "check_K",
    "check_data",
    "check_generator",
    "check_images",
    "check_int",
    "check_level",
    "check_real",
    "compute_dtype",
    "draw_seeds",
    "randn",
]
