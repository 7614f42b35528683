"""The one protocol every LBM backend implements, and helpers they share."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from advdiff.lbm import lattice

COLLISIONS = {"bgk": 0, "central_moment": 1}
"""Collision operator names and the integer codes of the compiled kernels."""

BOUNDARIES = {"neumann": 0, "periodic": 1}
"""Boundary names and the integer codes of the compiled kernels."""


class Backend(Protocol):
    """A D2Q9 advection-diffusion engine.

    Populations are arrays of shape (9, P, H, W), P = images x channels; velocities
    (B, 2, H, W) with plane p using image ``p // C``. Every backend gives the same
    results as :mod:`advdiff.lbm.backends.numpy_ref` to float32 round-off.
    """

    name: str
    xp: Any  # the array module (numpy or cupy)

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


def max_speed_xp(xp: Any, vel: Any) -> float:
    """Largest |v| over a (B, 2, H, W) field; NaN when a component is not finite."""
    speed2 = vel[:, 0] * vel[:, 0] + vel[:, 1] * vel[:, 1]
    return float(xp.sqrt(speed2.max()))
