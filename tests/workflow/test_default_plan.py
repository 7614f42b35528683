"""The Snakemake workflow: dry run, strict config, and the report it builds."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = shutil.which("snakemake", path=str(Path(sys.executable).parent))


def _snakemake(*args, cwd=ROOT):
    if SNAKEMAKE is None:
        pytest.skip("snakemake is not installed next to this Python")
    return subprocess.run([SNAKEMAKE, "--snakefile", str(ROOT / "Snakefile"), *args], cwd=cwd,
                          capture_output=True, text=True)  # fmt: skip


def test_dry_run_plans_the_default_workflow(tmp_path):
    """`snakemake -n` on the default config plans validation, benchmark and report."""
    res = _snakemake("-n", "--cores", "1", "--configfile", str(ROOT / "config" / "config.yaml"), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    for rule in ("validate_lbm", "bench_lbm", "report_lbm"):
        assert rule in res.stdout


def test_unknown_config_key_is_rejected_before_any_job(tmp_path):
    """An unknown key fails validation and names the key; nothing runs."""
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("lbm:\n  backend: cpu\n  colisions: [bgk]\n")
    res = _snakemake("-n", "--cores", "1", "--configfile", str(cfg), cwd=tmp_path)
    assert res.returncode != 0
    assert "colisions" in res.stdout + res.stderr


def test_report_from_result_files(tmp_path):
    """The report script builds its tables from result JSON files alone."""
    from advdiff.reporting.lbm import write_lbm_report

    val = {"backend": "cpu", "cases": {"bgk": {
        "gaussian_relative_l2": {"64": 2e-3, "128": 5e-4}, "gaussian_steps_128": 400, "gaussian_observed_order": 2.0,
        "heat_sigmas": [0.5, 0.6, 3.0], "heat_relative_l2_interior": [5e-3, 3e-2, 1e-3], "heat_max": 3e-2,
        "heat_max_sigma": 0.6, "heat_max_sigma_ge_1px": 1e-3, "heat_sigma_above_tolerance": [0.6, 0.6],
        "heat_tolerance": 2e-2, "mass_max_relative_drift": 3e-8}}}  # fmt: skip
    bench = {"backend": "cpu", "shape": [1, 1, 8, 8], "dtype": "float32", "collision": "bgk", "boundary": "neumann",
             "mlups": 100.0, "copy_gb_s": 20.0, "roofline_ratio": 0.4, "speedup_vs_numpy": 30.0,
             "machine": {"cpu": "test cpu", "cores": 2, "date": "2026-11-25"}}  # fmt: skip
    (tmp_path / "v.json").write_text(json.dumps(val))
    (tmp_path / "b.json").write_text(json.dumps(bench))
    fig = tmp_path / "fig.png"
    fig.write_bytes(b"png")
    write_lbm_report(str(tmp_path / "v.json"), [str(tmp_path / "b.json")], [str(fig)], str(tmp_path / "r" / "lbm.md"))
    text = (tmp_path / "r" / "lbm.md").read_text()
    assert "| `bgk` | 2.00e-03 | 5.00e-04 | 2.00 | 3.00e-02 (σ = 0.60 px) | 1.00e-03 | 3.00e-08 |" in text
    assert "`bgk`: σ from 0.60 to 0.60 px." in text
    assert (
        "| cpu | 1x1x8x8 float32 | bgk / neumann | 100.0 | 20.0 | 0.40 | 30x | test cpu, 2 cores | 2026-11-25 |" in text
    )
    assert (tmp_path / "r" / "figures" / "fig.png").exists()


def test_corruption_report_from_result_files(tmp_path):
    """The corruption report lists each family with its numbers and copies the setting's figures."""
    from advdiff.reporting.corruptions import write_corruption_report

    folder = tmp_path / "results" / "pe2_re100"
    folder.mkdir(parents=True)
    summary = {"n_images": 2, "image_shape": [1, 28, 28], "families": {
        "heat": {"K": 100, "max_relative_channel_sum_change": 2.7e-7},
        "advdiff": {"K": 100, "params": {"peclet": 2.0, "reynolds": 100.0}, "max_relative_channel_sum_change": 4e-8,
                    "schedule": {"fourier_max": 0.255, "total_steps": 1258, "transport_bound_px": 14.3}}}}  # fmt: skip
    (folder / "corrupt.json").write_text(json.dumps(summary))
    (folder / "trajectory_strip.png").write_bytes(b"png")
    bench = {"backend": "cpu", "batch": {"28": 64, "128_rgb": 16}, "s_per_image_28": 0.0156,
             "s_per_image_128_rgb": 1.118, "speedup_vs_paper_28": 64.1, "speedup_vs_paper_128_rgb": 22.4,
             "machine": {"cpu": "test cpu", "cores": 2, "date": "2026-11-25"}}  # fmt: skip
    (tmp_path / "b.json").write_text(json.dumps(bench))
    out = tmp_path / "reports" / "corruptions.md"
    write_corruption_report([str(folder / "corrupt.json")], [str(tmp_path / "b.json")], str(out))
    text = out.read_text()
    assert "## advdiff Pe = 2.0, Re = 100.0" in text
    assert "| advdiff | 100 | 0.255 | 1258 | 14.3 | 4.0e-08 |" in text
    assert "transport bound Σ U_n (px)" in text and "upper bound" in text and "reports/operator.md" in text
    assert "displacement (px)" not in text and "mean displacement" not in text
    assert "| cpu | 128 × 128 RGB, K 200, σ_max 32 | 16 | 1.118 | 22× | test cpu, 2 cores | 2026-11-25 |" in text
    assert (out.parent / "figures" / "corrupt_pe2_re100_trajectory_strip.png").exists()


def test_fresh_clone_runs_every_job_although_reports_are_committed(tmp_path):
    """With the committed reports present but no results, the dry run still plans every job (no silent no-op)."""
    res = _snakemake("-n", "--cores", "1", "--configfile", str(ROOT / "config" / "config.yaml"), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    reports = tmp_path / "reports"
    reports.mkdir()
    for name in ("lbm.md", "corruptions.md"):
        (reports / name).write_text("old report\n")
    res = _snakemake("-n", "--cores", "1", "--configfile", str(ROOT / "config" / "config.yaml"), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    for rule in ("validate_lbm", "bench_lbm", "corrupt_figures", "bench_corrupt", "report_lbm", "report_corruptions"):
        assert rule in res.stdout, rule
