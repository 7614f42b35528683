"""The benchmark sweep through Snakemake: dry runs, profiles, lint, invalid configs and a smoke run."""

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.workflow.helpers import ROOT, SMOKE, SNAKEMAKE, job_counts, snakemake, snakemake_env

SNAKEFMT = shutil.which("snakefmt", path=str(Path(sys.executable).parent))

pytestmark = pytest.mark.workflow  # every test here starts Snakemake


def test_dry_run_default_config_plans_the_sweep(tmp_path):
    res = snakemake("-n", "--configfile", str(ROOT / "config" / "config.yaml"), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    jobs = job_counts(res.stdout)
    # 4 families; advdiff at Pe 0 (once) and Pe 0.06, 1.0 x Re 10, inf: 8 points, 1 seed
    for rule in ("train", "sample", "evaluate", "record", "track"):
        assert jobs[rule] == 8, (rule, jobs)
    # one figure rule per family (its animation) and one for advdiff that moves (its velocity field)
    figures = {rule: n for rule, n in jobs.items() if rule.startswith("point_figures_")}
    assert figures == {
        "point_figures_ddpm": 1,
        "point_figures_heat": 1,
        "point_figures_blur": 1,
        "point_figures_advdiff": 1,
        "point_figures_advdiff_velocity": 4,
    }, jobs
    assert jobs["report_sweep"] == 1 and jobs["check_data"] == 1 and jobs["validate_lbm"] == 1


@pytest.mark.parametrize("profile", [None, "slurm", "local-gpu"])
def test_dry_run_paper_config_without_ffhq(tmp_path, profile):
    """The paper's sweep plans 7 Pe x 2 seeds on a machine without FFHQ, also through both profiles.

    Without one, the default profile's 7 GB cap scales the jobs' memory down; a cluster profile given
    as --workflow-profile replaces the default one, so its jobs ask for the config's memory."""
    args = ["sweep", "-n", "--configfile", str(ROOT / "config" / "paper.yaml")]
    if profile:
        args += ["--workflow-profile", str(ROOT / "workflow" / "profiles" / profile)]
    res = snakemake(*args, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    jobs = job_counts(res.stdout)
    assert jobs["train"] == 14 and jobs["evaluate"] == 14 and jobs["track"] == 14
    assert "gpu=1" in res.stdout
    if profile:
        assert "mem_mb=64000" in res.stdout and "mem_mb=7000," not in res.stdout
    else:
        assert "mem_mb=7000," in res.stdout and "mem_mb=64000" not in res.stdout
    if profile == "slurm":  # GPU jobs to the GPU partition, the others (figures) to the CPU one
        blocks = [b for b in res.stdout.split("\nrule ") if "resources:" in b]
        found = {b.split(":", 1)[0]: re.search(r"slurm_partition=(\w+)", b) for b in blocks}
        parts = {rule: m.group(1) for rule, m in found.items() if m}
        assert {parts[r] for r in ("train", "sample", "evaluate")} == {"gpu"}, parts
        assert {p for r, p in parts.items() if r.startswith("point_figures")} == {"cpu"}, parts
    assert not (tmp_path / "results").exists()


def test_data_rule_says_where_to_put_the_images(tmp_path):
    res = snakemake("results/sweep/paper/data.json", "--configfile", str(ROOT / "config" / "paper.yaml"), cwd=tmp_path)
    assert res.returncode != 0
    log = (tmp_path / "results" / "logs" / "sweep" / "paper" / "check_data.log").read_text()
    text = res.stdout + res.stderr + log
    assert "Put the images" in text and str((tmp_path / "data" / "ffhq128").resolve()) in text


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ("sweep:\n  families: [heat, smoke]\n", "families"),
        ("sweep:\n  peclet: [0.0, -0.5]\n", "peclet"),
        ("sweep:\n  family_params:\n    advdiff: { alpha_max: 0.0 }\n", "alpha_max"),  # tau_max = 1/2
        ("sweep:\n  train: { stepz: 3 }\n", "stepz"),
    ],
)
def test_invalid_config_fails_before_any_job_naming_the_key(tmp_path, section, key):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(section)
    res = snakemake("--configfile", str(cfg), cwd=tmp_path)  # a real run, not a dry run: nothing may start
    assert res.returncode != 0
    assert key in res.stdout + res.stderr
    assert not (tmp_path / "results").exists()


