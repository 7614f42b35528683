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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from advdiff.errors import ConfigError, bad_value
from advdiff.training import TrainConfig, image_generators, load_checkpoint, train
from advdiff.training.trainer import CHECKPOINT_FILE, data_options, draw_prior, load_images
from advdiff.yaml_files import load_yaml

log = logging.getLogger(__name__)

RUNS_ROOT = Path("results") / "runs"
"""Default parent folder of run folders."""


def load_config(path: str | Path, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Read a training configuration from YAML or JSON, apply ``overrides`` and validate it."""
    p = Path(path)
    data = load_yaml(p, key="config")  # a key given twice is refused
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise bad_value("config", str(p), "a mapping of configuration keys")
    data.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return TrainConfig.from_dict(data)


def run_dir_for(config: TrainConfig, root: str | Path = RUNS_ROOT) -> Path:
    """The default folder of a configuration: ``<root>/<family>-<first 12 hex digits of its hash>``.

    The ``advdiff train`` command's naming. A sweep's runs are named by their point id instead
    (:func:`advdiff.sweep.point_id`: the swept coordinates and seed, then 10 hex digits of the same
    hash), which the workflow's rules match; both names are what existing folders are resumed by,
    so neither is rewritten into the other.
    """
    return Path(root) / f"{config.family}-{config.hash()[:12]}"


def train_run(
    config: TrainConfig,
    run_dir: str | Path | None = None,
    *,
    progress: bool = True,
    on_log: Callable[[int, dict[str, Any], int], None] | None = None,
) -> dict[str, Any]:
    """Train (or resume) the run of ``config`` in ``run_dir`` (default :func:`run_dir_for`).

    ``on_log(step, metrics, timestamp_ms)`` receives every line of the run's ``metrics.jsonl`` as
    it is written (see :func:`advdiff.training.train`).
    """
    folder = Path(run_dir) if run_dir is not None else run_dir_for(config)
    summary = train(config, folder, progress=progress, on_log=on_log)
    summary["run_dir"] = str(folder)
    return summary


def _grid_path(out: str | Path) -> Path:
    """The grid's path for ``out``: an image path as given; ``x.pt`` -> ``x.png`` (the samples then go to ``x.pt``)."""
    target = Path(out)
    suffix = target.suffix.lower()
    if suffix == ".pt":
        return target.with_suffix(".png")
    from PIL import Image

    Image.init()
    if Image.registered_extensions().get(suffix) not in Image.SAVE:
        allowed = (
            "an image path for the grid such as samples.png (the samples go beside it as samples.pt), "
            "or a .pt path for the samples (the grid goes beside it as .png)"
        )
        raise bad_value("out", str(target), allowed)
    return target


SAMPLE_BATCH = 200
"""Images sampled at once by :func:`sample_run` (measured: 1000 at once is half as fast on a CPU)."""


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
    batch_size: int = SAMPLE_BATCH,
) -> dict[str, Any]:
    """Draw ``n`` samples from the run's last checkpoint; write a PNG grid and the samples (``.pt``).

    Samples are drawn ``batch_size`` images at a time: the images do not depend on it beyond float
    rounding (each image has its own generator), and a fixed ``batch_size`` repeats them bit for bit.
    The prior comes from the training images for families that start from corrupted data
    (heat, advdiff), else from noise. Per-image generators from ``seed`` make sample ``i`` the
    same whatever ``n`` is. ``out`` is the grid's path (an image file; the samples go beside it
    as ``.pt``), or the samples' ``.pt`` path (the grid then goes beside it as ``.png``). Returns
    a summary with ``images_per_second``.
    """
    from torchvision.utils import save_image

    from advdiff.devices import resolve_device
    from advdiff.models import UNet
    from advdiff.sampling import default_sampler, sample
    from advdiff.sampling.base import progress_bar

    if n < 1:
        raise bad_value("n", n, "an integer >= 1")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise bad_value("batch_size", batch_size, "an integer >= 1")
    grid_out = _grid_path(out) if out is not None else None  # before any work
    folder = Path(run_dir) if run_dir is not None else run_dir_for(config)
    ckpt_path = folder / CHECKPOINT_FILE
    if not ckpt_path.is_file():
        raise bad_value("run_dir", str(folder), f"a trained run folder with {CHECKPOINT_FILE}; train it first")
    ckpt = load_checkpoint(ckpt_path)
    if ckpt["config_hash"] != config.hash():
        raise ConfigError(
            f"{ckpt_path} belongs to run {ckpt['config_hash']}, not to this configuration ({config.hash()})"
        )
    device = resolve_device(config.device)
    model_config = ckpt.get("model_info", {}).get("config")
    if model_config is None:
        raise ConfigError(f"{ckpt_path} was trained with a custom network without a config; sample it in Python")
    model = UNet.from_config(model_config).to(device).eval()
    model.load_state_dict(ckpt["ema" if use_ema else "model"])
    corruption = config.build_corruption()
    images = load_images(config.dataset, compact=True)
    name = sampler or default_sampler(config.family)
    options = data_options(name, corruption, images)
    t0 = time.perf_counter()
    chunks, prior_seconds = [], 0.0
    with torch.no_grad():
        # Image i's draws come from its own generator, so chunks give the images a single batch would
        # (to float rounding); a few hundred at a time stay in cache (1000 at once ran at half the speed).
        for start in progress_bar(range(0, n, batch_size), progress, "sampling", math.ceil(n / batch_size)):
            stop = min(n, start + batch_size)
            # the prior of this chunk only: n priors at once would hold n images' LBM state (50 000 at 128 px
            # need about 90 GB); draw i is the same either way
            t_prior = time.perf_counter()
            x_K = draw_prior(corruption, images, stop - start, seed, device, start=start)
            prior_seconds += time.perf_counter() - t_prior
            generators = image_generators(seed, 1, stop - start, stream="sample", start=start)
            chunks.append(sample(model, corruption, x_K, sampler=name, generator=generators, progress=False, **options))
    x0 = torch.cat(chunks)
    seconds = time.perf_counter() - t0 - prior_seconds  # the sampler's time, as when the priors came first
    target = grid_out if grid_out is not None else folder / "samples" / f"samples_step{ckpt['step']:07d}_n{n}.png"
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
        "prior_seconds": prior_seconds,
        "grid": str(target),
        "samples": str(target.with_suffix(".pt")),
    }
    target.with_suffix(".json").write_text(json.dumps(summary, indent=2) + "\n")
    log.info("sampled %d images in %.1f s (%.2f images/s) -> %s", n, seconds, n / seconds, target)
    return summary
