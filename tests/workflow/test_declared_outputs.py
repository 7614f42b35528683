"""Snakemake knows every file: each file a run leaves under results/ and reports/ is a declared output,
log or benchmark of one of its jobs (or inside a declared directory), no job deletes a file it does not
declare, and the figure rules write exactly the files they declare.

The declared files come from a forced dry run (``-n -F``) of the same target in the same folder, which
lists every job of the target's graph with its output, log and benchmark files.
"""

import os
import re
import shutil
from pathlib import Path

import pytest
import yaml

from tests.workflow.helpers import SMOKE, snakemake

pytestmark = pytest.mark.workflow  # every test here starts Snakemake

UNDECLARED = {
    # one MLflow store shared by every point's train, sample, evaluate, record and track jobs (written under
    # a file lock): no single job owns it; the jobs' declared files (record.json, tracking.json) say what it holds
    r"results/mlflow/.*": "the MLflow store (tracking.uri)",
    # the training run's resumable state: declared, Snakemake would delete it before a rerun (a killed job,
    # more steps), so training could not resume; summary.json, written last, is the declared output
    r"results/sweep/runs/[^/]+/(config\.json|checkpoint\.pt|metrics\.jsonl)": "training state (train.smk)",
    # `snakemake --report` (test_smoke_snakemake_html_report, on the shared smoke folder): a command, not a rule
    r"results/workflow\.html": "the HTML report",
}


def declared_files(*args: str, cwd: Path) -> dict[str, set[str]]:
    """rule -> every output, log and benchmark file of the target's jobs (a forced dry run in ``cwd``)."""
    res = snakemake(*args, "-n", "-F", cwd=cwd)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    files: dict[str, set[str]] = {}
    rule = None
    for line in res.stdout.splitlines():
        head = re.fullmatch(r"(?:local)?rule (\w+):", line.strip())
        if head and not line.startswith(" "):
            rule = files.setdefault(head.group(1), set())
        elif rule is not None and line.startswith("    ") and ": " in line:
            key, value = line.strip().split(": ", 1)
            if key in ("output", "log", "benchmark"):
                rule.update(value.split(", "))
        elif not line.startswith("    "):
            rule = None
    assert files, res.stdout[-3000:]
    return files


def undeclared_files(work: Path, declared: set[str]) -> list[str]:
    """Files under ``work``/results and ``work``/reports that no job declares (nor a declared directory holds)."""
    folders = [d for d in declared if (work / d).is_dir()]
    found = []
    for top in ("results", "reports"):
        for path in (work / top).rglob("*"):
            rel = path.relative_to(work).as_posix()
            if path.is_dir() or rel in declared or any(rel.startswith(f"{d.rstrip('/')}/") for d in folders):
                continue
            if not any(re.fullmatch(pattern, rel) for pattern in UNDECLARED):
                found.append(rel)
    return sorted(found)


def test_the_smoke_sweep_leaves_only_declared_files(smoke_sweep):
    """The `sweep` target (train, sample, evaluate, figures, record, track, report): every file is declared."""
    declared = set().union(*declared_files("sweep", "--configfile", str(SMOKE), cwd=smoke_sweep).values())
    undeclared = undeclared_files(smoke_sweep, declared)
    assert not undeclared, undeclared
    runs = list((smoke_sweep / "results" / "sweep" / "runs").glob("*/checkpoint.pt"))
    assert len(runs) == 3  # the exemptions above are what they say: the points' training state
    assert not (smoke_sweep / "reports").exists()  # only `publish` writes there


@pytest.mark.slow
def test_publish_and_the_corruption_figures_write_exactly_their_declared_files(smoke_sweep, tmp_path):
    """On a copy of the finished smoke sweep: the corruption figures (a setting at rest and one that moves),
    their report, the sweep's report (again) and `publish` run for real; the LBM and operator reports are
    stand-ins (hours of work). Every file is declared, each figure job writes exactly its outputs, and
    neither the sweep's report nor `publish` touches a file it does not declare (a point figure of an
    earlier sweep, in results/reports/ and in reports/; a user's file in reports/)."""
    work = tmp_path / "work"
    shutil.copytree(smoke_sweep, work, symlinks=True)
    cheap = tmp_path / "cheap.yaml"
    cheap.write_text(
        yaml.safe_dump(
            {
                "bench": {"corrupt": False},
                "corrupt": {
                    "n_images": 1,
                    "families": ["heat", "advdiff"],
                    "settings": [{"peclet": 0.0, "reynolds": None}, {"peclet": 1.0, "reynolds": 10}],
                },
            }
        )
    )
    config = ("--configfile", str(SMOKE), str(cheap))
    jobs = declared_files("publish", *config, cwd=work)
    stand_ins = ("validate_lbm", "bench_lbm", "report_lbm", "operator_report")
    for name in stand_ins:
        for rel in jobs[name]:
            path = work / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"stand-in for {name}\n")
            os.utime(path, (1e9, 1e9))  # all the same age: none of these jobs is due
    old_point = "sweep_smoke_heat-s1-0123456789_trajectory_strip.png"  # a point no longer in the sweep
    others = ["results/reports/figures/" + old_point, "reports/figures/" + old_point, "reports/notes.md"]
    for rel in others:
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        (work / rel).write_text("not the workflow's\n")
    res = snakemake("publish", *config, "--rerun-triggers", "mtime", "--forcerun", "report_sweep", cwd=work)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    ran = set(re.findall(r"Finished jobid: \d+ \(Rule: (\w+)\)", res.stdout + res.stderr))
    assert ran == {"corrupt_figures", "corrupt_figures_velocity", "report_corruptions", "report_sweep", "publish"}, ran
    declared = set().union(*jobs.values())
    assert undeclared_files(work, declared) == sorted(others)
    for rel in others:  # left alone; publish names the stale figure for the user to remove
        assert (work / rel).read_text() == "not the workflow's\n", rel
    assert f"git rm reports/figures/{old_point}" in res.stderr
    # publish: its outputs, and nothing else in reports/
    published = {p.relative_to(work).as_posix() for p in (work / "reports").rglob("*") if p.is_file()}
    outputs = {f for f in jobs["publish"] if f.startswith("reports/")}
    assert published - outputs == set(others[1:])
    assert outputs <= published and any(f.endswith("sweep_smoke.md") for f in outputs)
    # each corruption-figure job: exactly its declared files in its folder (Pe 0: no velocity field)
    for rule, setting in (("corrupt_figures", "pe0_reinf"), ("corrupt_figures_velocity", "pe1_re10")):
        folder = work / "results" / "corrupt" / setting
        written = {p.relative_to(work).as_posix() for p in folder.iterdir()}
        assert written == {f for f in jobs[rule] if f.startswith(f"results/corrupt/{setting}/")}, (rule, written)
        assert (folder / "velocity_field.png").exists() == (rule == "corrupt_figures_velocity")
        assert (folder / "heat_vs_advdiff.png").exists() and (folder / "animation_heat.gif").exists()
