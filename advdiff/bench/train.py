"""``advdiff bench train``: training images per second of ``heat`` and ``advdiff`` (Pe > 0), and their ratio.

Both train the default configuration (Fashion-MNIST 28 x 28, K = 100, sigma_max = 20, the ``small``
U-Net) through :func:`advdiff.training.train` for ``2 * steps`` steps, the second window timed;
advdiff draws fresh levels and fields from the refreshed pool, so the ratio is their price (goal:
advdiff >= 0.7 of heat). ``fp32_eager_images_per_s`` is heat's path before any speed setting
(``amp: false``), ``images_per_s`` heat with the settings of :func:`default_settings` (``amp: auto``:
bfloat16 autocast on a CPU with native bf16, AVX-512 BF16 or AMX), ``speedup`` their ratio.
See docs/training.md, section "Measuring training speed".
"""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path
from typing import Any

from advdiff.bench.machine import describe, native_bf16
from advdiff.errors import bad_value
from advdiff.training import TrainConfig, train

log = logging.getLogger(__name__)


def _images_per_second(config: TrainConfig) -> float:
    with tempfile.TemporaryDirectory(prefix="advdiff-bench-train-") as tmp:
        train(config, tmp, progress=False)
        lines = (Path(tmp) / "metrics.jsonl").read_text().splitlines()
        return float(json.loads(lines[-1])["images_per_second"])


def default_settings() -> dict[str, Any]:
    """The training settings ``amp: auto`` picks on this CPU: bfloat16 autocast where bf16 is native, else
    float32; NCHW and eager everywhere (channels-last and ``torch.compile`` were slower, docs/training.md)."""
    native = native_bf16()
    dtype = "bfloat16 autocast" if native else "float32"
    return {"dtype": dtype, "channels_last": False, "compile": False, "native_bf16": native}


def bench_train(steps: int = 30, batch_size: int = 128, peclet: float = 0.06, preset: str = "small") -> dict[str, Any]:
    """Images per second of heat and advdiff training after a warm-up window, and advdiff / heat."""
    if steps < 1:
        raise bad_value("steps", steps, "an integer >= 1")
    common = {
        "family_params": {"K": 100, "sigma_max": 20.0},
        "dataset": {"name": "fashion_mnist"},
        "model": {"preset": preset},
        "batch_size": batch_size,
        "steps": 2 * steps,
        "log_every": steps,
        "checkpoint_every": 10**9,
        "sample_every": 0,
        "warmup_steps": 0,
    }
    eager = TrainConfig.from_dict({**common, "family": "heat", "amp": False})
    heat = TrainConfig.from_dict({**common, "family": "heat"})  # amp: auto, the default
    adv = TrainConfig.from_dict(
        {**common, "family": "advdiff", "family_params": {**common["family_params"], "peclet": peclet}}
    )
    log.info("bench train: heat (fp32 eager)")
    eager_ips = _images_per_second(eager)
    log.info("bench train: heat (default settings)")
    heat_ips = _images_per_second(heat)
    log.info("bench train: advdiff (Pe %g)", peclet)
    adv_ips = _images_per_second(adv)
    settings = default_settings()
    return {
        "fp32_eager_images_per_s": eager_ips,
        "images_per_s": heat_ips,
        "speedup": heat_ips / eager_ips,
        "default_settings": settings,
        # the default path where bf16 is native; None elsewhere (emulated bf16 is slower: not timed)
        "bf16_autocast_images_per_s": heat_ips if settings["native_bf16"] else None,
        "heat_images_per_s": heat_ips,
        "advdiff_images_per_s": adv_ips,
        "ratio": adv_ips / heat_ips,
        "steps": steps,
        "batch_size": batch_size,
        "preset": preset,
        "peclet": peclet,
        "pool": {
            "size": adv.pool.size,
            "refresh_per_step": adv.pool.refresh_per_step,
            "refresh_every": adv.pool.refresh_every,
        },
        "machine": describe(),
    }
