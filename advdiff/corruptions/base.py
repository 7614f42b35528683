"""The corruption-family contract, its input checks, and the registry of families by short name.

Every family is a :class:`Corruption`: a forward process on images with levels ``k = 0..K``
(level 0 is the clean image), offering

* ``degrade(x0, k, generator=None)``: a sample of level ``k`` given ``x0``;
* ``trajectory(x0, generator=None)``: levels ``0..K`` of one forward run, shape (K+1, B, C, H, W);
* ``prior(x0_or_n, generator=None, *, shape=None, ...)``: the fully corrupted distribution the
  sampler starts from;
* ``K``, ``name``, ``params`` (the resolved constructor arguments) and ``describe()``.

Conventions, the same for every family:

* Images are float tensors (B, C, H, W) with data in [0, 1]; every output is in the same data
  units, dtype and device as the input (families that work internally in [-1, 1] map back
  with ``(z + 1) / 2``). Half-precision inputs are computed in float32 and cast back; uint8
  inputs are read as 8-bit images (divided by 255, answered in float32); other integer, bool and
  complex tensors, and data outside [0, 1] (beyond round-off), are refused (:func:`check_data`).
* Families hold no random state. All randomness comes from ``generator``: ``None`` (torch's
  global generator), one ``torch.Generator``, or a sequence of B generators, one per image.
  With a sequence, image ``b``'s output depends only on ``x0[b]``, ``k[b]`` and generator ``b``,
  so results do not depend on how images are batched (per-image seeds). The same generator
  state always gives the same output. A generator on another device than ``x0`` is fine:
  numbers are drawn on the generator's device and moved, so a CPU generator gives the same
  numbers whatever device the images are on.
* ``k`` is an int or a (B,) integer tensor (one level per image) with ``0 <= k <= K``.
* Bad inputs raise :class:`~advdiff.errors.ConfigError` naming the argument, its value and
  what is allowed.

The registry maps short names to classes: ``register(name)`` decorates a class,
``register_lazy(name, "module:Class")`` declares one whose module is imported on first use
(the ``advdiff`` family, so that importing the package does not import the LBM), and
``build(name, **params)`` constructs one, rejecting unknown names and parameters with the list
of known ones.
"""

from __future__ import annotations

import abc
import importlib
import inspect
import logging
import math
import numbers
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TypeAlias, TypeVar

import numpy as np

from advdiff.errors import AdvdiffError, bad_value
from advdiff.lbm import units

if TYPE_CHECKING:  # torch is imported where tensors are made: building a family (its config) needs no torch
    import torch

GeneratorLike: TypeAlias = "torch.Generator | Sequence[torch.Generator] | None"
"""``None`` (torch's global generator), one generator for the batch, or one per image."""

Level: TypeAlias = "int | torch.Tensor"
"""A corruption level: an int, or a (B,) integer tensor with one level per image."""

C = TypeVar("C", bound="Corruption")

log = logging.getLogger(__name__)

DATA_TOLERANCE = 1e-3
"""How far data given to a family may lie outside [0, 1] (round-off of resampled or decoded images)."""


class FamilyUnavailableError(AdvdiffError, ImportError):
    """A registered corruption family's module cannot be imported here; the message says which and why."""


# --------------------------------------------------------------------------- input checks


def check_int(key: str, value: Any, low: int, high: int | None = None) -> int:
    """Return ``value`` as an int in ``[low, high]``; integral floats (``1e3`` from YAML) are accepted.

    Raises :class:`~advdiff.errors.ConfigError` naming ``key`` for bools, strings, fractions and
    values out of range.
    """
    allowed = f"an integer >= {low}" if high is None else f"an integer {low} <= {key} <= {high}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise bad_value(key, value, allowed)
    integral = isinstance(value, numbers.Integral) or (math.isfinite(float(value)) and float(value).is_integer())
    if not integral:
        raise bad_value(key, value, allowed)
    out = int(value)
    if out < low or (high is not None and out > high):
        raise bad_value(key, value, allowed)
    return out


