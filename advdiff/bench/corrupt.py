"""``advdiff bench corrupt``: seconds per image of a full ``advdiff`` trajectory, velocity fields included.

Two settings: 28x28 grey, sigma_max 20, K 100 (about 1 260 LBM steps) and
128x128 RGB, sigma_max 32, K 200 (about 3 200 steps per channel), each batched the way
training batches images. The reference figures are the paper's own solver on its CPU
backend on a 2-core machine of the kind this project runs on (reference figures, not re-measured here):
about 1.0 s per 28x28 image and 25 s per 128x128 RGB image.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import torch

from advdiff.bench.machine import describe
from advdiff.corruptions import build
from advdiff.errors import bad_value
from advdiff.lbm.backends import get_backend

log = logging.getLogger(__name__)

PAPER_SECONDS_PER_IMAGE = {"28": 1.0, "128_rgb": 25.0}
"""The paper's solver, CPU backend, 2 cores (reference figures; not measured here)."""

SETTINGS = {
    "28": {"shape": (1, 28, 28), "K": 100, "sigma_max": 20.0},
    "128_rgb": {"shape": (3, 128, 128), "K": 200, "sigma_max": 32.0},
}


def time_trajectory(setting: str, batch: int, backend: str, peclet: float, collision: str, seed: int = 0) -> float:
    """Seconds for one ``advdiff`` trajectory of ``batch`` random images (all levels recorded)."""
    cfg = SETTINGS[setting]
    family = build(
        "advdiff", K=cfg["K"], sigma_max=cfg["sigma_max"], peclet=peclet, collision=collision, backend=backend
    )
    x = torch.rand((batch, *cfg["shape"]), generator=torch.Generator().manual_seed(seed))
    steps = family.schedule(*cfg["shape"][1:]).total_steps
    log.info("bench corrupt %s: batch %d, %d LBM steps, backend %s", setting, batch, steps, backend)
    t0 = time.perf_counter()
    family.trajectory(x, generator=torch.Generator().manual_seed(seed + 1))
    return time.perf_counter() - t0


def bench_corrupt(
    backend: str = "auto",
    batch_28: int = 64,
    batch_128: int = 16,
    peclet: float = 0.06,
    collision: str = "central_moment",
) -> dict[str, Any]:
    """Measure seconds per image at both settings and the speed-up over the paper's solver."""
    for key, value in (("batch_28", batch_28), ("batch_128", batch_128)):
        if value < 1:
            raise bad_value(key, value, "an integer >= 1")
    be = get_backend(backend)
    t28 = time_trajectory("28", batch_28, be.name, peclet, collision)
    t128 = time_trajectory("128_rgb", batch_128, be.name, peclet, collision)
    s28, s128 = t28 / batch_28, t128 / batch_128
    return {
        "backend": be.name,
        "batch": {"28": batch_28, "128_rgb": batch_128},
        "peclet": peclet,
        "collision": collision,
        "s_per_image_28": s28,
        "s_per_image_128_rgb": s128,
        "paper_s_per_image": PAPER_SECONDS_PER_IMAGE,
        "speedup_vs_paper_28": PAPER_SECONDS_PER_IMAGE["28"] / s28,
        "speedup_vs_paper_128_rgb": PAPER_SECONDS_PER_IMAGE["128_rgb"] / s128,
        "machine": describe(),
    }
