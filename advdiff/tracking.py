"""MLflow tracking of sweeps and their points: the one module of the package that imports ``mlflow``.

Runs go to :func:`tracking_uri`: ``tracking.uri``, else ``$MLFLOW_TRACKING_URI``, else the SQLite
store ``results/mlflow/mlflow.db``, always an absolute ``sqlite:///`` URI (MLflow 3.13 refuses the
``./mlruns`` file store, so plain paths and ``file:`` URIs are refused). Every job checks the store
first (:func:`check_store`). One experiment per workflow configuration holds one parent run per sweep
and one live child run per point, which training opens (:func:`open_point_run`) and
:func:`track_record` completes; a file lock makes every write idempotent and safe in parallel. See
docs/tracking.md for what a run holds and how failed, killed, resumed and changed points are handled.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import json
import logging
import os
import signal
import sqlite3
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from advdiff.errors import AdvdiffError, bad_value
from advdiff.mapping import flatten
from advdiff.naming import number_label, point_label

log = logging.getLogger(__name__)

DEFAULT_STORE = Path("results") / "mlflow" / "mlflow.db"
"""The default SQLite store, relative to the workflow's folder."""
DEFAULT_ARTIFACTS = Path("results") / "mlflow" / "artifacts"
POINT_TAG = "advdiff.point"
DIGEST_TAG = "advdiff.record_sha256"
ROLE_TAG = "advdiff.role"  # "sweep" on a parent run, "point" on a child
SWEEP_TAG = "advdiff.sweep"
SWEEP_HASH_TAG = "advdiff.sweep_hash"
STAGE_TAG = "advdiff.stage"
ERROR_TAG = "advdiff.error"
DIRTY_TAG = "advdiff.git.dirty_paths"
PARENT_TAG = "mlflow.parentRunId"
GIT_TAG = "mlflow.source.git.commit"
NAME_TAG = "mlflow.runName"
NOTE_TAG = "mlflow.note.content"
ENV_URI = "MLFLOW_TRACKING_URI"
SYSTEM_METRICS_INTERVAL = 10.0
"""Seconds between two samples of the system metrics of a job's run."""
CHEAP_SHA256_BYTES = 256 * 2**20
"""Files up to this size get a sha256 in their artifact reference (larger ones: size only)."""
ARTIFACT_FOLDERS = {
    "config": "",
    "train_summary": "metrics",
    "train_metrics": "metrics",
    "scores": "metrics",
    "sample_grid": "samples",
    "sample_summary": "samples",
    "trajectory_strip": "figures",
    "velocity_field": "figures",
    "power_spectra": "figures",
}
"""Artifact folder of each file a record names (other ``.png`` files go to ``figures``, the rest to ``metrics``)."""
REPLAY = (
    "The result files are kept: once the store works, rerunning the workflow's `track` job "
    "(e.g. `snakemake sweep`) replays the tracking from them, without duplicates"
)
_BATCH = 100  # MLflow's log_batch limit for params and tags (metrics: 1000)
_PARAM_LIMIT = 6000
_TAG_LIMIT = 8000
_CURVE_SKIP = ("step", "time")  # metrics.jsonl keys that are not curves (time is each value's timestamp)


class TrackingError(AdvdiffError, RuntimeError):
    """The tracking store cannot be used; the message names the URI, the problem and the fix."""


class JobKilled(KeyboardInterrupt):
    """Raised in a job's main thread on SIGTERM or SIGINT while a point run is open (the run is marked KILLED)."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"killed by {signal.Signals(signum).name}")
        self.signum = signum


# --------------------------------------------------------------------------- the store


def tracking_uri(uri: str | None = None, root: str | os.PathLike[str] = ".") -> str:
    """The tracking URI: ``uri``, else ``$MLFLOW_TRACKING_URI``, else ``sqlite:///<root>/results/mlflow/mlflow.db``.

    Relative ``sqlite:///`` paths are made absolute against ``root``. File stores (plain paths,
    ``file:`` URIs) are refused: MLflow >= 3.13 no longer accepts them.
    """
    key = "tracking.uri"
    if not uri:
        uri = os.environ.get(ENV_URI) or None
        key = ENV_URI
    if not uri:
        return "sqlite:///" + str((Path(root) / DEFAULT_STORE).resolve())
    if not isinstance(uri, str):
        raise bad_value(key, uri, "a tracking URI string")
    if uri.startswith("sqlite:///"):
        path = Path(uri.removeprefix("sqlite:///"))
        if not path.is_absolute():
            path = (Path(root) / path).resolve()
        return "sqlite:///" + str(path)
    if uri.startswith("file:") or "://" not in uri:
        raise bad_value(
            key,
            uri,
            "a database or server URI (sqlite:///ABSOLUTE/PATH.db, http://host:port, "
            "postgresql://...); MLflow >= 3.13 refuses the ./mlruns file store",
        )
    return uri


def _uri_key(uri: str | None) -> str:
    """Which setting chose the URI, for messages."""
    if uri:
        return "tracking.uri"
    return ENV_URI if os.environ.get(ENV_URI) else "tracking.uri (null: the default store)"


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI, else ``None``."""
    return Path(uri.removeprefix("sqlite:///")) if uri.startswith("sqlite:///") else None


def lock_path(uri: str, root: str | os.PathLike[str] = ".") -> Path:
    """The lock file that serialises tracking writes: beside a SQLite file, else under ``results/mlflow``."""
    db = sqlite_path(uri)
    if db is not None:
        return db.with_name(db.name + ".lock")
    return (Path(root) / DEFAULT_STORE).resolve().with_name("tracking.lock")


