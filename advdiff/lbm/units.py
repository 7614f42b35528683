"""Lattice units: dimensionless numbers, the blur schedule, and stability limits.

Lattice units throughout (one pixel dx = 1, one LBM step dt = 1): ``tau = 3 alpha + 1/2``, the
velocity RMS of a step with diffusivity alpha is ``U = Pe alpha / L``, and level k of the blur
schedule (that of the heat-dissipation code Beyond Blur reuses) adds ``sigma_k^2 - sigma_{k-1}^2`` of
variance at ``alpha_k <= alpha_max``. Every check runs before any simulation work and raises
:class:`advdiff.errors.ConfigError` naming the key, the value and the allowed range. See
docs/solver.md, section "Units and limits", for the formulas.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from advdiff.errors import bad_value
from advdiff.lbm.lattice import CS2

MACH_LIMIT = 0.2
"""Largest allowed Mach number |v| / c_s of an imposed velocity. Beyond it the
second-order equilibrium loses accuracy and positivity."""

MAX_SPEED = MACH_LIMIT * math.sqrt(CS2)
"""Largest allowed velocity magnitude in lattice units per step (about 0.115)."""

ALPHA_MAX_DEFAULT = 1.0 / 6.0
"""Default largest diffusivity per step in the schedule (tau <= 1), as in the paper's code."""

ALPHA_STABLE_MAX = 1.0
"""Largest diffusivity per step the solver accepts (tau <= 3.5). Beyond it the lattice loses the
maximum principle: the first-order start state's non-equilibrium part (tau - 1) w_i e_i.grad(rho)
outweighs the equilibrium at steep edges and the over-large tau lets it propagate (measured on
random data in [0, 1], 20 steps: alpha = 2 widens the range for BGK, alpha = 5 gives [-0.28, 1.19],
alpha = 1e6 gives +-5e5); up to alpha = 1 every collision and start state keeps data in their
range. The blur schedules cap alpha at 1/6 (tau <= 1), well inside."""

ALPHA_MIN = 1e-6
"""Smallest diffusivity per step the solver accepts: tau - 1/2 = 3 alpha must be resolved in float32
(its spacing near 1/2 is 6e-8); below, tau rounds towards 1/2 and the lattice stops diffusing
(alpha = 1e-30 leaves values in [-0.002, 1.017] after 20 steps of random data in [0, 1])."""

SIGMA_MIN_VALIDATED = 0.5
"""Smallest blur width (pixels) of a schedule: the smallest sigma at which the lattice was validated
against the exact DCT heat operator (reports/lbm.md). Below, its few-step kernels are not Gaussians
(advdiff at sigma 0.001..0.01 px differed from heat by 0.5); the heat family computes such blurs exactly."""

MAX_TOTAL_STEPS = 10_000_000
"""Most LBM steps a schedule may ask for (the paper's largest, sigma_max = 128 px, needs 49 267)."""


def _finite_scalar(key: str, value: Any) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise bad_value(key, value, "a real number") from None
    if not math.isfinite(out):
        raise bad_value(key, value, "a finite number")
    return out


def check_diffusivity(diffusivity: Any, steps: int, key: str = "diffusivity") -> np.ndarray:
    """Validate a scalar or per-step diffusivity and return it as a float64 array of length ``steps``.

    Raises if any value is non-finite or ``<= 0`` (which would mean tau <= 1/2, an
    unstable or non-diffusive lattice).
    """
    arr = np.asarray(diffusivity, dtype=np.float64) if not np.isscalar(diffusivity) else None
    scalar = arr is None or arr.ndim == 0
    if scalar:
        value = _finite_scalar(key, diffusivity if arr is None else arr.item())
        arr = np.full(steps, value, dtype=np.float64)
    elif arr.ndim != 1 or arr.shape[0] != steps:
        raise bad_value(key, f"array of shape {arr.shape}", f"a scalar or a 1-D sequence of length steps={steps}")
    if not np.all(np.isfinite(arr)):
        bad = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise bad_value(f"{key}[{bad}]", float(arr[bad]), "a finite number")
    if np.any(arr <= 0):
        bad = int(np.flatnonzero(arr <= 0)[0])
        raise bad_value(
            f"{key}[{bad}]" if arr.size > 1 else key,
            float(arr[bad]),
            f"> 0 (tau = 3*alpha + 1/2 must exceed 1/2; got tau={tau(float(arr[bad]), check=False):g})",
        )
    outside = (arr < ALPHA_MIN) | (arr > ALPHA_STABLE_MAX)
    if np.any(outside):
        bad = int(np.flatnonzero(outside)[0])
        where = key if scalar or arr.size == 1 else f"{key}[{bad}]"
        why = (
            "below it tau - 1/2 = 3 alpha is not resolved in float32 and the lattice stops diffusing"
            if arr[bad] < ALPHA_MIN
            else "beyond it the lattice loses the maximum principle (values leave the data's range)"
        )
        raise bad_value(
            where,
            float(arr[bad]),
            f"a diffusivity from {ALPHA_MIN:g} to {ALPHA_STABLE_MAX:g} lattice units per step ({why}; "
            f"the blur schedules use at most {ALPHA_MAX_DEFAULT:.4g})",
        )
    return arr


