"""Input checks shared by the families, training and sampling: numbers, levels, images and generators.

Each raises :class:`~advdiff.errors.ConfigError` naming the argument, its value and what is allowed.
"""

from __future__ import annotations

import logging
import math
import numbers
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from advdiff.errors import bad_value

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

DATA_TOLERANCE = 1e-3
"""How far data given to a family may lie outside [0, 1] (round-off of resampled or decoded images)."""


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
        raise bad_value(
            key,
            f"a tensor of dtype {x0.dtype}",
            "a real floating-point tensor (any precision) with data in [0, 1], "
            "or a uint8 tensor of 8-bit images 0..255",
        )
    x0 = check_images(x0, key)
    low, high = (float(v) for v in torch.aminmax(x0))
    if low < -DATA_TOLERANCE or high > 1.0 + DATA_TOLERANCE:
        raise bad_value(
            key,
            f"a tensor with values from {low:.6g} to {high:.6g}",
            f"data in [0, 1] (within {DATA_TOLERANCE:g}): divide 0..255 images by 255, "
            "map [-1, 1] data with (x + 1) / 2",
        )
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
