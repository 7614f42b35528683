"""MLflow tracking: the store's URI, one run per point, idempotence, parallel writers, git provenance,
an unreachable server and a read-only store, and a real `mlflow server`."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from advdiff.errors import ConfigError
from advdiff.tracking import (
    DIRTY_TAG,
    GIT_TAG,
    PARENT_TAG,
    POINT_TAG,
    ROLE_TAG,
    SweepTracking,
    TrackingError,
    check_store,
    git_state,
    run_contents,
    run_name,
    track_record,
    tracking_uri,
)


def make_record(folder: Path, point: str = "advdiff-pe1-re100-mappaper-s1-0123456789", fid: float = 12.5) -> dict:
    """A point record as the workflow's record rule writes it, with small real files."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for key, name, text in (
        ("config", "config.json", '{"family": "advdiff"}'),
        ("sample_grid", "samples.png", "png"),
        ("scores", "scores.json", "{}"),
    ):
        (folder / name).write_text(text)
        files[key] = str(folder / name)
    return {
        "point": point,
        "family": "advdiff",
        "peclet": 1.0,
        "reynolds": 100.0,
        "intensity_map": "paper",
        "divergence_free": False,
        "seed": 1,
        "config_hash": "0123456789abcdef",
        "sweep": "t",
        "dataset": "Fashion-MNIST 28x28",
        "image_size": 28,
        "config": {
            "family": "advdiff",
            "family_params": {
                "peclet": 1.0,
                "reynolds": 100.0,
                "backend": "auto",
                "intensity_map": "paper",
                "divergence_free": False,
            },
            "model": {"preset": "tiny"},
            "seed": 1,
            "steps": 4,
        },
        "settings": {"name": "t", "evaluate": {"n": 8, "feature_extractor": "tiny-test"}},
        "train": {"step": 4, "loss": 0.5, "images_per_second": 100.0, "seconds": 1.0, "device": "cpu"},
        "curves": {"loss": [[1, 0.9], [2, 0.7], [3, 0.6], [4, 0.5]]},
        "sample": {"images_per_second": 10.0, "seconds": 0.8},
        "scores": {
            "fid": fid,
            "kid": 0.01,
            "precision": 0.5,
            "palette_per_channel": [0.1],
            "n_fake": 8,
            "n_real": 8,
            "feature_extractor": "advdiff-tiny-test",
            "fid_is_standard": False,
        },
        "schedule": {"fourier_max": 0.06, "transport_bound_px": 7.1},
        "compute": {
            "device": "cpu",
            "kind": "CPU",
            "hours": 0.001,
            "seconds": {"train": 1.0},
            "lbm_backend": "cpu",
            "versions": {
                "torch": "2.14.1",
                "cuda": None,
                "cupy": None,
                "gpu": None,
                "cpu": {"model": "AMD EPYC", "family_model": "25/1", "kind": "AVX2"},
            },
        },
        "git_commit": "abc",
        "files": files,
    }


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
    assert c["tags"]["version.torch"] == "2.14.1" and "version.cupy" not in c["tags"]  # what is absent is not tagged
    assert c["tags"]["cpu.kind"] == "AVX2" and c["tags"]["cpu.family_model"] == "25/1"
    assert "version.cpu" not in c["tags"]
    old = make_record(Path("/nonexistent"))
    del old["compute"]["lbm_backend"]  # a record from before the backend that ran was written
    assert run_contents(old)["tags"]["backend"] == "auto (not recorded)"  # never a guess from the device
    assert c["params"]["family_params.peclet"] == "1.0" and c["params"]["sweep.evaluate.n"] == "8"
    assert c["tags"]["intensity_map"] == "paper" and c["tags"]["divergence_free"] == "false"
    assert c["params"]["family_params.intensity_map"] == "paper"
    assert c["params"]["family_params.divergence_free"] == "False"
    assert c["metrics"]["train.loss"] == [(1, 0.9), (2, 0.7), (3, 0.6), (4, 0.5)]
    assert c["metrics"]["eval.fid"] == [(4, 12.5)] and c["metrics"]["eval.palette_per_channel.0"] == [(4, 0.1)]
    assert "eval.feature_extractor" not in c["metrics"]
    assert c["params"]["peclet"] == "1" and c["params"]["reynolds"] == "100" and c["params"]["seed"] == "1"
    assert c["params"]["intensity_map"] == "paper" and c["params"]["divergence_free"] == "false"
    assert c["tags"]["mlflow.runName"] == "advdiff Pe=1 Re=100 map=paper s1" and c["tags"][ROLE_TAG] == "point"
    assert c["tags"][GIT_TAG] == "abc" and c["tags"][DIRTY_TAG] == "" and "\n" not in c["tags"]["mlflow.note.content"]
    assert [(folder, Path(path).name) for folder, path in c["artifacts"]] == [
        ("", "config.json"),
        ("samples", "samples.png"),
        ("metrics", "scores.json"),
    ]


