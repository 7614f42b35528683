"""Devices by name (``auto``, ``cpu``, ``cuda``, ``cuda:N``): checked without torch, resolved on this machine.

A configuration names its device; whether that device exists is a question about the machine a
run lands on, answered by :func:`resolve_device` when the run starts.
"""

from __future__ import annotations

import functools
import os
import platform
import re
import sys
from typing import TYPE_CHECKING, Any

from advdiff.errors import bad_value

if TYPE_CHECKING:
    import torch


_DEVICE = re.compile(r"(cpu|cuda)(:(0|[1-9][0-9]{0,2}))?")
"""The device strings torch.device reads as a CPU or CUDA device (an index fits its int8)."""


def check_device(device: Any) -> str:
    """``device`` as torch names it (``auto``, ``cpu``, ``cuda``, ``cuda:N``), checked without importing torch."""
    allowed = "auto, cpu, cuda or cuda:N"
    torch = sys.modules.get("torch")  # a torch.device exists only once torch is imported
    if torch is not None and isinstance(device, torch.device):
        device = str(device)
    if not isinstance(device, str):
        raise bad_value("device", device, allowed)
    if device == "auto":
        return device
    match = _DEVICE.fullmatch(device)
    if match is None or (match.group(3) is not None and int(match.group(3)) > 127):
        raise bad_value("device", device, allowed)
    return device


def resolve_device(device: str | torch.device | None, key: str = "device") -> torch.device:
    """``device`` as a ``torch.device`` after checking that it can run on this machine.

    ``auto`` (or None) -> ``cuda`` when a CUDA GPU is usable, else ``cpu``. ``cuda`` / ``cuda:N`` without a
    usable GPU (or with N beyond the GPUs here) raise :class:`~advdiff.errors.ConfigError` naming
    ``key``, before any work. Not part of :class:`TrainConfig`'s validation: a configuration may be
    built on one machine (a cluster's login node) and run on another.
    """
    import torch

    device = check_device("auto" if device is None else device)
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    parsed = torch.device(device)
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            built = torch.version.cuda or "none"
            raise bad_value(
                key,
                device,
                "auto or cpu: no CUDA GPU is usable here (torch.cuda.is_available() "
                f"is false; torch {torch.__version__}, built for CUDA {built})",
            )
        count = torch.cuda.device_count()
        if parsed.index is not None and parsed.index >= count:
            raise bad_value(key, device, f"auto, cpu, cuda or cuda:0 to cuda:{count - 1} ({count} GPU(s) here)")
    return parsed


check_device_usable = resolve_device
"""The same check under the name the preflight used first."""


_GLIBC_MALLOC = {"trim_threshold": -1, "mmap_threshold": -3}
"""glibc's ``mallopt`` parameter numbers (malloc.h: M_TRIM_THRESHOLD, M_MMAP_THRESHOLD)."""

ALLOCATOR_SETTINGS = {
    "reuse": {"mmap_threshold": 1 << 30, "trim_threshold": (1 << 31) - 1},
    "glibc": {"mmap_threshold": 32 << 20, "trim_threshold": 64 << 20},
}
"""``reuse``: blocks up to 1 GiB come from the heap and freed memory stays there for the next batch.
``glibc``: glibc's own limits once its adaptive threshold has reached its cap (32 MiB), so that every
larger tensor is a fresh ``mmap`` whose pages the kernel zeroes on first touch."""


def set_cpu_allocator(mode: str = "reuse") -> bool:
    """Set how glibc's malloc serves and returns large CPU tensors for this process; False where it cannot.

    PyTorch allocates CPU tensors with malloc. Above glibc's threshold (at most 32 MiB by default) each
    allocation is a new ``mmap`` and each free an ``munmap``, so a network whose feature maps are tens of
    megabytes (Inception at 299 x 299) page-faults through every pass: about a sixth of its time on the
    CPU (BENCHMARKS.md). ``reuse`` keeps those blocks; the process's memory then stays at its peak
    rather than falling back between batches. Not glibc (macOS, musl): nothing changes.
    """
    if mode not in ALLOCATOR_SETTINGS:
        raise bad_value("allocator", mode, f"one of {sorted(ALLOCATOR_SETTINGS)}")
    global _ALLOCATOR_MODE
    if mode == _ALLOCATOR_MODE:
        return True  # set already: scoring calls this once per feature pass
    import ctypes

    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    done = all([mallopt(_GLIBC_MALLOC[name], value) for name, value in ALLOCATOR_SETTINGS[mode].items()])
    _ALLOCATOR_MODE = mode if done else None
    return done


