"""Corruption families by short name: ``ddpm``, ``heat``, ``blur``, ``advdiff``.

``build(name, **params)`` constructs one; every family offers ``degrade``, ``trajectory``,
``prior``, ``K``, ``params`` and ``describe()`` on (B, C, H, W) tensors with data in [0, 1]
(see :mod:`advdiff.corruptions.base` for the contract). The ``advdiff`` family
(:mod:`advdiff.corruptions.advection`) is imported on first use.
"""

from advdiff.corruptions.base import Corruption
from advdiff.corruptions.blur import BlurringDiffusion
from advdiff.corruptions.ddpm import DDPM
from advdiff.corruptions.heat import HeatDissipation
from advdiff.corruptions.registry import (
    FamilyUnavailableError,
    build,
    families,
    family_class,
    known_params,
    register,
    register_lazy,
)

__all__ = [
    "DDPM",
    "BlurringDiffusion",
    "Corruption",
    "FamilyUnavailableError",
    "HeatDissipation",
    "build",
    "families",
    "family_class",
    "known_params",
    "register",
    "register_lazy",
]
