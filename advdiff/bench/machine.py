"""A short description of the machine a benchmark ran on."""

from __future__ import annotations

import datetime as _dt
import os
import platform

from advdiff.devices import cpu_family_model, cpu_flags, cpu_identity, cpu_model, native_bf16

__all__ = ["cpu_family_model", "cpu_flags", "cpu_model", "describe", "native_bf16"]


def describe() -> dict[str, object]:
    """Machine facts worth recording beside a measured figure."""
    import numpy

    cpu = cpu_identity()
    return {
        "cpu": cpu["model"],
        "cpu_family_model": cpu["family_model"],
        "cpu_kind": cpu["kind"],
        "cpu_isa_cap": cpu.get("isa_cap"),  # ONEDNN_MAX_CPU_ISA: other kernels, other speeds and float results
        "cpu_kernel_caps": cpu.get("kernel_caps"),  # ATen, MKL, NumPy, OpenBLAS held to another instruction set
        "native_bf16": native_bf16(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "platform": platform.platform(),
        "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d"),
    }