def test_run_names_are_readable():
    assert (
        run_name(
            {
                "family": "advdiff",
                "peclet": 0.06,
                "reynolds": None,
                "intensity_map": "paper",
                "divergence_free": False,
                "seed": 42,
            }
        )
        == "advdiff Pe=0.06 Re=∞ map=paper s42"
    )
    assert (
        run_name(
            {
                "family": "advdiff",
                "peclet": 1.0,
                "reynolds": 10.0,
                "intensity_map": "none",
                "divergence_free": True,
                "seed": 1,
            }
        )
        == "advdiff Pe=1 Re=10 map=none div-free s1"
    )
    assert run_name({"family": "heat", "seed": 42}) == "heat s42"


def test_run_contents_tags_the_projection_and_leaves_the_other_families_blank():
    record = make_record(Path("/nonexistent"), point="advdiff-pe1-re100-mapnone-divfree-s1-0123456789")
    record.update(intensity_map="none", divergence_free=True)
    tags = run_contents(record)["tags"]
    assert tags["intensity_map"] == "none" and tags["divergence_free"] == "true"
    record.update(family="heat", peclet=None, reynolds=None, intensity_map=None, divergence_free=None)
    tags = run_contents(record)["tags"]
    assert tags["intensity_map"] == tags["divergence_free"] == tags["peclet"] == tags["reynolds"] == ""


