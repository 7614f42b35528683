"""The solver front end: validate once, pick a backend, run, return the caller's array type."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from advdiff.errors import bad_value
from advdiff.lbm import arrays, units
from advdiff.lbm.backends import get_backend
from advdiff.lbm.backends.base import BOUNDARIES, COLLISIONS, add_first_order_nonequilibrium

log = logging.getLogger(__name__)

VelocityArg = Any | Callable[[int], Any] | None

INITS = ("chapman_enskog", "equilibrium")
"""Initial-state options of :func:`solve`."""

_PROGRESS_CHUNK = 64  # steps per kernel call when a progress bar is shown


def solve(
    u0: Any,
    diffusivity: float | Sequence[float] | np.ndarray,
    steps: int,
    velocity: VelocityArg = None,
    *,
    backend: str = "auto",
    collision: str = "bgk",
    boundary: str = "neumann",
    record: Sequence[int] | None = None,
    progress: bool = False,
    init: str = "chapman_enskog",
) -> Any:
    """Advance every channel of a batch by ``steps`` D2Q9 advection-diffusion LBM steps.

    Solves du/dt + div(v u) = div(alpha grad u) per channel (SPEC §2, §5) in lattice
    units (dx = dt = 1), tau = 3 alpha + 1/2, second-order equilibrium, fused
    stream+collide.

    Parameters
    ----------
    u0
        Batch of shape (B, C, H, W): NumPy, torch or CuPy. The result has the same type,
        device and dtype. Computation is float32 (the ``numpy`` backend keeps float64 input).
    diffusivity
        alpha in lattice units: a scalar, or one value per step (length ``steps``). Must be > 0.
        Step n diffuses with exactly alpha_n also when alpha changes from step to step
        (see :func:`advdiff.lbm.units.relaxation_rates`).
    steps
        Number of LBM steps (>= 0).
    velocity
        None; a field of shape (B, 2, H, W) held for all steps; or a callable ``step -> field``
        called with n = 0..steps-1 for the step taking state n to n+1 (field n = 0 also
        sets the initial equilibrium). Component 0 is along the width axis x, component 1
        along the height axis y, in lattice units per step; channels of an image share it.
        Every field is checked against the Mach limit (:data:`advdiff.lbm.units.MAX_SPEED`).
    backend
        ``auto`` (cupy if a CUDA device is usable, else cpu), ``numpy``, ``cpu`` or ``cupy``.
    collision
        ``bgk`` or ``central_moment``.
    boundary
        ``neumann`` (zero flux: half-way bounce-back walls half a pixel outside the image,
        matching the DCT-II heat operator; conserves each channel's sum exactly) or ``periodic``.
    record
        Optional strictly increasing step counts in [0, steps]; the states after those
        steps of one continuous simulation are returned stacked on a new leading axis,
        shape (R, B, C, H, W).
    progress
        Show a progress bar over the steps.
    init
        ``chapman_enskog`` (default): start from equilibrium plus the first-order
        non-equilibrium part for the first step's tau, so the first steps already diffuse
        with the scheduled alpha; ``equilibrium``: start from f^eq only (the first step then
        diffuses with c_s^2 / 2 whatever alpha is).
    """
    if collision not in COLLISIONS:
        raise bad_value("collision", collision, f"one of {', '.join(COLLISIONS)}")
    if boundary not in BOUNDARIES:
        raise bad_value("boundary", boundary, f"one of {', '.join(BOUNDARIES)}")
    if init not in INITS:
        raise bad_value("init", init, f"one of {', '.join(INITS)}")
    steps = _check_steps(steps)
    alphas = units.check_diffusivity(diffusivity, steps)
    omegas = units.relaxation_rates(alphas)
    records = _check_record(record, steps)
    shape = tuple(getattr(u0, "shape", ()))
    if len(shape) != 4 or min(shape) < 1:
        raise bad_value("u0", f"array of shape {shape}", "a non-empty batch of shape (B, C, H, W)")
    B, C, H, W = shape
    if velocity is not None and not callable(velocity):
        _check_velocity_shape(velocity, shape)

    be = get_backend(backend)
    dtype = (
        np.float64 if be.name == "numpy" and np.dtype(getattr(u0, "dtype", np.float32)) == np.float64 else np.float32
    )
    xp = be.xp
    u = be.asarray(u0, dtype)
    if not bool(xp.isfinite(u).all()):
        raise bad_value("u0", "array with NaN or inf", "finite values")
    rho = u.reshape(B * C, H, W)

    def field(n: int) -> Any:
        v = velocity(n) if callable(velocity) else velocity
        key = f"velocity({n})" if callable(velocity) else "velocity"
        if callable(velocity):
            _check_velocity_shape(v, shape, key)
        v = be.asarray(v, dtype)
        speed = be.max_speed(v)
        if not math.isfinite(speed):
            raise bad_value(key, "field with NaN or inf", "finite velocity components")
        units.check_speed(speed, key)
        return v

    vel = None if velocity is None else field(0)
    f = be.equilibrium(rho, vel, C)
    if init == "chapman_enskog" and steps > 0:
        add_first_order_nonequilibrium(xp, f, rho, units.tau(float(alphas[0])), boundary)
    scratch = xp.empty_like(f)
    recorded = xp.empty((len(records), *shape), dtype=f.dtype) if records else None
    n_out = 0
    if records and records[0] == 0:
        be.density(f, out=recorded[0].reshape(B * C, H, W))
        n_out = 1
    targets = [r for r in records if r > 0]
    bar = tqdm(total=steps, disable=not progress, unit="step", desc=f"LBM {be.name}", leave=False)
    log.debug("solve: %s on %s, %d steps, collision=%s, boundary=%s", shape, be.name, steps, collision, boundary)
    n = 0
    with bar:
        while n < steps:
            stop = targets[0] if targets else steps
            if callable(velocity):
                stop = n + 1
                if n > 0:
                    vel = field(n)
            elif progress:
                stop = min(stop, n + _PROGRESS_CHUNK)
            f, scratch = be.run(f, scratch, vel, omegas[n:stop], collision, boundary, C)
            bar.update(stop - n)
            n = stop
            if targets and n == targets[0]:
                be.density(f, out=recorded[n_out].reshape(B * C, H, W))
                n_out += 1
                targets.pop(0)
    result = recorded if records else be.density(f).reshape(shape)
    return arrays.like(result, u0)


def _check_steps(steps: Any) -> int:
    if isinstance(steps, bool) or not isinstance(steps, int | np.integer):
        raise bad_value("steps", steps, "an integer >= 0")
    if steps < 0:
        raise bad_value("steps", steps, "an integer >= 0")
    return int(steps)


def _check_record(record: Sequence[int] | None, steps: int) -> list[int]:
    if record is None:
        return []
    out = [int(r) for r in record]
    if len(out) == 0:
        raise bad_value("record", list(record), "None or a non-empty sequence of step counts")
    if any(b <= a for a, b in zip(out, out[1:], strict=False)):
        raise bad_value("record", out, "strictly increasing step counts")
    if out[0] < 0 or out[-1] > steps:
        raise bad_value("record", out, f"step counts in [0, steps={steps}]")
    return out


def _check_velocity_shape(v: Any, shape: tuple[int, ...], key: str = "velocity") -> None:
    B, _, H, W = shape
    vshape = tuple(getattr(v, "shape", ()))
    if vshape != (B, 2, H, W):
        raise bad_value(key, f"array of shape {vshape}", f"None, a callable, or a field of shape {(B, 2, H, W)}")
