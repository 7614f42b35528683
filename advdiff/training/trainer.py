"""The training loop: one function, :func:`train`, for every corruption family.

``train(config, run_dir)`` writes the run folder: ``config.json``, the checksummed ``checkpoint.pt``
and its predecessor ``checkpoint.prev.pt``, a ``.lock`` (one trainer per folder), ``metrics.jsonl``,
sample grids under ``samples/`` and ``summary.json``. Called again with the same configuration it
resumes from the checkpoint, bit-identically on the CPU, since every random number of a step derives
from ``(seed, step, position)`` (:mod:`advdiff.training.seeding`); other identity keys are refused
with :class:`~advdiff.errors.ConfigError`. A non-finite loss or gradient norm stops the run with
:class:`NonFiniteLossError`. What each file holds and how resuming works: docs/training.md, "The
run folder".
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import hashlib
import json
import logging
import math
import os
import random
import time
from collections.abc import Callable, Mapping
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from advdiff.corruptions import Corruption
from advdiff.data.base import unit_float
from advdiff.devices import bf16_autocast, cpu_identity, resolve_device
from advdiff.errors import AdvdiffError, ConfigError, bad_value
from advdiff.files import atomic_write
from advdiff.training.config import DatasetConfig, TrainConfig
from advdiff.training.losses import Loss, ResidualLoss, describe_loss, loss_for
from advdiff.training.pairs import DataOrder, OnTheFlyPairs, TrajectoryPool
from advdiff.training.seeding import image_generators, stream_seed

log = logging.getLogger(__name__)

CONFIG_FILE = "config.json"
CHECKPOINT_FILE = "checkpoint.pt"
PREVIOUS_CHECKPOINT_FILE = "checkpoint.prev.pt"
CORRUPT_CHECKPOINT_FILE = "checkpoint.corrupt.pt"
LOCK_FILE = ".lock"
CHECKSUM_KEY = "sha256"
METRICS_FILE = "metrics.jsonl"
SUMMARY_FILE = "summary.json"
SAMPLES_DIR = "samples"
CHECKPOINT_FORMAT = "advdiff.training/1"
ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8

Callback = Callable[[int, dict[str, Any]], None]
"""``callback(step, info)``, called after every step (after its checkpoint, if any)."""
LogHook = Callable[[int, dict[str, Any], int], None]
Preview = Callable[[nn.Module, Corruption, torch.Tensor, list[torch.Generator], torch.Tensor], torch.Tensor]
"""``preview(model, corruption, x_K, generators, images) -> x_0``: draws the sample grids (the training
images are there for samplers that take data statistics); :func:`advdiff.sampling.preview` is one."""
"""``on_log(step, metrics, timestamp_ms)``, called with every line written to ``metrics.jsonl``."""

__all__ = [
    "CHECKPOINT_FILE",
    "CONFIG_FILE",
    "LOCK_FILE",
    "METRICS_FILE",
    "SAMPLES_DIR",
    "SUMMARY_FILE",
    "CheckpointError",
    "NonFiniteLossError",
    "RunDirLockedError",
    "TrainConfig",
    "TrainingData",
    "build_network",
    "load_checkpoint",
    "load_images",
    "load_training_images",
    "lr_at",
    "train",
]


class NonFiniteLossError(AdvdiffError, FloatingPointError):
    """The loss (or gradient norm) became NaN or infinite; names the step and the last good checkpoint.

    Attributes: ``step``, the 1-based training step; ``what``, ``loss`` or ``gradient norm``; ``value``,
    its value; ``checkpoint``, the path of the last good checkpoint, and ``checkpoint_step``, its step
    (both ``None`` if none was written yet).
    """

    def __init__(self, step: int, what: str, value: float, checkpoint: Path | None, checkpoint_step: int | None):
        self.step = step
        self.what = what
        self.value = value
        self.checkpoint = checkpoint
        self.checkpoint_step = checkpoint_step
        where = (
            f"the last good checkpoint is {checkpoint} (step {checkpoint_step})"
            if checkpoint is not None
            else "no checkpoint was written before it"
        )
        super().__init__(f"non-finite {what} ({value}) at step {step}; training stopped, {where}")


class CheckpointError(AdvdiffError, RuntimeError):
    """A checkpoint cannot be read, or its contents fail their checksum; the message names the file and the fix."""


class RunDirLockedError(AdvdiffError, RuntimeError):
    """Another trainer holds the run folder's lock; the message names the folder and that trainer's PID."""


# --------------------------------------------------------------------------- building blocks


def load_images(dataset: DatasetConfig, compact: bool = False) -> Any:
    """The training images of a :class:`DatasetConfig` (N, C, H, W), on the CPU.

    float32 in [0, 1]; with ``compact``, uint8 where the images are 8-bit exact (native size and
    channels; every folder of 8-bit files), which :func:`advdiff.data.unit_float` turns back into
    the float32 images bit for bit (the trainer and the samplers do so batch by batch). In memory:
    N·C·H·W bytes as uint8 (47 MB for Fashion-MNIST's 60 000 images, 3.2 GB for FFHQ's 65 000
    training images at 128 px), four times that as float32. With ``compact``, a folder whose uint8
    images exceed ``dataset.memory_budget_mb`` comes back as :class:`~advdiff.data.folder.StreamedImages`,
    indexed like the tensor but read from disk per batch. A flat folder's held-out images are never
    read here (see :func:`load_training_images`).
    """
    return load_training_images(dataset, compact)[0]


def load_training_images(dataset: DatasetConfig, compact: bool = False) -> tuple[Any, dict[str, Any] | None]:
    """:func:`load_images` and, for a folder, how it was split (:meth:`ImageFolderDataset.split_info`; else None)."""
    from advdiff.data import load_dataset
    from advdiff.data.folder import ImageFolderDataset, StreamedImages

    # no separate check pass: every image is read below (or verified before streaming), a bad file named there
    data = load_dataset(
        dataset.name,
        root=dataset.root,
        split=dataset.split,
        size=dataset.size,
        channels=dataset.channels,
        limit=dataset.limit,
        verify=False,
        holdout=dataset.holdout,
        holdout_seed=dataset.holdout_seed,
    )
    if not isinstance(data, ImageFolderDataset):
        return (data.compact_tensor() if compact else data.tensor()), None
    info = data.split_info()
    need = len(data) * math.prod(data.shape)  # uint8: one byte per value
    if compact and need > dataset.memory_budget_mb * 2**20:
        log.info(
            "%d training images (%.1f GB as uint8) exceed dataset.memory_budget_mb = %d: read from disk per batch",
            len(data),
            need / 1e9,
            dataset.memory_budget_mb,
        )
        data.verify()  # every file decoded once now, so that a bad one is named before training starts
        info["streamed"] = True
        return StreamedImages(data), info
    return (data.compact_tensor() if compact else data.tensor()), info


def build_network(config: TrainConfig, in_channels: int) -> nn.Module:
    """The U-Net of ``config.model`` (imported lazily from :mod:`advdiff.models`)."""
    try:
        from advdiff.models import build_model
    except ModuleNotFoundError as exc:
        if exc.name not in ("advdiff.models",):
            raise
        raise ConfigError(
            "model: advdiff.models is not available here; pass a network to train(..., model=...)"
        ) from exc
    return build_model(config.model.preset, in_channels=in_channels, **config.model.overrides)


def lr_at(step: int, lr: float, warmup_steps: int) -> float:
    """Learning rate of training step ``step`` (1-based): ``lr * min(1, step / warmup_steps)`` (IHDM's warm-up)."""
    if warmup_steps <= 0:
        return lr
    return lr * min(1.0, step / warmup_steps)


def ema_decay_at(step: int, decay: float, warmup: bool) -> float:
    """EMA decay used at training step ``step`` (1-based).

    With ``warmup`` it is ``min(decay, (1 + step) / (10 + step))``, so the average forgets the
    random initial weights within the first few hundred steps instead of ~1 / (1 - decay) steps
    (at 0.999 and 3 000 steps, 5 % of a plain EMA would still be the initialisation).
    """
    if not warmup:
        return decay
    return min(decay, (1.0 + step) / (10.0 + step))


@torch.no_grad()
def ema_update(ema: nn.Module, model: nn.Module, decay: float) -> None:
    """``ema <- decay * ema + (1 - decay) * model`` for parameters; buffers are copied."""
    for e, p in zip(ema.parameters(), model.parameters(), strict=True):
        e.lerp_(p.detach(), 1.0 - decay)
    for e, b in zip(ema.buffers(), model.buffers(), strict=True):
        e.copy_(b)


def ema_distance(ema: nn.Module, model: nn.Module) -> float:
    """How far the EMA weights are from the trained ones: ``|ema - model| / |model|`` (L2 over all weights)."""
    with torch.no_grad():  # summed on the device, read once
        pairs = list(zip(ema.parameters(), model.parameters(), strict=True))
        if not pairs:
            return 0.0
        diff = torch.stack([(e.float() - p.float()).pow(2).sum() for e, p in pairs]).sum()
        total = torch.stack([p.float().pow(2).sum() for _, p in pairs]).sum()
        return math.sqrt(float(diff) / float(total)) if float(total) > 0 else 0.0


def rng_state(device: torch.device) -> dict[str, Any]:
    """The global RNG states (torch, CUDA, NumPy, Python) as a ``weights_only``-loadable dict."""
    kind, key, pos, has_gauss, cached = np.random.get_state(legacy=True)  # noqa: NPY002 (the global state itself)
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if device.type == "cuda" else None,
        "numpy": {
            "kind": kind,
            "key": torch.from_numpy(key.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "python": random.getstate(),
    }


def set_rng_state(state: Mapping[str, Any], device: torch.device) -> None:
    """Restore what :func:`rng_state` saved."""
    torch.set_rng_state(state["torch"])
    if state.get("cuda") is not None and device.type == "cuda":
        torch.cuda.set_rng_state_all(state["cuda"])
    n = state["numpy"]
    legacy = (n["kind"], n["key"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"])
    np.random.set_state(legacy)  # noqa: NPY002 (the global state itself)
    random.setstate(state["python"])


def seed_globals(seed: int) -> None:
    """Seed torch, NumPy and Python's global RNGs from the run's ``init`` stream (fresh runs only)."""
    value = stream_seed(seed, "init")
    torch.manual_seed(value)
    np.random.seed(value % 2**32)  # noqa: NPY002 (the global state itself)
    random.seed(value)


def previous_checkpoint(path: str | PathLike[str]) -> Path:
    """Where the checkpoint before ``path`` is kept: ``checkpoint.pt`` -> ``checkpoint.prev.pt``."""
    path = Path(path)
    return path.with_name(f"{path.stem}.prev{path.suffix}")


def _feed(h: Any, obj: Any) -> None:
    """Feed ``obj`` (tensors, dicts, lists, tuples and plain values, nested) into the hash ``h``."""
    if isinstance(obj, torch.Tensor):
        t = obj.detach().cpu().contiguous().reshape(-1)
        h.update(f"T{t.dtype}{tuple(obj.shape)}|".encode())
        if t.numel():
            h.update(t.view(torch.uint8).numpy())  # the bytes themselves, without a copy
    elif isinstance(obj, dict):
        h.update(f"D{len(obj)}|".encode())
        for key, value in obj.items():
            _feed(h, key)
            _feed(h, value)
    elif isinstance(obj, list | tuple):
        h.update(f"{type(obj).__name__[0]}{len(obj)}|".encode())
        for value in obj:
            _feed(h, value)
    else:
        h.update(f"{type(obj).__name__}:{obj!r}|".encode())


def checkpoint_digest(state: Mapping[str, Any]) -> str:
    """sha256 (hex) of a checkpoint's contents: every tensor's bytes, dtype and shape, every other value, every key.

    The same after a save and a load (``torch.load`` does not check the zip's CRCs, so this is
    what notices flipped bytes); the entry :data:`CHECKSUM_KEY` itself is left out.
    """
    h = hashlib.sha256()
    _feed(h, {key: value for key, value in state.items() if key != CHECKSUM_KEY})
    return h.hexdigest()


def save_checkpoint(path: Path, state: dict[str, Any], keep_previous: bool = True) -> None:
    """Write a checkpoint with its sha256 atomically (a temporary file, then ``os.replace``).

    With ``keep_previous``, the checkpoint it replaces is kept as :func:`previous_checkpoint`.
    """
    body = {key: value for key, value in state.items() if key != CHECKSUM_KEY}
    body[CHECKSUM_KEY] = checkpoint_digest(body)
    keep = previous_checkpoint(path) if keep_previous else None
    atomic_write(path, lambda fh: torch.save(body, fh), keep=keep, fsync=True)


def _corrupt(path: Path, why: str) -> CheckpointError:
    return CheckpointError(
        f"checkpoint {path} is corrupt ({why}); delete it to start the run again from step 0, "
        "or restore it from a backup"
    )


def load_checkpoint(path: str | PathLike[str]) -> dict[str, Any]:
    """Read a checkpoint written by :func:`train` (on the CPU, ``weights_only``) and verify its sha256.

    Raises
    ------
    CheckpointError
        The file is empty, truncated or otherwise unreadable, or its contents do not match the
        checksum stored in it (the message names the file and the fix). A checkpoint written
        before checksums were stored is read with a logged warning.
    advdiff.errors.ConfigError
        The file is not a checkpoint of :func:`train`.
    """
    path = Path(path)
    if path.is_file() and path.stat().st_size == 0:
        raise _corrupt(path, "the file is empty")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (FileNotFoundError, PermissionError, IsADirectoryError):
        raise
    except Exception as exc:  # truncated or damaged: zip, pickle or storage errors of every kind
        detail = (str(exc).strip().splitlines() or [""])[0][:200]
        raise _corrupt(path, f"unreadable: {type(exc).__name__}: {detail}") from exc
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise bad_value("checkpoint", str(path), f"a checkpoint of format {CHECKPOINT_FORMAT}")
    stored = state.pop(CHECKSUM_KEY, None)
    if stored is None:
        log.warning("checkpoint %s holds no checksum (written by an older version): it is not verified", path)
    elif checkpoint_digest(state) != stored:
        raise _corrupt(path, "its contents do not match the sha256 stored in it")
    return state


def _resume_checkpoint(run_dir: Path) -> tuple[dict[str, Any] | None, Path | None]:
    """The checkpoint to resume ``run_dir`` from, and its path; ``(None, None)`` for a fresh run.

    A corrupt ``checkpoint.pt`` falls back to ``checkpoint.prev.pt`` with a logged warning (the
    corrupt file is moved aside to ``checkpoint.corrupt.pt``); without a good previous one the
    error names the file and the fix. A previous checkpoint alone (a kill between the two
    renames of :func:`save_checkpoint`) is resumed from.
    """
    latest, prev = run_dir / CHECKPOINT_FILE, run_dir / PREVIOUS_CHECKPOINT_FILE
    if not latest.exists():
        if not prev.exists():
            return None, None
        log.warning("run %s has no %s but a previous checkpoint: resuming from %s", run_dir, CHECKPOINT_FILE, prev)
        return load_checkpoint(prev), prev
    try:
        return load_checkpoint(latest), latest
    except CheckpointError as exc:
        if not prev.exists():
            raise CheckpointError(f"{exc}; there is no previous checkpoint ({prev.name}) to fall back to") from exc
        try:
            state = load_checkpoint(prev)
        except CheckpointError as prev_exc:
            raise CheckpointError(
                f"{exc}; the previous checkpoint {prev} is corrupt too: delete both to start the run again from step 0"
            ) from prev_exc
        aside = run_dir / CORRUPT_CHECKPOINT_FILE
        os.replace(latest, aside)
        log.warning(
            "%s; moved it to %s and resuming from the previous checkpoint %s (step %d)",
            exc,
            aside,
            prev,
            int(state["step"]),
        )
        return state, prev


class _RunDirLock:
    """``fcntl.flock`` on ``<run_dir>/.lock`` (non-blocking), held while one trainer works in ``run_dir``.

    The file holds the holder's PID. Creating ``run_dir`` (or the lock file) fails with a
    :class:`~advdiff.errors.ConfigError` when the folder cannot be written; a held lock with
    :class:`RunDirLockedError`. On release the lock file is removed, and so is ``run_dir`` if this
    lock created it and nothing else was written into it.
    """

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.path = run_dir / LOCK_FILE
        self.created = False
        self.fh: Any = None

    def __enter__(self) -> _RunDirLock:
        self.created = not self.run_dir.exists()
        for _ in range(10):  # the holder may remove the file between our open and our lock: then again
            try:
                self.run_dir.mkdir(parents=True, exist_ok=True)
                fh = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 (closed in __exit__)
            except OSError as exc:
                raise bad_value(
                    "run_dir",
                    str(self.run_dir),
                    f"a folder this process can create and write ({exc.strerror or exc}); "
                    "choose another run folder or fix its permissions",
                ) from None
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                fh.seek(0)
                holder = fh.read().strip() or "unknown"
                fh.close()
                raise RunDirLockedError(
                    f"run_dir {self.run_dir} is in use by another trainer (PID {holder}, lock file {self.path}); "
                    "wait for it to finish or stop it, or train in another run folder"
                ) from None
            try:
                same = os.stat(self.path).st_ino == os.fstat(fh.fileno()).st_ino
            except FileNotFoundError:
                same = False
            if same:
                fh.seek(0)
                fh.truncate()
                fh.write(f"{os.getpid()}\n")
                fh.flush()
                self.fh = fh
                return self
            fh.close()
        raise RunDirLockedError(
            f"run_dir {self.run_dir}: could not take the lock {self.path}; another trainer keeps replacing it"
        )

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(OSError):
            self.path.unlink()
        self.fh.close()
        if self.created:
            with contextlib.suppress(OSError):
                self.run_dir.rmdir()  # only when empty: a run that failed before writing anything


def _write_json(path: Path, data: Any) -> None:
    text = json.dumps(data, indent=2) + "\n"
    atomic_write(path, lambda fh: fh.write(text), "w", fsync=True)


# --------------------------------------------------------------------------- the data of a step


class TrainingData:
    """One step's loss for any family: the data order (eps families) or a pair source (residual families).

    ``loss`` is the family's objective (:func:`~advdiff.training.losses.loss_for`); ``images`` the
    training images (N, C, H, W) on the CPU, float in [0, 1] or uint8 (see :func:`load_images`);
    ``config`` gives the seed, batch size and pool settings; batches are made on ``device``.
    """

    def __init__(self, loss: Loss, images: torch.Tensor, config: TrainConfig, device: torch.device) -> None:
        self.loss = loss
        self.images = images
        self.device = device
        self.batch = config.batch_size
        self.order: DataOrder | None = None
        self.source: OnTheFlyPairs | TrajectoryPool | None = None
        data_seed = stream_seed(config.seed, "data")
        if not isinstance(loss, ResidualLoss):
            self.order = DataOrder(images.shape[0], data_seed)
        elif config.pool_enabled():
            self.source = TrajectoryPool(
                loss.corruption,
                images,
                config.pool.size,
                config.pool.refresh_per_step,
                stream_seed(config.seed, "pool"),
                device=device,
                chunk=config.pool.chunk,
                refresh_every=config.pool.refresh_every,
            )
        else:
            self.source = OnTheFlyPairs(loss.corruption, images, data_seed, device=device)
        self.pool_in_checkpoint = config.pool.in_checkpoint

    def __call__(self, model: nn.Module, generators: list[torch.Generator]) -> tuple[torch.Tensor, dict[str, float]]:
        """The loss of one step, with one generator per image."""
        if self.source is None:
            x0 = unit_float(self.images[self.order.take(self.batch)].to(self.device))
            return self.loss(model, x0, generators)
        self.source.refresh()
        prev, cur, k, _ = self.source.sample(self.batch, generators)
        return self.loss.on_pairs(model, prev, cur, k, generators)

    def stats(self) -> dict[str, Any]:
        """The pair source's counters, or the data order's epoch."""
        if self.source is None:
            return {"source": "images", "images_served": self.order.position, "epoch": self.order.epoch}
        return self.source.stats()

    def state_dict(self) -> dict[str, Any]:
        """The data order or the pair source's state."""
        if self.source is None:
            return {"order": self.order.state_dict()}
        if isinstance(self.source, TrajectoryPool):
            return {"pairs": self.source.state_dict(tensors=self.pool_in_checkpoint)}
        return {"pairs": self.source.state_dict()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        if self.source is None:
            self.order.load_state_dict(state["order"])
        else:
            self.source.load_state_dict(state["pairs"])


# --------------------------------------------------------------------------- the run directory


def check_lbm_backend(family_params: Mapping[str, Any], device: torch.device) -> str | None:
    """The LBM backend a run will use, checked before any work; None for families without one.

    ``cupy`` must be usable here (else :class:`~advdiff.errors.BackendUnavailableError` says why),
    and a run on a CUDA device with ``auto`` must get ``cupy``: such a run asked for a GPU, and the
    CPU solver would make it silently slower by orders of magnitude (``cpu`` chosen by name is
    allowed, with a warning).
    """
    from advdiff.errors import BackendUnavailableError
    from advdiff.lbm.backends import get_backend

    name = family_params.get("backend")
    if name is None:
        return None
    backend = get_backend(name)  # cupy without CuPy or a GPU raises here, saying why
    if device.type == "cuda" and backend.name != "cupy" and name != "auto":
        log.warning("family_params.backend=%r: the LBM runs on the CPU while the network trains on %s", name, device)
    elif device.type == "cuda" and backend.name != "cupy":
        raise BackendUnavailableError(
            f"family_params.backend={name!r} runs the LBM on the {backend.name!r} backend, but this run trains on "
            f"{device}: install CuPy for this CUDA version (pip install cupy-cuda12x) so that the LBM runs on the GPU, "
            "or set family_params.backend: cpu to choose the CPU solver on purpose"
        )
    return backend.name


def software_versions(device: torch.device) -> dict[str, Any]:
    """torch, CUDA and CuPy versions, the GPU model and the CPU: where a record's numbers came from."""
    from importlib import metadata

    cupy = None
    for dist in ("cupy", "cupy-cuda12x", "cupy-cuda11x"):
        try:
            cupy = metadata.version(dist)
            break
        except metadata.PackageNotFoundError:
            continue
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else None
    return {"torch": torch.__version__, "cuda": torch.version.cuda, "cupy": cupy, "gpu": gpu, "cpu": cpu_identity()}


def _check_run_dir(config: TrainConfig, run_dir: Path) -> bool:
    """Check ``run_dir``'s ``config.json`` against ``config``; return whether it must be (re)written.

    Identity keys must agree (else :class:`~advdiff.errors.ConfigError` naming them); changed
    run-control keys are logged and the file is rewritten once training starts.
    """
    path = run_dir / CONFIG_FILE
    if not path.exists():
        return True
    stored = TrainConfig.load(path)
    differ = stored.differences(config, keys="identity")
    if differ:
        listed = "; ".join(f"{key}: stored {old!r}, given {new!r}" for key, old, new in differ)
        raise ConfigError(
            f"run_dir {run_dir} holds run {stored.hash()} with another configuration ({listed}); "
            "use another run_dir, or the stored config.json, to continue it"
        )
    control = [(key, old, new) for key, old, new in stored.differences(config, keys="control") if key != "device"]
    if control:
        log.info(
            "run %s: run-control keys changed: %s",
            config.hash(),
            ", ".join(f"{key} {old!r} -> {new!r}" for key, old, new in control),
        )
    return bool(control)


def _truncate_metrics(path: Path, step: int) -> None:
    """Drop the metrics lines of steps after ``step`` (written after the checkpoint a run resumes from)."""
    if not path.exists():
        return
    kept = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:  # a line cut by a kill
            continue
        if int(entry.get("step", 0)) <= step:
            kept.append(line)
    atomic_write(path, lambda fh: fh.write("".join(f"{line}\n" for line in kept)), "w", fsync=True)


def draw_prior(
    corruption: Corruption, images: torch.Tensor, n: int, seed: int, device: torch.device, start: int = 0
) -> torch.Tensor:
    """Draws ``start..start+n-1`` of the family's prior with per-image generators from ``seed`` (draw ``i``
    depends on neither ``n`` nor ``start``, so chunks give the draws of one call): corrupted training
    images ``i mod N`` for families that start from data, else noise."""
    gens = image_generators(seed, 0, n, stream="sample", start=start)
    if corruption.prior_needs_images:
        index = torch.arange(start, start + n) % images.shape[0]
        return corruption.prior(unit_float(images[index].to(device)), gens)
    return corruption.prior(n, gens, shape=tuple(images.shape[1:]), device=device)


def _sample_grid(
    ema: nn.Module,
    corruption: Corruption,
    images: torch.Tensor,
    config: TrainConfig,
    step: int,
    run_dir: Path,
    device: torch.device,
    preview: Preview,
) -> Path:
    """Sample ``sample_count`` images with the EMA model from a fixed prior draw; save a PNG grid.

    The global RNG states are forked, so the grids never change the training run.
    """
    from torchvision.utils import save_image

    n = min(config.sample_count, images.shape[0]) if corruption.prior_needs_images else config.sample_count
    x_K = draw_prior(corruption, images, n, config.seed, device)
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices), torch.no_grad():
        generator = image_generators(config.seed, 1, n, stream="sample")  # per image: grids do not depend on n
        out = preview(ema, corruption, x_K, generator, images)
    if isinstance(out, tuple | list):
        out = out[0]
    folder = run_dir / SAMPLES_DIR
    folder.mkdir(exist_ok=True)
    path = folder / f"step_{step:07d}.png"
    save_image(out.detach().float().clamp(0.0, 1.0).cpu(), path, nrow=max(1, math.ceil(math.sqrt(n))))
    return path


# --------------------------------------------------------------------------- train


def train(
    config: TrainConfig | Mapping[str, Any],
    run_dir: str | PathLike[str],
    *,
    model: nn.Module | None = None,
    progress: bool = True,
    callback: Callback | None = None,
    on_log: LogHook | None = None,
    preview: Preview | None = None,
) -> dict[str, Any]:
    """Train (or continue training) a network for one corruption family.

    ``config`` is a :class:`TrainConfig` or a mapping for :meth:`TrainConfig.from_dict`. A ``run_dir`` (created
    if needed) holding a checkpoint of the same configuration is resumed. ``model=None`` builds ``config.model``
    (:func:`advdiff.models.build_model`); a given model is trained in place. ``callback`` runs after every step
    and ``on_log(step, metrics, timestamp_ms)`` after every ``metrics.jsonl`` line (an exception from either
    stops the run as a kill would); ``preview`` (:data:`Preview`) draws the sample grids (``None``: none).
    Returns the ``summary.json`` dict; raises :class:`NonFiniteLossError` or :class:`~advdiff.errors.ConfigError`
    (bad configuration, or other identity keys in ``run_dir``). Details: docs/training.md, "Calling `train`".
    """
    cfg = config if isinstance(config, TrainConfig) else TrainConfig.from_dict(config)
    run_dir = Path(run_dir)
    with _RunDirLock(run_dir):  # one trainer per run folder, for the whole run
        return _train(cfg, run_dir, model=model, progress=progress, callback=callback, on_log=on_log, preview=preview)


def _train(  # noqa: C901
    cfg: TrainConfig,
    run_dir: Path,
    *,
    model: nn.Module | None,
    progress: bool,
    callback: Callback | None,
    on_log: LogHook | None = None,
    preview: Preview | None = None,
) -> dict[str, Any]:
    """:func:`train` while holding the run folder's lock."""
    write_config = _check_run_dir(cfg, run_dir)  # before any work; config.json is written once training starts
    if cfg.sample_every and preview is None:
        log.info("sample_every = %d, but no preview function was given: no sample grids are written", cfg.sample_every)
    run_id = cfg.hash()
    device = resolve_device(cfg.device)
    use_amp = bf16_autocast(cfg.amp, device)
    if cfg.amp is True and not use_amp:
        log.info("amp=true is ignored on this CPU: it has no native bfloat16 (AVX-512 BF16, AMX)")
    elif cfg.amp == "auto":
        log.info("amp=auto: %s", "bfloat16 autocast (native bf16 here)" if use_amp else "float32 (no native bf16 here)")
    ckpt_path = run_dir / CHECKPOINT_FILE
    metrics_path = run_dir / METRICS_FILE
    checkpoint, resumed_from = _resume_checkpoint(run_dir)  # verified; a corrupt one falls back to the previous
    if checkpoint is not None and checkpoint["config_hash"] != run_id:
        raise ConfigError(f"{resumed_from} belongs to run {checkpoint['config_hash']}, not {run_id}")

    corruption = cfg.build_corruption()
    check_lbm_backend(cfg.family_params, device)  # a GPU run never falls back to the CPU solver
    loss_fn = loss_for(corruption)
    images, data_split = load_training_images(cfg.dataset, compact=True)
    if checkpoint is None:
        seed_globals(cfg.seed)  # before building the model: its initialisation is part of the run
    if model is None:
        model = build_network(cfg, images.shape[1])
        if device.type == "cuda":
            _log_memory_estimate(cfg, int(images.shape[0]), device)
    model.to(device)
    ema = copy.deepcopy(model).eval().requires_grad_(False)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=ADAM_BETAS, eps=ADAM_EPS, weight_decay=0.0)
    data = TrainingData(loss_fn, images, cfg, device)
    start = 0
    totals = {"images": 0, "seconds": 0.0}
    if checkpoint is not None:
        model.load_state_dict(checkpoint["model"])
        ema.load_state_dict(checkpoint["ema"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        data.load_state_dict(checkpoint["data"])
        set_rng_state(checkpoint["rng"], device)
        start = int(checkpoint["step"])
        totals = {"images": int(checkpoint["totals"]["images"]), "seconds": float(checkpoint["totals"]["seconds"])}
        log.info("run %s: resuming from %s at step %d", run_id, resumed_from, start)
    run_dir.mkdir(parents=True, exist_ok=True)
    if write_config:  # only now: a run that fails while loading its data or model leaves no config behind
        atomic_write(
            run_dir / CONFIG_FILE, lambda fh: fh.write(json.dumps(cfg.to_dict(), indent=2) + "\n"), "w", fsync=True
        )
    _truncate_metrics(metrics_path, start)
    parameters = sum(p.numel() for p in model.parameters())
    log.info(
        "run %s: family %s (%s loss), %d images %s, %d parameters, device %s, steps %d..%d",
        run_id,
        cfg.family,
        loss_fn.kind,
        images.shape[0],
        tuple(images.shape[1:]),
        parameters,
        device,
        start + 1,
        cfg.steps,
    )
    if isinstance(data.source, TrajectoryPool):
        log.info(
            "trajectory pool: %d trajectories, %d refreshed per step (%d every %d steps), %.1f MB",
            data.source.pool_size,
            data.source.refresh_per_step,
            data.source.refresh_per_step * data.source.refresh_every,
            data.source.refresh_every,
            data.source.memory_bytes / 1e6,
        )

    def checkpoint_state(step: int) -> dict[str, Any]:
        return {
            "format": CHECKPOINT_FORMAT,
            "step": step,
            "config": cfg.to_dict(),
            "config_hash": run_id,
            "model": model.state_dict(),
            "ema": ema.state_dict(),
            "optimizer": optimizer.state_dict(),
            "schedule": {
                "lr": cfg.lr,
                "warmup_steps": cfg.warmup_steps,
                "lr_now": lr_at(step, cfg.lr, cfg.warmup_steps),
            },
            "rng": rng_state(device),
            "data": data.state_dict(),
            "totals": dict(totals),
            "model_info": {
                "class": f"{type(model).__module__}.{type(model).__qualname__}",
                "config": getattr(model, "config", None),
            },
            "loss": describe_loss(loss_fn),
            "window": window.state_dict(),
        }

    last_ckpt = (resumed_from, start) if checkpoint is not None else (None, None)
    window = _Window()
    if checkpoint is not None:
        window.load_state_dict(checkpoint["window"])  # a logging window cut by the checkpoint continues
    last_loss = None
    amp_ctx = (lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if use_amp else contextlib.nullcontext
    params = [p for p in model.parameters() if p.requires_grad]
    bar = tqdm(total=cfg.steps, initial=start, disable=not progress, unit="step", desc=f"train {cfg.family}")
    metrics = open(metrics_path, "a", encoding="utf-8")  # noqa: SIM115 (closed in finally)
    try:
        for step in range(start + 1, cfg.steps + 1):
            t0 = time.perf_counter()
            lr = lr_at(step, cfg.lr, cfg.warmup_steps)
            for group in optimizer.param_groups:
                group["lr"] = lr
            model.train()
            generators = image_generators(cfg.seed, step, cfg.batch_size)
            with amp_ctx():
                loss, info = data(model, generators)
            if not math.isfinite(info["loss"]):
                raise NonFiniteLossError(step, "loss", info["loss"], *last_ckpt)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = float(torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip if cfg.grad_clip > 0 else math.inf))
            if not math.isfinite(grad_norm):
                raise NonFiniteLossError(step, "gradient norm", grad_norm, *last_ckpt)
            optimizer.step()
            decay = ema_decay_at(step, cfg.ema_decay, cfg.ema_warmup)
            ema_update(ema, model, decay)
            seconds = time.perf_counter() - t0
            totals["images"] += cfg.batch_size
            totals["seconds"] += seconds
            window.add(info, grad_norm, seconds, cfg.batch_size)
            info = {**info, "lr": lr, "grad_norm": grad_norm}
            if step % cfg.log_every == 0 or step == cfg.steps:
                entry = window.flush(step, lr, data.stats())
                entry.update(ema_decay=decay, ema_distance=ema_distance(ema, model))
                last_loss = entry["loss"]
                metrics.write(json.dumps(entry) + "\n")
                metrics.flush()
                if on_log is not None:
                    on_log(step, dict(entry), int(entry["time"] * 1000))
                bar.set_postfix(loss=f"{entry['loss']:.4g}", img_s=f"{entry['images_per_second']:.0f}")
                log.debug("step %d: %s", step, entry)
            if step % cfg.checkpoint_every == 0 or step == cfg.steps:
                save_checkpoint(ckpt_path, checkpoint_state(step))
                last_ckpt = (ckpt_path, step)
            if cfg.sample_every and step % cfg.sample_every == 0 and preview is not None:
                _sample_grid(ema, corruption, images, cfg, step, run_dir, device, preview)
            bar.update(1)
            if callback is not None:
                callback(step, info)
    finally:
        metrics.close()
        bar.close()

    if checkpoint is not None and start >= cfg.steps:
        log.info("run %s: already trained for %d steps (asked for %d)", run_id, start, cfg.steps)
    _drop_previous_checkpoint(ckpt_path)
    summary = {
        "run": run_id,
        "family": cfg.family,
        "loss_kind": loss_fn.kind,
        "step": max(start, cfg.steps),
        "steps_this_call": max(0, cfg.steps - start),
        "loss": last_loss if last_loss is not None else _last_logged_loss(metrics_path),
        "images_per_second": totals["images"] / totals["seconds"] if totals["seconds"] > 0 else None,
        "images_seen": totals["images"],
        "seconds": totals["seconds"],
        "batch_size": cfg.batch_size,
        "image_shape": list(images.shape[1:]),
        "device": str(device),
        "amp": use_amp,
        "lbm_backend": getattr(corruption, "backend_used", None),  # what ran, ``auto`` resolved (advdiff only)
        "versions": software_versions(device),
        "parameters": parameters,
        "data": data.stats(),
        **({"data_split": data_split} if data_split is not None else {}),
        "checkpoint": str(ckpt_path),
        "config": str(run_dir / CONFIG_FILE),
    }
    _write_json(run_dir / SUMMARY_FILE, summary)
    log.info(
        "run %s: step %d, loss %s, %.1f images/s",
        run_id,
        summary["step"],
        summary["loss"],
        summary["images_per_second"] or 0.0,
    )
    return summary


def _log_memory_estimate(cfg: TrainConfig, n_images: int, device: torch.device) -> None:
    """Log what the run needs on the GPU (:func:`~advdiff.training.memory.estimate_memory`); warn if it exceeds it."""
    from advdiff.training.memory import estimate_memory, gb

    estimate = estimate_memory(cfg, n_images)
    total = torch.cuda.get_device_properties(device).total_memory
    parts = ", ".join(f"{k} {gb(v)}" for k, v in estimate.device.items())
    log.info(
        "memory estimate on %s: %s of %s (%s); host %s",
        device,
        gb(estimate.device_total),
        gb(total),
        parts,
        gb(estimate.host_total),
    )
    if estimate.device_total > total:
        log.warning(
            "this run may not fit on %s: estimated %s of %s (docs/memory.md); lower batch_size or pool.size",
            device,
            gb(estimate.device_total),
            gb(total),
        )


def _drop_previous_checkpoint(path: Path) -> None:
    """At the end of a run: remove the previous checkpoint once the last one reads back intact."""
    prev = previous_checkpoint(path)
    if not prev.exists() or not path.exists():
        return
    try:
        load_checkpoint(path)
    except CheckpointError as exc:
        log.warning("%s; keeping the previous checkpoint %s", exc, prev)
        return
    prev.unlink()


def _last_logged_loss(path: Path) -> float | None:
    if not path.exists():
        return None
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return float(json.loads(lines[-1])["loss"]) if lines else None


class _Window:
    """Running means between two metrics lines."""

    KEYS = ("n", "loss", "mse", "k", "grad", "grad_max", "seconds", "images")

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.n = 0
        self.loss = self.mse = self.k = self.grad = self.seconds = 0.0
        self.grad_max = 0.0
        self.images = 0

    def state_dict(self) -> dict[str, float | int]:
        return {key: getattr(self, key) for key in self.KEYS}

    def load_state_dict(self, state: Mapping[str, float | int]) -> None:
        for key in self.KEYS:
            setattr(self, key, state[key])

    def add(self, info: Mapping[str, float], grad_norm: float, seconds: float, images: int) -> None:
        self.n += 1
        self.loss += info["loss"]
        self.mse += info["mse"]
        self.k += info["k_mean"]
        self.grad += grad_norm
        self.grad_max = max(self.grad_max, grad_norm)
        self.seconds += seconds
        self.images += images

    def flush(self, step: int, lr: float, data_stats: Mapping[str, Any]) -> dict[str, Any]:
        n = max(self.n, 1)
        entry = {
            "step": step,
            "loss": self.loss / n,
            "mse": self.mse / n,
            "k_mean": self.k / n,
            "lr": lr,
            "grad_norm": self.grad / n,
            "grad_norm_max": self.grad_max,
            "images_per_second": self.images / self.seconds if self.seconds > 0 else 0.0,
            "seconds_per_step": self.seconds / n,
            "time": time.time(),
        }
        for key in ("epoch", "trajectories_computed", "pairs_served", "mean_reuse", "seconds"):
            if key in data_stats:
                entry[f"data_{key}"] = data_stats[key]
        self.reset()
        return entry
