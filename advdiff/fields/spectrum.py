"""Wavenumber grids and the shell-summed energy spectrum of a velocity field.

Wavenumber convention
---------------------
The grid is H×W pixels (lattice units, dx = 1). The physical, isotropic lattice
wavenumber of FFT bin ``m`` along an axis of N pixels is ``kappa = 2π m / N`` radians
per pixel (``2π·fftfreq(N)``). Like the Beyond Blur code, which puts the image on a unit
domain and uses ``k = 2π·fftfreq(N, d=1/N)`` (2π times integers), this package works with
the *scaled* wavenumber

    k = L · kappa,    L = max(H, W) pixels,

so that on a square N×N image ``k = 2π·(integer mode numbers)``, exactly the paper's
values; ``k = 2π`` is one wave across the (long) image side. On a non-square image the
scaling keeps the wavenumber isotropic in pixels (the paper's code only handles squares).
Power laws are scale invariant, so the amplitude laws do not depend on this choice; the
phase speed ``omega = dt_turb·|k|`` and the Reynolds range ``k0…k0·Re^(3/4)`` do.
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
    """Scaled wavenumber components on the full FFT grid.

    Parameters
    ----------
    shape
        Grid ``(H, W)`` in pixels.

    Returns
    -------
    kx, ky
        Arrays of shape (H, W), float64: ``k = max(H, W)·2π·fftfreq(N)`` along the width
        (x, last axis) and height (y, first axis). Dimensionless (radians per image side);
        ``2π·integers`` on a square grid, as in the paper's code.
    """
    H, W = check_shape(shape)
    L = max(H, W)
    ky = TWO_PI * L * np.fft.fftfreq(H)
    kx = TWO_PI * L * np.fft.fftfreq(W)
    return np.broadcast_to(kx[None, :], (H, W)).copy(), np.broadcast_to(ky[:, None], (H, W)).copy()


def energy_spectrum(v: Any) -> tuple[np.ndarray, np.ndarray]:
    """Shell-summed kinetic energy spectrum E(k) of one or more 2-D velocity fields.

    ``E(k_s) = ½ Σ_{|k|/2π rounds to s} (|û(k)|² + |v̂(k)|²)`` with ``û = FFT2(u)/(H·W)``,
    so ``Σ_s E(k_s) = ½·mean(u² + v²)`` (minus the mean flow). Shells have width 2π in the
    scaled wavenumber of this module (one integer mode number on a square grid) and are
    centred on ``k_s = 2π·s``, s = 1, 2, …. Shells with ``s > min(H, W)/2`` reach into the
    grid corners and are incomplete.

    Parameters
    ----------
    v
        Velocity field(s) of shape (..., 2, H, W) (NumPy, CuPy or torch), component 0
        along x (width), component 1 along y (height), any units.

    Returns
    -------
    k
        Shell wavenumbers ``2π·s``, shape (S,), float64 (scaled units, see module docstring).
    E
        Energy per shell, shape (..., S), float64, in (units of v)².
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