def _runs(uri: str, experiment: str, role: str = "point") -> list:
    """The experiment's point runs (``role="sweep"``: its parent runs)."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs([exp.experiment_id]) if exp else []
    return [r for r in runs if r.data.tags.get(ROLE_TAG) == role]


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
    assert run.info.status == "FINISHED" and run.data.tags["mlflow.runName"] == "advdiff Pe=1 Re=100 map=paper s1"
    assert {a.path for a in client.list_artifacts(run.info.run_id)} == {"config.json", "samples", "metrics"}
    assert {a.path for a in client.list_artifacts(run.info.run_id, "samples")} == {"samples/samples.png"}
    assert {a.path for a in client.list_artifacts(run.info.run_id, "metrics")} == {"metrics/scores.json"}
    parents = _runs(first["tracking_uri"], "advdiff-t", role="sweep")
    assert len(parents) == 1 and run.data.tags[PARENT_TAG] == parents[0].info.run_id
    # a changed score (e.g. scored again) completes the same run: the new value is the latest
    changed = track_record(make_record(tmp_path / "p", fid=9.0), "advdiff-t", root=tmp_path)
    assert not changed["created"] and changed["run_id"] == first["run_id"] and changed["replaced"] == []
    runs = _runs(first["tracking_uri"], "advdiff-t")
    assert len(runs) == 1 and runs[0].data.metrics["eval.fid"] == 9.0
    assert len(client.get_metric_history(run.info.run_id, "train.loss")) == 4
    # a changed param (MLflow params cannot change: trained longer) replaces the point's run
    longer = make_record(tmp_path / "p", fid=8.0)
    longer["config"]["steps"] = 8
    replaced = track_record(longer, "advdiff-t", root=tmp_path)
    assert replaced["created"] and replaced["replaced"] == [first["run_id"]]
    runs = _runs(first["tracking_uri"], "advdiff-t")
    assert len(runs) == 1 and runs[0].data.params["steps"] == "8"
    assert len(client.get_metric_history(runs[0].info.run_id, "train.loss")) == 4


WRITER = """
import json, sys
from advdiff.tracking import track_record
track_record(json.load(open(sys.argv[1])), "advdiff-par", root=sys.argv[2])
"""


@pytest.mark.slow
def test_parallel_writers_create_one_experiment_and_one_run_per_point(tmp_path):
    """Four processes at once, two of them per point, on a fresh store: nothing lost, nothing doubled."""
    paths = []
    for i, point in enumerate(["heat-s1-aaaaaaaaaa", "advdiff-pe1-re100-s1-bbbbbbbbbb"]):
        path = tmp_path / f"record{i}.json"
        path.write_text(json.dumps(make_record(tmp_path / f"p{i}", point=point)))
        paths += [path, path]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(p), str(tmp_path)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for p in paths
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    from mlflow.tracking import MlflowClient

    uri = tracking_uri(None, tmp_path)
    assert [e.name for e in MlflowClient(tracking_uri=uri).search_experiments()].count("advdiff-par") == 1
    runs = _runs(uri, "advdiff-par")
    assert sorted(r.data.tags[POINT_TAG] for r in runs) == ["advdiff-pe1-re100-s1-bbbbbbbbbb", "heat-s1-aaaaaaaaaa"]


# --------------------------------------------------------------------------- provenance


def _git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
    }
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True).stdout


def test_git_commit_is_the_plain_commit_and_dirty_paths_say_what_differs(tmp_path):
    """An untouched checkout tags its commit as is; the reports the workflow rewrites are listed apart, not hidden."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "repo"
    (repo / "reports").mkdir(parents=True)
    (repo / "reports" / "lbm.md").write_text("# LBM\n")
    (repo / "code.py").write_text("x = 1\n")
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "first")
    sha = _git(repo, "rev-parse", "HEAD").strip()
    clean = git_state(repo)
    assert clean == {"commit": sha, "dirty_paths": []}
    record = make_record(tmp_path / "p")
    record.update(git_commit=clean["commit"], git_dirty_paths=clean["dirty_paths"])
    tags = run_contents(record)["tags"]
    assert tags["git_commit"] == tags[GIT_TAG] == sha and tags[DIRTY_TAG] == ""
    (repo / "reports" / "lbm.md").write_text("# LBM, rewritten by the workflow\n")  # what make run does
    (repo / "code.py").write_text("x = 2\n")
    (repo / "untracked.txt").write_text("ignored\n")
    dirty = git_state(repo)
    assert dirty == {"commit": sha, "dirty_paths": ["code.py", "reports/lbm.md"]}
    record.update(git_commit=dirty["commit"], git_dirty_paths=dirty["dirty_paths"])
    tags = run_contents(record)["tags"]
    assert tags["git_commit"] == tags[GIT_TAG] == sha and tags[DIRTY_TAG] == "code.py\nreports/lbm.md"
    assert git_state(tmp_path / "not-a-repo") == {"commit": "unknown", "dirty_paths": []}


def test_the_package_records_its_commit_without_a_dirty_suffix():
    state = git_state()
    assert not state["commit"].endswith("-dirty") and isinstance(state["dirty_paths"], list)


