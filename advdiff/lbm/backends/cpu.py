"""Fast CPU backend: the compiled C extension ``advdiff.lbm._d2q9cpu`` (OpenMP, vectorised).

The extension is built by ``pip install`` (setup.py). It is loaded through ctypes,
which releases the GIL during each call. Thread count: ``ADVDIFF_NUM_THREADS`` if
set, else OpenMP's default (``OMP_NUM_THREADS`` or every core).
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
from functools import cache
from typing import Any

import numpy as np

from advdiff.errors import BackendUnavailableError
from advdiff.lbm.backends.base import BOUNDARIES, KERNEL_COLLISIONS, VARIANTS

_f32p = ctypes.POINTER(ctypes.c_float)
_i32p = ctypes.POINTER(ctypes.c_int)


@cache
def library() -> ctypes.CDLL:
    """Load the compiled kernels, or raise :class:`BackendUnavailableError` saying how to build them."""
    spec = importlib.util.find_spec("advdiff.lbm._d2q9cpu")
    if spec is None or spec.origin is None:
        raise BackendUnavailableError(
            "the 'cpu' LBM backend needs the compiled extension advdiff.lbm._d2q9cpu, which is not built; "
            "install the package with `pip install -e .` (needs a C compiler) or use backend='numpy'"
        )
    lib = ctypes.CDLL(spec.origin)
    lib.adv_cpu_run.restype = ctypes.c_int
    lib.adv_cpu_run.argtypes = [_f32p, _f32p] + [ctypes.c_int] * 4 + [_f32p, _f32p] + [ctypes.c_int] * 5
    lib.adv_cpu_equilibrium.restype = None
    lib.adv_cpu_equilibrium.argtypes = [_f32p, _f32p, _f32p] + [ctypes.c_int] * 5
    lib.adv_cpu_density.restype = None
    lib.adv_cpu_density.argtypes = [_f32p, _f32p, ctypes.c_longlong, ctypes.c_int]
    lib.adv_cpu_copy.restype = None
    lib.adv_cpu_copy.argtypes = [_f32p, _f32p, ctypes.c_longlong, ctypes.c_int]
    lib.adv_cpu_lattice.restype = None
    lib.adv_cpu_lattice.argtypes = [_i32p, _i32p, _i32p, _f32p]
    lib.adv_cpu_max_speed2.restype = ctypes.c_double
    lib.adv_cpu_max_speed2.argtypes = [_f32p, ctypes.c_int, ctypes.c_longlong, ctypes.c_int]
    lib.adv_cpu_openmp_threads.restype = ctypes.c_int
    lib.adv_cpu_openmp_threads.argtypes = []
    return lib


def num_threads() -> int:
    """Threads the kernels use: ``ADVDIFF_NUM_THREADS`` or OpenMP's default."""
    env = os.environ.get("ADVDIFF_NUM_THREADS")
    if env:
        return max(1, int(env))
    return int(library().adv_cpu_openmp_threads())


def _ptr(a: np.ndarray | None) -> Any:
    if a is None:
        return None
    return a.ctypes.data_as(_f32p)


def copy(dst: np.ndarray, src: np.ndarray) -> None:
    """Multi-threaded float32 copy (the benchmark's bandwidth probe)."""
    library().adv_cpu_copy(_ptr(dst), _ptr(src), src.size, num_threads())


def lattice_constants() -> dict[str, np.ndarray]:
    """The D2Q9 constants compiled into the kernels."""
    ex, ey, opp = (np.zeros(9, dtype=np.int32) for _ in range(3))
    w = np.zeros(9, dtype=np.float32)
    library().adv_cpu_lattice(ex.ctypes.data_as(_i32p), ey.ctypes.data_as(_i32p), opp.ctypes.data_as(_i32p), _ptr(w))
    return {"EX": ex, "EY": ey, "OPPOSITE": opp, "W": w}


class CpuBackend:
    """Compiled fused stream+collide kernels on the CPU (float32).

    ``generic=True`` routes every node through the per-node function of the CUDA kernel
    (``adv_node_update`` in ``d2q9_node.h``); it exists so the tests can check that
    code path on machines without a GPU.
    """

    name = "cpu"
    xp = np
    variants = VARIANTS

    def __init__(self, generic: bool = False) -> None:
        self.generic = generic

    @staticmethod
    def check_available() -> None:
        library()

    def asarray(self, a: Any, dtype: Any) -> np.ndarray:
        from advdiff.lbm.arrays import to_numpy

        return np.ascontiguousarray(to_numpy(a), dtype=np.float32)

    def equilibrium(self, rho: np.ndarray, vel: np.ndarray | None, channels: int) -> np.ndarray:
        P, H, W = rho.shape
        f = np.empty((9, P, H, W), dtype=np.float32)
        library().adv_cpu_equilibrium(_ptr(rho), _ptr(vel), _ptr(f), P, channels, H, W, num_threads())
        return f

    def run(self, f, scratch, vel, omegas, collision, boundary, channels):
        n = len(omegas)
        if n == 0:
            return f, scratch
        _, P, H, W = f.shape
        om = np.ascontiguousarray(omegas, dtype=np.float32)
        status = library().adv_cpu_run(
            _ptr(f),
            _ptr(scratch),
            P,
            channels,
            H,
            W,
            _ptr(vel),
            _ptr(om),
            n,
            KERNEL_COLLISIONS[collision],
            BOUNDARIES[boundary],
            num_threads(),
            int(self.generic),
        )
        if status != 0:
            raise MemoryError("the cpu LBM kernel could not allocate its scratch row")
        return (f, scratch) if n % 2 == 0 else (scratch, f)

    def density(self, f: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        _, P, H, W = f.shape
        rho = np.empty((P, H, W), dtype=np.float32) if out is None else out
        if rho.dtype != np.float32 or not rho.flags.c_contiguous or rho.size != P * H * W:
            raise ValueError("density out must be a C-contiguous float32 array of P*H*W values")
        library().adv_cpu_density(_ptr(f), _ptr(rho), P * H * W, num_threads())
        return rho

    def max_speed(self, vel: np.ndarray) -> float:
        B, _, H, W = vel.shape
        return float(np.sqrt(library().adv_cpu_max_speed2(_ptr(vel), B, H * W, num_threads())))
