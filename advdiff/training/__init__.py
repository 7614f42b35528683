"""Training: the objectives (given a corruption), the sources of training pairs, and the loop.

* :mod:`~advdiff.training.losses`: ``loss_for(corruption)`` -> eps-prediction (``ddpm``, ``blur``) or
  residual prediction (``heat``, ``advdiff``); levels ``k ~ U{1..K}`` inclusive.
* :mod:`~advdiff.training.pairs`: ``OnTheFlyPairs`` and the refreshed ``TrajectoryPool`` of
  ``advdiff`` trajectories, one ``sample(batch, generator)`` interface.
* :mod:`~advdiff.training.config`: ``TrainConfig``, validated, defaults in one place, hashed.
* :mod:`~advdiff.training.trainer`: ``train(config, run_dir)``, resumable bit-identically on the CPU.

Example::

    from advdiff.training import TrainConfig, train
    cfg = TrainConfig(family="heat", family_params={"K": 100, "sigma_max": 20},
                      dataset={"name": "fashion_mnist"}, steps=10_000)
    summary = train(cfg, "results/train/heat")
"""

from advdiff.training.config import CONTROL_KEYS, DatasetConfig, ModelConfig, PoolConfig, TrainConfig
from advdiff.training.losses import EpsLoss, Loss, ResidualLoss, draw_levels, loss_for
from advdiff.training.pairs import DataOrder, OnTheFlyPairs, Pairs, PairSource, TrajectoryPool
from advdiff.training.seeding import derive_seed, image_generators
from advdiff.training.trainer import NonFiniteLossError, load_checkpoint, train

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
