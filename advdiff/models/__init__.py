"""The level-conditioned U-Net shared by every corruption family (after Ho et al. 2020 / Dhariwal & Nichol 2021).

``build_model(preset, in_channels=..., **overrides)`` builds a :class:`UNet` from a named size in
:data:`PRESETS` (``tiny`` for tests, ``small`` for a CPU, ``ihdm_mnist``, ``ihdm_cifar10`` and
``ffhq128``, the authors' FFHQ-128 configuration, for GPUs); ``model(x, k)`` maps images (B, C, H, W) and levels (B,) to
(B, C_out, H, W), zero at initialisation. ``model.config`` holds every constructor argument
(JSON types) and ``UNet.from_config`` rebuilds from it; ``describe(model)`` is the run record.
"""

import importlib
from typing import Any

from advdiff.models.presets import PRESETS, build_model, count_parameters, describe

_UNET = ("UNet", "feature_sizes", "timestep_embedding")
"""Names of :mod:`advdiff.models.unet`, imported on first use (it needs torch; :data:`PRESETS` does not)."""

__all__ = ["PRESETS", "UNet", "build_model", "count_parameters", "describe", "feature_sizes", "timestep_embedding"]


def __getattr__(name: str) -> Any:
    """The names of :data:`_UNET`, imported from :mod:`advdiff.models.unet` when first asked for."""
    if name not in _UNET:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module("advdiff.models.unet"), name)
    globals()[name] = value
    return value