def check_real(
    key: str, value: Any, *, low: float | None = None, high: float | None = None, open_low: bool = False
) -> float:
    """Return ``value`` as a finite float with ``low <= value <= high`` (``low < value`` if ``open_low``)."""
    bounds = []
    if low is not None:
        bounds.append(f"{'>' if open_low else '>='} {low:g}")
    if high is not None:
        bounds.append(f"<= {high:g}")
    allowed = "a finite number" + (" " + " and ".join(bounds) if bounds else "")
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
        raise bad_value(key, value, allowed)
    out = float(value)
    if low is not None and (out < low or (open_low and out == low)):
        raise bad_value(key, value, allowed)
    if high is not None and out > high:
        raise bad_value(key, value, allowed)
    return out


def check_K(K: Any) -> int:
    """Number of corruption levels after the clean one: an integer >= 1."""
    return check_int("K", K, low=1)


def blur_widths(K: int, sigma_min: Any, sigma_max: Any) -> torch.Tensor:
    """Blur widths ``sigma_0..sigma_K`` (float64, ``sigma_0 = 0``, log-spaced from sigma_min to sigma_max).

    The heat-dissipation schedule (Rissanen et al. 2023), from :func:`advdiff.lbm.units.sigma_schedule`.
    """
    import torch

    return torch.from_numpy(blur_widths_array(K, sigma_min, sigma_max))


def blur_widths_array(K: int, sigma_min: Any, sigma_max: Any) -> np.ndarray:
    """:func:`blur_widths` as a NumPy array: the arguments are checked here, without torch."""
    K = check_K(K)
    smin = check_real("sigma_min", sigma_min, low=0.0, open_low=True)
    smax = check_real("sigma_max", sigma_max, low=0.0, open_low=True)
    return np.asarray(units.sigma_schedule(K, smin, smax), dtype=np.float64)


def check_images(x0: Any, key: str = "x0") -> torch.Tensor:
    """Check a batch of images: a 4-D floating-point torch tensor (B, C, H, W), B >= 1, all values finite."""
    import torch

    if not isinstance(x0, torch.Tensor):
        raise bad_value(key, type(x0).__name__, "a torch tensor of shape (B, C, H, W)")
    if x0.dim() != 4 or not x0.is_floating_point() or x0.numel() == 0:
        raise bad_value(
            key, f"tensor of shape {tuple(x0.shape)} and dtype {x0.dtype}", "a non-empty float tensor (B, C, H, W)"
        )
    if not bool(torch.isfinite(x0).all()):
        raise bad_value(key, "a tensor with NaN or infinite values", "finite values (data in [0, 1])")
    return x0


def check_data(x0: Any, key: str = "x0") -> tuple[torch.Tensor, torch.dtype]:
    """Check images given to a family; return them ready to compute on, and the dtype to answer in.

    Floating tensors of any precision are accepted: half types (float16, bfloat16) come back as
    float32 to compute on and are answered in their own dtype. A uint8 tensor is read as 8-bit
    images (0..255) and divided by 255 (a logged notice; answered in float32). Other integer
    dtypes, bool and complex tensors are refused, and so is data outside [0, 1] by more than
    :data:`DATA_TOLERANCE` (images in 0..255 as floats, or in [-1, 1]): the message names the
    observed minimum and maximum.
    """
    import torch

    if not isinstance(x0, torch.Tensor):
        raise bad_value(key, type(x0).__name__, "a torch tensor of shape (B, C, H, W)")
    if x0.dtype == torch.uint8:
        log.info("%s: uint8 tensor read as 8-bit images 0..255 and divided by 255 into [0, 1] (float32)", key)
        x0 = x0.to(torch.float32) / 255.0
        out_dtype = torch.float32
    elif x0.is_floating_point():
        out_dtype = x0.dtype
        x0 = x0.to(compute_dtype(x0.dtype))
    else:
        raise bad_value(key, f"a tensor of dtype {x0.dtype}",
                        "a real floating-point tensor (any precision) with data in [0, 1], "
                        "or a uint8 tensor of 8-bit images 0..255")  # fmt: skip
    x0 = check_images(x0, key)
    low, high = (float(v) for v in torch.aminmax(x0))
    if low < -DATA_TOLERANCE or high > 1.0 + DATA_TOLERANCE:
        raise bad_value(key, f"a tensor with values from {low:.6g} to {high:.6g}",
                        f"data in [0, 1] (within {DATA_TOLERANCE:g}): divide 0..255 images by 255, "
                        "map [-1, 1] data with (x + 1) / 2")  # fmt: skip
    return x0, out_dtype


