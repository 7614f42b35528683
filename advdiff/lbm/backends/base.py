"""The one protocol every LBM backend implements, and helpers they share."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from advdiff.lbm import lattice

COLLISIONS = {"bgk": 0, "central_moment": 1}
"""Collision operator names a caller chooses, and the integer codes of the compiled kernels."""

KERNEL_COLLISIONS = {**COLLISIONS, "central_moment_authors": 2}
"""Collisions a backend's ``run`` accepts: the public ones, plus the central-moment collision with
kappa22 relaxed to omega c_s^4 rho as in the Beyond Blur code (used by ``variant="authors"``)."""

BOUNDARIES = {"neumann": 0, "periodic": 1}
"""Boundary names and the integer codes of the compiled kernels."""

VARIANTS = ("default", "authors")
"""Solver variants: ``default`` (this package's validated operator) and ``authors`` (the choices of
the Beyond Blur code, for ablations; see :func:`advdiff.lbm.solve`)."""


class Backend(Protocol):
    """A D2Q9 advection-diffusion engine.

    Populations are arrays of shape (9, P, H, W), P = images x channels; velocities
    (B, 2, H, W) with plane p using image ``p // C``. Every backend gives the same
    results as :mod:`advdiff.lbm.backends.numpy_ref` to float32 round-off.
    """

    name: str
    xp: Any  # the array module (numpy or cupy)
    variants: tuple[str, ...]  # the solver variants it can run (see VARIANTS)

    def asarray(self, a: Any, dtype: Any) -> Any:
        """Copy or view ``a`` (NumPy, torch or CuPy) as a C-contiguous array of this backend."""
        ...

    def equilibrium(self, rho: Any, vel: Any | None, channels: int) -> Any:
        """Equilibrium populations (9, P, H, W) of density (P, H, W) under velocity (B, 2, H, W) or None."""
        ...

    def run(
        self, f: Any, scratch: Any, vel: Any | None, omegas: np.ndarray, collision: str, boundary: str, channels: int
    ) -> tuple[Any, Any]:
        """Advance ``len(omegas)`` steps (one relaxation rate per step) under a fixed velocity.

        ``f`` holds the current post-collision populations and ``scratch`` an array of
        the same shape; returns ``(state, other)`` with ``state`` the buffer holding the result.
        """
        ...

    def density(self, f: Any, out: Any | None = None) -> Any:
        """Density rho = sum_i f_i, shape (P, H, W), written into ``out`` (contiguous) if given."""
        ...

    def max_speed(self, vel: Any) -> float:
        """Largest velocity magnitude of a (B, 2, H, W) field (NaN if any component is not finite)."""
        ...


def equilibrium_xp(xp: Any, rho: Any, vel: Any | None, channels: int) -> Any:
    """Second-order equilibrium f_i = w_i rho (1 + 3 e.v + 4.5 (e.v)^2 - 1.5 |v|^2), for any array module."""
    P, H, W = rho.shape
    dtype = rho.dtype
    f = xp.empty((lattice.Q, P, H, W), dtype=dtype)
    if vel is None:
        for i in range(lattice.Q):
            f[i] = dtype.type(lattice.W[i]) * rho
        return f
    ux = xp.repeat(vel[:, 0], channels, axis=0).reshape(P, H, W)
    uy = xp.repeat(vel[:, 1], channels, axis=0).reshape(P, H, W)
    usq = 1.5 * (ux * ux + uy * uy)
    for i in range(lattice.Q):
        eu = float(lattice.EX[i]) * ux + float(lattice.EY[i]) * uy
        f[i] = dtype.type(lattice.W[i]) * rho * (1.0 + 3.0 * eu + 4.5 * eu * eu - usq)
    return f


def add_first_order_nonequilibrium(xp: Any, f: Any, rho: Any, tau: float, boundary: str) -> None:
    """Add the first-order (Chapman-Enskog) non-equilibrium part of a post-collision state, in place.

    f_i += -(tau - 1) w_i e_i . grad(rho), with grad(rho) by central differences (mirror
    at zero-flux walls, wrap-around when periodic). Streaming such a state diffuses with
    alpha = c_s^2 (tau - 1/2) from the very first step; a pure equilibrium start diffuses
    its first step with c_s^2 / 2 whatever tau is (an initial-layer error). Mass is unchanged
    because sum_i w_i e_i = 0. The O(|v|^2) velocity terms are neglected.
    """
    if boundary == "periodic":
        gx = 0.5 * (xp.roll(rho, -1, axis=2) - xp.roll(rho, 1, axis=2))
        gy = 0.5 * (xp.roll(rho, -1, axis=1) - xp.roll(rho, 1, axis=1))
    else:
        padded = xp.pad(rho, ((0, 0), (1, 1), (1, 1)), mode="edge")
        gx = 0.5 * (padded[:, 1:-1, 2:] - padded[:, 1:-1, :-2])
        gy = 0.5 * (padded[:, 2:, 1:-1] - padded[:, :-2, 1:-1])
    scale = f.dtype.type(1.0 - tau)
    for i in range(1, lattice.Q):
        f[i] += scale * f.dtype.type(lattice.W[i]) * (float(lattice.EX[i]) * gx + float(lattice.EY[i]) * gy)


def extrapolate_walls(xp: Any, f: Any, vel: Any | None, channels: int) -> None:
    """Non-equilibrium-extrapolation walls of the Beyond Blur code, in place on post-collision ``f``.

    Every edge node b takes the populations of its inner neighbour n, corrected for the velocity:
    f_b = f^eq(rho_n, v_b) - f^eq(rho_n, v_n) + f_n (Krueger et al., The Lattice Boltzmann Method,
    2017, sec. 5.3.4). As in that code, the top and bottom rows are set first (interior columns),
    then the left and right columns over every row, so a corner copies its row neighbour. These
    walls do not conserve mass: each edge pixel repeats its neighbour.
    """
    _, P, H, W = f.shape

    def ux_uy(rows: Any, cols: Any) -> tuple[Any, Any]:
        ux = xp.repeat(vel[:, 0][:, rows, cols], channels, axis=0)
        uy = xp.repeat(vel[:, 1][:, rows, cols], channels, axis=0)
        return ux, uy

    def copy(dst: tuple[Any, Any], src: tuple[Any, Any]) -> None:
        fn = f[(slice(None), slice(None), *src)]
        if vel is None:
            f[(slice(None), slice(None), *dst)] = fn
            return
        rho = fn.sum(axis=0)
        corr = _feq(xp, rho, *ux_uy(*dst)) - _feq(xp, rho, *ux_uy(*src))
        f[(slice(None), slice(None), *dst)] = corr + fn

    inner = slice(1, W - 1)
    copy((0, inner), (1, inner))
    copy((H - 1, inner), (H - 2, inner))
    every = slice(0, H)
    copy((every, 0), (every, 1))
    copy((every, W - 1), (every, W - 2))


def _feq(xp: Any, rho: Any, ux: Any, uy: Any) -> Any:
    """Equilibrium populations (9, ...) of density and velocity arrays of one shape."""
    usq = 1.5 * (ux * ux + uy * uy)
    return xp.stack(
        [
            rho.dtype.type(lattice.W[i]) * rho * (1.0 + 3.0 * eu + 4.5 * eu * eu - usq)
            for i in range(lattice.Q)
            for eu in [float(lattice.EX[i]) * ux + float(lattice.EY[i]) * uy]
        ]
    )


def max_speed_xp(xp: Any, vel: Any) -> float:
    """Largest |v| over a (B, 2, H, W) field; NaN when a component is not finite."""
    speed2 = vel[:, 0] * vel[:, 0] + vel[:, 1] * vel[:, 1]
    return float(xp.sqrt(speed2.max()))
