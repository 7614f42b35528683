"""CuPy backend: the CUDA kernel ``d2q9_cuda.cu`` as a ``RawModule``, imported only when used."""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np

from advdiff.errors import BackendUnavailableError
from advdiff.lbm.backends.base import BOUNDARIES, KERNEL_COLLISIONS, VARIANTS, max_speed_xp
from advdiff.lbm.backends.nvrtc import KERNEL_DIR

THREADS = 256
"""Threads per block of the node kernels."""


def _cupy() -> Any:
    try:
        import cupy
    except ImportError as exc:
        raise BackendUnavailableError(
            f"the 'cupy' LBM backend needs CuPy, which is not importable ({exc}); "
            "install it with `pip install -e '.[gpu]'` on a machine with an NVIDIA GPU"
        ) from None
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # CUDA driver missing or broken: say so, never fall back silently
        raise BackendUnavailableError(f"the 'cupy' LBM backend found no usable CUDA device: {exc}") from None
    if count < 1:
        raise BackendUnavailableError("the 'cupy' LBM backend found no CUDA device")
    return cupy


@cache
def _module() -> Any:
    cupy = _cupy()
    source = (KERNEL_DIR / "d2q9_cuda.cu").read_text()
    return cupy.RawModule(code=source, options=("-I" + str(KERNEL_DIR), "--std=c++17"))


class CupyBackend:
    """Fused stream+collide CUDA kernel, one launch per step for every image and channel of a batch."""

    name = "cupy"
    variants = VARIANTS  # the authors' kappa22 is compiled from the shared per-node source

    def __init__(self) -> None:
        self.xp = _cupy()

    @staticmethod
    def check_available() -> None:
        _cupy()

    def asarray(self, a: Any, dtype: Any) -> Any:
        from advdiff.lbm.arrays import to_cupy

        return to_cupy(a, np.float32)

    def equilibrium(self, rho: Any, vel: Any | None, channels: int) -> Any:
        P, H, W = rho.shape
        f = self.xp.empty((9, P, H, W), dtype=np.float32)
        n = P * H * W
        kernel = _module().get_function("adv_equilibrium_kernel")
        kernel(
            ((n + THREADS - 1) // THREADS,),
            (THREADS,),
            (
                rho,
                rho if vel is None else vel,
                np.int32(vel is not None),
                f,
                np.int32(P),
                np.int32(channels),
                np.int32(H),
                np.int32(W),
            ),
        )
        return f

    def run(self, f, scratch, vel, omegas, collision, boundary, channels):
        _, P, H, W = f.shape
        kernel = _module().get_function("adv_step")
        grid = ((H * W + THREADS - 1) // THREADS, min(P, 65535))
        args_tail = (np.int32(P), np.int32(channels), np.int32(H), np.int32(W))
        for om in omegas:
            kernel(
                grid,
                (THREADS,),
                (
                    f,
                    scratch,
                    f if vel is None else vel,
                    np.int32(vel is not None),
                    *args_tail,
                    np.float32(om),
                    np.int32(KERNEL_COLLISIONS[collision]),
                    np.int32(BOUNDARIES[boundary]),
                ),
            )
            f, scratch = scratch, f
        return f, scratch

    def density(self, f: Any, out: Any | None = None) -> Any:
        return f.sum(axis=0, out=out)

    def max_speed(self, vel: Any) -> float:
        return max_speed_xp(self.xp, vel)
