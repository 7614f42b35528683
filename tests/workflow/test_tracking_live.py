"""Live MLflow runs: training logs as it goes, a kill leaves a KILLED run that the resumed training continues,
a failing job leaves a FAILED run, parallel jobs share one parent run, and the record completes the same run."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from advdiff.sweep import read_curve
from advdiff.tracking import PARENT_TAG, POINT_TAG, ROLE_TAG, JobKilled, SweepTracking, track_record
from advdiff.training import TrainConfig, train
from tests.training.helpers import tiny_config, tiny_net, write_image_folder

pytest.importorskip("mlflow")

SWEEP = {"name": "live", "families": ["heat"], "seeds": [7], "train": {"steps": 8}}


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    return write_image_folder(tmp_path_factory.mktemp("images"))


@pytest.fixture(autouse=True)
def _one_thread_own_store(one_thread, monkeypatch):
    """One thread (tests/conftest.py), and the workflow's own MLflow store whatever the environment says."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


def tracking(tmp_path: Path, **kwargs) -> SweepTracking:
    return SweepTracking(
        "advdiff-live", SWEEP, uri=f"sqlite:///{tmp_path / 'mlflow.db'}", system_metrics=None, **kwargs
    )


def client(t: SweepTracking):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=t.uri)


def history(c, run_id: str, key: str = "train.loss") -> list:
    return sorted(c.get_metric_history(run_id, key), key=lambda m: (m.step, m.timestamp))


class Stop(KeyboardInterrupt):
    """Stands for Ctrl-C in the middle of training."""


def record_for(run_dir: Path, cfg: dict, point: str) -> dict:
    """A point record as the record job writes it, from a real training run folder."""
    summary = json.loads((run_dir / "summary.json").read_text())
    config = json.loads((run_dir / "config.json").read_text())
    files = {
        "config": str(run_dir / "config.json"),
        "train_summary": str(run_dir / "summary.json"),
        "train_metrics": str(run_dir / "metrics.jsonl"),
    }
    return {
        "point": point,
        "family": "heat",
        "peclet": None,
        "reynolds": None,
        "intensity_map": None,
        "divergence_free": None,
        "seed": cfg["seed"],
        "config_hash": TrainConfig.from_dict(cfg).hash(),
        "sweep": "live",
        "dataset": "folder 8x8",
        "image_size": 8,
        "config": config,
        "settings": {"name": "live"},
        "train": summary,
        "curves": read_curve(run_dir / "metrics.jsonl"),
        "sample": {},
        "scores": {"fid": 3.0},
        "schedule": None,
        "compute": {"device": "cpu", "kind": "CPU", "hours": 0.0001, "seconds": {}},
        "git_commit": "abc",
        "git_dirty_paths": ["reports/x.md"],
        "files": files,
    }


def test_killed_training_is_one_killed_run_that_the_resumed_training_continues(images, tmp_path):
    t = tracking(tmp_path)
    cfg = tiny_config(images, "heat", steps=8, checkpoint_every=4, log_every=1)
    config = TrainConfig.from_dict(cfg).to_dict()
    point = "heat-s7-0123456789"
    data = {
        "dataset": {"name": "folder", "root": str(images), "split": "train", "size": 8},
        "images": 24,
        "shape": [1, 8, 8],
    }
    run_dir = tmp_path / "run"

    with pytest.raises(Stop), t.point_run(point, config, stage="train", dataset=data) as run:
        first_id = run.run_id

        def hook(step, metrics, timestamp):
            run.on_log(step, metrics, timestamp)
            if step == 6:  # two steps after the checkpoint of step 4
                raise Stop()

        train(cfg, run_dir, model=tiny_net(), progress=False, on_log=hook)
    c = client(t)
    killed = c.get_run(first_id)
    assert killed.info.status == "KILLED" and killed.info.end_time is not None
    assert [m.step for m in history(c, first_id)] == [1, 2, 3, 4, 5, 6]
    assert killed.data.tags[ROLE_TAG] == "point" and killed.data.tags["mlflow.runName"] == "heat s7"
    assert killed.data.params["family"] == "heat" and killed.data.params["seed"] == "7"
    start = killed.info.start_time

    seen = []
    with t.point_run(point, config, stage="train", dataset=data) as run:
        assert run.run_id == first_id and run.last_logged_step == 6
        assert c.get_run(first_id).info.status == "RUNNING"

        def hook(step, metrics, timestamp):
            seen.append(step)
            run.on_log(step, metrics, timestamp)

        train(cfg, run_dir, model=tiny_net(), progress=False, on_log=hook)
    assert seen == [5, 6, 7, 8]  # the trainer repeats the steps after its checkpoint ...
    c = client(t)
    loss = history(c, first_id)
    assert [m.step for m in loss] == list(range(1, 9))  # ... which the run holds once
    lines = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [m.value for m in loss] == [line["loss"] for line in lines]  # the resumed run is bit-identical
    assert [m.timestamp for m in loss] == sorted(m.timestamp for m in loss)
    assert loss[-1].timestamp == int(lines[-1]["time"] * 1000)  # wall-clock time of the logged step
    for key in ("train.lr", "train.images_per_second", "train.ema_decay", "train.ema_distance"):
        assert [m.step for m in history(c, first_id, key)] == list(range(1, 9)), key
    run = c.get_run(first_id)
    assert run.info.status == "RUNNING" and run.info.start_time == start and "train.time" not in run.data.metrics
    assert len(c.search_runs([run.info.experiment_id])) == 2  # the point and its sweep's parent
    inputs = run.inputs.dataset_inputs
    assert len(inputs) == 1 and inputs[0].dataset.name == "folder"
    assert json.loads(inputs[0].dataset.profile)["num_images"] == 24

    # the record completes the same run; nothing is logged twice, and a rerun adds nothing
    record = record_for(run_dir, cfg, point)
    done = track_record(record, t.experiment, uri=t.uri, sweep=SWEEP, sweep_points=1)
    assert done["run_id"] == first_id and not done["created"] and done["replaced"] == []
    run = c.get_run(first_id)
    assert run.info.status == "FINISHED" and run.info.end_time >= run.info.start_time == start
    assert [m.step for m in history(c, first_id)] == list(range(1, 9))
    assert run.data.metrics["eval.fid"] == 3.0 and run.data.tags["git_commit"] == "abc"
    assert run.data.tags["advdiff.git.dirty_paths"] == "reports/x.md"
    parent = c.get_run(run.data.tags[PARENT_TAG])
    assert parent.info.status == "FINISHED" and parent.data.params["config_hash"]
    folders = {a.path for a in c.list_artifacts(first_id)}
    assert {"config.json", "metrics", "checkpoints"} <= folders
    assert {a.path for a in c.list_artifacts(first_id, "metrics")} == {"metrics/summary.json", "metrics/metrics.jsonl"}
    ref = json.loads(Path(c.download_artifacts(first_id, "checkpoints/checkpoint.pt.json", str(tmp_path))).read_text())
    assert ref["path"] == str((run_dir / "checkpoint.pt").resolve()) and len(ref["sha256"]) == 64
    counts = {k: len(c.get_metric_history(first_id, k)) for k in run.data.metrics}
    again = track_record(record, t.experiment, uri=t.uri, sweep=SWEEP, sweep_points=1)
    assert again["run_id"] == first_id and not again["created"]
    assert {k: len(c.get_metric_history(first_id, k)) for k in run.data.metrics} == counts
    assert len(c.search_runs([run.info.experiment_id])) == 2


