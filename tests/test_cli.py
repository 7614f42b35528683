"""The advdiff command line, run as a user would."""

import json
import subprocess
import sys

import numpy as np
import pytest

from advdiff.cli import main


def test_bench_lbm_writes_every_promised_key(tmp_path, capsys):
    """`advdiff bench lbm --json` writes MLUPS, copy bandwidth, roofline, ratio and speed-up (small shape)."""
    out = tmp_path / "b.json"
    code = main(
        [
            "bench",
            "lbm",
            "--backend",
            "cpu",
            "--batch",
            "1",
            "--channels",
            "2",
            "--size",
            "32",
            "--steps",
            "3",
            "--repeats",
            "1",
            "--numpy-steps",
            "1",
            "--json",
            str(out),
        ]
    )
    assert code == 0
    data = json.loads(out.read_text())
    for key in (
        "mlups",
        "copy_gb_s",
        "roofline_mlups",
        "roofline_ratio",
        "speedup_vs_numpy",
        "shape",
        "dtype",
        "backend",
    ):
        assert key in data, key
    assert data["shape"] == [1, 2, 32, 32] and data["dtype"] == "float32" and data["backend"] == "cpu"
    assert data["mlups"] > 0 and data["copy_gb_s"] > 0
    assert data["roofline_mlups"] == pytest.approx(data["copy_gb_s"] * 1e9 / 80 / 1e6)
    assert data["roofline_ratio"] == pytest.approx(data["mlups"] / data["roofline_mlups"])
    assert data["speedup_vs_numpy"] == pytest.approx(data["mlups"] / data["numpy_mlups"])
    assert "MLUPS" in capsys.readouterr().out


def test_bad_input_exits_2_with_the_key(capsys):
    """A rejected value ends with exit status 2 and a one-line error naming the key, not a traceback."""
    assert main(["bench", "lbm", "--batch", "0", "--size", "16"]) == 2
    assert "shape=" in capsys.readouterr().err


@pytest.mark.slow
def test_validate_lbm_writes_numbers_and_figures(tmp_path):
    """`advdiff validate lbm` writes the JSON summary and both figures, and the numbers pass the issue's bars."""
    code = main(["validate", "lbm", "--backend", "cpu", "--collision", "bgk", "--out", str(tmp_path)])
    assert code == 0
    summary = json.loads((tmp_path / "lbm_validation.json").read_text())
    case = summary["cases"]["bgk"]
    assert case["gaussian_relative_l2"]["128"] < 1e-2
    assert case["gaussian_observed_order"] > 1.8
    assert len(case["heat_relative_l2_interior"]) == len(case["heat_sigmas"]) == 100  # every level is reported
    assert case["heat_max_sigma_ge_1px"] < 2e-2
    assert case["heat_relative_l2_interior"][0] < 2e-2
    assert case["heat_max"] == max(case["heat_relative_l2_interior"])
    assert case["mass_max_relative_drift"] < 1e-5
    for name in ("heat_vs_lbm.png", "heat_error_by_level.png", "gaussian_convergence.png"):
        assert (tmp_path / name).stat().st_size > 10_000


def test_console_script_is_installed():
    """`python -m advdiff info` runs and lists the backends."""
    res = subprocess.run([sys.executable, "-m", "advdiff", "info"], capture_output=True, text=True, check=True)
    assert "backend cpu" in res.stdout and "backend numpy" in res.stdout


def test_corrupt_writes_every_figure(tmp_path, capsys):
    """`advdiff corrupt` for heat and advdiff writes strip, animations, velocity field, spectra and the summary."""
    from advdiff.data import DataUnavailableError, load_dataset

    try:
        load_dataset("fashion_mnist", limit=1)
        data = ["--dataset", "fashion_mnist"]
    except DataUnavailableError:
        folder = tmp_path / "imgs"
        folder.mkdir()
        from PIL import Image

        for i in range(2):
            Image.fromarray((np.random.default_rng(i).random((20, 20)) * 255).astype(np.uint8)).save(
                folder / f"{i}.png"
            )
        data = ["--dataset", "folder", "--data-root", str(folder), "--split", "train", "--size", "20"]
    out = tmp_path / "fig"
    args = [
        "--peclet",
        "1",
        "--reynolds",
        "100",
        "--K",
        "12",
        "--sigma-max",
        "4",
        "--n",
        "2",
        "--backend",
        "cpu",
        "--intensity-map",
        "none",
    ]
    code = main(["corrupt", "--family", "heat", "--family", "advdiff", *args, *data, "--out", str(out)])
    assert code == 0
    for name in (
        "trajectory_strip.png",
        "power_spectra.png",
        "velocity_field.png",
        "heat_vs_advdiff.png",
        "animation_heat.gif",
        "animation_advdiff.gif",
    ):
        assert (out / name).stat().st_size > 2_000, name
    summary = json.loads((out / "corrupt.json").read_text())
    adv = summary["families"]["advdiff"]
    assert adv["params"]["peclet"] == 1.0 and adv["params"]["reynolds"] == 100.0
    assert adv["max_relative_channel_sum_change"] < 1e-5
    assert adv["schedule"]["pe_over_re"] == pytest.approx(0.01)
    assert len(summary["heat_vs_advdiff_relative_l2"]) == 13
    assert "advdiff" in capsys.readouterr().out


