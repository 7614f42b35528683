"""Compile the CUDA kernel source to PTX with NVRTC through ctypes, without CuPy or a GPU.

The tests use this to prove on a CPU-only machine that ``d2q9_cuda.cu`` (with its
shared node header) is valid CUDA. NVRTC comes from the ``cuda-toolkit[nvrtc]`` /
``nvidia-cuda-nvrtc`` wheels (torch's CUDA build pulls them in) or a system CUDA.
"""

from __future__ import annotations

import ctypes
import glob
import os
import site
import sys
from functools import cache
from pathlib import Path

from advdiff.errors import BackendUnavailableError

KERNEL_DIR = Path(__file__).resolve().parent.parent / "kernels"


def kernel_source() -> tuple[str, dict[str, str]]:
    """The CUDA source and the headers it includes, as NVRTC takes them."""
    source = (KERNEL_DIR / "d2q9_cuda.cu").read_text()
    headers = {"d2q9_node.h": (KERNEL_DIR / "d2q9_node.h").read_text()}
    return source, headers


def _candidates() -> list[str]:
    roots = [*site.getsitepackages(), site.getusersitepackages(), *sys.path]
    found: list[str] = []
    for root in roots:
        for pattern in ("nvidia/*/lib/libnvrtc.so*", "nvidia/cu*/lib/libnvrtc.so*"):
            found += sorted(glob.glob(os.path.join(root, pattern)))
    found += sorted(glob.glob("/usr/local/cuda*/lib64/libnvrtc.so*"))
    return [p for p in found if "builtins" not in p and ".alt." not in p]


@cache
def library() -> ctypes.CDLL:
    """Load libnvrtc, or raise :class:`BackendUnavailableError` naming where it was looked for."""
    errors = []
    for path in [*_candidates(), "libnvrtc.so"]:
        try:
            return ctypes.CDLL(path)
        except OSError as exc:
            errors.append(f"{path}: {exc}")
    raise BackendUnavailableError(
        "NVRTC (libnvrtc.so) was not found; install it with `pip install 'cuda-toolkit[nvrtc]'`. Tried: "
        + "; ".join(errors[:5])
    )


def version() -> tuple[int, int]:
    """NVRTC's (major, minor) version."""
    major, minor = ctypes.c_int(), ctypes.c_int()
    library().nvrtcVersion(ctypes.byref(major), ctypes.byref(minor))
    return major.value, minor.value


def compile_ptx(source: str, headers: dict[str, str] | None = None, options: tuple[str, ...] = ()) -> str:
    """Compile CUDA C++ ``source`` to PTX; raises ``RuntimeError`` with NVRTC's log on failure."""
    lib = library()
    headers = headers or {}
    prog = ctypes.c_void_p()
    names = (ctypes.c_char_p * len(headers))(*[k.encode() for k in headers])
    texts = (ctypes.c_char_p * len(headers))(*[v.encode() for v in headers.values()])
    status = lib.nvrtcCreateProgram(ctypes.byref(prog), source.encode(), b"d2q9_cuda.cu", len(headers), texts, names)
    if status != 0:
        raise RuntimeError(f"nvrtcCreateProgram failed with status {status}")
    try:
        opts = (ctypes.c_char_p * len(options))(*[o.encode() for o in options])
        status = lib.nvrtcCompileProgram(prog, len(options), opts)
        size = ctypes.c_size_t()
        lib.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
        log = ctypes.create_string_buffer(size.value)
        lib.nvrtcGetProgramLog(prog, log)
        if status != 0:
            raise RuntimeError(f"NVRTC could not compile the kernel (status {status}):\n{log.value.decode()}")
        lib.nvrtcGetPTXSize(prog, ctypes.byref(size))
        ptx = ctypes.create_string_buffer(size.value)
        lib.nvrtcGetPTX(prog, ptx)
        return ptx.value.decode()
    finally:
        lib.nvrtcDestroyProgram(ctypes.byref(prog))
