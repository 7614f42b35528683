"""``advdiff evaluate`` end to end: folders and run folders into metrics.json, and failures that write nothing."""

from __future__ import annotations

import json

import pytest
import torch
from PIL import Image

from advdiff.cli import main
from advdiff.metrics import evaluate_folders
from advdiff.runs import evaluate_run
from tests.conftest import one_torch_thread
from tests.metrics.conftest import write_pngs

CONTRACT = (
    "fid",
    "kid",
    "precision",
    "recall",
    "density",
    "coverage",
    "palette",
    "n_real",
    "n_fake",
    "feature_extractor",
    "weights_sha256",
    "seconds",
)


@pytest.fixture
def folders(fmnist, tmp_path):
    real = write_pngs(tmp_path / "real", fmnist[:60])
    fake = write_pngs(tmp_path / "fake", (fmnist[60:100] * 0.8 + 0.1))
    return real, fake


def run_cli(*args):
    return main(["evaluate", *map(str, args), "--feature-extractor", "tiny-test", "--no-progress"])


def test_cli_writes_every_score_labelled_with_its_extractor(folders, tmp_path, capsys):
    real, fake = folders
    out = tmp_path / "res" / "metrics.json"
    assert run_cli("--real", real, "--fake", fake, "--out", out, "--cache-dir", tmp_path / "cache") == 0
    result = json.loads(out.read_text())
    for key in CONTRACT:
        assert key in result, key
    assert result["n_real"] == 60 and result["n_fake"] == 40
    assert result["feature_extractor"] == "advdiff-tiny-test" and result["fid_is_standard"] is False
    assert "not comparable with published FID" in result["note"]
    assert len(result["weights_sha256"]) == 64 and result["seconds"] > 0
    assert result["fid"] > 0 and 0 <= result["precision"] <= 1 and result["palette"] > 0
    assert result["intensity_shift"][0] > 0.03  # 0.8 x + 0.1 lifts the black background of Fashion-MNIST
    printed = capsys.readouterr().out
    assert "FID-like distance on advdiff-tiny-test features" in printed and "FID:" not in printed
    assert not list(out.parent.glob(".*tmp"))


def test_a_folder_against_itself_scores_perfectly(folders, tmp_path):
    real, _ = folders
    result = evaluate_folders(real, real, feature_extractor="tiny-test", cache=tmp_path, progress=False)
    assert abs(result["fid"]) < 1e-8 and result["palette"] == 0.0
    assert result["precision"] == result["recall"] == result["coverage"] == 1.0


def test_second_evaluation_reuses_the_real_statistics(folders, tmp_path):
    real, fake = folders
    first = evaluate_folders(real, fake, feature_extractor="tiny-test", cache=tmp_path, progress=False)
    second = evaluate_folders(real, fake, feature_extractor="tiny-test", cache=tmp_path, progress=False)
    assert not first["reference_from_cache"] and second["reference_from_cache"]
    assert second["fid"] == first["fid"] and second["coverage"] == first["coverage"]
    (real / "0000.png").unlink()  # the folder changed: its statistics must be computed again
    third = evaluate_folders(real, fake, feature_extractor="tiny-test", cache=tmp_path, progress=False)
    assert not third["reference_from_cache"] and third["n_real"] == 59


@pytest.mark.parametrize("problem", ["few", "mixed", "empty", "missing"])
def test_a_failed_evaluation_writes_nothing_and_says_why(folders, tmp_path, capsys, problem):
    real, fake = folders
    if problem == "few":
        fake = write_pngs(tmp_path / "few", torch.rand(4, 1, 28, 28))
        expected = "needs at least 6 generated images, got 4"
    elif problem == "mixed":
        Image.new("L", (32, 32)).save(fake / "9999.png")
        expected = "mixes image sizes"
    elif problem == "empty":
        fake = tmp_path / "empty"
        fake.mkdir()
        expected = "holds no images"
    else:
        real = tmp_path / "nope"
        expected = "an existing folder"
    out = tmp_path / "metrics.json"
    assert run_cli("--real", real, "--fake", fake, "--out", out, "--cache-dir", tmp_path / "cache") == 2
    assert expected in capsys.readouterr().err
    assert not out.exists() and not list(tmp_path.glob(".metrics.json*"))