# --------------------------------------------------------------------------- bad stores


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_server_fails_early_naming_the_uri_and_keeps_the_results(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    uri = f"http://127.0.0.1:{_free_port()}"
    record = make_record(tmp_path / "p")
    before = {p: Path(p).read_bytes() for p in record["files"].values()}
    t0 = time.monotonic()
    with pytest.raises(TrackingError) as err:
        track_record(record, "advdiff-t", uri=uri, root=tmp_path)
    text = str(err.value)
    assert f"tracking.uri = {uri!r}" in text and "does not answer" in text and "mlflow server" in text
    assert "rerunning the workflow's `track` job" in text and "kept" in text
    assert time.monotonic() - t0 < 30  # no minutes of retries
    assert {p: Path(p).read_bytes() for p in record["files"].values()} == before
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)  # the same through the environment, for a job's run
    job = SweepTracking("advdiff-t", {"name": "t"}).point_run("heat-s1-aaaaaaaaaa", {"family": "heat"}, stage="train")
    with pytest.raises(TrackingError, match="MLFLOW_TRACKING_URI = 'http://127.0.0.1"), job:
        pytest.fail("the job's work must not start")


READ_ONLY_CHECK = """
import sys
from advdiff.tracking import TrackingError, check_store
try:
    check_store(sys.argv[1])
except TrackingError as exc:
    print(exc)
    sys.exit(3)
"""


def test_read_only_store_fails_early_naming_the_uri_and_the_fix(tmp_path, monkeypatch):
    """A SQLite store this user cannot write (as root: checked without the capability that overrides permissions)."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    store = tmp_path / "mlflow"
    uri = f"sqlite:///{store / 'mlflow.db'}"
    track_record(make_record(tmp_path / "p"), "advdiff-t", uri=uri)  # a working store ...
    assert check_store(uri) == uri
    (store / "mlflow.db").chmod(0o444)
    store.chmod(0o555)  # ... made read-only
    try:
        if os.geteuid() == 0:
            setpriv = shutil.which("setpriv")
            if setpriv is None:
                pytest.skip("running as root without setpriv: file permissions do not bind root")
            res = subprocess.run(
                [
                    setpriv,
                    "--bounding-set=-dac_override,-dac_read_search",
                    "--",
                    sys.executable,
                    "-c",
                    READ_ONLY_CHECK,
                    uri,
                ],
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert res.returncode == 3, res.stdout + res.stderr
            text = res.stdout
        else:
            with pytest.raises(TrackingError) as err:
                check_store(uri)
            text = str(err.value)
    finally:
        store.chmod(0o755)
        (store / "mlflow.db").chmod(0o644)
    assert f"tracking.uri = {uri!r}" in text and "read-only" in text and "writable" in text
    assert "`track` job" in text


# --------------------------------------------------------------------------- a real server


@pytest.mark.slow
def test_tracking_through_an_mlflow_server(tmp_path, monkeypatch):
    """`mlflow server` on 127.0.0.1: a point's live run and its record through the public functions."""
    mlflow_cli = shutil.which("mlflow", path=str(Path(sys.executable).parent))
    if mlflow_cli is None:
        pytest.skip("the mlflow command is not installed next to this Python")
    port = _free_port()
    uri = f"http://127.0.0.1:{port}"
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", "OMP_NUM_THREADS": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    server = subprocess.Popen(
        [
            mlflow_cli,
            "server",
            "--backend-store-uri",
            f"sqlite:///{tmp_path / 'server.db'}",
            "--default-artifact-root",
            str(tmp_path / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "server.log", "w"),  # noqa: SIM115 (the server's log)
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 240
        while True:
            try:
                with urllib.request.urlopen(f"{uri}/health", timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert server.poll() is None, (tmp_path / "server.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(1)
        monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)  # as a team would set it
        record = make_record(tmp_path / "p")
        tracking = SweepTracking("advdiff-t", {"name": "t"}, root=tmp_path, system_metrics=None)
        with tracking.point_run(record["point"], record["config"], stage="train") as run:
            run.on_log(1, {"loss": 0.9}, int(time.time() * 1000))
        result = track_record(record, "advdiff-t", root=tmp_path, sweep={"name": "t"}, sweep_points=1)
        assert result["tracking_uri"] == uri and result["run_id"] == run.run_id and not result["created"]
        from mlflow.tracking import MlflowClient

        client = MlflowClient(tracking_uri=uri)
        got = client.get_run(run.run_id)
        assert got.info.status == "FINISHED" and got.data.params["family_params.peclet"] == "1.0"
        assert got.data.params["peclet"] == "1" and got.data.metrics["eval.fid"] == 12.5
        assert [m.step for m in client.get_metric_history(run.run_id, "train.loss")] == [1, 2, 3, 4]
        assert {a.path for a in client.list_artifacts(run.run_id, "metrics")} == {"metrics/scores.json"}
        assert client.get_run(result["parent_run_id"]).info.status == "FINISHED"
        assert list((tmp_path / "artifacts").rglob("scores.json"))
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=60)


def test_job_benchmarks_are_logged_to_the_run(tmp_path, monkeypatch):
    from advdiff.tracking import read_benchmark

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    header = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
    train = tmp_path / "bench" / "train.tsv"
    train.parent.mkdir()
    train.write_text(header + "61.5\t0:01:01\t812.3\t900\t800\t805\t0\t1\t98.0\t60.2\n")
    sample = tmp_path / "bench" / "sample.tsv"
    sample.write_text(header + "10.0\t0:00:10\tNA\tNA\tNA\tNA\tNA\tNA\tNA\t-\n")  # not measured: left out
    assert read_benchmark(sample) == {"seconds": 10.0}
    assert read_benchmark(tmp_path / "missing.tsv") is None
    result = track_record(
        make_record(tmp_path / "p"),
        "advdiff-t",
        root=tmp_path,
        benchmarks={"train": train, "sample": sample, "evaluate": tmp_path / "none.tsv"},
    )
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=result["tracking_uri"])
    run = client.get_run(result["run_id"])
    assert run.data.metrics["job.train.seconds"] == 61.5 and run.data.metrics["job.train.cpu_seconds"] == 60.2
    assert run.data.metrics["job.train.max_rss_mb"] == 812.3 and run.data.metrics["job.sample.seconds"] == 10.0
    assert not any(k.startswith("job.evaluate") for k in run.data.metrics)
    names = {a.path for a in client.list_artifacts(result["run_id"], "benchmarks")}
    assert names == {"benchmarks/train.tsv", "benchmarks/sample.tsv"}