# heat (the quickest) stays in the default selection; the other three families are end-to-end runs of a minute
@pytest.mark.parametrize(
    "family", ["heat", *(pytest.param(f, marks=pytest.mark.slow) for f in ("advdiff", "ddpm", "blur"))]
)
def test_train_resume_and_sample_from_the_command_line(tmp_path, family, capsys):
    """`advdiff train` writes the run folder, a second call resumes it, `advdiff sample` writes grid and samples."""
    from tests.training.helpers import write_image_folder

    folder = write_image_folder(tmp_path / "imgs")
    params = {
        "heat": "{K: 5, sigma_max: 3}",
        "advdiff": "{K: 5, sigma_max: 3, peclet: 1.0, backend: cpu}",
        "ddpm": "{K: 20}",
        "blur": "{K: 20, sigma_max: 3}",
    }[family]
    cfg = tmp_path / "train.yaml"
    cfg.write_text(
        f"family: {family}\nfamily_params: {params}\ndataset: {{name: folder, root: {folder}, size: 8}}\n"
        "model: {preset: tiny}\nbatch_size: 4\nwarmup_steps: 0\nsteps: 3\ncheckpoint_every: 2\nlog_every: 1\n"
        "sample_every: 0\npool: {size: 8, refresh_per_step: 2}\ndevice: cpu\n"
    )
    run = tmp_path / "run"
    assert main(["train", "--config", str(cfg), "--run-dir", str(run), "--no-progress"]) == 0
    assert {"config.json", "checkpoint.pt", "metrics.jsonl", "summary.json"} <= {p.name for p in run.iterdir()}
    assert main(["train", "--config", str(cfg), "--run-dir", str(run), "--steps", "5", "--no-progress"]) == 0
    assert json.loads((run / "summary.json").read_text())["step"] == 5
    out = tmp_path / "grid.png"
    assert (
        main(["sample", "--config", str(cfg), "--run-dir", str(run), "--n", "4", "--out", str(out), "--no-progress"])
        == 0
    )
    import torch

    samples = torch.load(out.with_suffix(".pt"))
    assert samples.shape[0] == 4 and torch.isfinite(samples).all()
    assert out.stat().st_size > 100 and json.loads(out.with_suffix(".json").read_text())["step"] == 5
    assert "samples" in capsys.readouterr().out
    # drawn in chunks (as the workflow does for its 1000-image sets) the images are the same up to float
    # rounding (oneDNN's kernels depend on the batch size; a fixed chunk size repeats bit for bit)
    from advdiff.runs import sample_run
    from advdiff.training import TrainConfig
    from advdiff.yaml_files import load_yaml

    config = TrainConfig.from_dict(load_yaml(cfg))
    whole = sample_run(config, 5, run, out=tmp_path / "whole.png", progress=False, batch_size=5)
    parts = sample_run(config, 5, run, out=tmp_path / "parts.png", progress=False, batch_size=2)
    a, b = torch.load(whole["samples"]), torch.load(parts["samples"])
    assert torch.allclose(a, b, rtol=0, atol=1e-5)


def test_train_refuses_a_changed_config_and_unknown_keys(tmp_path, capsys):
    """Bad configuration files end with exit status 2 and a message naming the key."""
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("family: heat\nlearning_rate: 0.1\n")
    assert main(["train", "--config", str(cfg), "--run-dir", str(tmp_path / "r")]) == 2
    assert "learning_rate" in capsys.readouterr().err


@pytest.mark.slow
def test_bench_train_writes_the_ratio(tmp_path):
    """`advdiff bench train --json` writes heat and advdiff images/s and their ratio (Fashion-MNIST needed)."""
    from advdiff.data import DataUnavailableError, load_dataset

    try:
        load_dataset("fashion_mnist", limit=1)
    except DataUnavailableError as exc:
        pytest.skip(str(exc))
    out = tmp_path / "t.json"
    assert main(["bench", "train", "--steps", "2", "--batch-size", "8", "--preset", "tiny", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["heat_images_per_s"] > 0 and data["advdiff_images_per_s"] > 0
    assert data["ratio"] == pytest.approx(data["advdiff_images_per_s"] / data["heat_images_per_s"])
    assert data["fp32_eager_images_per_s"] > 0 and data["images_per_s"] == data["heat_images_per_s"]
    from advdiff.devices import native_bf16

    bf16 = data["bf16_autocast_images_per_s"]
    # amp: auto makes bf16 autocast the default where bf16 is native, and only there
    assert (bf16 == data["images_per_s"]) if native_bf16() else (bf16 is None)
    assert data["speedup"] == pytest.approx(data["images_per_s"] / data["fp32_eager_images_per_s"])
    assert data["default_settings"]["dtype"] == ("bfloat16 autocast" if native_bf16() else "float32")


def test_bench_features_writes_the_side_by_side_keys(tmp_path, capsys):
    out = tmp_path / "features.json"
    assert (
        main(
            [
                "bench",
                "features",
                "--extractor",
                "tiny-test",
                "--n",
                "8",
                "--batch-size",
                "4",
                "--repeats",
                "1",
                "--json",
                str(out),
            ]
        )
        == 0
    )
    r = json.loads(out.read_text())
    assert r["fp32_eager_images_per_s"] > 0 and r["images_per_s"] > 0
    assert r["speedup"] == pytest.approx(r["images_per_s"] / r["fp32_eager_images_per_s"])
    assert r["max_abs_diff_relative"] < 1e-5 and r["machine"]["cpu_kind"] in ("AVX-512", "AVX2", "other")
    assert "speedup" in capsys.readouterr().out