def test_lint_and_snakefmt_are_clean(tmp_path):
    res = snakemake("--lint", "--configfile", str(ROOT / "config" / "config.yaml"), cwd=tmp_path)
    assert res.returncode == 0 and "Congratulations" in res.stdout + res.stderr, res.stdout + res.stderr
    if SNAKEFMT is None:
        pytest.skip("snakefmt is not installed next to this Python")
    fmt = subprocess.run([SNAKEFMT, "--check", "Snakefile", "workflow/rules"], cwd=ROOT, capture_output=True, text=True)
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


# --------------------------------------------------------------------------- smoke run


@pytest.fixture(scope="module")
def smoke(smoke_sweep):
    """The tiny sweep end to end (train, sample, evaluate, record, track, report): the session's one run
    (tests/workflow/conftest.py), shared with the MLflow UI test."""
    return smoke_sweep


def _points(work: Path) -> list[str]:
    return sorted(p.parent.name for p in (work / "results" / "sweep" / "smoke").glob("*/record.json"))


def _mlflow_runs(work: Path, role: str = "point"):
    """The client and the smoke experiment's point runs (``role="sweep"``: its parent runs)."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{work / 'results' / 'mlflow' / 'mlflow.db'}")
    exp = client.get_experiment_by_name("advdiff-smoke")
    return client, [r for r in client.search_runs([exp.experiment_id]) if r.data.tags.get("advdiff.role") == role]


def test_smoke_mlflow_holds_one_run_per_point_with_metrics_and_artifacts(smoke):
    points = _points(smoke)
    assert len(points) == 3  # heat, advdiff Pe 0, advdiff Pe 1 Re 10
    client, runs = _mlflow_runs(smoke)
    assert sorted(r.data.tags["advdiff.point"] for r in runs) == points
    _, parents = _mlflow_runs(smoke, role="sweep")  # one parent run for the sweep, finished with its last point
    assert len(parents) == 1 and parents[0].info.status == "FINISHED" and parents[0].data.params["name"] == "smoke"
    for run in runs:
        assert run.info.status == "FINISHED" and run.info.end_time > run.info.start_time
        tags = run.data.tags
        assert tags["mlflow.parentRunId"] == parents[0].info.run_id
        names = ("heat s1", "advdiff Pe=0 Re=∞ map=paper s1", "advdiff Pe=1 Re=10 map=paper s1")
        assert tags["mlflow.runName"] in names
        assert tags["mlflow.source.git.commit"] == tags["git_commit"] and not tags["git_commit"].endswith("-dirty")
        assert "advdiff.git.dirty_paths" in tags and tags["mlflow.note.content"]
        # the training job opened the run and logged its curve live; the record completed it, replacing nothing
        marker = smoke / "results" / "sweep" / "smoke" / tags["advdiff.point"] / "tracking.json"
        tracked = json.loads(marker.read_text())
        assert tracked["run_id"] == run.info.run_id and tracked["created"] is False and tracked["replaced"] == []
        assert [d.dataset.name for d in run.inputs.dataset_inputs] == ["fashion_mnist"]
        tagged = ("family", "peclet", "reynolds", "intensity_map", "divergence_free", "backend", "device")
        for tag in (*tagged, "git_commit", "feature_extractor"):
            assert tag in tags, tag
        scores = ("eval.fid", "eval.kid", "eval.precision", "eval.recall", "eval.density", "eval.coverage")
        for metric in (
            *scores,
            "eval.palette",
            "train.images_per_second_mean",
            "sample.images_per_second",
            "compute.hours",
        ):
            assert metric in run.data.metrics, metric
        loss = client.get_metric_history(run.info.run_id, "train.loss")
        assert sorted(m.step for m in loss) == [1, 2, 3, 4]  # log_every 1, 4 steps, each once
        for key in ("train.lr", "train.images_per_second", "train.ema_decay", "train.ema_distance"):
            assert key in run.data.metrics, key
        for key in ("eval.fid", "sample.images_per_second"):  # logged by its job, not again by track
            assert len(client.get_metric_history(run.info.run_id, key)) == 1, key
        assert run.data.params["model.preset"] == "tiny" and run.data.params["steps"] == "4"
        assert run.data.params["seed"] == "1" and run.data.params["family"] == tags["family"]
        artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
        assert {"config.json", "figures", "samples", "metrics", "checkpoints"} <= artifacts
        listed = {
            a.path
            for folder in ("figures", "samples", "metrics", "checkpoints")
            for a in client.list_artifacts(run.info.run_id, folder)
        }
        assert {
            "samples/samples.png",
            "samples/samples.pt.json",
            "metrics/scores.json",
            "metrics/record.json",
            "figures/trajectory_strip.png",
            "checkpoints/checkpoint.pt.json",
        } <= listed
        if tags["peclet"] == "1":
            assert "figures/velocity_field.png" in listed


def test_smoke_tables_hold_every_point(smoke):
    points = _points(smoke)
    reports = smoke / "results" / "reports"  # the `sweep` target builds them; only `publish` writes reports/
    tables = reports / "tables"
    rows = list(csv.DictReader((tables / "sweep_smoke_points.csv").open()))
    assert sorted(r["point"] for r in rows) == points
    assert {r["feature_extractor"] for r in rows} == {"advdiff-tiny-test"} and {r["n_fake"] for r in rows} == {"8"}
    grouped = list(csv.DictReader((tables / "sweep_smoke.csv").open()))
    assert sorted((r["family"], r["peclet"], r["reynolds"]) for r in grouped) == [
        ("advdiff", "0.0", "inf"),
        ("advdiff", "1.0", "10.0"),
        ("heat", "", ""),
    ]
    md = (tables / "sweep_smoke.md").read_text()
    assert md.count("| Fashion-MNIST 16x16 |") == 3 and "8 / 8" in md and "advdiff-tiny-test" in md
    assert "\\begin{tabular}" in (tables / "sweep_smoke.tex").read_text()
    page = (reports / "sweep_smoke.md").read_text()
    assert "not FID" in page
    for fig in ("sweep_smoke_fid_vs_pe.png", "sweep_smoke_samples.png"):
        assert (reports / "figures" / fig).stat().st_size > 1000
    # every row shows its trajectory strip and power spectra; the moving advdiff row its velocity field
    for point in points:
        kinds = ["trajectory_strip", "power_spectra"] + (["velocity_field"] if "-pe1-" in point else [])
        for kind in kinds:
            name = f"sweep_smoke_{point}_{kind}.png"
            assert f"(figures/{name})" in page, name
            assert (reports / "figures" / name).stat().st_size > 1000
    assert not (smoke / "reports").exists()


def test_smoke_snakemake_html_report(smoke):
    """`snakemake --report` packs the finished sweep into one HTML file: every figure and table, with captions."""
    out = smoke / "results" / "workflow.html"
    res = snakemake("sweep", "--configfile", str(SMOKE), "--report", str(out), cwd=smoke)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    html = out.read_text(errors="replace")
    assert out.stat().st_size > 10_000 and "<html" in html[:5000].lower()
    built = smoke / "results" / "reports"
    files = [p.name for p in (built / "figures").glob("*.png")] + [p.name for p in (built / "tables").iterdir()]
    assert len(files) == 2 + 7 + 4  # fid_vs_pe, samples; 3 strips, 3 spectra, 1 velocity field; 4 tables
    for name in files:
        assert name in html, name


def test_smoke_changed_parameter_plans_exactly_the_points_that_depend_on_it(smoke):
    """After the finished smoke sweep: a changed advdiff parameter plans the advdiff points again, not heat;
    a longer training (run control, not identity) continues every point."""
    import yaml

    cfg = yaml.safe_load(SMOKE.read_text())
    cfg["sweep"]["family_params"]["advdiff"]["sigma_max"] = 5
    changed = smoke / "changed.yaml"
    changed.write_text(yaml.safe_dump(cfg))
    res = snakemake("sweep", "-n", "--configfile", str(changed), cwd=smoke)
    assert res.returncode == 0, res.stderr[-3000:]
    jobs = job_counts(res.stdout)
    assert jobs["train"] == 2 and jobs["sample"] == 2 and jobs["evaluate"] == 2, jobs  # advdiff Pe 0 and Pe 1
    planned = {line.split("point=", 1)[1] for line in res.stdout.splitlines() if "wildcards: point=" in line}
    assert len(planned) == 2 and all(p.startswith("advdiff-") for p in planned) and not planned & set(_points(smoke))
    cfg = yaml.safe_load(SMOKE.read_text())
    cfg["sweep"]["train"]["steps"] = 6
    longer = smoke / "longer.yaml"
    longer.write_text(yaml.safe_dump(cfg))
    res = snakemake("sweep", "-n", "--configfile", str(longer), cwd=smoke)
    assert res.returncode == 0, res.stderr[-3000:]
    assert job_counts(res.stdout)["train"] == 3  # every point trains on from its checkpoint, in its own folder
    planned = {line.split("point=", 1)[1] for line in res.stdout.splitlines() if "wildcards: point=" in line}
    assert planned == set(_points(smoke))


def test_smoke_rerun_does_nothing_and_adds_no_runs(smoke):
    _, before = _mlflow_runs(smoke)
    res = snakemake("sweep", "--configfile", str(SMOKE), cwd=smoke)
    assert res.returncode == 0, res.stderr
    assert "Nothing to be done" in res.stdout + res.stderr
    _, after = _mlflow_runs(smoke)
    assert sorted(r.info.run_id for r in after) == sorted(r.info.run_id for r in before)
    # forcing the tracking jobs again (e.g. a lost marker file) still adds no run
    for marker in (smoke / "results" / "sweep" / "smoke").glob("*/tracking.json"):
        marker.unlink()
    res = snakemake("sweep", "--configfile", str(SMOKE), cwd=smoke)
    assert res.returncode == 0, res.stderr
    _, again = _mlflow_runs(smoke)
    assert sorted(r.info.run_id for r in again) == sorted(r.info.run_id for r in before)
    record = json.loads(next((smoke / "results" / "sweep" / "smoke").glob("*/tracking.json")).read_text())
    assert record["created"] is False


@pytest.mark.kill
def test_killed_workflow_resumes_training_without_redoing_or_duplicating(tmp_path):
    """Kill the workflow during a training job, run it again: finished jobs stay, training resumes, one run each.

    About two minutes on an idle machine (six on a busy one): marked `kill` as well as `workflow`, so that
    `make test-workflow` and CI run it and the default selection does not.

    After a hard kill Snakemake's lock stays: `snakemake --unlock`, then the same command with
    `--rerun-incomplete` (the default profile, which `make run` uses, sets it) continues.
    """
    import signal
    import time

    import yaml

    cfg = yaml.safe_load(SMOKE.read_text())
    cfg["sweep"]["families"] = ["heat", "advdiff"]
    cfg["sweep"]["train"].update(steps=400, checkpoint_every=20, log_every=20)
    path = tmp_path / "kill.yaml"
    path.write_text(yaml.safe_dump(cfg))
    if SNAKEMAKE is None:
        pytest.skip("snakemake is not installed next to this Python")
    cmd = [SNAKEMAKE, "sweep", "--snakefile", str(ROOT / "Snakefile"), "--cores", "1", "--configfile", str(path)]
    proc = subprocess.Popen(
        cmd,
        cwd=tmp_path,
        env=snakemake_env(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    runs = tmp_path / "results" / "sweep" / "runs"
    deadline = time.time() + 300
    # wait until one point has finished training and another has a checkpoint but no summary yet
    while time.time() < deadline:
        done = list(runs.glob("*/summary.json"))
        partial = [c for c in runs.glob("*/checkpoint.pt") if not (c.parent / "summary.json").exists()]
        if done and partial:
            break
        time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("training never reached the state to interrupt")
    os.killpg(proc.pid, signal.SIGKILL)  # the hardest kill: Snakemake and its training job at once
    proc.wait(timeout=120)
    assert snakemake("--unlock", "--configfile", str(path), cwd=tmp_path).returncode == 0  # its lock stays behind
    finished = {p.parent.name: p.stat().st_mtime_ns for p in runs.glob("*/summary.json")}
    res = subprocess.run(
        [*cmd, "--rerun-incomplete"],
        cwd=tmp_path,
        env=snakemake_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    for name, mtime in finished.items():  # finished training was not redone
        assert (runs / name / "summary.json").stat().st_mtime_ns == mtime
    for ckpt in partial:  # the interrupted training continued from its checkpoint
        info = json.loads((ckpt.parent / "summary.json").read_text())
        assert info["step"] == 400 and 0 < info["steps_this_call"] < 400, info
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'results' / 'mlflow' / 'mlflow.db'}")
    exp = client.get_experiment_by_name("advdiff-smoke")
    point_runs = [r for r in client.search_runs([exp.experiment_id]) if r.data.tags.get("advdiff.role") == "point"]
    points = sorted(r.data.tags["advdiff.point"] for r in point_runs)
    assert points == sorted(p.parent.name for p in runs.glob("*/summary.json")) and len(points) == 3
    for run in point_runs:  # the killed training's run continued: its whole curve, each step once
        steps = [m.step for m in client.get_metric_history(run.info.run_id, "train.loss")]
        assert sorted(steps) == list(range(20, 401, 20)) and run.info.status == "FINISHED", (run.info.run_name, steps)