def test_changed_code_since_a_run_commit_lists_code_and_config_only(tmp_path):
    """The study page's provenance: what code or config differs from the commit its runs were made at."""
    from advdiff.reporting.study import _provenance_line, provenance
    from advdiff.tracking import git_changed_paths

    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "repo"
    for name in ("advdiff/a.py", "config/c.yaml", "docs/d.md", "reports/r.md"):
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text("1\n")
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "runs")
    run = _git(repo, "rev-parse", "HEAD").strip()
    assert git_changed_paths(run, repo) == []
    assert "no code or config file differs from" in _provenance_line(provenance([run], repo))
    for name in ("advdiff/a.py", "docs/d.md", "reports/r.md"):
        (repo / name).write_text("2\n")
    _git(repo, "commit", "-qam", "later")
    (repo / "config/c.yaml").write_text("2\n")  # not committed: still a difference from the runs' code
    assert git_changed_paths(run, repo) == ["advdiff/a.py", "config/c.yaml"]
    prov = provenance([run, "unknown"], repo)
    assert prov["report_commit"] == _git(repo, "rev-parse", "HEAD").strip() != run
    assert prov["changed_since"] == {run: ["advdiff/a.py", "config/c.yaml"], "unknown": None}
    line = _provenance_line(prov)
    assert "built at commit" in line and "with 1 tracked file changed and not committed" in line
    assert f"2 code or config files differ from {run[:10]}: `advdiff/a.py`, `config/c.yaml`" in line
    assert "since unknown not known" in line
    assert git_changed_paths("0" * 40, repo) is None and git_changed_paths(run, tmp_path / "not-a-repo") is None
