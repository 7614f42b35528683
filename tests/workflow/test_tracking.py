"""MLflow tracking: the store's URI, one run per point, idempotence, and parallel writers."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from advdiff.errors import ConfigError
from advdiff.tracking import POINT_TAG, run_contents, track_record, tracking_uri


def make_record(folder: Path, point: str = "advdiff-pe1-re100-mappaper-s1-0123456789", fid: float = 12.5) -> dict:
    """A point record as the workflow's record rule writes it, with small real files."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, text in (("config.json", '{"family": "advdiff"}'), ("samples.png", "png"), ("scores.json", "{}")):
        (folder / name).write_text(text)
        files[name.split(".")[0]] = str(folder / name)
    return {
        "point": point, "family": "advdiff", "peclet": 1.0, "reynolds": 100.0, "intensity_map": "paper",
        "divergence_free": False, "seed": 1,
        "config_hash": "0123456789abcdef", "sweep": "t", "dataset": "Fashion-MNIST 28x28", "image_size": 28,
        "config": {"family": "advdiff", "family_params": {"peclet": 1.0, "backend": "auto", "intensity_map": "paper",
                                                          "divergence_free": False},
                   "model": {"preset": "tiny"}},
        "settings": {"name": "t", "evaluate": {"n": 8, "feature_extractor": "tiny-test"}},
        "train": {"step": 4, "loss": 0.5, "images_per_second": 100.0, "seconds": 1.0, "device": "cpu"},
        "curves": {"loss": [[1, 0.9], [2, 0.7], [3, 0.6], [4, 0.5]]},
        "sample": {"images_per_second": 10.0, "seconds": 0.8},
        "scores": {"fid": fid, "kid": 0.01, "precision": 0.5, "palette_per_channel": [0.1], "n_fake": 8, "n_real": 8,
                   "feature_extractor": "advdiff-tiny-test", "fid_is_standard": False},
        "schedule": {"fourier_max": 0.06, "transport_bound_px": 7.1},
        "compute": {"device": "cpu", "kind": "CPU", "hours": 0.001, "seconds": {"train": 1.0}},
        "git_commit": "abc", "files": files,
    }  # fmt: skip


def test_tracking_uri_defaults_overrides_and_refusals(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert tracking_uri(None, tmp_path) == f"sqlite:///{tmp_path.resolve()}/results/mlflow/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5555")
    assert tracking_uri(None, tmp_path) == "http://127.0.0.1:5555"
    assert tracking_uri("sqlite:///x/m.db", tmp_path) == f"sqlite:///{tmp_path.resolve()}/x/m.db"  # config wins
    for bad in ("./mlruns", "file:///tmp/mlruns"):
        with pytest.raises(ConfigError, match="tracking.uri"):
            tracking_uri(bad, tmp_path)


def test_run_contents_tags_params_metrics():
    c = run_contents(make_record(Path("/nonexistent")))
    assert c["tags"]["family"] == "advdiff" and c["tags"]["peclet"] == "1" and c["tags"]["reynolds"] == "100"
    assert c["tags"]["backend"] == "cpu" and c["tags"]["device"] == "cpu" and c["tags"]["git_commit"] == "abc"
    assert c["params"]["family_params.peclet"] == "1.0" and c["params"]["sweep.evaluate.n"] == "8"
    assert c["tags"]["intensity_map"] == "paper" and c["tags"]["divergence_free"] == "false"
    assert c["params"]["family_params.intensity_map"] == "paper"
    assert c["params"]["family_params.divergence_free"] == "False"
    assert c["metrics"]["train.loss"] == [(1, 0.9), (2, 0.7), (3, 0.6), (4, 0.5)]
    assert c["metrics"]["eval.fid"] == [(4, 12.5)] and c["metrics"]["eval.palette_per_channel.0"] == [(4, 0.1)]
    assert "eval.feature_extractor" not in c["metrics"]


def test_run_contents_tags_the_projection_and_leaves_the_other_families_blank():
    record = make_record(Path("/nonexistent"), point="advdiff-pe1-re100-mapnone-divfree-s1-0123456789")
    record.update(intensity_map="none", divergence_free=True)
    tags = run_contents(record)["tags"]
    assert tags["intensity_map"] == "none" and tags["divergence_free"] == "true"
    record.update(family="heat", peclet=None, reynolds=None, intensity_map=None, divergence_free=None)
    tags = run_contents(record)["tags"]
    assert tags["intensity_map"] == tags["divergence_free"] == tags["peclet"] == tags["reynolds"] == ""


def _runs(uri: str, experiment: str) -> list:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name(experiment)
    return client.search_runs([exp.experiment_id]) if exp else []


def test_one_run_per_point_and_idempotent(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    record = make_record(tmp_path / "p")
    first = track_record(record, "advdiff-t", root=tmp_path)
    assert first["created"]
    again = track_record(record, "advdiff-t", root=tmp_path)
    assert not again["created"] and again["run_id"] == first["run_id"]
    runs = _runs(first["tracking_uri"], "advdiff-t")
    assert len(runs) == 1
    run = runs[0]
    assert run.data.tags[POINT_TAG] == record["point"] and run.data.metrics["eval.fid"] == 12.5
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=first["tracking_uri"])
    assert [m.value for m in client.get_metric_history(run.info.run_id, "train.loss")] == [0.9, 0.7, 0.6, 0.5]
    assert {a.path for a in client.list_artifacts(run.info.run_id)} == {"config.json", "samples.png", "scores.json"}
    # a changed result (e.g. trained longer) replaces the point's run: still one active run
    changed = track_record(make_record(tmp_path / "p", fid=9.0), "advdiff-t", root=tmp_path)
    assert changed["created"] and changed["replaced"] == [first["run_id"]]
    runs = _runs(first["tracking_uri"], "advdiff-t")
    assert len(runs) == 1 and runs[0].data.metrics["eval.fid"] == 9.0


WRITER = """
import json, sys
from advdiff.tracking import track_record
track_record(json.load(open(sys.argv[1])), "advdiff-par", root=sys.argv[2])
"""


def test_parallel_writers_create_one_experiment_and_one_run_per_point(tmp_path):
    """Four processes at once, two of them per point, on a fresh store: nothing lost, nothing doubled."""
    paths = []
    for i, point in enumerate(["heat-s1-aaaaaaaaaa", "advdiff-pe1-re100-s1-bbbbbbbbbb"]):
        path = tmp_path / f"record{i}.json"
        path.write_text(json.dumps(make_record(tmp_path / f"p{i}", point=point)))
        paths += [path, path]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(p), str(tmp_path)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for p in paths]  # fmt: skip
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    from mlflow.tracking import MlflowClient

    uri = tracking_uri(None, tmp_path)
    assert [e.name for e in MlflowClient(tracking_uri=uri).search_experiments()].count("advdiff-par") == 1
    runs = _runs(uri, "advdiff-par")
    assert sorted(r.data.tags[POINT_TAG] for r in runs) == ["advdiff-pe1-re100-s1-bbbbbbbbbb", "heat-s1-aaaaaaaaaa"]
