"""A short description of the machine a benchmark ran on."""

from __future__ import annotations

import datetime as _dt
import os
import platform


def _cpuinfo() -> dict[str, str]:
    """The first processor's fields of /proc/cpuinfo (empty where there is none)."""
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


def describe() -> dict[str, object]:
    """Machine facts worth recording beside a measured figure."""
    import numpy

    flags = cpu_flags()
    return {
        "cpu": cpu_model(),
        "cpu_family_model": cpu_family_model(),
        "cpu_kind": "AVX-512" if "avx512f" in flags else ("AVX2" if "avx2" in flags else "other"),
        "native_bf16": native_bf16(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "platform": platform.platform(),
        "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d"),
    }
