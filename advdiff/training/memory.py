"""How much memory a training run needs, before it starts: pool, images, network, optimiser, activations.

:func:`estimate_memory` adds up, in bytes, what :func:`~advdiff.training.train` holds at its peak on
the training device (a GPU) and in host memory, part by part; ``docs/memory.md`` gives the formula
and the numbers for ``config/paper.yaml``. Activations are measured, not guessed: one forward pass
of the configured U-Net on PyTorch's ``meta`` device (shapes only, no memory, no arithmetic) counts
the bytes autograd keeps for the backward pass.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from typing import Any

import torch

from advdiff.errors import bad_value
from advdiff.training.config import TrainConfig

NATIVE_SHAPES = {"fashion_mnist": (1, 28), "mnist": (1, 28), "cifar10": (3, 32), "folder": (3, None)}
"""(channels, side) of each data set when the configuration keeps its native ones."""

FLOAT = 4
"""Bytes of a float32 value: the pool, the weights, Adam's moments and (upper bound) the activations."""
TRAINING_STATE = 5 * FLOAT
"""Bytes per parameter on the device: weights, gradients, Adam's two moments, EMA weights (all float32)."""
DEVICE_RUNTIME = 2 * 2**30
"""CUDA context, cuBLAS / cuDNN workspaces and the allocators' own blocks (a round 2 GiB)."""
HOST_RUNTIME = 3 * 2**30
"""Python, torch and the CUDA libraries in host memory (a round 3 GiB)."""


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes per part on the training device and in host memory (see ``docs/memory.md``)."""

    device: dict[str, int] = field(default_factory=dict)
    host: dict[str, int] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def device_total(self) -> int:
        return sum(self.device.values())

    @property
    def host_total(self) -> int:
        return sum(self.host.values())

    def fits(self, device_bytes: int, margin: float = 0.15) -> bool:
        """Whether the device part stays below ``(1 - margin) * device_bytes`` (room for fragmentation)."""
        return self.device_total <= (1.0 - margin) * device_bytes

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON: the parts and totals in GB (10^9 bytes), and the notes."""
        sides = {"device": self.device, "host": self.host}
        out: dict[str, Any] = {side: {k: v / 1e9 for k, v in parts.items()} for side, parts in sides.items()}
        out.update(device_total=self.device_total / 1e9, host_total=self.host_total / 1e9, notes=list(self.notes))
        return out


def image_shape(config: TrainConfig) -> tuple[int, int, int]:
    """(C, H, W) of the training images of ``config`` (its size and channels, else the data set's native ones)."""
    channels, side = NATIVE_SHAPES[config.dataset.name]
    side = config.dataset.size or side
    if side is None:
        raise bad_value("dataset.size", None, "the image side in pixels (required for dataset 'folder')")
    return (config.dataset.channels or channels, side, side)


@functools.lru_cache(maxsize=16)
def _traced(preset: str, overrides: str, shape: tuple[int, int, int]) -> tuple[int, int]:
    from advdiff.models import build_model

    with torch.device("meta"):
        model = build_model(preset, in_channels=shape[0], **json.loads(overrides)).train()
        x = torch.zeros((1, *shape))
        k = torch.ones(1, dtype=torch.int64)
    params = {id(p) for p in model.parameters()}
    saved: dict[int, torch.Tensor] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        base = t if t._base is None else t._base  # views of one tensor count once
        if id(base) not in params and id(t) not in params:
            saved[id(base)] = base
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(x, k)
    activations = sum(t.numel() * t.element_size() for t in saved.values())
    return activations, sum(p.numel() for p in model.parameters())


def network_bytes(config: TrainConfig) -> tuple[int, int]:
    """(bytes autograd keeps per training image in one forward pass, parameter count) of ``config.model``.

    Traced on the ``meta`` device in float32. With ``amp`` (bfloat16 autocast) a GPU keeps some of
    these tensors at 2 bytes, so this is an upper bound there.
    """
    overrides = json.dumps(config.model.overrides, sort_keys=True)
    return _traced(config.model.preset, overrides, image_shape(config))


