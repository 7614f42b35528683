"""MLflow tracking of sweep points: the one module of the package that imports ``mlflow``.

Where runs go (:func:`tracking_uri`): the configured URI (``tracking.uri``), else
``$MLFLOW_TRACKING_URI``, else an embedded SQLite store ``results/mlflow/mlflow.db`` under the
workflow's folder, always as an absolute ``sqlite:///`` URI (MLflow >= 3.13 refuses the
``./mlruns`` file store, so plain paths and ``file:`` URIs are refused here with that reason).
Artifacts of the default store go to ``results/mlflow/artifacts``.

Layout: one experiment per workflow configuration (``advdiff-<sweep name>``), one run per sweep
point. A run holds

* tags: ``advdiff.point`` (the point's folder name, which ends with its config hash), ``family``,
  ``peclet``, ``reynolds``, ``intensity_map`` (``paper`` or ``none``), ``divergence_free``
  (``true`` or ``false``; both empty for the other families), ``seed``, ``backend``, ``device``,
  ``git_commit``, ``dataset``, ``feature_extractor``, ``stages`` (``train,sample,evaluate``: the
  stages the run's values come from);
* params: the flattened resolved training configuration (advdiff's map and projection as
  ``family_params.intensity_map`` and ``family_params.divergence_free``), plus ``sweep.*`` settings;
* metrics: ``train.*`` curves by step (loss, mse, lr, grad_norm, images_per_second, ...), the
  final ``train.images_per_second``, ``sample.images_per_second``, every score as ``eval.*``
  (FID, KID, precision, recall, density, coverage, palette, ...), ``compute.hours``;
* artifacts: ``config.json``, the training summary and metrics, the sample grid, the scores
  (``metrics.json``), the trajectory strip, the velocity field and the spectra, and the record.

Idempotent and safe in parallel (:func:`track_record`): a file lock (``fcntl``) is held while the
experiment and the run are looked up, created and filled, so parallel jobs neither create the same
experiment twice nor race on the SQLite file. A point whose run already holds the same record
(tag ``advdiff.record_sha256``) is left alone; a point whose record changed (e.g. trained longer)
replaces its run (the old one is deleted), so the store always holds one active run per point.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from advdiff.errors import bad_value
from advdiff.mapping import flatten

log = logging.getLogger(__name__)

DEFAULT_STORE = Path("results") / "mlflow" / "mlflow.db"
"""The default SQLite store, relative to the workflow's folder."""
DEFAULT_ARTIFACTS = Path("results") / "mlflow" / "artifacts"
POINT_TAG = "advdiff.point"
DIGEST_TAG = "advdiff.record_sha256"
ENV_URI = "MLFLOW_TRACKING_URI"
_BATCH = 100  # MLflow's log_batch limit for params and tags (metrics: 1000)


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
        raise bad_value(key, uri, "a database or server URI (sqlite:///ABSOLUTE/PATH.db, http://host:port, "
                        "postgresql://...); MLflow >= 3.13 refuses the ./mlruns file store")  # fmt: skip
    return uri


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


def run_contents(record: Mapping[str, Any]) -> dict[str, Any]:
    """What one point's MLflow run holds: ``tags``, ``params``, ``metrics`` (name -> [(step, value)]), ``artifacts``."""
    scores = record.get("scores", {})
    config = record.get("config", {})
    backend = config.get("family_params", {}).get("backend")
    if backend == "auto":
        backend = "cupy" if str(record["compute"]["device"]).startswith("cuda") else "cpu"
    tags = {
        POINT_TAG: record["point"],
        "advdiff.config_hash": record["config_hash"],
        "advdiff.sweep": record["sweep"],
        "family": record["family"],
        "peclet": "" if record["peclet"] is None else format(record["peclet"], "g"),
        "reynolds": ""
        if record["family"] != "advdiff"
        else ("inf" if record["reynolds"] is None else format(record["reynolds"], "g")),  # fmt: skip
        "intensity_map": str(record.get("intensity_map") or ""),
        "divergence_free": "" if record.get("divergence_free") is None else str(record["divergence_free"]).lower(),
        "seed": str(record["seed"]),
        "backend": backend or "none",
        "device": record["compute"]["device"],
        "git_commit": record.get("git_commit", "unknown"),
        "dataset": record["dataset"],
        "feature_extractor": str(scores.get("feature_extractor", "")),
        "fid_is_standard": str(scores.get("fid_is_standard", "")),
        "stages": "train,sample,evaluate",
        "mlflow.runName": record["point"],
    }
    params = {k: json.dumps(v) if isinstance(v, list | dict) else str(v)
              for k, v in flatten(config).items()}  # fmt: skip
    params.update({f"sweep.{k}": json.dumps(v) if isinstance(v, list | dict) else str(v)
                   for k, v in flatten(record.get("settings", {})).items()})  # fmt: skip
    metrics: dict[str, list[tuple[int, float]]] = {}
    for name, curve in record.get("curves", {}).items():
        metrics[f"train.{name}"] = [(int(s), float(v)) for s, v in curve]
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
    artifacts = [p for p in record.get("files", {}).values() if p and Path(p).is_file()]
    return {"tags": tags, "params": params, "metrics": metrics, "artifacts": artifacts}