def check_level(k: Any, batch: int, K: int, device: torch.device | str | None = None) -> torch.Tensor:
    """Return the level(s) ``k`` as a (batch,) int64 tensor on ``device``, checking ``0 <= k <= K``.

    ``k`` is an int (all images), a 0-d integer tensor, or a (batch,) integer tensor.
    """
    import torch

    allowed = f"an integer level 0 <= k <= K={K}, or a ({batch},) integer tensor of them"
    if isinstance(k, torch.Tensor):
        if k.is_floating_point() or k.is_complex() or k.dtype == torch.bool or k.shape not in ((), (batch,)):
            raise bad_value("k", f"tensor of shape {tuple(k.shape)} and dtype {k.dtype}", allowed)
        levels = k.to(device=device, dtype=torch.int64).expand(batch)
        bad = (levels < 0) | (levels > K)
        if bool(bad.any()):
            i = int(torch.nonzero(bad)[0, 0])
            raise bad_value(f"k[{i}]" if k.dim() else "k", int(levels[i]), allowed)
        return levels.contiguous()
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise bad_value("k", k, allowed)
    if not 0 <= int(k) <= K:
        raise bad_value("k", k, allowed)
    return torch.full((batch,), int(k), dtype=torch.int64, device=device)


def check_generator(generator: Any, batch: int) -> torch.Generator | list[torch.Generator] | None:
    """Return ``None``, one ``torch.Generator``, or a list of exactly ``batch`` generators (one per image)."""
    import torch

    allowed = f"None, a torch.Generator, or a sequence of {batch} torch.Generator (one per image)"
    if generator is None or isinstance(generator, torch.Generator):
        return generator
    if isinstance(generator, Sequence) and not isinstance(generator, str):
        gens = list(generator)
        if len(gens) != batch or not all(isinstance(g, torch.Generator) for g in gens):
            raise bad_value("generator", f"a sequence of {len(gens)} items", allowed)
        return gens
    raise bad_value("generator", type(generator).__name__, allowed)


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """Precision to compute in: float64 stays float64, everything else (float32, half types) is float32."""
    import torch

    return torch.float64 if dtype == torch.float64 else torch.float32


def randn(
    shape: Sequence[int],
    generator: torch.Generator | list[torch.Generator] | None,
    device: torch.device | str,
    dtype: torch.dtype,
) -> torch.Tensor:
    """Standard normal noise of ``shape`` (batch first) on ``device``, drawn from ``generator``.

    A list of generators draws image ``b``'s noise ``shape[1:]`` from generator ``b``; a single
    generator draws on its own device and the result is moved to ``device``.
    """
    import torch

    shape = tuple(int(s) for s in shape)
    if generator is None:
        return torch.randn(shape, device=device, dtype=dtype)
    if isinstance(generator, torch.Generator):
        return torch.randn(shape, generator=generator, device=generator.device, dtype=dtype).to(device)
    if len(generator) != shape[0]:
        raise bad_value("generator", f"a sequence of {len(generator)} generators", f"{shape[0]}, one per image")
    return torch.stack(
        [torch.randn(shape[1:], generator=g, device=g.device, dtype=dtype).to(device) for g in generator]
    )


def draw_seeds(generator: torch.Generator | list[torch.Generator] | None, batch: int) -> list[int]:
    """One integer seed in ``[0, 2**62)`` per image, drawn from ``generator`` (for NumPy/CuPy-based families).

    A list of generators gives seed ``b`` from generator ``b``, so seeds do not depend on batching.
    """
    import torch

    high = 2**62
    if isinstance(generator, list):
        return [int(torch.randint(high, (1,), generator=g, device=g.device)) for g in generator]
    kwargs = {} if generator is None else {"generator": generator, "device": generator.device}
    return [int(s) for s in torch.randint(high, (batch,), **kwargs).tolist()]


