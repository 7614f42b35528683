"""Provenance of the workflow's files: only `publish` writes tracked reports, after every record; every
file a rule writes is declared; every job has a benchmark; the default profile is the one plain Snakemake uses.
"""

import re
from pathlib import Path

import pytest
import yaml

from tests.workflow.helpers import ROOT, snakemake

CONFIG = ROOT / "config" / "config.yaml"


def _planned_jobs(stdout: str) -> list[dict]:
    """The jobs of a dry run (rule name, input, output, benchmark, ...), from Snakemake's job listing."""
    jobs, job = [], None
    for line in stdout.splitlines():
        head = re.fullmatch(r"(?:local)?rule (\w+):", line.strip())
        if head and not line.startswith(" "):
            job = {"rule": head.group(1)}
            jobs.append(job)
        elif job is not None and line.startswith("    ") and ": " in line:
            key, value = line.strip().split(": ", 1)
            job[key] = value.split(", ") if key in ("input", "output") else value
        elif not line.startswith("    "):
            job = None
    return jobs


@pytest.fixture(scope="module")
def planned(tmp_path_factory):
    """Every job that a fresh clone's `make run` plans (default config, no results yet)."""
    work = tmp_path_factory.mktemp("plan")
    res = snakemake("-n", "--configfile", str(CONFIG), cwd=work)
    assert res.returncode == 0, res.stderr[-3000:]
    jobs = _planned_jobs(res.stdout)
    assert len(jobs) > 50 and not (work / "results").exists() and not (work / "reports").exists()
    return jobs, res


@pytest.mark.workflow
def test_only_publish_writes_tracked_reports_and_only_after_every_record(planned):
    jobs, _ = planned
    by_rule = {}
    for job in jobs:
        by_rule.setdefault(job["rule"], []).append(job)
    writers = {j["rule"] for j in jobs for f in j.get("output", []) if f.startswith("reports/")}
    assert writers == {"publish"}, writers  # no other rule may write a tracked file
    (publish,) = by_rule["publish"]
    inputs = set(publish["input"])
    # after every MLflow run (track reads the record: every record exists by then) ...
    tracked = {f for j in by_rule["track"] for f in j["output"]}
    assert len(tracked) == 8 and tracked <= inputs
    # ... and after every report: each file built under results/reports/ is published at the same relative path
    built = {f for j in jobs if j["rule"] != "publish" for f in j.get("output", []) if f.startswith("results/reports/")}
    assert built and built <= inputs
    assert sorted(publish["output"]) == sorted("reports/" + f.removeprefix("results/reports/") for f in built)
    assert "results/reports/operator.md" in built and "results/reports/lbm.md" in built
    assert any(f.startswith("results/reports/figures/sweep_default_") for f in built)


@pytest.mark.workflow
def test_every_job_has_a_benchmark_that_publish_lists_in_the_html_report(planned):
    jobs, _ = planned
    publish = next(j for j in jobs if j["rule"] == "publish")
    for job in jobs:
        if job["rule"] == "all":  # a target: it runs nothing
            continue
        bench = job.get("benchmark", "")
        assert bench.startswith(f"results/benchmarks/{job['rule']}/") and bench.endswith(".tsv"), job
        if job["rule"] != "publish":
            assert bench in publish["input"], bench


@pytest.mark.workflow
def test_figure_rules_declare_every_file_they_write(planned):
    jobs, _ = planned
    corrupt = [j for j in jobs if j["rule"].startswith("corrupt_figures")]
    assert len(corrupt) == 2
    for job in corrupt:  # both default settings move: velocity field, animations of the four families
        names = {Path(f).name for f in job["output"]}
        assert {"velocity_field.png", "heat_vs_advdiff.png", "animation_ddpm.gif", "animation_advdiff.gif"} <= names
    points = [j for j in jobs if j["rule"].startswith("point_figures_")]
    assert len(points) == 8
    for job in points:
        names = {Path(f).name for f in job["output"]}
        family = job["wildcards"].removeprefix("point=").split("-")[0]
        assert f"animation_{family}.gif" in names and "power_spectra.png" in names
        assert ("velocity_field.png" in names) == (family == "advdiff" and "-pe0-" not in job["wildcards"])


