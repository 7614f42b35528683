"""Wavenumber grids and the shell-summed energy spectrum of a velocity field.

Wavenumbers are *scaled* as in the Beyond Blur code: ``k = L·2π·fftfreq(N)`` with ``L = max(H, W)``
pixels, so on a square N×N image ``k = 2π·(integer mode numbers)`` and ``k = 2π`` is one wave across
the long image side. See docs/solver.md, section "Wavenumbers", for why.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from advdiff.errors import bad_value
from advdiff.lbm import arrays

TWO_PI = 2.0 * math.pi


def check_shape(shape: Any, key: str = "shape") -> tuple[int, int]:
    """Validate a grid shape ``(H, W)`` of integers >= 2 and return it as a tuple of ints."""
    try:
        items = tuple(shape)
    except TypeError:
        raise bad_value(key, shape, "a pair (H, W) of integers >= 2") from None
    if len(items) != 2 or any(isinstance(s, bool) or not isinstance(s, int | np.integer) or s < 2 for s in items):
        raise bad_value(key, shape, "a pair (H, W) of integers >= 2")
    return int(items[0]), int(items[1])


def wavenumbers(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Scaled wavenumber components ``(kx, ky)`` on the full FFT grid of ``shape = (H, W)`` pixels.

    Each is float64 of shape (H, W): ``k = max(H, W)·2π·fftfreq(N)`` along the width (x, last axis) and
    the height (y, first axis), in radians per image side (``2π·integers`` on a square grid, as in the
    paper's code).
    """
    H, W = check_shape(shape)
    L = max(H, W)
    ky = TWO_PI * L * np.fft.fftfreq(H)
    kx = TWO_PI * L * np.fft.fftfreq(W)
    return np.broadcast_to(kx[None, :], (H, W)).copy(), np.broadcast_to(ky[:, None], (H, W)).copy()


def energy_spectrum(v: Any) -> tuple[np.ndarray, np.ndarray]:
    """Shell-summed kinetic energy spectrum E(k) of one or more 2-D velocity fields.

    ``v`` has shape (..., 2, H, W) (NumPy, CuPy or torch; component 0 along x, the width; any units).
    Returns ``k``, the shell centres ``2π·s`` (s = 1, 2, …), shape (S,), and ``E``, the energy per shell
    in (units of v)², shape (..., S), both float64. ``Σ_s E = ½·mean(u² + v²)`` less the mean flow;
    shells with ``s > min(H, W)/2`` are incomplete. See docs/solver.md, section "Wavenumbers".
    """
    a = arrays.to_numpy(v)
    if a.ndim < 3 or a.shape[-3] != 2 or min(a.shape[-2:]) < 2:
        raise bad_value("v", f"array of shape {a.shape}", "a velocity field of shape (..., 2, H, W), H, W >= 2")
    H, W = a.shape[-2:]
    kx, ky = wavenumbers((H, W))
    shell = np.rint(np.hypot(kx, ky) / TWO_PI).astype(np.int64).ravel()
    nbins = int(shell.max()) + 1
    vh = np.fft.fft2(a.astype(np.float64, copy=False), axes=(-2, -1)) / (H * W)
    e = 0.5 * (np.abs(vh[..., 0, :, :]) ** 2 + np.abs(vh[..., 1, :, :]) ** 2)
    lead = e.shape[:-2]
    flat = e.reshape(-1, H * W)
    index = (np.arange(flat.shape[0])[:, None] * nbins + shell[None, :]).ravel()
    E = np.bincount(index, weights=flat.ravel(), minlength=flat.shape[0] * nbins).reshape(flat.shape[0], nbins)
    k = TWO_PI * np.arange(1, nbins, dtype=np.float64)
    return k, E[:, 1:].reshape(*lead, nbins - 1)
