"""``advdiff bench lbm``: LBM throughput against the machine's memory-bandwidth roofline.

A D2Q9 float32 update reads and writes 9 populations and reads 2 velocity
components: 80 bytes per lattice update. The roofline is the measured copy
bandwidth (bytes read + written per second) divided by 80 bytes; the ratio of
measured MLUPS to it says how close the kernel is to what memory allows.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np

from advdiff.bench.machine import describe
from advdiff.errors import bad_value
from advdiff.lbm import units
from advdiff.lbm.backends import get_backend
from advdiff.lbm.backends.base import BOUNDARIES, COLLISIONS

log = logging.getLogger(__name__)

BYTES_PER_UPDATE = 80
"""9 populations read + 9 written + 2 velocity components read, float32."""


def _sync(be: Any) -> None:
    if be.name == "cupy":
        be.xp.cuda.Device().synchronize()


def copy_bandwidth(backend: str, nbytes: int = 256 * 2**20, repeats: int = 5) -> float:
    """Best copy bandwidth in GB/s (bytes read + written) on the backend's memory.

    On the CPU it is the better of NumPy's copy (one thread) and the compiled
    multi-threaded copy, so the roofline is what the machine can do, not what one
    thread can.
    """
    be = get_backend(backend)
    xp = be.xp
    n = nbytes // 4
    src = xp.ones(n, dtype=np.float32)
    dst = xp.empty_like(src)
    copies = [lambda: xp.copyto(dst, src)]
    if be.name == "cpu":
        from advdiff.lbm.backends.cpu import copy

        copies.append(lambda: copy(dst, src))
    best = 0.0
    for fn in copies:
        fn()
        _sync(be)
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            _sync(be)
            best = max(best, 2 * src.nbytes / (time.perf_counter() - t0) / 1e9)
    return best


def throughput(
    backend: str,
    shape: tuple[int, int, int, int],
    *,
    collision: str = "bgk",
    boundary: str = "neumann",
    steps: int = 20,
    repeats: int = 3,
    seed: int = 0,
) -> float:
    """Million lattice updates per second of ``steps`` fused steps on a (B, C, H, W) float32 batch.

    Uses a random velocity field (|v| < 0.05) and alpha = 0.1; the best of ``repeats`` runs.
    """
    be = get_backend(backend)
    B, C, H, W = shape
    rng = np.random.default_rng(seed)
    rho = be.asarray(rng.random((B * C, H, W), dtype=np.float32) + 0.5, np.float32)
    vel = be.asarray((rng.random((B, 2, H, W), dtype=np.float32) - 0.5) * 0.07, np.float32)
    f = be.equilibrium(rho, vel, C)
    scratch = be.xp.empty_like(f)
    omegas = np.full(steps, float(units.omega(0.1)))
    be.run(f, scratch, vel, omegas[:1], collision, boundary, C)  # warm-up (and kernel compilation)
    _sync(be)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        be.run(f, scratch, vel, omegas, collision, boundary, C)
        _sync(be)
        best = min(best, time.perf_counter() - t0)
    return B * C * H * W * steps / best / 1e6


def bench_lbm(
    backend: str = "cpu",
    shape: tuple[int, int, int, int] = (16, 3, 256, 256),
    *,
    collision: str = "bgk",
    boundary: str = "neumann",
    steps: int = 20,
    numpy_steps: int = 2,
    repeats: int = 3,
) -> dict[str, Any]:
    """Measure MLUPS, copy bandwidth, roofline and speed-up over the NumPy reference in one run."""
    if collision not in COLLISIONS:
        raise bad_value("collision", collision, f"one of {', '.join(COLLISIONS)}")
    if boundary not in BOUNDARIES:
        raise bad_value("boundary", boundary, f"one of {', '.join(BOUNDARIES)}")
    if len(shape) != 4 or min(shape) < 1:
        raise bad_value("shape", shape, "four positive integers (B, C, H, W)")
    for key, value in (("steps", steps), ("numpy_steps", numpy_steps), ("repeats", repeats)):
        if value < 1:
            raise bad_value(key, value, "an integer >= 1")
    be = get_backend(backend)
    log.info("copy bandwidth on %s", be.name)
    copy_gb_s = copy_bandwidth(be.name)
    log.info("%s: %s %s/%s, %d steps x %d", be.name, shape, collision, boundary, steps, repeats)
    mlups = throughput(be.name, shape, collision=collision, boundary=boundary, steps=steps, repeats=repeats)
    log.info("numpy reference: %d steps", numpy_steps)
    numpy_mlups = throughput("numpy", shape, collision=collision, boundary=boundary, steps=numpy_steps, repeats=1)
    roofline = copy_gb_s * 1e9 / BYTES_PER_UPDATE / 1e6
    out: dict[str, Any] = {
        "backend": be.name,
        "shape": list(shape),
        "dtype": "float32",
        "collision": collision,
        "boundary": boundary,
        "steps": steps,
        "mlups": mlups,
        "copy_gb_s": copy_gb_s,
        "bytes_per_update": BYTES_PER_UPDATE,
        "roofline_mlups": roofline,
        "roofline_ratio": mlups / roofline,
        "numpy_mlups": numpy_mlups,
        "speedup_vs_numpy": mlups / numpy_mlups,
        "machine": describe(),
    }
    if be.name == "cpu":
        from advdiff.lbm.backends.cpu import num_threads

        out["threads"] = num_threads()
    if be.name == "cupy":
        props = be.xp.cuda.runtime.getDeviceProperties(be.xp.cuda.Device().id)
        out["device"] = props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"])
    return out