@contextlib.contextmanager
def file_lock(path: str | os.PathLike[str]) -> Iterator[None]:
    """Hold an exclusive ``fcntl`` lock on ``path`` (created if needed) for the ``with`` block."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def check_store(uri: str | None = None, root: str | os.PathLike[str] = ".", *, timeout: float = 10.0) -> str:
    """The resolved tracking URI, after checking that runs can be written there; else :class:`TrackingError`.

    A ``sqlite:///`` store: its folder must be creatable and writable, and the database file
    writable. An ``http(s)://`` server must answer ``/health`` within ``timeout`` seconds (a server
    that answers with an HTTP error, e.g. asking for credentials, is left to MLflow). Other
    databases are not probed. Called before any work, so a job fails early and loses nothing.
    """
    resolved = tracking_uri(uri, root)
    key = _uri_key(uri)

    def fail(problem: str, fix: str) -> TrackingError:
        return TrackingError(f"{key} = {resolved!r}: {problem}. Fix: {fix}. {REPLAY}.")

    db = sqlite_path(resolved)
    if db is not None:
        folder = db.parent
        fix = (
            f"make {folder} and {db.name} writable for this user, or set tracking.uri (or ${ENV_URI}) "
            "to a writable store"
        )
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise fail(f"the store's folder cannot be created ({exc.strerror or exc})", fix) from None
        artifacts = folder / DEFAULT_ARTIFACTS.name
        for target in (folder, db, artifacts):
            if target.exists() and not os.access(target, os.W_OK):
                raise fail(f"the store is read-only ({target} is not writable)", fix)
        try:
            fd, probe = tempfile.mkstemp(prefix=".advdiff-probe-", dir=folder)
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            raise fail(
                f"the store is read-only (no file can be written in {folder}: {exc.strerror or exc})", fix
            ) from None
        if db.is_file():
            try:
                with contextlib.closing(sqlite3.connect(f"file:{db}?mode=rw", uri=True, timeout=timeout)) as conn:
                    conn.execute("BEGIN IMMEDIATE")
                    conn.rollback()
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc):  # busy with another writer: writable
                    raise fail(f"the database cannot be written ({exc})", fix) from None
        return resolved
    if resolved.split("://", 1)[0].lower() in ("http", "https"):
        try:
            with urllib.request.urlopen(resolved.rstrip("/") + "/health", timeout=timeout) as response:
                response.read(64)
        except urllib.error.HTTPError:
            pass  # it answers; MLflow reports what it wants
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            reason = getattr(exc, "reason", exc)
            raise fail(
                f"the tracking server does not answer ({reason})",
                "start the server (e.g. `mlflow server --backend-store-uri sqlite:///PATH/mlflow.db "
                "--host 127.0.0.1 --port PORT`), or set tracking.uri (or "
                f"${ENV_URI}) to a running server, or to null for the local SQLite store",
            ) from None
    return resolved


def _client(uri: str):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def _artifact_location(uri: str) -> str | None:
    db = sqlite_path(uri)
    return (db.parent / DEFAULT_ARTIFACTS.name).resolve().as_uri() if db is not None else None


def _experiment_id(client: Any, name: str, artifact_location: str | None) -> str:
    from mlflow.exceptions import MlflowException

    exp = client.get_experiment_by_name(name)
    if exp is not None:
        if exp.lifecycle_stage == "deleted":
            client.restore_experiment(exp.experiment_id)
        return exp.experiment_id
    try:
        return client.create_experiment(
            name, artifact_location=artifact_location, tags={"advdiff.created_by": "advdiff.tracking"}
        )
    except MlflowException:  # created by another process that does not share our lock (e.g. a remote server)
        exp = client.get_experiment_by_name(name)
        if exp is None:
            raise
        return exp.experiment_id


# --------------------------------------------------------------------------- provenance


def _checkout(path: str | os.PathLike[str] | None) -> Path:
    """Where git is asked: ``path``, else the checkout this package runs from."""
    return Path(path) if path is not None else Path(__file__).resolve().parents[1]


def git_state(path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The code's git commit and the tracked files that differ from it: ``{"commit", "dirty_paths"}``.

    ``commit`` is the plain ``HEAD`` hash (``unknown`` outside a git checkout); ``dirty_paths``
    lists the tracked files (relative to the repository) with staged or unstaged changes,
    untracked files left out. Files a run rewrites itself (e.g. tracked reports under
    ``reports/`` written before the records) show up here instead of turning the commit into
    ``<sha>-dirty``: the commit says which code ran, the list says exactly what differed.
    """
    where = _checkout(path)
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=10)
        if head.returncode != 0:
            return {"commit": "unknown", "dirty_paths": []}
        status = subprocess.run(
            ["git", "status", "--porcelain=v1", "-z", "--untracked-files=no"],
            cwd=where,
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return {"commit": "unknown", "dirty_paths": []}
    paths, fields = [], status.stdout.split("\0")
    i = 0
    while i < len(fields):
        entry = fields[i]
        i += 1
        if len(entry) < 4:
            continue
        paths.append(entry[3:])
        if entry[0] in "RC":  # a rename or copy is followed by its source path
            i += 1
    return {"commit": head.stdout.strip(), "dirty_paths": sorted(set(paths))}


CODE_PATHS = ("advdiff", "workflow", "Snakefile", "config", "setup.py", "pyproject.toml")
"""What a run's numbers can depend on, for :func:`git_changed_paths` (docs, tests and reports cannot)."""


def git_changed_paths(
    since: str, where: str | os.PathLike[str] | None = None, paths: Sequence[str] = CODE_PATHS
) -> list[str] | None:
    """The files under ``paths`` that differ between commit ``since`` and the working tree (committed or not).

    ``None`` when that cannot be told (no git, not a checkout, an unknown commit).
    """
    where = _checkout(where)
    try:
        out = subprocess.run(
            ["git", "diff", "--name-only", since, "--", *paths], cwd=where, capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return sorted(line for line in out.stdout.splitlines() if line)


def _dirty_text(paths: Sequence[str]) -> str:
    """The dirty paths as a tag value: one per line, cut (saying how many are left out) at MLflow's limit."""
    text = "\n".join(paths)
    if len(text) <= _TAG_LIMIT:
        return text
    kept: list[str] = []
    for path in paths:
        if len("\n".join([*kept, path])) > _TAG_LIMIT - 40:
            break
        kept.append(path)
    return "\n".join([*kept, f"... and {len(paths) - len(kept)} more"])


def _git_tags(commit: str, dirty_paths: Sequence[str]) -> dict[str, str]:
    commit = commit.removesuffix("-dirty")  # records written before the dirty paths were kept apart
    tags = {"git_commit": commit, DIRTY_TAG: _dirty_text(dirty_paths)}
    if commit != "unknown":
        tags[GIT_TAG] = commit
    return tags


# --------------------------------------------------------------------------- what a run holds


def record_digest(record: Mapping[str, Any]) -> str:
    """SHA-256 of a record's canonical JSON and of the bytes of the files it names."""
    h = hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode("utf-8"))
    for name, path in sorted(record.get("files", {}).items()):
        p = Path(path)
        if p.is_file():
            h.update(name.encode() + p.read_bytes())
    return h.hexdigest()


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if value == value and abs(value) != float("inf") else None


def _g(value: Any) -> str:
    return format(value, "g") if isinstance(value, int | float) and not isinstance(value, bool) else str(value)


def point_labels(config: Mapping[str, Any]) -> dict[str, Any]:
    """A point's swept values, read from its resolved training configuration.

    ``family`` and ``seed``; for advdiff also ``peclet``, ``reynolds`` (``None``: every mode),
    ``intensity_map`` and ``divergence_free``.
    """
    labels: dict[str, Any] = {"family": config.get("family"), "seed": config.get("seed")}
    if labels["family"] == "advdiff":
        fp = config.get("family_params") or {}
        labels.update(
            peclet=fp.get("peclet"),
            reynolds=fp.get("reynolds"),
            intensity_map=fp.get("intensity_map") or "paper",
            divergence_free=bool(fp.get("divergence_free")),
        )
    return labels


def run_name(labels: Mapping[str, Any]) -> str:
    """A point run's readable name: ``advdiff Pe=0.06 Re=∞ map=paper s42`` (``div-free`` when so), ``heat s42``."""
    if labels.get("family") != "advdiff":
        return f"{labels.get('family')} s{labels.get('seed')}"
    name = point_label(
        "advdiff",
        labels.get("peclet"),
        labels.get("reynolds"),
        labels.get("intensity_map"),
        labels.get("divergence_free"),
        style="run",
    )
    return f"{name} s{labels.get('seed')}"


def run_note(point: str, config: Mapping[str, Any], dataset: str | None = None) -> str:
    """One line on what a point run is (its ``mlflow.note.content``)."""
    labels = point_labels(config)
    data = dataset or (config.get("dataset") or {}).get("name", "?")
    preset = (config.get("model") or {}).get("preset", "custom")
    what = run_name(labels).removesuffix(f" s{labels.get('seed')}")
    return (
        f"{what}: trained for {config.get('steps', '?')} steps (batch {config.get('batch_size', '?')}, "
        f"{preset} U-Net, seed {labels.get('seed')}) on {data}; sweep point {point}"
    )


def _param(value: Any) -> str:
    text = json.dumps(value) if isinstance(value, list | dict) else str(value)
    return text[:_PARAM_LIMIT]


def point_params(config: Mapping[str, Any], settings: Mapping[str, Any] | None = None) -> dict[str, str]:
    """A point run's params: the flattened configuration, each swept value by name, and ``sweep.*`` settings."""
    params = {k: _param(v) for k, v in flatten(config).items()}
    labels = point_labels(config)
    if labels["family"] == "advdiff":
        params.update(
            peclet=_g(labels["peclet"]),
            intensity_map=str(labels["intensity_map"]),
            reynolds=number_label(labels["reynolds"]),
            divergence_free=str(labels["divergence_free"]).lower(),
        )
    params.update({f"sweep.{k}": _param(v) for k, v in flatten(settings or {}).items()})
    return params


def sweep_hash(section: Mapping[str, Any]) -> str:
    """The hash of a sweep configuration section (16 hex digits): one parent run per value."""
    return hashlib.sha256(json.dumps(section, sort_keys=True, default=str).encode("utf-8")).hexdigest()[:16]


def _artifact_folder(name: str, path: str) -> str:
    if name in ARTIFACT_FOLDERS:
        return ARTIFACT_FOLDERS[name]
    return "figures" if path.lower().endswith(".png") else "metrics"


def run_contents(record: Mapping[str, Any]) -> dict[str, Any]:
    """What one point's MLflow run holds, from its record.

    ``tags``, ``params``, ``metrics`` (name -> [(step, value)]), ``curves`` (the names of
    ``metrics`` that are training curves), ``timestamps`` (training step -> wall-clock ms),
    ``artifacts`` ([(folder, path)]) and ``references`` ([(folder, path)]: large files recorded
    by path, size and sha256 instead of being copied).
    """
    scores = record.get("scores", {})
    config = record.get("config", {})
    backend = record["compute"].get("lbm_backend") or config.get("family_params", {}).get("backend")
    if backend == "auto":  # a record from before the trainer wrote the backend that ran: unknown
        backend = "auto (not recorded)"
    versions = record["compute"].get("versions") or {}
    tags = {
        POINT_TAG: record["point"],
        ROLE_TAG: "point",
        "advdiff.config_hash": record["config_hash"],
        SWEEP_TAG: record["sweep"],
        "family": record["family"],
        "peclet": "" if record["peclet"] is None else format(record["peclet"], "g"),
        "reynolds": "" if record["family"] != "advdiff" else number_label(record["reynolds"]),
        "intensity_map": str(record.get("intensity_map") or ""),
        "divergence_free": "" if record.get("divergence_free") is None else str(record["divergence_free"]).lower(),
        "seed": str(record["seed"]),
        "backend": backend or "none",
        "device": record["compute"]["device"],
        **{f"version.{k}": str(v) for k, v in versions.items() if v and k != "cpu"},
        **{f"cpu.{k}": str(v) for k, v in (versions.get("cpu") or {}).items()},
        "dataset": record["dataset"],
        "feature_extractor": str(scores.get("feature_extractor", "")),
        "fid_is_standard": str(scores.get("fid_is_standard", "")),
        "stages": "train,sample,evaluate",
        NAME_TAG: run_name(point_labels(config) if config else record),
        NOTE_TAG: run_note(record["point"], config, record.get("dataset")),
        **_git_tags(str(record.get("git_commit", "unknown")), record.get("git_dirty_paths") or []),
    }
    params = point_params(config, record.get("settings"))
    metrics: dict[str, list[tuple[int, float]]] = {}
    curves = record.get("curves", {})
    for name, curve in curves.items():
        if name not in _CURVE_SKIP:
            metrics[f"train.{name}"] = [(int(s), float(v)) for s, v in curve]
    timestamps = {int(s): int(float(t) * 1000) for s, t in curves.get("time", [])}
    curve_keys = set(metrics)
    last = int(record.get("train", {}).get("step", 0))
    finals = {
        "train.final_loss": record.get("train", {}).get("loss"),
        "train.images_per_second_mean": record.get("train", {}).get("images_per_second"),
        "train.seconds": record.get("train", {}).get("seconds"),
        "sample.images_per_second": record.get("sample", {}).get("images_per_second"),
        "sample.seconds": record.get("sample", {}).get("seconds"),
        "compute.hours": record["compute"]["hours"],
    }
    for key, value in scores.items():
        if isinstance(value, list):
            for i, item in enumerate(value):
                finals[f"eval.{key}.{i}"] = item
        else:
            finals[f"eval.{key}"] = value
    for key, value in (record.get("schedule") or {}).items():
        finals[f"schedule.{key}"] = value
    for key, value in finals.items():
        number = _number(value)
        if number is not None:
            metrics.setdefault(key, []).append((last, number))
    artifacts = [
        (_artifact_folder(name, p), p) for name, p in record.get("files", {}).items() if p and Path(p).is_file()
    ]
    references = [
        (folder, str(p))
        for folder, p in (
            ("checkpoints", record.get("train", {}).get("checkpoint")),
            ("samples", record.get("sample", {}).get("samples")),
        )
        if p and Path(p).is_file()
    ]
    return {
        "tags": tags,
        "params": params,
        "metrics": metrics,
        "curves": curve_keys,
        "timestamps": timestamps,
        "artifacts": artifacts,
        "references": references,
    }


def file_reference(path: str | os.PathLike[str], cheap_bytes: int = CHEAP_SHA256_BYTES) -> dict[str, Any]:
    """What a run records of a large file instead of a copy: absolute path, size, and sha256 when cheap."""
    p = Path(path).resolve()
    size = p.stat().st_size
    digest = None
    if size <= cheap_bytes:
        h = hashlib.sha256()
        with open(p, "rb") as fh:
            for block in iter(lambda: fh.read(2**20), b""):
                h.update(block)
        digest = h.hexdigest()
    note = "not copied into MLflow" + ("" if digest else f"; over {cheap_bytes // 2**20} MiB, so no sha256")
    return {"path": str(p), "size_bytes": size, "sha256": digest, "note": note}


def dataset_entity(info: Mapping[str, Any]) -> Any:
    """An MLflow data set (``mlflow.entities.Dataset``) for the sweep's images, from ``check_data``'s note.

    ``info`` is ``{"dataset": {name, root, split, size, channels, limit}, "images": n, "shape": [...]}``;
    the digest covers the name, root, split, image size and number of images.
    """
    from mlflow.entities import Dataset

    ds = dict(info.get("dataset") or {})
    shape = list(info.get("shape") or [])
    profile = {
        "name": ds.get("name"),
        "split": ds.get("split", "train"),
        "root": ds.get("root"),
        "image_size": ds.get("size") or (shape[-1] if shape else None),
        "channels": shape[0] if shape else None,
        "num_images": info.get("images"),
    }
    digest = hashlib.sha256(json.dumps(profile, sort_keys=True, default=str).encode()).hexdigest()[:16]
    source = json.dumps({"uri": str(Path(ds["root"]).resolve()) if ds.get("root") else f"advdiff:{ds.get('name')}"})
    schema = json.dumps({"images": {"dtype": "float32", "shape": [-1, *shape]}})
    return Dataset(
        name=str(ds.get("name", "dataset")),
        digest=digest,
        source_type="local",
        source=source,
        schema=schema,
        profile=json.dumps(profile),
    )


# --------------------------------------------------------------------------- runs


@dataclass(frozen=True)
class SweepTracking:
    """Where a sweep's runs go: its experiment, its configuration section (the parent run's params) and the store."""

    experiment: str
    sweep: Mapping[str, Any] = field(default_factory=dict)  # the sweep section (name, families, peclet, ...)
    uri: str | None = None  # as configured: None -> $MLFLOW_TRACKING_URI -> the default SQLite store
    root: str | os.PathLike[str] = "."
    system_metrics: float | None = SYSTEM_METRICS_INTERVAL  # seconds between samples; None: no system metrics

    @classmethod
    def from_config(cls, config: Mapping[str, Any], root: str | os.PathLike[str] = ".") -> SweepTracking:
        """From a workflow configuration: ``tracking.experiment`` (else ``advdiff-<sweep.name>``), ``tracking.uri``."""
        tracking = config.get("tracking") or {}
        sweep = config.get("sweep") or {}
        name = sweep.get("name", "default")
        return cls(
            experiment=tracking.get("experiment") or f"advdiff-{name}", sweep=sweep, uri=tracking.get("uri"), root=root
        )

    @property
    def name(self) -> str:
        return str(self.sweep.get("name", "default"))

    def point_run(self, point: str, config: Mapping[str, Any], *, stage: str, **kwargs: Any):
        """:func:`open_point_run` for this sweep."""
        return open_point_run(self, point, config, stage=stage, **kwargs)


def _find_runs(client: Any, experiment_id: str, filter_string: str) -> list[Any]:
    from mlflow.entities import ViewType

    return client.search_runs(
        [experiment_id],
        filter_string=filter_string,
        run_view_type=ViewType.ACTIVE_ONLY,
        max_results=1000,
        order_by=["attributes.start_time ASC"],
    )


def point_runs(client: Any, experiment_id: str, point: str) -> list[Any]:
    """The active runs of one point in an experiment (oldest first)."""
    return _find_runs(client, experiment_id, f"tags.`{POINT_TAG}` = '{point}'")


def _log_params(client: Any, run_id: str, params: Mapping[str, str]) -> None:
    from mlflow.entities import Param

    items = [Param(k, v) for k, v in params.items()]
    for i in range(0, len(items), _BATCH):
        client.log_batch(run_id, params=items[i : i + _BATCH])


def _set_tags(client: Any, run_id: str, tags: Mapping[str, str]) -> None:
    from mlflow.entities import RunTag

    items = [RunTag(k, str(v)[:_TAG_LIMIT]) for k, v in tags.items()]
    for i in range(0, len(items), _BATCH):
        client.log_batch(run_id, tags=items[i : i + _BATCH])


def _sweep_parent(client: Any, experiment_id: str, name: str, section: Mapping[str, Any], reopen: bool = True) -> str:
    """The parent run of a sweep configuration (created with its params once); set RUNNING when ``reopen``."""
    digest = sweep_hash(section)
    found = _find_runs(client, experiment_id, f"tags.`{ROLE_TAG}` = 'sweep' and tags.`{SWEEP_HASH_TAG}` = '{digest}'")
    if found:
        parent = found[0]
        if reopen and parent.info.status != "RUNNING":
            client.update_run(parent.info.run_id, status="RUNNING")
        return parent.info.run_id
    git = git_state()
    values = ", ".join(
        f"{k} {json.dumps(section[k])}" for k in ("families", "peclet", "reynolds", "seeds") if k in section
    )
    dataset = (section.get("dataset") or {}).get("name", section.get("dataset_label", "its data set"))
    tags = {
        ROLE_TAG: "sweep",
        SWEEP_TAG: name,
        SWEEP_HASH_TAG: digest,
        NAME_TAG: f"sweep {name} {digest[:8]}",
        NOTE_TAG: f"advdiff benchmark sweep '{name}' on {dataset}"
        + (f": {values}" if values else "")
        + f" (config hash {digest})",
        **_git_tags(git["commit"], git["dirty_paths"]),
    }
    run = client.create_run(experiment_id, tags=tags, run_name=tags[NAME_TAG])
    params = {k: _param(v) for k, v in flatten(section).items()}
    params.update(git_commit=git["commit"], config_hash=digest)
    _log_params(client, run.info.run_id, params)
    log.info("sweep %s: parent run %s", name, run.info.run_id)
    return run.info.run_id


def _choose_point_run(client: Any, experiment_id: str, point: str, params: Mapping[str, str]) -> tuple[Any, list[str]]:
    """The point's run to continue: the oldest whose params agree with ``params``; its other runs are deleted."""
    keep, replaced = None, []
    for run in point_runs(client, experiment_id, point):
        clash = sorted(k for k, v in params.items() if run.data.params.get(k, v) != v)
        if keep is None and not clash:
            keep = run
            continue
        why = f"its params {', '.join(clash[:5])} changed" if clash else "a second run of the same point"
        log.info("point %s: deleting run %s (%s)", point, run.info.run_id, why)
        client.delete_run(run.info.run_id)
        replaced.append(run.info.run_id)
    return keep, replaced


def _open_point_run(
    client: Any,
    experiment_id: str,
    parent_id: str,
    point: str,
    run: Any,
    params: Mapping[str, str],
    tags: Mapping[str, str],
    start_time: int | None,
) -> tuple[str, bool]:
    """Create the point's run, or set the chosen one RUNNING; then its tags and the params it lacks."""
    tags = {**tags, POINT_TAG: point, ROLE_TAG: "point", PARENT_TAG: parent_id}
    if run is None:
        run = client.create_run(experiment_id, start_time=start_time, tags=dict(tags), run_name=tags.get(NAME_TAG))
        have: Mapping[str, str] = {}
        created = True
    else:
        if run.info.status != "RUNNING":
            client.update_run(run.info.run_id, status="RUNNING")
        _set_tags(client, run.info.run_id, tags)
        have = run.data.params
        created = False
    _log_params(client, run.info.run_id, {k: v for k, v in params.items() if k not in have})
    return run.info.run_id, created


def _logged_steps(client: Any, run_id: str, key: str) -> list[Any]:
    return list(client.get_metric_history(run_id, key))


class PointRun:
    """An open point run (from :func:`open_point_run`): its ids, the live training hook and stage logging.

    The ``log_*`` methods run after the stage's result files are written: a tracking failure there
    is logged as a warning (the job and its files stay; the ``track`` job replays them).
    """

    def __init__(
        self, client: Any, uri: str, lock: Path, run_id: str, parent_run_id: str, experiment_id: str, last_step: int
    ) -> None:
        self._client = client
        self._lock = lock
        self._last_step = last_step
        self._live = True
        self.tracking_uri = uri
        self.run_id = run_id
        self.parent_run_id = parent_run_id
        self.experiment_id = experiment_id

    @property
    def last_logged_step(self) -> int:
        """The last training step whose metrics the run holds (0: none)."""
        return self._last_step

    def on_log(self, step: int, metrics: Mapping[str, Any], timestamp: int) -> None:
        """Log one ``metrics.jsonl`` line as ``train.*`` at its step and wall-clock ``timestamp`` (ms).

        The trainer's ``on_log`` hook. Steps at or below the last logged one are skipped (a resumed
        training repeats the steps after its checkpoint). A failure is logged once and stops live
        logging for this job; the ``track`` job fills the curve in from ``metrics.jsonl``.
        """
        from mlflow.entities import Metric

        if not self._live or step <= self._last_step:
            return
        batch = [
            Metric(f"train.{k}", number, int(timestamp), int(step))
            for k, v in metrics.items()
            if k not in _CURVE_SKIP and (number := _number(v)) is not None
        ]
        try:
            with file_lock(self._lock):
                self._client.log_batch(self.run_id, metrics=batch)
        except Exception as exc:  # noqa: BLE001 - training goes on; track replays the curve
            self._live = False
            log.warning(
                "run %s: live logging stopped at step %d (%s: %s); the `track` job fills the curve in "
                "from metrics.jsonl",
                self.run_id,
                step,
                type(exc).__name__,
                exc,
            )
            return
        self._last_step = int(step)

    def _safely(self, what: str, action: Any) -> None:
        try:
            with file_lock(self._lock):
                action()
        except Exception as exc:  # noqa: BLE001 - the results are written; track replays them
            log.warning("run %s: could not log %s (%s: %s). %s", self.run_id, what, type(exc).__name__, exc, REPLAY)

    def log_metrics(self, values: Mapping[str, Any], step: int = 0) -> None:
        """Log the numeric ``values`` at ``step`` (now)."""
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        batch = [Metric(k, n, now, int(step)) for k, v in values.items() if (n := _number(v)) is not None]
        self._safely("metrics", lambda: self._client.log_batch(self.run_id, metrics=batch))

    def log_artifact(self, path: str | os.PathLike[str], folder: str = "") -> None:
        """Copy the file ``path`` into the run's artifact ``folder`` (``figures``, ``samples``, ``metrics``, ...)."""
        if Path(path).is_file():
            self._safely(f"artifact {path}", lambda: self._client.log_artifact(self.run_id, str(path), folder or None))

    def log_reference(self, path: str | os.PathLike[str], folder: str = "checkpoints") -> None:
        """Record a large file by reference: ``<folder>/<name>.json`` with its path, size and sha256 (when cheap)."""
        if not Path(path).is_file():
            return
        with tempfile.TemporaryDirectory() as tmp:
            ref = Path(tmp) / f"{Path(path).name}.json"
            ref.write_text(json.dumps(file_reference(path), indent=2) + "\n")
            self._safely(f"reference to {path}", lambda: self._client.log_artifact(self.run_id, str(ref), folder))

    def _end(self, status: str, exc: BaseException | None = None) -> None:
        def end() -> None:
            if exc is not None:
                _set_tags(self._client, self.run_id, {ERROR_TAG: f"{type(exc).__name__}: {exc}".splitlines()[0]})
            self._client.set_terminated(self.run_id, status)

        self._safely(f"status {status}", end)

    def _stage_done(self, stage: str) -> None:
        self._safely("stage", lambda: _set_tags(self._client, self.run_id, {STAGE_TAG: f"{stage} done"}))


def _start_system_metrics(run_id: str, uri: str, interval: float | None) -> Any:
    """The system-metrics monitor that ``mlflow.start_run(log_system_metrics=True)`` starts, for an existing run."""
    if not interval:
        return None
    if importlib.util.find_spec("psutil") is None:
        log.warning("no system metrics for run %s: psutil is not installed (pip install psutil)", run_id)
        return None
    try:
        from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor

        monitor = SystemMetricsMonitor(run_id, sampling_interval=interval, resume_logging=True, tracking_uri=uri)
        monitor.start()
        return monitor
    except Exception as exc:  # noqa: BLE001 - system metrics are a nicety
        log.warning("no system metrics for run %s (%s: %s)", run_id, type(exc).__name__, exc)
        return None


def _kill_handlers() -> dict[int, Any] | None:
    """Turn SIGTERM and SIGINT into :class:`JobKilled` (main thread only); returns the previous handlers."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum: int, frame: Any) -> None:
        raise JobKilled(signum)

    return {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}


def _restore(handlers: Mapping[int, Any] | None) -> None:
    for signum, previous in (handlers or {}).items():
        signal.signal(signum, previous)


@contextlib.contextmanager
def open_point_run(
    tracking: SweepTracking,
    point: str,
    config: Mapping[str, Any],
    *,
    stage: str,
    dataset: Mapping[str, Any] | str | os.PathLike[str] | None = None,
    handle_signals: bool = True,
) -> Iterator[PointRun]:
    """Open (or resume) a sweep point's run for one job of the workflow; yields a :class:`PointRun`.

    Checks the store first (:func:`check_store`: an unreachable server or a read-only store raises
    :class:`TrackingError` before any work). Under the file lock: the experiment, the sweep's
    parent run and the point's run are found or created (never twice), the run is set RUNNING
    with its tags and params; ``dataset`` (``check_data``'s note, or its path) is logged as the
    run's input. System metrics are sampled every ``tracking.system_metrics`` seconds while the
    block runs. On leaving the block: normally, the run stays RUNNING (:func:`track_record`
    finishes it); on :class:`KeyboardInterrupt` (also SIGTERM and SIGINT, turned into
    :class:`JobKilled` when ``handle_signals`` and in the main thread) it is marked KILLED, on any
    other exception FAILED, and the exception is re-raised.
    """
    uri = check_store(tracking.uri, tracking.root)
    lock = lock_path(uri, tracking.root)
    now = int(time.time() * 1000)
    git = git_state()
    with file_lock(lock), _store_errors(tracking.uri, uri, point):
        client = _client(uri)
        exp_id = _experiment_id(client, tracking.experiment, _artifact_location(uri))
        parent_id = _sweep_parent(client, exp_id, tracking.name, tracking.sweep)
        params = point_params(config)
        run, replaced = _choose_point_run(client, exp_id, point, params)
        tags = {
            SWEEP_TAG: tracking.name,
            NAME_TAG: run_name(point_labels(config)),
            STAGE_TAG: stage,
            NOTE_TAG: run_note(point, config),
        }
        if run is None:
            tags.update(_git_tags(git["commit"], git["dirty_paths"]))
        run_id, created = _open_point_run(client, exp_id, parent_id, point, run, params, tags, now)
        history = [] if created else _logged_steps(client, run_id, "train.loss")
        if dataset is not None:
            from mlflow.entities import DatasetInput, InputTag

            info = dataset if isinstance(dataset, Mapping) else json.loads(Path(dataset).read_text())
            client.log_inputs(run_id, [DatasetInput(dataset_entity(info), [InputTag("mlflow.data.context", "train")])])
    log.info("point %s: %s run %s (stage %s) in %s", point, "created" if created else "continuing", run_id, stage, uri)
    handle = PointRun(client, uri, lock, run_id, parent_id, exp_id, max((m.step for m in history), default=0))
    monitor = _start_system_metrics(run_id, uri, tracking.system_metrics)
    previous = _kill_handlers() if handle_signals else None
    try:
        yield handle
    except KeyboardInterrupt as exc:
        ignored = {s: signal.SIG_IGN for s in previous or {}}
        _restore(ignored)  # a second signal does not cut the marking short
        handle._end("KILLED", exc)
        raise
    except BaseException as exc:
        handle._end("FAILED", exc)
        raise
    else:
        handle._stage_done(stage)
    finally:
        _restore(previous)
        if monitor is not None:
            monitor.finish()


def track_record(
    record: Mapping[str, Any],
    experiment: str,
    *,
    uri: str | None = None,
    root: str | os.PathLike[str] = ".",
    extra_artifacts: list[str] | None = None,
    sweep: Mapping[str, Any] | None = None,
    sweep_points: int | None = None,
    benchmarks: Mapping[str, str | os.PathLike[str]] | None = None,
) -> dict[str, Any]:
    """Complete one point's run from its record and mark it FINISHED (idempotent; serialised by a file lock).

    Logs the tags, params, curves, scores and artifacts the run lacks (plus ``extra_artifacts``, e.g. the
    record file) and, for each existing Snakemake benchmark file in ``benchmarks`` (job name -> path),
    metrics ``job.<name>.seconds``, ``.cpu_seconds`` and ``.max_rss_mb``. ``sweep`` is the parent run's
    params (default: the record's settings); with ``sweep_points`` the parent is marked FINISHED once that
    many points are. Raises :class:`TrackingError` naming the URI and the fix when the store cannot be
    used (result files untouched; rerunning ``track`` replays them). Returns ``{"tracking_uri",
    "experiment", "experiment_id", "run_id", "parent_run_id", "created", "replaced"}``. See
    docs/tracking.md.
    """
    if not isinstance(experiment, str) or not experiment:
        raise bad_value("tracking.experiment", experiment, "a non-empty experiment name")
    resolved = check_store(uri, root)
    with _store_errors(uri, resolved, record.get("point")):
        return _track(
            record, experiment, resolved, root, extra_artifacts or [], sweep, sweep_points, dict(benchmarks or {})
        )


@contextlib.contextmanager
def _store_errors(uri: str | None, resolved: str, point: Any) -> Iterator[None]:
    """Turn an MLflow failure into a :class:`TrackingError` naming the URI, the fix and the replay."""
    try:
        yield
    except AdvdiffError:
        raise
    except Exception as exc:
        raise TrackingError(
            f"{_uri_key(uri)} = {resolved!r}: could not record point {point} in MLflow "
            f"({type(exc).__name__}: {exc}). Fix: check that the store is reachable and "
            f"writable. {REPLAY}."
        ) from exc


BENCHMARK_COLUMNS = {"s": ("seconds", 1.0), "cpu_time": ("cpu_seconds", 1.0), "max_rss": ("max_rss_mb", 1.0)}
"""Snakemake benchmark columns logged to a run: column -> (metric name, factor)."""


def read_benchmark(path: str | os.PathLike[str]) -> dict[str, float] | None:
    """The last line of a Snakemake benchmark file as ``{seconds, cpu_seconds, max_rss_mb}`` (None: no file).

    Columns Snakemake could not measure (``-`` or ``NA``) are left out."""
    import csv

    f = Path(path)
    if not f.is_file():
        return None
    with open(f, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    if not rows:
        return None
    out = {}
    for column, (name, factor) in BENCHMARK_COLUMNS.items():
        try:
            number = _number(float(rows[-1].get(column) or ""))
        except ValueError:
            continue
        if number is not None:
            out[name] = number * factor
    return out


def _finish_parent(client: Any, experiment_id: str, parent_id: str, points: int | None) -> None:
    """Mark the sweep's parent run FINISHED once ``points`` of its children are."""
    if not points or client.get_run(parent_id).info.status == "FINISHED":
        return
    children = _find_runs(client, experiment_id, f"tags.`{PARENT_TAG}` = '{parent_id}'")
    if sum(r.info.status == "FINISHED" for r in children) >= points:
        client.set_terminated(parent_id, "FINISHED")
        log.info("all %d points tracked: parent run %s finished", points, parent_id)


def _track(
    record: Mapping[str, Any],
    experiment: str,
    uri: str,
    root: str | os.PathLike[str],
    extra_artifacts: list[str],
    sweep: Mapping[str, Any] | None,
    sweep_points: int | None,
    benchmarks: Mapping[str, str | os.PathLike[str]],
) -> dict[str, Any]:
    from mlflow.entities import Metric

    digest = record_digest(record)
    contents = run_contents(record)
    for job, path in sorted(benchmarks.items()):
        values = read_benchmark(path)
        if values is None:
            continue
        contents["artifacts"].append(("benchmarks", str(path)))
        for key, value in values.items():
            contents["metrics"][f"job.{job}.{key}"] = [(0, value)]
    section = sweep if sweep is not None else {**(record.get("settings") or {}), "name": record["sweep"]}
    artifacts = contents["artifacts"] + [("metrics", p) for p in extra_artifacts if Path(p).is_file()]
    stamps = contents["timestamps"]
    with file_lock(lock_path(uri, root)):
        client = _client(uri)
        exp_id = _experiment_id(client, experiment, _artifact_location(uri))
        parent_id = _sweep_parent(client, exp_id, str(record["sweep"]), section, reopen=False)
        result = {
            "tracking_uri": uri,
            "experiment": experiment,
            "experiment_id": exp_id,
            "parent_run_id": parent_id,
            "created": False,
        }
        run, replaced = _choose_point_run(client, exp_id, record["point"], contents["params"])
        result["replaced"] = replaced
        if (
            run is not None
            and run.data.tags.get(DIGEST_TAG) == digest
            and run.info.status == "FINISHED"
            and run.data.tags.get(PARENT_TAG) == parent_id
        ):
            log.info("point %s is already tracked as run %s; nothing to do", record["point"], run.info.run_id)
            _finish_parent(client, exp_id, parent_id, sweep_points)
            return {**result, "run_id": run.info.run_id}
        start = min(stamps.values()) if stamps else int(time.time() * 1000)
        tags = {**contents["tags"], STAGE_TAG: "track"}
        run_id, created = _open_point_run(
            client, exp_id, parent_id, record["point"], run, contents["params"], tags, start
        )
        now = int(time.time() * 1000)
        metrics = []
        for key, values in contents["metrics"].items():
            history = [] if created else _logged_steps(client, run_id, key)
            steps = {m.step for m in history}
            pairs = {(m.step, m.value) for m in history}
            for step, value in values:
                if (step in steps) if key in contents["curves"] else ((step, value) in pairs):
                    continue
                metrics.append(Metric(key, value, stamps.get(step, now) if key in contents["curves"] else now, step))
        for i in range(0, len(metrics), 1000):
            client.log_batch(run_id, metrics=metrics[i : i + 1000])
        for folder, path in artifacts:
            client.log_artifact(run_id, path, folder or None)
        with tempfile.TemporaryDirectory() as tmp:
            for folder, path in contents["references"]:
                ref = Path(tmp) / folder / f"{Path(path).name}.json"
                ref.parent.mkdir(exist_ok=True)
                ref.write_text(json.dumps(file_reference(path), indent=2) + "\n")
                client.log_artifact(run_id, str(ref), folder)
        _set_tags(client, run_id, {DIGEST_TAG: digest, STAGE_TAG: "tracked"})
        client.set_terminated(run_id, "FINISHED")
        _finish_parent(client, exp_id, parent_id, sweep_points)
        log.info(
            "point %s: run %s finished (%d new metric values, %d artifacts) in %s",
            record["point"],
            run_id,
            len(metrics),
            len(artifacts),
            uri,
        )
        return {**result, "run_id": run_id, "created": created}