def tau(alpha: float, *, check: bool = True) -> float:
    """BGK relaxation time for diffusivity ``alpha``: ``tau = alpha / c_s^2 + 1/2``."""
    if check:
        check_diffusivity(alpha, 1, key="alpha")
    return alpha / CS2 + 0.5


def omega(alpha: Any) -> Any:
    """Relaxation rate ``1 / tau`` for diffusivity ``alpha`` (scalar or array)."""
    return 1.0 / (np.asarray(alpha, dtype=np.float64) / CS2 + 0.5)


def relaxation_rates(alphas: np.ndarray) -> np.ndarray:
    """Per-step collision rates that realise a time-varying diffusivity exactly (to first order).

    In a pull-stream + collide step the density change of step n+1 is set by the flux that
    collision n leaves behind, and collision n relaxes a flux built under the previous tau.
    With plain rates ``1 - omega_n`` a jump of tau between steps gives one step of effective
    diffusivity c_s^2 [(1 - omega_n) tau_{n-1} + 1/2], which can even be negative (tau from
    0.875 to 0.545 on the blur schedule). Collision n therefore relaxes the first-order
    non-equilibrium moments by ``beta_n = (tau_{n+1} - 1) / tau_n`` (= 1 - omega for a constant
    tau), so that stream n+1 diffuses with exactly alpha_{n+1}; the start state carries the
    flux for tau_1 (see ``solve(init=...)``). Returns ``omega_eff_n = 1 - beta_n``.
    """
    taus = np.asarray(alphas, dtype=np.float64) / CS2 + 0.5
    if taus.size == 0:
        return taus
    following = np.concatenate([taus[1:], taus[-1:]])
    return 1.0 - (following - 1.0) / taus


def diffusivity_from_tau(tau_value: float) -> float:
    """Inverse of :func:`tau`; rejects ``tau <= 1/2``."""
    t = _finite_scalar("tau", tau_value)
    if t <= 0.5:
        raise bad_value("tau", t, "> 0.5")
    return CS2 * (t - 0.5)


def check_speed(max_speed: float, key: str = "velocity") -> None:
    """Reject a velocity magnitude above :data:`MAX_SPEED` (Mach :data:`MACH_LIMIT`) or a non-finite one."""
    if not math.isfinite(max_speed):
        raise bad_value(key, max_speed, "finite velocity components")
    if max_speed > MAX_SPEED:
        raise bad_value(
            f"max |{key}|",
            round(max_speed, 6),
            f"<= {MAX_SPEED:.4f} lattice units per step (Mach |v|/c_s <= {MACH_LIMIT})",
        )


def velocity_rms(peclet: float, alpha: Any, length: float) -> Any:
    """Velocity RMS per component for a step with diffusivity ``alpha``: ``U = Pe alpha / L``."""
    return peclet * np.asarray(alpha, dtype=np.float64) / length


def fourier(sigma: Any, length: float) -> Any:
    """Fourier number ``Fo = sigma^2 / (2 L^2)`` of a blur of width ``sigma`` pixels."""
    return np.asarray(sigma, dtype=np.float64) ** 2 / (2.0 * length**2)


def sigma_from_fourier(fo: float, length: float) -> float:
    """Blur width in pixels whose Fourier number is ``fo``: ``sigma = L sqrt(2 Fo)``."""
    fo = _finite_scalar("fourier", fo)
    if fo <= 0:
        raise bad_value("fourier", fo, "> 0")
    return float(length * math.sqrt(2.0 * fo))