_ALLOCATOR_MODE: str | None = None
"""The mode :func:`set_cpu_allocator` last set in this process (None: glibc's own)."""


@functools.cache
def _cpuinfo() -> dict[str, str]:
    """The first processor's fields of /proc/cpuinfo (empty where there is none); read once per process,
    since every record, benchmark and amp decision asks (callers only read the mapping)."""
    fields: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if not line.strip():
                    break  # the end of the first processor's block
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    return fields


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, else the platform's processor string."""
    return _cpuinfo().get("model name") or platform.processor() or "unknown"


def cpu_family_model() -> str:
    """``family/model`` from /proc/cpuinfo (AMD EPYC: 25/1 is Zen 3, 25/17 Zen 4), where the model name is generic."""
    info = _cpuinfo()
    return f"{info.get('cpu family', '?')}/{info.get('model', '?')}"


def cpu_flags() -> set[str]:
    """The CPU's feature flags from /proc/cpuinfo (empty where there is none)."""
    return set(_cpuinfo().get("flags", "").split())


def native_bf16() -> bool:
    """Whether the CPU computes bfloat16 in hardware (AVX-512 BF16 or AMX); elsewhere PyTorch emulates it slowly."""
    return bool(cpu_flags() & {"avx512_bf16", "amx_bf16"})


def bf16_autocast(amp: bool | str, device: torch.device) -> bool:
    """Whether a training run with ``amp`` (true, false or "auto") computes under bfloat16 autocast on ``device``.

    "auto" picks it where bf16 is native: a CUDA GPU that supports it, or a CPU with AVX-512 BF16 or
    AMX. Elsewhere PyTorch emulates bf16 on the CPU, several times slower than float32, so even
    ``true`` is not honoured there (the trainer says so in its log).
    """
    if amp is False:
        return False
    if device.type == "cuda":
        import torch

        return amp is True or bool(torch.cuda.is_bf16_supported())
    return device.type == "cpu" and native_bf16()


def cpu_identity() -> dict[str, str]:
    """The CPU a number was computed on: model name, ``family/model`` and vector kind (AVX-512, AVX2).

    Float results of the same code differ between CPU kinds (oneDNN picks other kernels), so every
    record of a run carries this, and comparisons across machines can be told from seed noise.
    """
    flags = cpu_flags()
    kind = "AVX-512" if "avx512f" in flags else ("AVX2" if "avx2" in flags else "other")
    identity = {"model": cpu_model(), "family_model": cpu_family_model(), "kind": kind}
    cap = onednn_isa_cap()
    if cap:
        identity["isa_cap"] = cap
    caps = kernel_caps()
    if caps:
        identity["kernel_caps"] = " ".join(f"{k}={v}" for k, v in caps.items())
    return identity


KERNEL_CAP_VARIABLES = (
    "ATEN_CPU_CAPABILITY",
    "MKL_ENABLE_INSTRUCTIONS",
    "NPY_DISABLE_CPU_FEATURES",
    "OPENBLAS_CORETYPE",
)
"""Variables that hold PyTorch's own kernels, MKL, NumPy and OpenBLAS to another instruction set than the
CPU's best (oneDNN's is :func:`onednn_isa_cap`); workflow/scripts/avx2_float_path.sh sets them all to
AVX2, so that a Zen 4 computes with the kernels a Zen 3 picks."""


def kernel_caps() -> dict[str, str]:
    """The :data:`KERNEL_CAP_VARIABLES` set in this process, in that order (empty when none is)."""
    return {k: os.environ[k].strip() for k in KERNEL_CAP_VARIABLES if os.environ.get(k, "").strip()}


def onednn_isa_cap() -> str | None:
    """The instruction set oneDNN is limited to (``ONEDNN_MAX_CPU_ISA``, or its older name ``DNNL_MAX_CPU_ISA``).

    A cap makes oneDNN pick other kernels, and so other float results, as another CPU kind would: one
    machine can measure the spread that float rounding alone gives a study (docs/workflow.md).
    """
    value = os.environ.get("ONEDNN_MAX_CPU_ISA") or os.environ.get("DNNL_MAX_CPU_ISA")
    return value.strip().upper() if value and value.strip() else None