def estimate_memory(config: TrainConfig | dict[str, Any], n_images: int) -> MemoryEstimate:
    """Peak memory of training ``config`` on ``n_images`` training images, part by part (bytes).

    Device: ``model`` (weights, gradients, Adam, EMA), ``activations`` (batch x the traced bytes
    per image), ``pool`` (the trajectory pool), ``lbm`` (the solver's workspace while it refreshes
    or fills the pool, or makes on-the-fly pairs), ``batch`` (the step's images and pairs) and
    ``runtime``. Host: ``images`` (uint8 in memory, or a batch when streamed because they exceed
    ``dataset.memory_budget_mb``), ``checkpoint`` (copies made while a checkpoint is written) and
    ``runtime``. The formula is in ``docs/memory.md``.
    """
    cfg = config if isinstance(config, TrainConfig) else TrainConfig.from_dict(config)
    if isinstance(n_images, bool) or not isinstance(n_images, int) or n_images < 1:
        raise bad_value("n_images", n_images, "an integer >= 1 (the training images)")
    c, h, w = image_shape(cfg)
    image = c * h * w  # values per image
    per_image, parameters = network_bytes(cfg)
    batch = cfg.batch_size
    levels = cfg.build_corruption().K + 1
    uses_lbm = cfg.family == "advdiff"
    notes = []
    device = {"model": TRAINING_STATE * parameters, "activations": batch * per_image}
    if cfg.amp:
        notes.append("activations counted at 4 bytes: bfloat16 autocast keeps some at 2, so this is an upper bound")
    pool = cfg.pool_enabled()
    device["pool"] = cfg.pool.size * levels * image * FLOAT if pool else 0
    if uses_lbm and pool:
        # recorded levels, their read-out copy and the transposed copy into the pool; D2Q9 populations
        # and their scratch copy (2 x 9); the start image and its mapped copy
        # the fill simulates `chunk` trajectories at once, a refresh R x E
        sims = min(cfg.pool.size, max(cfg.pool.chunk, cfg.pool.refresh_per_step * cfg.pool.refresh_every))
        device["lbm"] = sims * image * FLOAT * (3 * levels + 2 * 9 + 2)
    elif uses_lbm:  # on-the-fly pairs: one simulation of the batch recording up to 2 levels per image
        device["lbm"] = batch * image * FLOAT * (3 * min(2 * batch, levels) + 2 * 9 + 2)
    else:
        device["lbm"] = 0
    device["batch"] = 8 * batch * image * FLOAT  # pairs (prev, cur, x0), network input, output, loss terms
    device["runtime"] = DEVICE_RUNTIME
    data = n_images * image  # uint8
    streamed = cfg.dataset.name == "folder" and data > cfg.dataset.memory_budget_mb * 2**20
    exact = cfg.dataset.name == "folder" or (cfg.dataset.size is None and cfg.dataset.channels is None)
    if streamed:
        notes.append(f"{n_images} images ({data / 1e9:.1f} GB) exceed dataset.memory_budget_mb: streamed from disk")
        data = max(batch, cfg.pool.chunk) * image
    elif not exact:
        data *= FLOAT  # resized or converted built-in images are held as float32
    pool_copies = 2 * device["pool"] if pool and cfg.pool.in_checkpoint else 0
    host = {"images": data, "checkpoint": (TRAINING_STATE - FLOAT) * parameters + pool_copies, "runtime": HOST_RUNTIME}
    return MemoryEstimate(device=device, host=host, notes=tuple(notes))


def gb(n: float) -> str:
    """Bytes as GB (10^9), one decimal, for log messages."""
    return f"{n / 1e9:.1f} GB"


__all__ = ["MemoryEstimate", "estimate_memory", "gb", "image_shape", "network_bytes"]
