"""`advdiff gpu-check`: its logic on the CPU (the GPU run is the same code with backend cupy, device cuda)."""

import json

import pytest

from advdiff.cli import main
from advdiff.gpucheck import projection


@pytest.mark.slow
def test_the_check_runs_every_stage_on_the_cpu_and_writes_one_json(tmp_path, capsys):
    out = tmp_path / "gpu_check.json"
    rc = main(
        [
            "gpu-check",
            "--json",
            str(out),
            "--backend",
            "cpu",
            "--device",
            "cpu",
            "--quick",
            "--steps",
            "2",
            "--samples",
            "2",
        ]
    )
    report = json.loads(out.read_text())
    assert set(report["stages"]) == {"parity", "roofline", "train_sample", "projection"}
    parity = report["stages"]["parity"]
    assert parity["status"] == "ok" and parity["max_abs_diff"] <= 1e-5 and len(parity["cases"]) == 5
    assert report["stages"]["train_sample"]["lbm_backend"] == "cpu"
    assert report["stages"]["train_sample"]["amp_bf16"] is False  # bf16 autocast only on CUDA
    assert report["stages"]["projection"]["points"] == 14 and report["stages"]["projection"]["gpu_hours"] > 0
    # a CPU is far below a GPU's roofline goal: reported as such, the command says so by its status
    assert rc == (0 if report["status"] == "ok" else 1)
    assert "overall:" in capsys.readouterr().out


def test_projection_scales_sampling_with_the_papers_levels():
    paper = {
        "sweep": {
            "peclet": [0, 0.06],
            "seeds": [1, 2],
            "train": {"steps": 1000, "batch_size": 10},
            "family_params": {"advdiff": {"K": 200}},
            "sample": {"n": 100},
        }
    }
    p = projection({"train_images_per_s": 10.0, "sample_seconds_per_image": 0.5, "K": 50}, paper)
    assert p["points"] == 4 and p["train_hours_per_point"] == pytest.approx(1000 * 10 / 10 / 3600)
    assert p["sample_hours_per_point"] == pytest.approx(100 * 0.5 * 4 / 3600)
    assert p["gpu_hours"] == pytest.approx(4 * (p["train_hours_per_point"] + p["sample_hours_per_point"]))


def test_a_failed_stage_is_recorded_and_the_others_run(tmp_path, monkeypatch):
    from advdiff import gpucheck

    def broken(backend, quick):
        raise RuntimeError("no bandwidth today")

    monkeypatch.setattr(gpucheck, "roofline", broken)
    rates = {"status": "ok", "train_images_per_s": 1.0, "sample_seconds_per_image": 1.0, "K": 8}
    monkeypatch.setattr(gpucheck, "train_and_sample", lambda *a: rates)
    report = gpucheck.gpu_check(tmp_path / "r.json", backend="cpu", device="cpu", quick=True)
    assert report["stages"]["roofline"]["status"] == "error" and "no bandwidth" in report["stages"]["roofline"]["error"]
    assert report["stages"]["parity"]["status"] == "ok" and report["status"] == "attention"
    assert "projection" in report["stages"]