def transport_bound(peclet: float, sigma_max: float, length: float) -> float:
    """Upper bound on the advective transport of a whole trajectory in pixels: ``Pe sigma_max^2 / (2 L)``.

    It is the sum of the per-step velocity RMS ``U_n = Pe alpha_n / L`` over the trajectory's
    steps (the alphas sum to ``sigma_max^2 / 2``), not a displacement: the field's phases rotate,
    so what a parcel travels net is far smaller (:func:`advdiff.analysis.tracer_travel` measures it).
    """
    return float(peclet * sigma_max**2 / (2.0 * length))


def sigma_schedule(K: int, sigma_min: float, sigma_max: float) -> np.ndarray:
    """Blur widths ``sigma_0..sigma_K`` (length K+1, ``sigma_0 = 0``), log-spaced for k >= 1."""
    K = _check_int("K", K, low=1)
    smin = _finite_scalar("sigma_min", sigma_min)
    smax = _finite_scalar("sigma_max", sigma_max)
    if smin < SIGMA_MIN_VALIDATED:
        raise bad_value(
            "sigma_min",
            smin,
            f">= {SIGMA_MIN_VALIDATED} pixels, the smallest blur at which the lattice "
            "was validated against the exact heat operator (below, its few-step kernels are not "
            "Gaussians; the heat family computes such blurs exactly)",
        )
    if smax < smin or (K > 1 and smax == smin):
        raise bad_value("sigma_max", smax, f"> sigma_min={smin} pixels")
    return np.concatenate([[0.0], np.exp(np.linspace(math.log(smin), math.log(smax), K))])


def smax_sq(sigmas: np.ndarray) -> float:
    """sigma_max^2 of a schedule's blur widths (the default schedule takes about 3 sigma_max^2 steps)."""
    return float(sigmas[-1] ** 2) * 2.0


