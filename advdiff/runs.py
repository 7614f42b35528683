"""Runs on disk: configuration files, run folders, and sampling from a trained run.

The ``advdiff train`` and ``advdiff sample`` commands (and the workflow scripts) call these.
A run folder is named after its family and the hash of its resolved configuration, so the
same configuration always continues in the same folder.
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from typing import Any

import torch
import yaml

from advdiff.errors import ConfigError, bad_value
from advdiff.training import TrainConfig, image_generators, load_checkpoint, train
from advdiff.training.trainer import CHECKPOINT_FILE, data_options, draw_prior, load_images

log = logging.getLogger(__name__)

RUNS_ROOT = Path("results") / "runs"
"""Default parent folder of run folders."""


def load_config(path: str | Path, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Read a training configuration from YAML or JSON, apply ``overrides`` and validate it."""
    p = Path(path)
    if not p.is_file():
        raise bad_value("config", str(p), "an existing YAML or JSON file")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"config={str(p)!r} is not valid YAML/JSON: {exc}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise bad_value("config", str(p), "a mapping of configuration keys")
    data.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return TrainConfig.from_dict(data)


def run_dir_for(config: TrainConfig, root: str | Path = RUNS_ROOT) -> Path:
    """The default folder of a configuration: ``<root>/<family>-<first 12 hex digits of its hash>``."""
    return Path(root) / f"{config.family}-{config.hash()[:12]}"


def train_run(config: TrainConfig, run_dir: str | Path | None = None, *, progress: bool = True) -> dict[str, Any]:
    """Train (or resume) the run of ``config`` in ``run_dir`` (default :func:`run_dir_for`)."""
    folder = Path(run_dir) if run_dir is not None else run_dir_for(config)
    summary = train(config, folder, progress=progress)
    summary["run_dir"] = str(folder)
    return summary


def sample_run(
    config: TrainConfig,
    n: int,
    run_dir: str | Path | None = None,
    *,
    sampler: str | None = None,
    seed: int = 0,
    use_ema: bool = True,
    out: str | Path | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Draw ``n`` samples from the run's last checkpoint; write a PNG grid and the samples (``.pt``).

    The prior comes from the training images for families that start from corrupted data
    (heat, advdiff), else from noise. Per-image generators from ``seed`` make sample ``i`` the
    same whatever ``n`` is. Returns a summary with ``images_per_second``.
    """
    from torchvision.utils import save_image

    from advdiff.models import UNet
    from advdiff.sampling import default_sampler, sample
    from advdiff.training.config import resolve_device

    if n < 1:
        raise bad_value("n", n, "an integer >= 1")
    folder = Path(run_dir) if run_dir is not None else run_dir_for(config)
    ckpt_path = folder / CHECKPOINT_FILE
    if not ckpt_path.is_file():
        raise bad_value("run_dir", str(folder), f"a trained run folder with {CHECKPOINT_FILE}; train it first")
    ckpt = load_checkpoint(ckpt_path)
    if ckpt["config_hash"] != config.hash():
        raise ConfigError(f"{ckpt_path} belongs to run {ckpt['config_hash']}, not to this configuration "
                          f"({config.hash()})")  # fmt: skip
    device = resolve_device(config.device)
    model_config = ckpt.get("model_info", {}).get("config")
    if model_config is None:
        raise ConfigError(f"{ckpt_path} was trained with a custom network without a config; sample it in Python")
    model = UNet.from_config(model_config).to(device).eval()
    model.load_state_dict(ckpt["ema" if use_ema else "model"])
    corruption = config.build_corruption()
    images = load_images(config.dataset, compact=True)
    x_K = draw_prior(corruption, images, n, seed, device)
    name = sampler or default_sampler(config.family)
    t0 = time.perf_counter()
    with torch.no_grad():
        x0 = sample(model, corruption, x_K, sampler=name, generator=image_generators(seed, 1, n, stream="sample"),
                    progress=progress, **data_options(name, corruption, images))  # fmt: skip
    seconds = time.perf_counter() - t0
    target = Path(out) if out is not None else folder / "samples" / f"samples_step{ckpt['step']:07d}_n{n}.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    save_image(x0.detach().float().clamp(0, 1).cpu(), target, nrow=max(1, math.ceil(math.sqrt(n))))
    torch.save(x0.detach().cpu(), target.with_suffix(".pt"))
    summary = {
        "run_dir": str(folder),
        "step": int(ckpt["step"]),
        "sampler": name,
        "n": n,
        "ema": use_ema,
        "seconds": seconds,
        "images_per_second": n / seconds,
        "grid": str(target),
        "samples": str(target.with_suffix(".pt")),
    }
    target.with_suffix(".json").write_text(json.dumps(summary, indent=2) + "\n")
    log.info("sampled %d images in %.1f s (%.2f images/s) -> %s", n, seconds, n / seconds, target)
    return summary