# --------------------------------------------------------------------------- the contract


class Corruption(abc.ABC):
    """A corruption family: a forward process on images with levels ``0..K`` (0 = clean).

    Subclasses implement :meth:`_degrade` (and usually :meth:`_trajectory` and
    :meth:`_prior`); the public methods here check the inputs, handle per-image generators,
    make level 0 exactly ``x0`` and cast back to the input dtype. See the module docstring for
    the conventions (data units, generators, levels).

    Class attributes a subclass sets:

    ``deterministic``
        True when the forward process uses no randomness (``generator`` is ignored); the
        contract tests then require ``trajectory[k] == degrade(x0, k)`` and outputs in [0, 1]
        for data in [0, 1].
    ``prior_needs_images``
        True (the default) when the prior is a corruption of training images: ``prior`` then
        needs a batch, not a count, and by default returns ``degrade(x0, K)``. A family with a
        data-free prior sets it False and overrides :meth:`_prior`.
    ``batched_generators``
        True when ``_degrade``/``_trajectory``/``_prior`` accept a list of per-image generators
        themselves (e.g. through :func:`randn`); otherwise the public methods call them one
        image at a time when given a list.
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
        """Corrupt ``x0`` to level ``k``.

        Parameters
        ----------
        x0
            Clean images (B, C, H, W), data in [0, 1].
        k
            Level ``0 <= k <= K``: an int, or a (B,) integer tensor with one level per image.
        generator
            Source of randomness (see the module docstring); ignored by deterministic families.

        Returns
        -------
        torch.Tensor
            Level-``k`` images in data units, same shape, dtype and device as ``x0``; exactly
            ``x0`` where ``k == 0``.
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

        Parameters
        ----------
        x0
            Clean images (B, C, H, W), data in [0, 1].
        k
            Level ``1 <= k <= K``: an int or a (B,) integer tensor.
        generator
            Source of randomness (see the module docstring).

        Returns
        -------
        (u_{k-1}, u_k), each like ``x0``. The default runs :meth:`degrade` twice from the same
        generator state, which is one forward run for deterministic families; stochastic
        families whose two levels must share one sample path override :meth:`_degrade_pair`.
        """
        import torch

        x0, dtype = check_data(x0)
        batch = x0.shape[0]
        levels = check_level(k, batch, self.K, x0.device)
        if bool((levels < 1).any()):
            i = int(torch.nonzero(levels < 1)[0, 0])
            raise bad_value(f"k[{i}]" if isinstance(k, torch.Tensor) and k.dim() else "k", int(levels[i]),
                            f"a level 1 <= k <= K={self.K} (a pair needs level k - 1)")  # fmt: skip
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
        """All levels ``0..K`` of one forward run from ``x0``.

        Parameters
        ----------
        x0
            Clean images (B, C, H, W), data in [0, 1].
        generator
            Source of randomness (see the module docstring).

        Returns
        -------
        torch.Tensor
            Shape (K+1, B, C, H, W) in data units, same dtype and device as ``x0``; entry 0 is ``x0``.
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
        """Draw from the fully corrupted distribution that sampling starts from.

        Parameters
        ----------
        x0_or_n
            A batch of training images (B, C, H, W), or a number of samples ``n`` (only for
            families whose prior does not depend on data; see ``prior_needs_images``).
        generator
            Source of randomness (see the module docstring).
        shape
            (C, H, W) of each sample; required with ``n``, ignored with images.
        device, dtype
            Where and in which float precision to create ``n`` samples (default: the CPU,
            float32); with images, their device and dtype are used.

        Returns
        -------
        torch.Tensor
            (B or n, C, H, W) in data units.
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


# --------------------------------------------------------------------------- the registry

_REGISTRY: dict[str, type[Corruption]] = {}
_LAZY: dict[str, str] = {"advdiff": "advdiff.corruptions.advection:AdvectionDiffusion"}
_ORDER = ("ddpm", "heat", "blur", "advdiff")  # how families() lists the built-in families; others follow


def register(name: str) -> Callable[[type[C]], type[C]]:
    """Class decorator: register a :class:`Corruption` subclass under the short ``name``.

    Registering a name that is declared lazily (:func:`register_lazy`) replaces the
    declaration; registering a name already taken by another class is an error.
    """
    if not isinstance(name, str) or not name or name != name.strip().lower():
        raise bad_value("name", name, "a non-empty lower-case family name")

    def decorate(cls: type[C]) -> type[C]:
        if not (isinstance(cls, type) and issubclass(cls, Corruption)):
            raise TypeError(f"register({name!r}) expects a Corruption subclass, got {cls!r}")
        old = _REGISTRY.get(name)
        if old is not None and _qualname(old) != _qualname(cls):
            raise bad_value("name", name, f"a family name not yet taken (it is {_qualname(old)})")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return decorate


def register_lazy(name: str, target: str) -> None:
    """Declare family ``name`` as ``"package.module:Class"``, imported on first use by :func:`build`."""
    if not isinstance(name, str) or not name or name != name.strip().lower():
        raise bad_value("name", name, "a non-empty lower-case family name")
    module, sep, attr = target.partition(":") if isinstance(target, str) else ("", "", "")
    if not (module and sep and attr):
        raise bad_value("target", target, "'package.module:Class'")
    if name in _REGISTRY:
        raise bad_value("name", name, f"a family name not yet taken (it is {_qualname(_REGISTRY[name])})")
    _LAZY[name] = target


def families() -> tuple[str, ...]:
    """Names :func:`build` accepts: ``ddpm, heat, blur, advdiff``, then any other family in
    the order it was registered or declared (lazily declared families are listed before they are imported)."""
    names = list(_REGISTRY) + [name for name in _LAZY if name not in _REGISTRY]
    return tuple(sorted(names, key=lambda name: _ORDER.index(name) if name in _ORDER else len(_ORDER)))


def family_class(name: str) -> type[Corruption]:
    """The class of family ``name``, importing its module first if it is declared lazily.

    Raises
    ------
    advdiff.errors.ConfigError
        ``name`` is not a known family (the message lists them).
    FamilyUnavailableError
        The family's module cannot be imported here (an ``ImportError``; the cause is chained).
    """
    key = name.strip().lower() if isinstance(name, str) else name
    if key in _REGISTRY:
        return _REGISTRY[key]
    if key not in _LAZY:
        raise bad_value("family", name, f"one of {', '.join(families())}")
    target = _LAZY[key]
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise FamilyUnavailableError(
            f"corruption family '{key}' lives in {module_name} (class {attr}), which cannot be imported here: {exc}"
        ) from exc
    if key in _REGISTRY:  # the module registered itself
        return _REGISTRY[key]
    cls = getattr(module, attr, None)
    if cls is None:
        raise FamilyUnavailableError(f"corruption family '{key}': module {module_name} has no class {attr}")
    return register(key)(cls)


def known_params(name: str) -> tuple[str, ...]:
    """The parameters family ``name`` accepts: the keyword arguments of its constructor."""
    return _constructor_params(family_class(name))[0]


def build(name: str, **params: Any) -> Corruption:
    """Construct corruption family ``name`` (one of :func:`families`) with ``params``.

    Raises
    ------
    advdiff.errors.ConfigError
        Unknown family (the message lists the known ones), unknown parameter (it lists the
        family's parameters), or a parameter value outside what the family allows.
    FamilyUnavailableError
        The family's module cannot be imported here.
    """
    cls = family_class(name)
    names, open_ended = _constructor_params(cls)
    if not open_ended:
        for key in params:
            if key not in names:
                raise bad_value(
                    "parameter", key, f"a parameter of family '{cls.name}': one of {', '.join(names) or '(none)'}"
                )
    return cls(**params)


def _constructor_params(cls: type) -> tuple[tuple[str, ...], bool]:
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    sig = inspect.signature(cls)
    names = tuple(p.name for p in sig.parameters.values() if p.kind in kinds)
    open_ended = any(p.kind == inspect.Parameter.VAR_KEYWORD for p in sig.parameters.values())
    return names, open_ended


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"
