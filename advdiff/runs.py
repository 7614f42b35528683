"""Runs on disk: configuration files, run folders, and training, sampling and scoring a run.

The ``advdiff train``, ``sample`` and ``evaluate --run`` commands (and the workflow scripts) call these.
A run folder is named by :func:`advdiff.naming.run_name` (the point label, seed and config hash), as
the workflow's sweep names it, so the same configuration always continues in the same folder.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from os import PathLike
from pathlib import Path
from typing import Any

import torch

from advdiff.errors import ConfigError, bad_value
from advdiff.naming import run_name
from advdiff.training import TrainConfig, image_generators, load_checkpoint, train
from advdiff.training.trainer import CHECKPOINT_FILE, draw_prior, load_images
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
    """The folder of a configuration: ``<root>/<run name>`` (:func:`advdiff.naming.run_name`, as the sweep names it).

    A folder of an earlier version, ``<root>/<family>-<first 12 hex digits of the hash>``, is used when
    it exists and the new one does not, so that such a run still resumes where it stopped.
    """
    folder = Path(root) / run_name(config)
    legacy = Path(root) / f"{config.family}-{config.hash()[:12]}"
    if not folder.exists() and legacy.is_dir():
        log.info("using the run folder %s (named as earlier versions did; new runs go to %s)", legacy, folder.name)
        return legacy
    return folder


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
    from advdiff.sampling import preview

    summary = train(config, folder, progress=progress, on_log=on_log, preview=preview)
    summary["run_dir"] = str(folder)
    return summary


def load_network(
    run_dir: str | Path,
    *,
    use_ema: bool = True,
    device: str | torch.device = "cpu",
    config_hash: str | None = None,
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The trained U-Net of a run folder (EMA weights unless ``use_ema`` is false), in eval mode, and its checkpoint.

    ``config_hash``, when given, must be the checkpoint's: a folder of another configuration is an error.
    """
    from advdiff.models import UNet

    path = Path(run_dir) / CHECKPOINT_FILE
    if not path.is_file():
        raise ConfigError(f"no trained network at {path}; train the run first")
    ckpt = load_checkpoint(path)
    if config_hash is not None and ckpt["config_hash"] != config_hash:
        raise ConfigError(f"{path} belongs to run {ckpt['config_hash']}, not to this configuration ({config_hash})")
    model_config = ckpt.get("model_info", {}).get("config")
    if model_config is None:
        raise ConfigError(f"{path} was trained with a custom network without a config; load it in Python")
    model = UNet.from_config(model_config).to(device).eval()
    model.load_state_dict(ckpt["ema" if use_ema else "model"])
    return model, ckpt


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
    from advdiff.sampling import data_options, default_sampler, sample
    from advdiff.sampling.base import progress_bar

    if n < 1:
        raise bad_value("n", n, "an integer >= 1")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise bad_value("batch_size", batch_size, "an integer >= 1")
    grid_out = _grid_path(out) if out is not None else None  # before any work
    folder = Path(run_dir) if run_dir is not None else run_dir_for(config)
    if not (folder / CHECKPOINT_FILE).is_file():
        raise bad_value("run_dir", str(folder), f"a trained run folder with {CHECKPOINT_FILE}; train it first")
    device = resolve_device(config.device)
    model, ckpt = load_network(folder, use_ema=use_ema, device=device, config_hash=config.hash())
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


def _generated_images(
    folder: Path,
    config: TrainConfig,
    n: int,
    samples: str | PathLike[str] | None,
    sampler: str | None,
    sample_seed: int,
    progress: bool,
    info: dict[str, Any],
) -> torch.Tensor:
    """The ``n`` images :func:`evaluate_run` scores: from ``samples``, else the run's earlier evaluation
    samples of this step, sampler, seed and ``n``, else drawn now; says which in ``info``."""
    from advdiff.metrics.evaluate import load_samples
    from advdiff.sampling import default_sampler

    if samples is not None:
        images = load_samples(Path(samples))
        if images.dim() != 4 or images.shape[0] < n:
            raise bad_value(
                "samples",
                str(samples),
                f"a tensor (N, C, H, W) with at least n={n} images, got shape {tuple(images.shape)}",
            )
        info["samples"] = str(samples)
        return images[:n]
    if not (folder / CHECKPOINT_FILE).is_file():
        raise bad_value("run", str(folder), f"a trained run folder with {CHECKPOINT_FILE}; train it first")
    step = int(load_checkpoint(folder / CHECKPOINT_FILE)["step"])
    name = sampler or default_sampler(config.family)
    grid = folder / "samples" / f"eval_step{step:07d}_{name}_seed{sample_seed}_n{n}.png"
    if grid.with_suffix(".pt").is_file():
        log.info("reusing samples %s", grid.with_suffix(".pt"))
        images = load_samples(grid.with_suffix(".pt"))
    else:
        summary = sample_run(config, n, folder, sampler=name, seed=sample_seed, out=grid, progress=progress)
        images = load_samples(Path(summary["samples"]))
        info["seconds_sampling"] = summary["seconds"]
    info.update(step=step, sampler=name, sample_seed=sample_seed, samples=str(grid.with_suffix(".pt")))
    return images


