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
    code = main(["bench", "lbm", "--backend", "cpu", "--batch", "1", "--channels", "2", "--size", "32",
                 "--steps", "3", "--repeats", "1", "--numpy-steps", "1", "--json", str(out)])  # fmt: skip
    assert code == 0
    data = json.loads(out.read_text())
    for key in ("mlups", "copy_gb_s", "roofline_mlups", "roofline_ratio", "speedup_vs_numpy", "shape", "dtype",
                "backend"):  # fmt: skip
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
    args = ["--peclet", "1", "--reynolds", "100", "--K", "12", "--sigma-max", "4", "--n", "2", "--backend", "cpu"]
    code = main(["corrupt", "--family", "heat", "--family", "advdiff", *args, *data, "--out", str(out)])
    assert code == 0
    for name in ("trajectory_strip.png", "power_spectra.png", "velocity_field.png", "heat_vs_advdiff.png",
                 "animation_heat.gif", "animation_advdiff.gif"):  # fmt: skip
        assert (out / name).stat().st_size > 2_000, name
    summary = json.loads((out / "corrupt.json").read_text())
    adv = summary["families"]["advdiff"]
    assert adv["params"]["peclet"] == 1.0 and adv["params"]["reynolds"] == 100.0
    assert adv["max_relative_channel_sum_change"] < 1e-5
    assert adv["schedule"]["pe_over_re"] == pytest.approx(0.01)
    assert len(summary["heat_vs_advdiff_relative_l2"]) == 13
    assert "advdiff" in capsys.readouterr().out