def _check_int(key: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not float(value).is_integer():
        raise bad_value(key, value, f"an integer >= {low}")
    out = int(value)
    if out < low:
        raise bad_value(key, value, f"an integer >= {low}")
    return out


@dataclass(frozen=True)
class Schedule:
    """Per-level LBM schedule of one corruption trajectory.

    Arrays are indexed by level k = 0..K; level 0 is the clean image (0 steps).
    """

    sigmas: np.ndarray  # blur width sigma_k in pixels
    steps: np.ndarray  # LBM steps n_k taken to go from level k-1 to level k (steps[0] = 0)
    alphas: np.ndarray  # diffusivity alpha_k of those steps, lattice units (alphas[0] = 0)
    velocity_rms: np.ndarray  # velocity RMS U_k = Pe alpha_k / L per component, lattice units per step
    peclet: float  # Pe = U L / alpha
    length: float  # reference length L in pixels
    alpha_max: float  # largest allowed alpha per step

    @property
    def K(self) -> int:
        """Number of corruption levels after the clean one."""
        return int(self.sigmas.shape[0] - 1)

    @property
    def level_end(self) -> np.ndarray:
        """LBM step count at which each level is reached (cumulative sum of ``steps``)."""
        return np.cumsum(self.steps)

    @property
    def total_steps(self) -> int:
        """LBM steps of the whole trajectory."""
        return int(self.steps.sum())

    @property
    def fourier(self) -> np.ndarray:
        """Fourier number Fo_k = sigma_k^2 / (2 L^2) of every level."""
        return fourier(self.sigmas, self.length)

    @property
    def transport_bound(self) -> float:
        """An upper bound on advective transport, pixels: the sum of per-step velocity RMS U_n over the
        trajectory. Not a displacement: the phases rotate, so the net travel is far smaller."""
        return float(np.sum(self.steps * self.velocity_rms))

    def per_step(self, values: np.ndarray) -> np.ndarray:
        """Expand a per-level array (length K+1) to one value per LBM step (length ``total_steps``)."""
        return np.repeat(np.asarray(values)[1:], self.steps[1:])

    def per_step_diffusivity(self) -> np.ndarray:
        """Diffusivity of every LBM step of the trajectory."""
        return self.per_step(self.alphas)

    def per_step_velocity_rms(self) -> np.ndarray:
        """Velocity RMS of every LBM step of the trajectory."""
        return self.per_step(self.velocity_rms)

    def summary(self) -> dict[str, float]:
        """Dimensionless numbers and costs a report table shows."""
        return {
            "K": self.K,
            "sigma_max": float(self.sigmas[-1]),
            "length": self.length,
            "peclet": self.peclet,
            "fourier_max": float(self.fourier[-1]),
            "total_steps": self.total_steps,
            "max_steps_per_level": int(self.steps.max()),
            "transport_bound_px": self.transport_bound,
        }


def build_schedule(
    K: int,
    sigma_max: float | None = None,
    *,
    sigma_min: float = 0.5,
    peclet: float = 0.0,
    length: float,
    alpha_max: float = ALPHA_MAX_DEFAULT,
    fourier_max: float | None = None,
    mach_check: bool = True,
) -> Schedule:
    """Convert (K, sigma_min, sigma_max or Fo_max, Pe, L) into per-level steps, diffusivities and velocities.

    Follows the schedule of the Beyond Blur code. Give the final blur either as
    ``sigma_max`` (pixels) or as the Fourier number ``fourier_max`` = sigma_max^2 / (2 L^2).
    Raises :class:`~advdiff.errors.ConfigError` before any work if a value is out of range,
    including a Péclet number whose velocity would exceed the Mach limit (unless ``mach_check`` is
    False: a caller that does not know the image size yet checks everything else).
    """
    if (sigma_max is None) == (fourier_max is None):
        raise bad_value(
            "sigma_max", sigma_max, f"exactly one of sigma_max and fourier_max (got fourier_max={fourier_max})"
        )
    if fourier_max is not None:
        sigma_max = sigma_from_fourier(fourier_max, _finite_scalar("length", length))
    sigmas = sigma_schedule(K, sigma_min, sigma_max)
    pe = _finite_scalar("peclet", peclet)
    if pe < 0:
        raise bad_value("peclet", pe, ">= 0")
    L = _finite_scalar("length", length)
    if L <= 0:
        raise bad_value("length", L, "> 0 pixels")
    amax = _finite_scalar("alpha_max", alpha_max)
    if amax <= 0:
        raise bad_value("alpha_max", amax, "> 0 (tau_max = 3*alpha_max + 1/2 > 1/2)")
    if amax > ALPHA_STABLE_MAX:
        raise bad_value(
            "alpha_max",
            amax,
            f"<= {ALPHA_STABLE_MAX:g} (the solver's stable range; default {ALPHA_MAX_DEFAULT:.4g}, tau <= 1)",
        )
    variance = np.diff(sigmas**2)
    # Smallest integer n with variance / (2 n) <= alpha_max; the relative slack absorbs
    # round-off when the ratio is an exact integer.
    needed = float(np.sum(np.maximum(1.0, np.ceil(variance / (2.0 * amax)))))
    if needed > MAX_TOTAL_STEPS:
        raise bad_value(
            "alpha_max",
            amax,
            f"a value whose schedule needs at most {MAX_TOTAL_STEPS:,} LBM steps "
            f"(this one needs {needed:.3g}; the default {ALPHA_MAX_DEFAULT:.4g} needs about "
            f"{1.5 * smax_sq(sigmas):.3g})",
        )
    steps = np.maximum(1, np.ceil(variance / (2.0 * amax) * (1.0 - 1e-12))).astype(np.int64)
    alphas = variance / (2.0 * steps)
    check_diffusivity(alphas, alphas.shape[0], key="schedule alpha_k")
    rms = velocity_rms(pe, alphas, L)
    if mach_check and rms.max() > MAX_SPEED:
        raise bad_value(
            "peclet",
            pe,
            f"<= {MAX_SPEED * L / alphas.max():.4g} for length={L:g} and alpha_max={amax:.4g}: "
            f"the velocity RMS Pe*alpha/L = {rms.max():.4g} would exceed the Mach limit "
            f"{MAX_SPEED:.4f} lattice units per step",
        )
    return Schedule(
        sigmas=sigmas,
        steps=np.concatenate([[0], steps]),
        alphas=np.concatenate([[0.0], alphas]),
        velocity_rms=np.concatenate([[0.0], rms]),
        peclet=pe,
        length=L,
        alpha_max=amax,
    )