def _real_identity(ds: Any, data: Any, real_split: str, real_count: int) -> dict[str, Any]:
    """What the cached reference statistics of the real images are keyed by (a folder: its files and held-out split)."""
    from advdiff.metrics.reference import folder_fingerprint

    root = str(Path(ds.root).resolve()) if ds.root is not None else None
    identity = dict(dataset=ds.name, root=root, split=real_split, size=ds.size, channels=ds.channels, n=real_count)
    if ds.name == "folder":
        identity["files"] = folder_fingerprint(Path(ds.root), None)
        split_info = data.split_info()
        if split_info["kind"] != "subfolders":  # a flat folder: which files are held out is part of the identity
            identity["holdout"] = {k: split_info.get(k) for k in ("holdout", "holdout_seed", "holdout_sha256")}
    return identity


def evaluate_run(
    run_dir: str | PathLike[str],
    n: int,
    out: str | PathLike[str] | None = None,
    *,
    samples: str | PathLike[str] | None = None,
    n_real: int | None = None,
    real_split: str = "train",
    sampler: str | None = None,
    sample_seed: int = 0,
    feature_extractor: str = "inception",
    weights: str | PathLike[str] | None = None,
    cache: str | PathLike[str] | None = None,
    use_cache: bool = True,
    download: bool = False,
    device: str = "auto",
    batch_size: int = 32,
    prdc_k: int = 5,
    kid_subsets: int = 100,
    kid_subset: int = 1000,
    seed: int = 2020,
    progress: bool = True,
    clean_fid: bool = False,
) -> dict[str, Any]:
    """Score a trained run: ``n`` generated images against ``n_real`` (default ``n``) real ones.

    Generated images: the first ``n`` of ``samples`` (a ``.pt`` tensor) if given; else the run's
    earlier evaluation samples for this step, sampler, seed and ``n`` when they exist; else drawn now
    with :func:`sample_run` (kept in ``<run>/samples/eval_*.pt``). Real images: the run's
    data set (same root, size and channels) on ``real_split``; for a flat image folder ``test`` is its
    held-out subset (``dataset.holdout``), which training never read, recorded in ``dataset.split_info``.
    Writes ``out`` (default ``<run>/metrics.json``). ``clean_fid`` adds ``fid_clean`` (clean-fid's "clean"
    mode, the paper's FID).
    """
    from advdiff.data import load_dataset
    from advdiff.data_settings import check_split
    from advdiff.devices import resolve_device
    from advdiff.metrics.evaluate import (
        METRICS_FILE,
        check_counts,
        check_out,
        score_against_real,
        write_metrics,
    )
    from advdiff.metrics.features import build_extractor
    from advdiff.metrics.images import check_same_size, to_uint8
    from advdiff.preflight import check_sampler
    from advdiff.training.trainer import CONFIG_FILE

    t0 = time.perf_counter()
    folder = Path(run_dir)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise bad_value("n", n, "an integer >= 1 (the number of generated images to score)")
    n_real = n if n_real is None else n_real
    if isinstance(n_real, bool) or not isinstance(n_real, int) or n_real < 1:
        raise bad_value("n_real", n_real, "None or an integer >= 1")
    real_split = check_split(real_split)
    if not (folder / CONFIG_FILE).is_file():
        raise bad_value("run", str(folder), f"a run folder of `advdiff train` (with {CONFIG_FILE})")
    config = TrainConfig.load(folder / CONFIG_FILE)
    target = check_out(out if out is not None else folder / METRICS_FILE)
    resolve_device(device)  # a CUDA device on a machine without one is refused now, not after sampling
    if samples is None:
        check_sampler(sampler, [config.family], "sampler")
    ds = config.dataset
    # no up-front decode of a folder: the real images are read only on a reference-cache miss (a bad file is named then)
    data = load_dataset(
        ds.name,
        root=ds.root,
        split=real_split,
        size=ds.size,
        channels=ds.channels,
        limit=n_real,
        verify=False,
        root_key="dataset.root",
        holdout=ds.holdout,
        holdout_seed=ds.holdout_seed,
    )
    real_count = len(data)
    if real_count < n_real:
        log.warning("data set %s (%s) has only %d images; scoring against all of them", ds.name, real_split, real_count)
    check_counts(real_count, n, prdc_k=prdc_k, kid_subset=kid_subset)
    info: dict[str, Any] = {"run_dir": str(folder), "real_split": real_split}
    images = _generated_images(folder, config, n, samples, sampler, sample_seed, progress, info)
    fake = to_uint8(images, "generated images")
    check_same_size(data.shape[1:], fake.shape[2:])
    extractor = build_extractor(feature_extractor, weights=weights, cache=cache, download=download, device=device)
    identity = _real_identity(ds, data, real_split, real_count)

    def load_real() -> torch.Tensor:
        return to_uint8(data.tensor(real_count), "real images")

    result = score_against_real(
        identity,
        load_real,
        fake,
        extractor,
        cache=cache,
        use_cache=use_cache,
        batch_size=batch_size,
        progress=progress,
        device=device,
        clean_fid=clean_fid,
        prdc_k=prdc_k,
        kid_subsets=kid_subsets,
        kid_subset=kid_subset,
        seed=seed,
    )
    result.update(info)
    result["dataset"] = {("name" if k == "dataset" else k): v for k, v in identity.items() if k != "files"}
    if ds.name == "folder":
        result["dataset"]["split_info"] = data.split_info()  # the real images' split, held-out names' sha256
    result["seconds"] = time.perf_counter() - t0
    if target is not None:
        write_metrics(target, result)
    return result
