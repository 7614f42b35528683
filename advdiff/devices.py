"""Devices by name (``auto``, ``cpu``, ``cuda``, ``cuda:N``): checked without torch, resolved on this machine.

A configuration names its device; whether that device exists is a question about the machine a
run lands on, answered by :func:`resolve_device` when the run starts.
"""

from __future__ import annotations

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