def test_figure_files_are_what_corruption_figures_writes(tmp_path):
    """figure_files (what the rules declare) lists exactly the files written, at Pe 0 and Pe > 0."""
    import torch

    from advdiff.corruptions import build
    from advdiff.reporting.family_figures import corruption_figures, figure_files

    x0 = torch.rand(1, 1, 16, 16)
    for peclet in (0.0, 1.0):
        out = tmp_path / f"pe{peclet:g}"
        families = {
            "heat": build("heat", K=3, sigma_max=2.0),
            "advdiff": build("advdiff", K=3, sigma_max=2.0, peclet=peclet),
        }
        corruption_figures(families, x0, out)
        assert sorted(p.name for p in out.iterdir()) == sorted(figure_files(list(families), peclet).values())
        one = tmp_path / f"heat{peclet:g}"
        corruption_figures({"heat": families["heat"]}, x0, one)
        assert sorted(p.name for p in one.iterdir()) == sorted(figure_files(["heat"]).values())


def test_report_point_figures_are_the_first_seeds_of_each_row():
    from advdiff.reporting.sweep import report_point_figures

    def label(point, family, seed, pe=None, re=None):
        extra = {"intensity_map": "paper", "divergence_free": False} if family == "advdiff" else {}
        return {"point": point, "family": family, "peclet": pe, "reynolds": re, "seed": seed, **extra}

    names = report_point_figures(
        [
            label("heat-s2-b", "heat", 2),
            label("heat-s1-a", "heat", 1),
            label("advdiff-pe0-s1-c", "advdiff", 1, 0.0),
            label("advdiff-pe1-s1-d", "advdiff", 1, 1.0, 10.0),
        ],
        "t",
    )
    assert names == {
        "sweep_t_heat-s1-a_trajectory_strip.png": "heat-s1-a",
        "sweep_t_heat-s1-a_power_spectra.png": "heat-s1-a",
        "sweep_t_advdiff-pe0-s1-c_trajectory_strip.png": "advdiff-pe0-s1-c",
        "sweep_t_advdiff-pe0-s1-c_power_spectra.png": "advdiff-pe0-s1-c",
        "sweep_t_advdiff-pe1-s1-d_trajectory_strip.png": "advdiff-pe1-s1-d",
        "sweep_t_advdiff-pe1-s1-d_velocity_field.png": "advdiff-pe1-s1-d",
        "sweep_t_advdiff-pe1-s1-d_power_spectra.png": "advdiff-pe1-s1-d",
    }


def test_publish_copies_the_tree_and_drops_figures_of_points_that_left_the_sweep(tmp_path):
    """A fake results tree: the same relative paths under reports/, links kept, other files left alone."""
    from advdiff.reporting.publish import publish_reports, published_path

    src, dst = tmp_path / "results" / "reports", tmp_path / "reports"
    new_fig = "sweep_s_heat-s1-0123456789_trajectory_strip.png"
    files = {"sweep_s.md": f"![strip](figures/{new_fig})", f"figures/{new_fig}": "png", "tables/sweep_s.csv": "a,b"}
    for rel, text in files.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text(text)
    (dst / "figures").mkdir(parents=True)
    stale = dst / "figures" / "sweep_s_heat-s1-9876543210_trajectory_strip.png"  # a point no longer in the sweep
    kept = [
        dst / "figures" / name
        for name in (
            "samples_fashion_mnist.png",  # not the workflow's
            "sweep_other_heat-s1-9876543210_power_spectra.png",
        )
    ]
    for path in (stale, *kept):
        path.write_text("old")
    (dst / "sweep_s.md").write_text("old page")
    out = publish_reports([(src / rel, published_path(src / rel, src, dst)) for rel in files], sweeps=["s"])
    assert sorted(out) == sorted(dst / rel for rel in files)
    for rel, text in files.items():
        assert (dst / rel).read_text() == text
    assert (dst / "figures" / new_fig).exists()  # the page's relative link resolves after publishing
    assert not stale.exists() and all(p.exists() for p in kept)
    assert not list(dst.rglob(".*.publishing"))
    with pytest.raises(ValueError, match="keeps its name"):
        publish_reports([(src / "sweep_s.md", dst / "other.md")])


