"""The default workflow through Snakemake: its dry run, its strict config, and a fresh clone that plans every job."""

import pytest

from tests.workflow.helpers import ROOT, snakemake

pytestmark = pytest.mark.workflow  # every test here starts Snakemake


def test_dry_run_plans_the_default_workflow(tmp_path):
    """`snakemake -n` on the default config plans validation, benchmark and report."""
    res = snakemake("-n", "--configfile", str(ROOT / "config" / "config.yaml"), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    for rule in ("validate_lbm", "bench_lbm", "report_lbm"):
        assert rule in res.stdout


def test_unknown_config_key_is_rejected_before_any_job(tmp_path):
    """An unknown key fails validation and names the key; nothing runs."""
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("lbm:\n  backend: cpu\n  colisions: [bgk]\n")
    res = snakemake("-n", "--configfile", str(cfg), cwd=tmp_path)
    assert res.returncode != 0
    assert "colisions" in res.stdout + res.stderr


def test_fresh_clone_runs_every_job_although_reports_are_committed(tmp_path):
    """With the committed reports present but no results, the dry run still plans every job (no silent no-op)."""
    res = snakemake("-n", "--configfile", str(ROOT / "config" / "config.yaml"), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    reports = tmp_path / "reports"
    reports.mkdir()
    for name in ("lbm.md", "corruptions.md"):
        (reports / name).write_text("old report\n")
    res = snakemake("-n", "--configfile", str(ROOT / "config" / "config.yaml"), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    for rule in ("validate_lbm", "bench_lbm", "corrupt_figures", "bench_corrupt", "report_lbm", "report_corruptions"):
        assert rule in res.stdout, rule
