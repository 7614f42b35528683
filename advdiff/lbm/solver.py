"""The solver front end: validate once, pick a backend, run, return the caller's array type."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from advdiff.errors import bad_value
from advdiff.lbm import arrays, units
from advdiff.lbm.backends import get_backend
from advdiff.lbm.backends.base import (
    BOUNDARIES,
    COLLISIONS,
    VARIANTS,
    add_first_order_nonequilibrium,
    extrapolate_walls,
)

log = logging.getLogger(__name__)

VelocityArg = Any | Callable[[int], Any] | None

INITS = ("chapman_enskog", "equilibrium")
"""Initial-state options of :func:`solve`."""

BOUNDARY_CHOICES = (*BOUNDARIES, "extrapolation")
"""Boundary options of :func:`solve`: the compiled kernels' walls plus the extrapolation walls."""

_PROGRESS_CHUNK = 64  # steps per kernel call when a progress bar is shown


def solve(
    u0: Any,
    diffusivity: float | Sequence[float] | np.ndarray,
    steps: int,
    velocity: VelocityArg = None,
    *,
    backend: str = "auto",
    collision: str = "bgk",
    boundary: str | None = None,
    record: Sequence[int] | None = None,
    progress: bool = False,
    init: str | None = None,
    variant: str = "default",
) -> Any:
    """Advance every channel of a batch by ``steps`` D2Q9 advection–diffusion LBM steps.

    Solves ∂u/∂t + ∇·(v u) = ∇·(α ∇u) in lattice units (dx = dt = 1), the scheme of Beyond Blur
    (Gruszczynski et al., ICCV 2025). ``u0``: (B, C, H, W), NumPy, torch or CuPy; the result keeps its
    type, device and dtype (float32 inside; the ``numpy`` backend keeps float64). ``diffusivity``: α > 0,
    a scalar or one per step. ``velocity``: None, a (B, 2, H, W) field, or ``n -> field`` for the step
    from state n to n + 1; component 0 along the width x, lattice units per step, Mach-checked.
    ``record``: increasing step counts in [0, steps], whose states come back as (R, B, C, H, W).
    ``boundary``/``init`` default to ``neumann``/``chapman_enskog`` (``extrapolation``/``equilibrium``
    for ``variant="authors"``). See docs/solver.md, sections "Arguments of solve" and "The scheme".
    """
    boundary, init = _check_options(collision, variant, boundary, init)
    authors = variant == "authors"
    steps = _check_steps(steps)
    alphas = units.check_diffusivity(diffusivity, steps)
    omegas = units.omega(alphas) if authors else units.relaxation_rates(alphas)
    records = _check_record(record, steps)
    shape = _check_batch_shape(u0, boundary, velocity)
    B, C, H, W = shape
    extrapolate = boundary == "extrapolation"

    be = get_backend(backend)
    if variant not in getattr(be, "variants", ("default",)):
        allowed = ", ".join(getattr(be, "variants", ("default",)))
        raise bad_value("variant", variant, f"one of {allowed} on the {be.name!r} backend")
    kernel_collision = "central_moment_authors" if authors and collision == "central_moment" else collision
    kernel_boundary = "neumann" if extrapolate else boundary  # the edge nodes are overwritten after each step
    dtype = (
        np.float64 if be.name == "numpy" and np.dtype(getattr(u0, "dtype", np.float32)) == np.float64 else np.float32
    )
    xp = be.xp
    u = be.asarray(u0, dtype)
    if not bool(xp.isfinite(u).all()):
        raise bad_value("u0", "array with NaN or inf", "finite values")
    rho = u.reshape(B * C, H, W)

    def field(n: int) -> Any:
        return _velocity_field(velocity, n, shape, be, dtype)

    # The velocity of each collision: field n for step n, or (authors) field n-1, zero for step 0.
    # ``upcoming`` is the newest field drawn; after a step, ``vel`` is the next collision's.
    upcoming = None if velocity is None else field(0)
    vel = None if authors else upcoming
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
    stepwise = callable(velocity) or extrapolate or (authors and velocity is not None)
    from tqdm.auto import tqdm

    bar = tqdm(total=steps, disable=not progress, unit="step", desc=f"LBM {be.name}", leave=False)
    log.debug(
        "solve: %s on %s, %d steps, collision=%s, boundary=%s, variant=%s",
        shape,
        be.name,
        steps,
        collision,
        boundary,
        variant,
    )
    n = 0
    with bar:
        while n < steps:
            stop = targets[0] if targets else steps
            if stepwise:
                stop = n + 1
            elif progress:
                stop = min(stop, n + _PROGRESS_CHUNK)
            f, scratch = be.run(f, scratch, vel, omegas[n:stop], kernel_collision, kernel_boundary, C)
            if stepwise and velocity is not None:
                if authors:
                    vel = upcoming
                if callable(velocity) and stop < steps:
                    upcoming = field(stop)
                if not authors:
                    vel = upcoming
            if extrapolate:  # with the velocity of the next collision, as the Beyond Blur code
                extrapolate_walls(xp, f, vel, C)
            bar.update(stop - n)
            n = stop
            if targets and n == targets[0]:
                be.density(f, out=recorded[n_out].reshape(B * C, H, W))
                n_out += 1
                targets.pop(0)
    result = recorded if records else be.density(f).reshape(shape)
    return arrays.like(result, u0)


def _check_options(collision: str, variant: str, boundary: str | None, init: str | None) -> tuple[str, str]:
    """Check the scheme's options; returns the boundary and start, defaulted per variant (the authors' code
    uses extrapolation walls and an equilibrium start, this solver Neumann walls and Chapman–Enskog)."""
    if collision not in COLLISIONS:
        raise bad_value("collision", collision, f"one of {', '.join(COLLISIONS)}")
    if variant not in VARIANTS:
        raise bad_value("variant", variant, f"one of {', '.join(VARIANTS)}")
    authors = variant == "authors"
    if boundary is None:
        boundary = "extrapolation" if authors else "neumann"
    if boundary not in BOUNDARY_CHOICES:
        raise bad_value("boundary", boundary, f"one of {', '.join(BOUNDARY_CHOICES)}")
    if init is None:
        init = "equilibrium" if authors else "chapman_enskog"
    if init not in INITS:
        raise bad_value("init", init, f"one of {', '.join(INITS)}")
    return boundary, init


def _check_batch_shape(u0: Any, boundary: str, velocity: VelocityArg) -> tuple[int, int, int, int]:
    """The (B, C, H, W) shape of ``u0``, checked against the walls and a fixed velocity field."""
    shape = tuple(getattr(u0, "shape", ()))
    if len(shape) != 4 or min(shape) < 1:
        raise bad_value("u0", f"array of shape {shape}", "a non-empty batch of shape (B, C, H, W)")
    H, W = shape[2:]
    if boundary == "extrapolation" and min(H, W) < 3:
        raise bad_value("boundary", boundary, f"neumann or periodic for images smaller than 3 x 3 (got {H} x {W})")
    if velocity is not None and not callable(velocity):
        _check_velocity_shape(velocity, shape)
    return shape


def _velocity_field(velocity: VelocityArg, n: int, shape: tuple[int, ...], be: Any, dtype: Any) -> Any:
    """The velocity of step ``n`` on the backend, checked: shape (a callable's field), finite, under the Mach limit."""
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