@pytest.mark.workflow
def test_plain_snakemake_uses_the_default_profile(planned):
    """`snakemake --cores all` finds workflow/profiles/default (through profiles/default): what `make run` sets."""
    import yaml

    _, res = planned
    assert "workflow specific profile" in res.stderr and "profiles/default" in res.stderr
    link = ROOT / "profiles" / "default"
    assert link.is_symlink() and link.resolve() == (ROOT / "workflow" / "profiles" / "default").resolve()
    profile = yaml.safe_load((link / "config.yaml").read_text())
    assert profile["rerun-incomplete"] is True and profile["printshellcmds"] is True
    assert profile["resources"] == ["mem_mb=7000"]
    makefile = (ROOT / "Makefile").read_text()
    assert "--workflow-profile workflow/profiles/default" in makefile and "--rerun-incomplete" not in makefile
    assert 'min_version("8.0")' in (ROOT / "Snakefile").read_text().split("rule ", 1)[0]


@pytest.mark.workflow
def test_the_study_page_depends_on_its_cross_machine_table(tmp_path):
    """`sweep.cross_machine` is an input of `report_study`: a newer table of the other machine rebuilds the page."""
    other = tmp_path / "other.json"
    other.write_text("{}")
    overlay = tmp_path / "cross.yaml"
    overlay.write_text(yaml.safe_dump({"sweep": {"cross_machine": str(other)}}))
    study = [str(CONFIG), str(ROOT / "config" / "study.yaml")]
    res = snakemake("-n", "study", "--configfile", *study, str(overlay), cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    (crossed,) = [j for j in _planned_jobs(res.stdout) if j["rule"] == "report_study"]
    plain = snakemake("-n", "study", "--configfile", *study, cwd=tmp_path)
    (report,) = [j for j in _planned_jobs(plain.stdout) if j["rule"] == "report_study"]
    assert set(crossed["input"]) - set(report["input"]) == {str(other)}


@pytest.mark.workflow
def test_the_study_writes_tracked_files_only_in_its_publish_step_after_every_run(tmp_path):
    """`make study` (config/study.yaml over config.yaml): its report is built under results/reports/ and
    only `publish_study` copies it into reports/, after every point's MLflow run; every job has a benchmark."""
    res = snakemake("-n", "study", "--configfile", str(CONFIG), str(ROOT / "config" / "study.yaml"), cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    jobs = _planned_jobs(res.stdout)
    writers = {j["rule"] for j in jobs for f in j.get("output", []) if f.startswith("reports/")}
    assert writers == {"publish_study"}, writers
    (report,) = [j for j in jobs if j["rule"] == "report_study"]
    tracked = {f for j in jobs if j["rule"] == "track" for f in j["output"]}
    # 5 points (advdiff Pe 0, Pe 0.06 with and without the map, Pe 0.5 with it, heat) x 3 seeds
    assert len(tracked) == 15 and tracked <= set(report["input"])
    assert "results/reports/study_fashion_mnist.md" in report["output"]
    for job in jobs:
        if job["rule"] != "study":  # a target: it runs nothing
            assert job.get("benchmark", "").startswith(f"results/benchmarks/{job['rule']}/"), job
    # the config lists the points by priority: every job of an earlier point outranks those of later ones
    rank = {j["wildcards"].removeprefix("point="): int(j["priority"]) for j in jobs if j["rule"] == "train"}
    by_rank = sorted(rank, key=lambda p: -rank[p])
    assert [p.split("-s")[0] for p in by_rank[::3]] == [
        "advdiff-pe0-reinf-mappaper",
        "advdiff-pe0.06-reinf-mappaper",
        "advdiff-pe0.06-reinf-mapnone",
        "advdiff-pe0.5-reinf-mappaper",
        "heat",
    ]
    for job in jobs:
        if "point=" in job.get("wildcards", ""):
            assert int(job["priority"]) == rank[job["wildcards"].removeprefix("point=")], job