def test_cli_argument_errors(tmp_path, capsys):
    assert main(["evaluate", "--real", str(tmp_path)]) == 2
    assert "--real DIR --fake DIR --out FILE" in capsys.readouterr().err
    assert main(["evaluate", "--run", str(tmp_path)]) == 2
    assert "--n" in capsys.readouterr().err


# --------------------------------------------------------------------------- run folders


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A 'heat' run of the tiny U-Net trained for 2 steps on 8x8 grey images."""
    from advdiff.runs import train_run
    from advdiff.training import TrainConfig
    from tests.training.helpers import tiny_config, write_image_folder

    root = tmp_path_factory.mktemp("run")
    with one_torch_thread():  # module-scoped: the autouse `one_thread` of tests/metrics/conftest.py is per test
        images = write_image_folder(root / "images", count=24)
        cfg = TrainConfig.from_dict(tiny_config(images, "heat", steps=2, checkpoint_every=2, model={"preset": "tiny"}))
        train_run(cfg, root / "run", progress=False)
    return root / "run"


def test_run_is_sampled_scored_and_its_samples_reused(trained_run, tmp_path):
    result = evaluate_run(trained_run, 12, feature_extractor="tiny-test", cache=tmp_path, progress=False)
    saved = json.loads((trained_run / "metrics.json").read_text())
    assert saved["fid"] == result["fid"] and saved["n_fake"] == 12 and saved["n_real"] == 12
    assert saved["step"] == 2 and saved["sampler"] == "heat" and saved["fid_is_standard"] is False
    assert saved["dataset"]["name"] == "folder" and saved["dataset"]["split"] == "train"
    samples = trained_run / "samples" / "eval_step0000002_heat_seed0_n12.pt"
    assert samples.is_file() and "seconds_sampling" in saved
    again = evaluate_run(
        trained_run, 12, tmp_path / "m2.json", feature_extractor="tiny-test", cache=tmp_path, progress=False
    )
    assert "seconds_sampling" not in again and again["reference_from_cache"]
    assert again["fid"] == result["fid"]


def test_run_with_nan_samples_fails_and_writes_nothing(trained_run, tmp_path, capsys):
    bad = torch.rand(10, 1, 8, 8)
    bad[3] = float("nan")
    torch.save(bad, tmp_path / "bad.pt")
    out = tmp_path / "metrics.json"
    code = main(
        [
            "evaluate",
            "--run",
            str(trained_run),
            "--n",
            "10",
            "--samples",
            str(tmp_path / "bad.pt"),
            "--out",
            str(out),
            "--feature-extractor",
            "tiny-test",
            "--cache-dir",
            str(tmp_path),
        ]
    )
    assert code == 2 and not out.exists()
    assert "NaN or infinite values in 1 of 10 images" in capsys.readouterr().err


def test_run_refuses_a_folder_that_is_not_a_run(tmp_path):
    from advdiff.errors import ConfigError

    with pytest.raises(ConfigError, match="run folder of `advdiff train`"):
        evaluate_run(tmp_path, 10, feature_extractor="tiny-test")


# --------------------------------------------------------------------------- the real network (slow)


@pytest.mark.slow
def test_inception_end_to_end_on_real_images(fmnist, tmp_path):
    """Standard FID on 24 + 24 images: labelled standard, checksum of the converted weights, seconds per image."""
    from advdiff.metrics import weights as W

    if W.fid_helper_file() is None and not W.torch_fidelity_download_path().is_file():
        pytest.skip("no Inception weights here")
    real = write_pngs(tmp_path / "real", fmnist[:24])
    fake = write_pngs(tmp_path / "fake", (fmnist[24:48] + 0.1).clamp(0, 1))
    result = evaluate_folders(
        real, fake, tmp_path / "m.json", cache=tmp_path / "cache", kid_subset=24, device="cpu", progress=False
    )
    assert result["feature_extractor"] == "inception-v3-compat" and result["fid_is_standard"] is True
    assert "note" not in result and result["fid"] > 0 and result["seconds_per_image"] > 0
    same = evaluate_folders(real, real, cache=tmp_path / "cache", kid_subset=24, device="cpu", progress=False)
    assert same["reference_from_cache"] and abs(same["fid"]) < 1e-3


@pytest.mark.parametrize("family", ["heat", "advdiff"])
def test_same_config_and_seed_give_bit_identical_scores(tmp_path, family):
    """Train, sample and score twice from scratch in separate run folders: every score is equal, bit for bit.

    (On one machine. Across CPU kinds oneDNN picks other kernels and the numbers drift; the study
    report says so.)"""
    from advdiff.runs import train_run
    from advdiff.training import TrainConfig
    from tests.training.helpers import tiny_config, write_image_folder

    images = write_image_folder(tmp_path / "images", count=24)
    extra = (
        {"family_params": {"K": 5, "sigma_max": 3.0, "peclet": 1.0, "backend": "cpu"}} if family == "advdiff" else {}
    )
    cfg = TrainConfig.from_dict(
        {**tiny_config(images, family, steps=3, checkpoint_every=3, model={"preset": "tiny"}), **extra}
    )
    scores = []  # on one thread: the autouse `one_thread` of tests/metrics/conftest.py
    for i in range(2):
        train_run(cfg, tmp_path / f"run{i}", progress=False)
        cache = tmp_path / f"c{i}"
        scores.append(
            evaluate_run(tmp_path / f"run{i}", 12, feature_extractor="tiny-test", cache=cache, progress=False)
        )
    keys = ("fid", "kid", "precision", "recall", "density", "coverage", "palette")
    assert all(isinstance(scores[0][k], float) for k in keys)
    assert [scores[0][k] for k in keys] == [scores[1][k] for k in keys]


@pytest.mark.slow
def test_fid_clean_is_clean_fids_own_number_beside_torch_fidelitys(fmnist, tmp_path, capsys):
    """`--clean-fid` writes fid_clean (clean-fid's "clean" mode on the offline TF-Inception network) beside fid;
    it equals clean-fid's own compute_fid on the same two folders (relative difference < 1e-3), offline."""
    pytest.importorskip("cleanfid")
    from cleanfid import fid as cleanfid

    from advdiff.metrics.cleanfid import build_clean_extractor

    real = write_pngs(tmp_path / "real", fmnist[:6])
    fake = write_pngs(tmp_path / "fake", fmnist[6:12] * 0.7 + 0.2)
    out = tmp_path / "metrics.json"
    cache = tmp_path / "cache"
    assert (
        main(
            [
                "evaluate",
                "--real",
                str(real),
                "--fake",
                str(fake),
                "--out",
                str(out),
                "--feature-extractor",
                "tiny-test",
                "--k",
                "2",
                "--kid-subset-size",
                "3",
                "--cache-dir",
                str(cache),
                "--clean-fid",
                "--no-progress",
            ]
        )
        == 0
    )
    result = json.loads(out.read_text())
    assert "fid" in result and result["fid_clean"] > 0 and "clean-fid" in result["fid_clean_extractor"]
    assert "the paper's" in capsys.readouterr().out
    ext = build_clean_extractor(cache=cache)
    theirs = cleanfid.compute_fid(
        str(fake),
        str(real),
        mode="clean",
        custom_feat_extractor=ext.module,
        num_workers=0,
        batch_size=6,
        device=torch.device("cpu"),
        verbose=False,
    )
    assert abs(result["fid_clean"] - theirs) / theirs < 1e-3


def test_the_old_home_of_evaluate_run_still_answers_with_a_warning():
    import advdiff.metrics as metrics
    from advdiff import runs

    with pytest.warns(DeprecationWarning, match="advdiff.runs.evaluate_run"):
        assert metrics.evaluate_run is runs.evaluate_run
    with pytest.raises(AttributeError):
        metrics.no_such_name  # noqa: B018
