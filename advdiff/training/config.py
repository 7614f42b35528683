"""The training configuration: validated once, its resolved form is the run's identity.

:class:`TrainConfig` holds every setting of a run, built from keyword arguments or a mapping
(:meth:`TrainConfig.from_dict`); unknown keys are errors listing the known ones, and bad values raise
:class:`~advdiff.errors.ConfigError` naming the key. Its defaults are the library's and ``advdiff
train``'s (paper scale); the workflow fills in its own CPU-scale ``sweep.train`` defaults first. The
hash of the identity keys (:meth:`TrainConfig.hash`) names the run; the run-control keys
(:data:`CONTROL_KEYS`) may change between calls on one run folder, and ``device`` is neither written
to ``config.json`` nor hashed. See docs/training.md, section "The configuration".
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

from advdiff.corruptions import Corruption, build, families
from advdiff.corruptions.gaussian import GaussianCorruption
from advdiff.corruptions.registry import known_params
from advdiff.corruptions.validate import check_int, check_real
from advdiff.data_settings import (
    DATASETS,
    check_channels,
    check_holdout,
    check_holdout_seed,
    check_limit,
    check_size,
    check_split,
)
from advdiff.devices import check_device as _check_device
from advdiff.devices import check_device_usable, resolve_device  # noqa: F401 (importable from here as before)
from advdiff.errors import ConfigError, bad_value
from advdiff.mapping import flatten

CONTROL_KEYS: tuple[str, ...] = (
    "steps",
    "checkpoint_every",
    "log_every",
    "sample_every",
    "sample_count",
    "pool.in_checkpoint",
    "dataset.memory_budget_mb",
    "device",
)
"""Keys that may differ between calls on one run directory; they are not part of the run's identity."""
HOLDOUT_KEYS: tuple[str, ...] = ("dataset.holdout", "dataset.holdout_seed")
"""Identity keys of ``folder`` data only: a built-in data set ignores them, so they never rename its runs."""
MEMORY_BUDGET_MB = 16384
"""Default ``dataset.memory_budget_mb``: training images above 16 GiB (as uint8) are streamed from disk."""

POOL_MODES = ("auto", "pool", "on_the_fly")


