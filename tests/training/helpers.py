"""Small pieces shared by the training tests: a tiny network, tiny image folders, configs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

FAMILY_PARAMS = {
    "ddpm": {"K": 20, "beta_max": 0.2},
    "heat": {"K": 6, "sigma_max": 3.0},
    "blur": {"K": 20, "sigma_max": 3.0},
    "advdiff": {"K": 6, "sigma_max": 3.0, "peclet": 1.0, "backend": "cpu"},
}
"""Small versions of the four families (a few levels, 8x8 images)."""


class TinyNet(nn.Module):
    """Three 3x3 convolutions and a learned level embedding added after the first: ``model(x, k)``."""

    def __init__(self, channels: int = 1, width: int = 16, levels: int = 32) -> None:
        super().__init__()
        self.config = {"channels": channels, "width": width, "levels": levels}
        self.embed = nn.Embedding(levels + 1, width)
        self.inp = nn.Conv2d(channels, width, 3, padding=1)
        self.mid = nn.Conv2d(width, width, 3, padding=1)
        self.out = nn.Conv2d(width, channels, 3, padding=1)

    def forward(self, x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        h = F.silu(self.inp(x) + self.embed(k)[:, :, None, None])
        h = F.silu(self.mid(h))
        return self.out(h)


def tiny_net(seed: int = 0, **kwargs) -> TinyNet:
    """A TinyNet with a reproducible initialisation."""
    torch.manual_seed(seed)
    return TinyNet(**kwargs)


class NaNAt(nn.Module):
    """Wraps a network and returns NaN on its ``at``-th call (1-based)."""

    def __init__(self, net: nn.Module, at: int) -> None:
        super().__init__()
        self.net = net
        self.at = at
        self.calls = 0

    def forward(self, x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        out = self.net(x, k)
        return out * float("nan") if self.calls == self.at else out


def write_image_folder(folder: Path, count: int = 24, size: int = 8, seed: int = 0) -> Path:
    """``count`` grey PNGs of ``size`` x ``size``: smooth random blobs plus a little texture."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    for i in range(count):
        img = np.zeros((size, size))
        for _ in range(3):
            cx, cy, w = rng.uniform(0.1, 0.9), rng.uniform(0.1, 0.9), rng.uniform(0.1, 0.3)
            img += rng.uniform(0.3, 1.0) * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * w**2))
        img = np.clip(img / img.max() * 0.9 + 0.1 * rng.uniform(size=img.shape), 0, 1)
        Image.fromarray((img * 255).astype(np.uint8), mode="L").save(folder / f"img_{i:03d}.png")
    return folder


def tiny_config(folder: Path, family: str = "heat", **overrides) -> dict:
    """A training config for 8x8 grey images in ``folder`` with a small family and a few steps."""
    cfg = {
        "family": family,
        "family_params": FAMILY_PARAMS[family],
        "dataset": {"name": "folder", "root": str(folder), "size": 8, "channels": 1},
        "batch_size": 8,
        "lr": 2e-3,
        "warmup_steps": 2,
        "steps": 12,
        "ema_decay": 0.9,
        "grad_clip": 1.0,
        "seed": 7,
        "checkpoint_every": 4,
        "log_every": 1,
        "sample_every": 0,
        "device": "cpu",
        "pool": {"size": 6, "refresh_per_step": 2, "chunk": 4},
    }
    cfg.update(overrides)
    return cfg


def clone(gens):
    """Copies of generators at their current state."""
    out = []
    for g in gens:
        c = torch.Generator()
        c.set_state(g.get_state())
        out.append(c)
    return out
