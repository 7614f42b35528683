"""Noise, per-image seeds and blur widths shared by the families, training and sampling."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from advdiff.corruptions.validate import check_K, check_real
from advdiff.errors import bad_value
from advdiff.lbm import units

if TYPE_CHECKING:
    import torch


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