def _check_bool(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise bad_value(key, value, "true or false")
    return value


def _check_amp(value: Any) -> bool | str:
    """``amp``: true, false or "auto" (bfloat16 autocast where the hardware computes bf16 natively)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() == "auto":
        return "auto"
    raise bad_value("amp", value, "true, false or 'auto' (bfloat16 autocast where the hardware has native bf16)")


def _check_str(key: str, value: Any, allowed: str = "a non-empty string") -> str:
    if not isinstance(value, str) or not value.strip():
        raise bad_value(key, value, allowed)
    return value.strip()


def _check_json_dict(key: str, value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise bad_value(key, value, "a mapping with string keys")
    out = dict(value)
    try:
        json.dumps(out, allow_nan=False)
    except (TypeError, ValueError):
        raise bad_value(key, value, "JSON-serialisable values (numbers, strings, booleans, lists, mappings)") from None
    return out


def _unknown(section: str, keys: Any, known: tuple[str, ...]) -> None:
    unknown = [key for key in keys if key not in known]
    if unknown:
        where = f"{section} key" if section else "config key"
        raise bad_value(where, unknown[0], f"one of {', '.join(known)}")


def _names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


@dataclass
class DatasetConfig:
    """Which images to train on (passed to :func:`advdiff.data.load_dataset`)."""

    name: str = "fashion_mnist"  # data set: fashion_mnist, mnist, cifar10 or folder
    root: str | None = None  # folder of the data (required by 'folder'); None: the default location
    split: str = "train"  # train or test
    limit: int | None = None  # keep the first `limit` images; None: all
    size: int | None = None  # side of the square images, pixels; None: native size
    channels: int | None = None  # 1 (grey) or 3 (RGB); None: native
    holdout: int | None = None  # folder without train/ test/: images held out as its test split; None: 10 %, <= 5000
    holdout_seed: int = 0  # folder only: seed of the held-out subset
    memory_budget_mb: int = MEMORY_BUDGET_MB  # MiB; a folder's uint8 images above it are read from disk per batch

    def __post_init__(self) -> None:
        key = self.name.strip().lower().replace("-", "_") if isinstance(self.name, str) else self.name
        if key not in DATASETS:
            raise bad_value("dataset.name", self.name, f"one of {', '.join(DATASETS)}")
        self.name = key
        if isinstance(self.root, PathLike):
            self.root = str(Path(self.root))
        if self.root is not None:
            self.root = _check_str("dataset.root", self.root, "None or a folder path")
        _prefixed("dataset", lambda: check_split(self.split))
        self.limit = _prefixed("dataset", lambda: check_limit(self.limit))
        self.size = _prefixed("dataset", lambda: check_size(self.size))
        self.channels = _prefixed("dataset", lambda: check_channels(self.channels))
        if self.name == "folder" and self.root is None:
            raise bad_value("dataset.root", None, "the folder of images (required by dataset 'folder')")
        self.holdout = _prefixed("dataset", lambda: check_holdout(self.holdout))
        self.holdout_seed = _prefixed("dataset", lambda: check_holdout_seed(self.holdout_seed))
        if self.name != "folder" and self.holdout:
            raise bad_value(
                "dataset.holdout",
                self.holdout,
                f"null or 0 for dataset {self.name!r} (it has its own test split; holdout is for image folders)",
            )
        self.memory_budget_mb = check_int("dataset.memory_budget_mb", self.memory_budget_mb, low=0)


@dataclass
class ModelConfig:
    """The network: a preset of :func:`advdiff.models.build_model` and keyword overrides."""

    preset: str = "small"  # preset name of advdiff.models.build_model
    overrides: dict[str, Any] = field(default_factory=dict)  # keyword arguments passed on to build_model

    def __post_init__(self) -> None:
        self.preset = _check_str("model.preset", self.preset)
        self.overrides = _check_json_dict("model.overrides", self.overrides)
        if "in_channels" in self.overrides:
            raise bad_value(
                "model.overrides.in_channels", self.overrides["in_channels"], "no value: the data's channels set it"
            )


@dataclass
class PoolConfig:
    """Where residual-family pairs come from (:mod:`advdiff.training.pairs`)."""

    mode: str = "auto"  # auto (a pool for advdiff, on-the-fly pairs otherwise), pool, or on_the_fly
    size: int = 256  # P, trajectories held (memory P (K+1) C H W floats)
    refresh_per_step: int | None = None  # R, trajectories recomputed per step on average; None: batch_size // 16
    refresh_every: int | None = None  # E: every E steps, R*E trajectories at once; None: min(4, size // R)
    chunk: int = 64  # most trajectories simulated in one batch while filling the pool
    in_checkpoint: bool = True  # save the pool's tensors in checkpoints (else recomputed on resume)

    def __post_init__(self) -> None:
        if self.mode not in POOL_MODES:
            raise bad_value("pool.mode", self.mode, f"one of {', '.join(POOL_MODES)}")
        self.size = check_int("pool.size", self.size, low=1)
        if self.refresh_per_step is not None:
            self.resolve(batch_size=None)
        self.chunk = check_int("pool.chunk", self.chunk, low=1)
        self.in_checkpoint = _check_bool("pool.in_checkpoint", self.in_checkpoint)

    def resolve(self, batch_size: int | None) -> None:
        """Fill in the defaults that depend on the batch and check R and E against the pool size.

        R defaults to ``batch_size // 16`` (at least 1): each trajectory then serves about 16 pairs
        whatever the batch, so the pool's share of a step's cost does not grow as batches shrink.
        E defaults to ``min(4, size // R)``: larger LBM batches are cheaper per trajectory.
        """
        if self.refresh_per_step is None:
            self.refresh_per_step = max(1, (batch_size or 128) // 16)
        self.refresh_per_step = check_int("pool.refresh_per_step", self.refresh_per_step, low=0, high=self.size)
        if self.refresh_every is None:
            self.refresh_every = max(1, min(4, self.size // max(1, self.refresh_per_step)))
        self.refresh_every = check_int("pool.refresh_every", self.refresh_every, low=1)
        if self.refresh_per_step * self.refresh_every > self.size:
            raise bad_value(
                "pool.refresh_every", self.refresh_every, f"refresh_per_step * refresh_every <= pool.size = {self.size}"
            )


_SECTIONS: dict[str, type] = {"dataset": DatasetConfig, "model": ModelConfig, "pool": PoolConfig}


def _prefixed(section: str, check: Any) -> Any:
    """Run a check from another module and prefix the key of its error with ``section.``."""
    try:
        return check()
    except ConfigError as exc:
        raise exc.prefixed(section) from None


@dataclass
class TrainConfig:
    """Every setting of a training run (validated on construction; the library's and the CLI's defaults).

    The optimiser is Adam (beta1 0.9, beta2 0.999, eps 1e-8, no weight decay) with a linear
    warm-up, grad-norm clipping and an EMA of the weights, as IHDM and Beyond Blur.
    """

    family: str = "heat"  # corruption family: ddpm, heat, blur or advdiff
    family_params: dict[str, Any] = field(default_factory=dict)  # family parameters (K, sigma_max, peclet, ...)
    dataset: DatasetConfig = field(default_factory=DatasetConfig)  # training images
    model: ModelConfig = field(default_factory=ModelConfig)  # the network
    batch_size: int = 128  # images per step
    lr: float = 2e-4  # Adam learning rate after warm-up
    warmup_steps: int = 5000  # linear warm-up: lr * min(1, step / warmup_steps); 0: none
    steps: int = 100_000  # training steps in all
    ema_decay: float = 0.999  # EMA of the weights: ema <- decay ema + (1 - decay) w, every step
    ema_warmup: bool = True  # decay at step n is min(ema_decay, (1 + n) / (10 + n)): early EMA forgets the init
    grad_clip: float = 1.0  # clip the global gradient norm to this; 0: no clipping
    amp: bool | str = "auto"  # bfloat16 autocast: true, false, or auto (where the hardware has native bf16)
    seed: int = 42  # seed of every random draw of the run (see advdiff.training.seeding)
    checkpoint_every: int = 1000  # steps between checkpoints (and one at the end)
    log_every: int = 100  # steps between lines of metrics.jsonl
    sample_every: int = 5000  # steps between sample grids (needs advdiff.sampling); 0: none
    sample_count: int = 16  # images in a sample grid
    pool: PoolConfig = field(default_factory=PoolConfig)  # trajectory pool of the residual families
    device: str = "auto"  # auto (cuda if available, else cpu), cpu, cuda, cuda:N; not part of the identity

    def __post_init__(self) -> None:
        for name, cls in _SECTIONS.items():
            value = getattr(self, name)
            if isinstance(value, Mapping):
                _unknown(name, value, _names(cls))
                setattr(self, name, cls(**value))
            elif not isinstance(value, cls):
                raise bad_value(name, value, f"a mapping of {', '.join(_names(cls))}")
        if not isinstance(self.family, str) or self.family.strip().lower() not in families():
            raise bad_value("family", self.family, f"one of {', '.join(families())}")
        self.family = self.family.strip().lower()
        params = _check_json_dict("family_params", self.family_params)
        _unknown("family_params", params, known_params(self.family))
        corruption = _prefixed("family_params", lambda: build(self.family, **params))
        self.family_params = corruption.plain_params()
        self.batch_size = check_int("batch_size", self.batch_size, low=1)
        self.lr = check_real("lr", self.lr, low=0.0, open_low=True)
        self.warmup_steps = check_int("warmup_steps", self.warmup_steps, low=0)
        self.steps = check_int("steps", self.steps, low=1)
        self.ema_decay = check_real("ema_decay", self.ema_decay, low=0.0, high=1.0)
        if self.ema_decay >= 1.0:
            raise bad_value("ema_decay", self.ema_decay, "a number 0 <= ema_decay < 1")
        self.ema_warmup = _check_bool("ema_warmup", self.ema_warmup)
        self.grad_clip = check_real("grad_clip", self.grad_clip, low=0.0)
        self.amp = _check_amp(self.amp)
        self.seed = check_int("seed", self.seed, low=0)
        self.checkpoint_every = check_int("checkpoint_every", self.checkpoint_every, low=1)
        self.log_every = check_int("log_every", self.log_every, low=1)
        self.sample_every = check_int("sample_every", self.sample_every, low=0)
        self.sample_count = check_int("sample_count", self.sample_count, low=1)
        self.device = _check_device(self.device)
        self.pool.resolve(self.batch_size)
        if self.pool.mode == "pool" and isinstance(corruption, GaussianCorruption):
            raise bad_value(
                "pool.mode",
                "pool",
                f"'auto' or 'on_the_fly' for family '{self.family}' "
                "(eps-prediction trains on single levels, not pairs)",
            )

    # -- construction ------------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainConfig:
        """Build from a mapping (e.g. parsed YAML or a ``config.json``); unknown keys list the known ones."""
        if not isinstance(data, Mapping):
            raise bad_value("config", type(data).__name__, "a mapping of configuration keys")
        _unknown("", data, _names(cls))
        return cls(**dict(data))

    @classmethod
    def load(cls, path: str | PathLike[str]) -> TrainConfig:
        """Read a ``config.json`` written by :meth:`save` (or any JSON mapping of keys)."""
        with open(path, encoding="utf-8") as fh:
            return cls.from_dict(json.load(fh))

    def replace(self, **changes: Any) -> TrainConfig:
        """A validated copy with some keys changed."""
        return TrainConfig.from_dict({**self.to_dict(include_device=True), **changes})

    # -- views -------------------------------------------------------------------------

    def to_dict(self, include_device: bool = False) -> dict[str, Any]:
        """The resolved configuration as plain JSON types (``device`` only if asked)."""
        out = dataclasses.asdict(self)
        if not include_device:
            out.pop("device")
        return json.loads(json.dumps(out))

    def _is_identity_key(self, key: str, other: TrainConfig | None = None) -> bool:
        """Whether ``key`` changes the weights: not a run-control key, and ``pool.*`` only where a pool is used.

        The pool's settings do nothing in a run that draws its pairs on the fly (ddpm, heat, blur by
        default), so they neither name such a run nor stop it from being resumed.
        """
        if key in CONTROL_KEYS:
            return False
        if key in HOLDOUT_KEYS:
            return self.dataset.name == "folder" or (other is not None and other.dataset.name == "folder")
        if key.startswith("pool."):
            return self.pool_enabled() or (other is not None and other.pool_enabled())
        return True

    def identity(self) -> dict[str, Any]:
        """The identity keys: all but :data:`CONTROL_KEYS`, the pool's keys without a pool, the held-out keys
        without a folder."""
        flat = flatten(self.to_dict(include_device=True))
        return {key: value for key, value in flat.items() if self._is_identity_key(key)}

    def hash(self) -> str:
        """SHA-256 (first 16 hex digits) of the canonical JSON of :meth:`identity`: the run's name."""
        text = json.dumps(self.identity(), sort_keys=True, separators=(",", ":"), allow_nan=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

    def differences(self, other: TrainConfig, keys: str = "identity") -> list[tuple[str, Any, Any]]:
        """``(dotted key, self's value, other's value)`` for every differing key.

        ``keys``: ``identity`` (only identity keys), ``control`` (only control keys) or ``all``.
        """
        if keys not in ("identity", "control", "all"):
            raise bad_value("keys", keys, "identity, control or all")
        mine = flatten(self.to_dict(include_device=True))
        theirs = flatten(other.to_dict(include_device=True))
        out = []
        for key in sorted(set(mine) | set(theirs)):
            control = not self._is_identity_key(key, other)
            if (keys == "identity" and control) or (keys == "control" and not control):
                continue
            if mine.get(key, _MISSING) != theirs.get(key, _MISSING):
                out.append((key, mine.get(key), theirs.get(key)))
        return out

    def build_corruption(self) -> Corruption:
        """The corruption family of this run."""
        return build(self.family, **self.family_params)

    def pool_enabled(self) -> bool:
        """Whether residual pairs come from a :class:`~advdiff.training.pairs.TrajectoryPool`."""
        return self.pool.mode == "pool" or (self.pool.mode == "auto" and self.family == "advdiff")

    def save(self, path: str | PathLike[str]) -> None:
        """Write the resolved config (without the device) as indented JSON."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n", encoding="utf-8")


_MISSING = object()
