"""Training: the objectives (given a corruption), the sources of training pairs, and the loop.

* :mod:`~advdiff.training.losses`: ``loss_for(corruption)`` -> eps-prediction (``ddpm``, ``blur``) or
  residual prediction (``heat``, ``advdiff``); levels ``k ~ U{1..K}`` inclusive.
* :mod:`~advdiff.training.pairs`: ``OnTheFlyPairs`` and the refreshed ``TrajectoryPool`` of
  ``advdiff`` trajectories, one ``sample(batch, generator)`` interface.
* :mod:`~advdiff.training.config`: ``TrainConfig``, validated, defaults in one place, hashed.
* :mod:`~advdiff.training.trainer`: ``train(config, run_dir)``, resumable bit-identically on the CPU,
  e.g. ``train(TrainConfig(family="heat", dataset={"name": "fashion_mnist"}), "results/train/heat")``.
"""

import importlib
from typing import Any

from advdiff.training.config import CONTROL_KEYS, DatasetConfig, ModelConfig, PoolConfig, TrainConfig

# The rest needs torch and is imported on first use, so that TrainConfig alone does not need it.
_LAZY = {
    "EpsLoss": "losses",
    "Loss": "losses",
    "ResidualLoss": "losses",
    "draw_levels": "losses",
    "loss_for": "losses",
    "DataOrder": "pairs",
    "OnTheFlyPairs": "pairs",
    "Pairs": "pairs",
    "PairSource": "pairs",
    "TrajectoryPool": "pairs",
    "derive_seed": "seeding",
    "image_generators": "seeding",
    "NonFiniteLossError": "trainer",
    "load_checkpoint": "trainer",
    "train": "trainer",
}

__all__ = [
    "CONTROL_KEYS",
    "DataOrder",
    "DatasetConfig",
    "EpsLoss",
    "Loss",
    "ModelConfig",
    "NonFiniteLossError",
    "OnTheFlyPairs",
    "PairSource",
    "Pairs",
    "PoolConfig",
    "ResidualLoss",
    "TrainConfig",
    "TrajectoryPool",
    "derive_seed",
    "draw_levels",
    "image_generators",
    "load_checkpoint",
    "loss_for",
    "train",
]


def __getattr__(name: str) -> Any:
    """The names of :data:`_LAZY`, imported from their module when first asked for."""
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    globals()[name] = value
    return value
