"""The readable NumPy reference backend: the oracle every faster backend is tested against.

Streaming and collision are separate, whole-array operations written for clarity,
not speed. The central-moment collision is built from the moment definition (a
per-node 9x9 transform, inverted by a linear solve), independently of the
closed-form expressions of the compiled kernels, so that the two check each other.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from advdiff.lbm import lattice
from advdiff.lbm.backends.base import VARIANTS, equilibrium_xp, max_speed_xp


def stream(f: np.ndarray, boundary: str) -> np.ndarray:
    """Pull streaming: population i at node x comes from node x - e_i.

    ``periodic`` wraps around. ``neumann`` is half-way bounce-back: a population whose
    source lies outside the grid is replaced by the opposite population that left the
    same node, i.e. the wall half a cell outside the last pixel reflects it (zero flux).
    """
    _, _, H, W = f.shape
    out = np.empty_like(f)
    ys = np.arange(H)[:, None]
    xs = np.arange(W)[None, :]
    for i in range(lattice.Q):
        ex, ey = int(lattice.EX[i]), int(lattice.EY[i])
        out[i] = np.roll(f[i], shift=(ey, ex), axis=(1, 2))
        if boundary == "neumann":
            outside = (ys - ey < 0) | (ys - ey >= H) | (xs - ex < 0) | (xs - ex >= W)
            out[i][:, outside] = f[lattice.OPPOSITE[i]][:, outside]
    return out


def _plane_velocity(vel: np.ndarray | None, shape: tuple[int, ...], channels: int, dtype: Any):
    if vel is None:
        zero = np.zeros(shape[1:], dtype=dtype)
        return zero, zero
    return np.repeat(vel[:, 0], channels, axis=0), np.repeat(vel[:, 1], channels, axis=0)


def close_mass(post: np.ndarray, pre: np.ndarray) -> np.ndarray:
    """Set the rest population so that each node's post-collision sum equals its pre-collision
    sum taken in float64 (the compiled kernels do the same; see ``adv_close_mass``)."""
    mass = pre.sum(axis=0, dtype=np.float64)
    post[0] = mass - post[1:].sum(axis=0, dtype=np.float64)
    return post


def collide_bgk(f: np.ndarray, ux: np.ndarray, uy: np.ndarray, omega: float) -> np.ndarray:
    """BGK: relax every population towards the equilibrium at the node's density and imposed velocity."""
    rho = f.sum(axis=0)
    usq = 1.5 * (ux**2 + uy**2)
    out = np.empty_like(f)
    for i in range(lattice.Q):
        eu = lattice.EX[i] * ux + lattice.EY[i] * uy
        feq = lattice.W[i] * rho * (1.0 + 3.0 * eu + 4.5 * eu**2 - usq)
        out[i] = f[i] + omega * (feq - f[i])
    return close_mass(out, f)


def central_moment_matrix(ux: np.ndarray, uy: np.ndarray) -> np.ndarray:
    """T[n, a, i] = (e_ix - ux_n)^p_a (e_iy - uy_n)^q_a: populations -> central moments, per node n."""
    cx = lattice.EX[None, :] - ux.reshape(-1, 1)  # (N, 9)
    cy = lattice.EY[None, :] - uy.reshape(-1, 1)
    return np.stack([cx**p * cy**q for p, q in lattice.MOMENT_EXPONENTS], axis=1)  # (N, 9 moments, 9 pops)


def collide_central_moment(
    f: np.ndarray, ux: np.ndarray, uy: np.ndarray, omega: float, *, authors_kappa22: bool = False
) -> np.ndarray:
    """Central-moment collision (as in the Beyond Blur code): kappa00 kept; kappa10, kappa01
    (which set the diffusivity) and the third-order kappa21, kappa12 relax with (1 - omega);
    kappa20 and kappa02 go to c_s^2 rho, kappa11 to 0 and kappa22 to c_s^4 rho, or to
    omega c_s^4 rho with ``authors_kappa22`` (what that code writes)."""
    shape = f.shape
    pops = f.reshape(lattice.Q, -1).T.astype(np.float64)  # (N, 9)
    T = central_moment_matrix(ux.astype(np.float64), uy.astype(np.float64))
    kappa = np.einsum("nai,ni->na", T, pops)
    rho = kappa[:, 0]
    post = np.empty_like(kappa)
    post[:, 0] = rho
    post[:, 1] = (1.0 - omega) * kappa[:, 1]  # kappa10
    post[:, 2] = (1.0 - omega) * kappa[:, 2]  # kappa01
    post[:, 3] = lattice.CS2 * rho  # kappa20
    post[:, 4] = lattice.CS2 * rho  # kappa02
    post[:, 5] = 0.0  # kappa11
    post[:, 6] = (1.0 - omega) * kappa[:, 6]  # kappa21
    post[:, 7] = (1.0 - omega) * kappa[:, 7]  # kappa12
    post[:, 8] = (omega if authors_kappa22 else 1.0) * lattice.CS2**2 * rho  # kappa22
    new = np.linalg.solve(T, post[..., None])[..., 0]
    return close_mass(new.T.reshape(shape).astype(f.dtype), f)


def collide_central_moment_authors(f: np.ndarray, ux: np.ndarray, uy: np.ndarray, omega: float) -> np.ndarray:
    """The central-moment collision with the Beyond Blur code's kappa22 = omega c_s^4 rho."""
    return collide_central_moment(f, ux, uy, omega, authors_kappa22=True)


COLLIDE = {
    "bgk": collide_bgk,
    "central_moment": collide_central_moment,
    "central_moment_authors": collide_central_moment_authors,
}


class NumpyBackend:
    """Reference backend: plain NumPy, float32 or float64 (kept from the input)."""

    name = "numpy"
    xp = np
    variants = VARIANTS

    @staticmethod
    def check_available() -> None:
        """Always available."""

    def asarray(self, a: Any, dtype: Any) -> np.ndarray:
        from advdiff.lbm.arrays import to_numpy

        return np.ascontiguousarray(to_numpy(a), dtype=dtype)

    def equilibrium(self, rho: np.ndarray, vel: np.ndarray | None, channels: int) -> np.ndarray:
        return equilibrium_xp(np, rho, vel, channels)

    def run(self, f, scratch, vel, omegas, collision, boundary, channels):
        ux, uy = _plane_velocity(vel, f.shape, channels, f.dtype)
        collide = COLLIDE[collision]
        for om in omegas:
            f = collide(stream(f, boundary), ux, uy, float(om))
        return f, scratch

    def density(self, f: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        return np.sum(f, axis=0, out=out)

    def max_speed(self, vel: np.ndarray) -> float:
        return max_speed_xp(np, vel)