def test_a_job_that_raises_leaves_a_failed_run(images, tmp_path):
    t = tracking(tmp_path)
    config = TrainConfig.from_dict(tiny_config(images, "heat")).to_dict()
    with (
        pytest.raises(RuntimeError, match="out of memory"),
        t.point_run("heat-s7-aaaaaaaaaa", config, stage="sample") as run,
    ):
        raise RuntimeError("out of memory")
    got = client(t).get_run(run.run_id)
    assert got.info.status == "FAILED" and got.data.tags["advdiff.error"] == "RuntimeError: out of memory"
    # the next attempt continues the same run
    with t.point_run("heat-s7-aaaaaaaaaa", config, stage="sample") as again:
        assert again.run_id == run.run_id
    assert client(t).get_run(run.run_id).info.status == "RUNNING"


KILLED_JOB = """
import sys, time
from advdiff.tracking import SweepTracking
t = SweepTracking("advdiff-live", {"name": "live"}, uri=sys.argv[1], system_metrics=0.2)
config = {"family": "heat", "seed": 1, "steps": 4}
with t.point_run("heat-s1-bbbbbbbbbb", config, stage="train") as run:
    print(run.run_id, flush=True)
    time.sleep(120)
"""


@pytest.mark.slow
def test_sigterm_marks_the_run_killed(tmp_path):
    t = tracking(tmp_path)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_JOB, t.uri], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    run_id = proc.stdout.readline().strip()
    assert run_id, proc.communicate(timeout=60)[1]
    time.sleep(1.5)  # a few system-metrics samples
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode != 0 and "JobKilled: killed by SIGTERM" in err
    run = client(t).get_run(run_id)
    assert run.info.status == "KILLED" and run.data.tags["advdiff.error"] == "JobKilled: killed by SIGTERM"
    assert any(k.startswith("system/") for k in run.data.metrics), run.data.metrics
    assert issubclass(JobKilled, KeyboardInterrupt)


PARALLEL_JOB = """
import sys
from advdiff.tracking import SweepTracking
t = SweepTracking("advdiff-par", {"name": "par", "seeds": [1, 2, 3, 4]}, uri=sys.argv[1], system_metrics=None)
seed = int(sys.argv[2])
with t.point_run(f"heat-s{seed}-cccccccccc", {"family": "heat", "seed": seed}, stage="train") as run:
    run.on_log(1, {"loss": 1.0 / seed}, 1000)
"""


@pytest.mark.slow
def test_parallel_points_make_one_parent_and_one_child_each(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", PARALLEL_JOB, uri, str(seed)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for seed in (1, 2, 3, 4)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    from mlflow.tracking import MlflowClient

    c = MlflowClient(tracking_uri=uri)
    runs = c.search_runs([c.get_experiment_by_name("advdiff-par").experiment_id])
    parents = [r for r in runs if r.data.tags.get(ROLE_TAG) == "sweep"]
    children = [r for r in runs if r.data.tags.get(ROLE_TAG) == "point"]
    assert len(parents) == 1 and len(children) == 4 and len(runs) == 5
    assert {r.data.tags[PARENT_TAG] for r in children} == {parents[0].info.run_id}
    assert sorted(r.data.tags[POINT_TAG] for r in children) == [f"heat-s{s}-cccccccccc" for s in (1, 2, 3, 4)]
    assert sorted(r.data.tags["mlflow.runName"] for r in children) == ["heat s1", "heat s2", "heat s3", "heat s4"]
    assert parents[0].data.params["seeds"] == "[1, 2, 3, 4]" and parents[0].data.params["config_hash"]