def _client(uri: str):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def _experiment_id(client: Any, name: str, artifact_location: str | None) -> str:
    from mlflow.exceptions import MlflowException

    exp = client.get_experiment_by_name(name)
    if exp is not None:
        if exp.lifecycle_stage == "deleted":
            client.restore_experiment(exp.experiment_id)
        return exp.experiment_id
    try:
        return client.create_experiment(name, artifact_location=artifact_location,
                                        tags={"advdiff.created_by": "advdiff.tracking"})  # fmt: skip
    except MlflowException:  # created by another process that does not share our lock (e.g. a remote server)
        exp = client.get_experiment_by_name(name)
        if exp is None:
            raise
        return exp.experiment_id


def point_runs(client: Any, experiment_id: str, point: str) -> list[Any]:
    """The active runs of one point in an experiment."""
    from mlflow.entities import ViewType

    return client.search_runs([experiment_id], filter_string=f"tags.`{POINT_TAG}` = '{point}'",
                              run_view_type=ViewType.ACTIVE_ONLY, max_results=100)  # fmt: skip


def track_record(
    record: Mapping[str, Any],
    experiment: str,
    *,
    uri: str | None = None,
    root: str | os.PathLike[str] = ".",
    extra_artifacts: list[str] | None = None,
) -> dict[str, Any]:
    """Log one point's record to MLflow as one run (idempotent; serialised by a file lock).

    Returns ``{"tracking_uri", "experiment", "experiment_id", "run_id", "created", "replaced"}``.
    """
    from mlflow.entities import Metric, Param, RunTag

    if not isinstance(experiment, str) or not experiment:
        raise bad_value("tracking.experiment", experiment, "a non-empty experiment name")
    uri = tracking_uri(uri, root)
    digest = record_digest(record)
    contents = run_contents(record)
    artifacts = contents["artifacts"] + [p for p in (extra_artifacts or []) if Path(p).is_file()]
    artifact_location = None
    db = sqlite_path(uri)
    if db is not None:
        db.parent.mkdir(parents=True, exist_ok=True)
        artifact_location = (db.parent / DEFAULT_ARTIFACTS.name).resolve().as_uri()
    with file_lock(lock_path(uri, root)):
        client = _client(uri)
        exp_id = _experiment_id(client, experiment, artifact_location)
        existing = point_runs(client, exp_id, record["point"])
        keep = [r for r in existing if r.data.tags.get(DIGEST_TAG) == digest and r.info.status == "FINISHED"]
        result = {"tracking_uri": uri, "experiment": experiment, "experiment_id": exp_id, "created": False,
                  "replaced": []}  # fmt: skip
        for run in existing:
            if not keep or run.info.run_id != keep[0].info.run_id:
                client.delete_run(run.info.run_id)
                result["replaced"].append(run.info.run_id)
        if keep:
            log.info("point %s is already tracked as run %s; nothing to do", record["point"], keep[0].info.run_id)
            return {**result, "run_id": keep[0].info.run_id}
        run = client.create_run(exp_id, tags={k: v for k, v in contents["tags"].items()},
                                run_name=record["point"])  # fmt: skip
        run_id = run.info.run_id
        now = int(time.time() * 1000)
        params = [Param(k, v[:6000]) for k, v in contents["params"].items()]
        metrics = [Metric(k, v, now, s) for k, curve in contents["metrics"].items() for s, v in curve]
        for i in range(0, len(params), _BATCH):
            client.log_batch(run_id, params=params[i : i + _BATCH])
        for i in range(0, len(metrics), 1000):
            client.log_batch(run_id, metrics=metrics[i : i + 1000])
        for path in artifacts:
            client.log_artifact(run_id, path)
        client.log_batch(run_id, tags=[RunTag(DIGEST_TAG, digest)])
        client.set_terminated(run_id, "FINISHED")
        log.info("point %s: logged run %s (%d params, %d metric values, %d artifacts) to %s", record["point"],
                 run_id, len(params), len(metrics), len(artifacts), uri)  # fmt: skip
        return {**result, "run_id": run_id, "created": True}
