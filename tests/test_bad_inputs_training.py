"""Bad inputs around training and the corruption families fail clearly (or are handled safely).

Checkpoints are verified (flipped bytes, truncated and empty files), one trainer holds a run
folder, unwritable outputs are named before any work, image tensors of every dtype and range get
a clear answer, and a key given twice in a YAML configuration is an error.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch

from advdiff.cli import main
from advdiff.corruptions import build
from advdiff.errors import ConfigError
from advdiff.training import load_checkpoint, train
from advdiff.training.trainer import (
    CHECKPOINT_FILE,
    CORRUPT_CHECKPOINT_FILE,
    LOCK_FILE,
    PREVIOUS_CHECKPOINT_FILE,
    CheckpointError,
    RunDirLockedError,
)
from tests.training.helpers import tiny_config, tiny_net, write_image_folder

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Every test here runs on one thread (tests/conftest.py)."""


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory):
    return write_image_folder(tmp_path_factory.mktemp("images"))


class Crash(Exception):
    """Stands for a kill."""


def crash_at(step):
    def callback(s, info):
        if s == step:
            raise Crash(f"killed at step {s}")

    return callback


def unwritable(tmp_path: Path) -> Path:
    """A folder path this process cannot create: below a read-only folder, or (as root) below a plain file."""
    if os.geteuid() != 0:
        locked = tmp_path / "read_only"
        locked.mkdir()
        locked.chmod(0o500)
        return locked / "out"
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder\n")
    return blocker / "out"


def flip_bytes_in_largest_tensor(path: Path, count: int = 8) -> str:
    """Invert ``count`` bytes in the middle of the largest tensor record of a torch zip; returns its name."""
    with zipfile.ZipFile(path) as zf:
        records = [info for info in zf.infolist() if "/data/" in info.filename]
        info = max(records, key=lambda i: i.file_size)
        assert info.compress_type == zipfile.ZIP_STORED and info.file_size >= 4 * count
    with open(path, "r+b") as fh:
        fh.seek(info.header_offset + 26)
        name_len, extra_len = (int.from_bytes(fh.read(2), "little") for _ in range(2))
        start = info.header_offset + 30 + name_len + extra_len + info.file_size // 2
        fh.seek(start)
        data = bytes(b ^ 0xFF for b in fh.read(count))
        fh.seek(start)
        fh.write(data)
    return info.filename


def killed_run(image_folder: Path, run: Path) -> dict:
    """A heat run of 12 steps (checkpoints every 4) killed at step 10: checkpoints of steps 4 and 8 on disk."""
    cfg = tiny_config(image_folder, "heat", steps=12, checkpoint_every=4)
    with pytest.raises(Crash):
        train(cfg, run, model=tiny_net(), progress=False, callback=crash_at(10))
    assert load_checkpoint(run / CHECKPOINT_FILE)["step"] == 8
    assert load_checkpoint(run / PREVIOUS_CHECKPOINT_FILE)["step"] == 4
    return cfg


# --------------------------------------------------------------------------- checkpoints


def test_flipped_bytes_in_a_checkpoint_fall_back_to_the_previous_one(image_folder, tmp_path, caplog):
    """8 inverted bytes inside a tensor's data: a warning, the step-4 checkpoint, the same end as a straight run."""
    cfg = tiny_config(image_folder, "heat", steps=12, checkpoint_every=4)
    train(cfg, tmp_path / "straight", model=tiny_net(), progress=False)
    run = tmp_path / "run"
    killed_run(image_folder, run)
    flip_bytes_in_largest_tensor(run / CHECKPOINT_FILE)
    with pytest.raises(CheckpointError, match="sha256"):
        load_checkpoint(run / CHECKPOINT_FILE)
    with caplog.at_level(logging.WARNING, logger="advdiff.training.trainer"):
        summary = train(cfg, run, model=tiny_net(), progress=False)
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(str(run / CHECKPOINT_FILE) in m and str(run / PREVIOUS_CHECKPOINT_FILE) in m for m in warned), warned
    assert "(step 4)" in " ".join(warned)
    assert summary["step"] == 12 and (run / CORRUPT_CHECKPOINT_FILE).is_file()
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(1, 13))  # the lines after step 4 were dropped and written again
    a, b = load_checkpoint(tmp_path / "straight" / CHECKPOINT_FILE), load_checkpoint(run / CHECKPOINT_FILE)
    for key in ("model", "ema"):
        assert all(torch.equal(a[key][name], b[key][name]) for name in a[key])
    assert not (run / PREVIOUS_CHECKPOINT_FILE).exists() and not (run / LOCK_FILE).exists()


def test_flipped_bytes_without_a_previous_checkpoint_are_refused(image_folder, tmp_path):
    run = tmp_path / "run"
    cfg = killed_run(image_folder, run)
    (run / PREVIOUS_CHECKPOINT_FILE).unlink()
    flip_bytes_in_largest_tensor(run / CHECKPOINT_FILE)
    with pytest.raises(CheckpointError) as info:
        train(cfg, run, model=tiny_net(), progress=False)
    message = str(info.value)
    assert str(run / CHECKPOINT_FILE) in message and "corrupt" in message and "delete it" in message
    assert PREVIOUS_CHECKPOINT_FILE in message


def test_a_truncated_checkpoint_is_named_with_the_fix(image_folder, tmp_path):
    run = tmp_path / "run"
    cfg = killed_run(image_folder, run)
    path = run / CHECKPOINT_FILE
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    assert str(path) in str(info.value) and "unreadable" in str(info.value) and "delete it" in str(info.value)
    (run / PREVIOUS_CHECKPOINT_FILE).unlink()
    with pytest.raises(CheckpointError, match="delete it to start the run again"):
        train(cfg, run, model=tiny_net(), progress=False)


def test_an_empty_checkpoint_is_named_with_the_fix(tmp_path):
    path = tmp_path / CHECKPOINT_FILE
    path.write_bytes(b"")
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    assert str(path) in str(info.value) and "empty" in str(info.value) and "delete it" in str(info.value)


# --------------------------------------------------------------------------- one trainer per run folder


def test_a_second_trainer_on_the_same_run_folder_is_refused(image_folder, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys; fh = open(sys.argv[1], 'a+'); "
            "fcntl.flock(fh, fcntl.LOCK_EX); fh.write(f'{os.getpid()}\\n'); fh.flush(); print('locked', flush=True); "
            "sys.stdin.read()",
            str(run / LOCK_FILE),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunDirLockedError) as info:
            train(tiny_config(image_folder, "heat", steps=2), run, model=tiny_net(), progress=False)
        message = str(info.value)
        assert str(run) in message and f"PID {holder.pid}" in message
    finally:
        holder.communicate("")
    assert not (run / CHECKPOINT_FILE).exists()
    with open(run / LOCK_FILE, "a+") as fh:  # the refused trainer left the holder's lock alone; now it is free
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fh, fcntl.LOCK_UN)


# --------------------------------------------------------------------------- command line: outputs


def write_train_yaml(tmp_path: Path, image_folder: Path, steps: int = 2) -> Path:
    cfg = tmp_path / "train.yaml"
    cfg.write_text(
        f"family: heat\nfamily_params: {{K: 5, sigma_max: 3}}\ndataset: {{name: folder, root: {image_folder}, "
        f"size: 8}}\nmodel: {{preset: tiny}}\nbatch_size: 4\nwarmup_steps: 0\nsteps: {steps}\ncheckpoint_every: 2\n"
        "log_every: 1\nsample_every: 0\ndevice: cpu\n"
    )
    return cfg


def test_train_into_an_unwritable_run_folder_is_one_line(image_folder, tmp_path):
    cfg = write_train_yaml(tmp_path, image_folder)
    run = unwritable(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "advdiff", "train", "--config", str(cfg), "--run-dir", str(run), "--no-progress"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        timeout=300,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "run_dir" in proc.stderr and str(run) in proc.stderr


def test_corrupt_into_an_unwritable_out_is_refused_first(image_folder, tmp_path, capsys, monkeypatch):
    import advdiff.data

    def no_loading(*args, **kwargs):
        raise AssertionError("images were loaded before the output folder was checked")

    monkeypatch.setattr(advdiff.data, "load_dataset", no_loading)
    out = unwritable(tmp_path)
    code = main(
        [
            "corrupt",
            "--family",
            "heat",
            "--dataset",
            "folder",
            "--data-root",
            str(image_folder),
            "--split",
            "train",
            "--n",
            "2",
            "--K",
            "4",
            "--out",
            str(out),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "--out" in err and str(out) in err


def test_evaluate_into_an_unwritable_out_is_refused_before_scoring(tmp_path, capsys, monkeypatch):
    import advdiff.metrics.evaluate as evaluate
    import advdiff.runs as runs

    def no_scoring(*args, **kwargs):
        raise AssertionError("scoring started before the output folder was checked")

    monkeypatch.setattr(evaluate, "evaluate_folders", no_scoring)
    monkeypatch.setattr(runs, "evaluate_run", no_scoring)
    out = unwritable(tmp_path) / "metrics.json"
    code = main(
        [
            "evaluate",
            "--real",
            str(tmp_path),
            "--fake",
            str(tmp_path),
            "--out",
            str(out),
            "--feature-extractor",
            "tiny-test",
            "--no-progress",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "--out" in err and str(out.parent) in err


def test_sample_out_as_a_pt_file_writes_the_samples_there(image_folder, tmp_path, capsys):
    cfg = write_train_yaml(tmp_path, image_folder)
    run = tmp_path / "run"
    assert main(["train", "--config", str(cfg), "--run-dir", str(run), "--no-progress"]) == 0
    out = tmp_path / "drawn" / "x.pt"
    assert (
        main(["sample", "--config", str(cfg), "--run-dir", str(run), "--n", "3", "--out", str(out), "--no-progress"])
        == 0
    )
    samples = torch.load(out, weights_only=True)
    assert samples.shape[0] == 3 and samples.shape[2:] == (8, 8) and torch.isfinite(samples).all()
    assert out.with_suffix(".png").stat().st_size > 50
    assert json.loads(out.with_suffix(".json").read_text())["samples"] == str(out)
    bad = tmp_path / "x.txt"
    assert (
        main(["sample", "--config", str(cfg), "--run-dir", str(run), "--n", "3", "--out", str(bad), "--no-progress"])
        == 2
    )
    err = capsys.readouterr().err
    assert "Traceback" not in err and f"out={str(bad)!r}" in err and ".png" in err and ".pt" in err


def test_an_oserror_on_an_output_path_is_one_line(tmp_path, capsys):
    out = unwritable(tmp_path) / "bench.json"
    code = main(
        [
            "bench",
            "lbm",
            "--backend",
            "numpy",
            "--batch",
            "1",
            "--channels",
            "1",
            "--size",
            "8",
            "--steps",
            "1",
            "--repeats",
            "1",
            "--numpy-steps",
            "1",
            "--json",
            str(out),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert err.startswith("advdiff: error:") and len(err.strip().splitlines()) == 1


# --------------------------------------------------------------------------- corruption inputs

FAMILIES = {
    "ddpm": {"K": 6},
    "heat": {"K": 4, "sigma_max": 2.0},
    "blur": {"K": 4, "sigma_max": 2.0},
    "advdiff": {"K": 3, "sigma_max": 2.0, "peclet": 0.5, "backend": "cpu"},
}


def family(name):
    return build(name, **FAMILIES[name])


def images(dtype=torch.float32):
    return torch.rand((2, 1, 10, 10), generator=torch.Generator().manual_seed(0)).to(dtype)


def gen():
    return torch.Generator().manual_seed(1)


@pytest.mark.parametrize("name", list(FAMILIES))
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_inputs_work_in_every_family(name, dtype):
    fam = family(name)
    x0 = images(dtype)
    want = fam.degrade(x0.float(), 2, gen())
    got = fam.degrade(x0, 2, gen())
    assert got.dtype == dtype and got.shape == x0.shape
    torch.testing.assert_close(got.float(), want, atol=2e-2, rtol=0)
    traj = fam.trajectory(x0, gen())
    assert traj.dtype == dtype and torch.equal(traj[0], x0)
    if fam.prior_needs_images:
        assert fam.prior(x0, gen()).dtype == dtype


@pytest.mark.parametrize("name", list(FAMILIES))
def test_uint8_images_are_read_as_0_to_255_with_a_notice(name, caplog):
    fam = family(name)
    x8 = (images() * 255).round().to(torch.uint8)
    with caplog.at_level(logging.INFO, logger="advdiff.corruptions"):
        got = fam.degrade(x8, 2, gen())
    assert any("uint8" in r.getMessage() and "255" in r.getMessage() for r in caplog.records)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, fam.degrade(x8.float() / 255, 2, gen()), atol=0, rtol=0)


@pytest.mark.parametrize("name", list(FAMILIES))
@pytest.mark.parametrize("dtype", [torch.int32, torch.int64, torch.bool, torch.complex64])
def test_other_integer_bool_and_complex_inputs_are_refused(name, dtype):
    fam = family(name)
    x0 = images().to(dtype)
    for call in (lambda: fam.degrade(x0, 1, gen()), lambda: fam.trajectory(x0, gen())):
        with pytest.raises(ConfigError) as info:
            call()
        message = str(info.value)
        assert message.startswith("x0=") and str(dtype) in message
        assert "floating-point" in message and "uint8" in message


@pytest.mark.parametrize("name", list(FAMILIES))
@pytest.mark.parametrize(("scale", "shift", "low", "high"), [(255.0, 0.0, "0", "255"), (1.0, -1.0, "-1", "0")])
def test_data_outside_0_1_is_refused_with_its_range(name, scale, shift, low, high):
    fam = family(name)
    x0 = images() * scale + shift
    x0[0, 0, 0, 0], x0[0, 0, 0, 1] = shift, scale + shift  # the exact extremes
    for call in (lambda: fam.degrade(x0, 1, gen()), lambda: fam.trajectory(x0, gen())):
        with pytest.raises(ConfigError) as info:
            call()
        message = str(info.value)
        assert message.startswith("x0=") and f"from {low} to {high}" in message and "[0, 1]" in message
    fam.degrade((images() * (1 + 5e-4)).clamp(max=1.0005) - 2e-4, 1, gen())  # round-off is accepted


# --------------------------------------------------------------------------- YAML configuration files


def test_a_key_given_twice_in_a_training_config_is_refused(image_folder, tmp_path):
    from advdiff.runs import load_config

    cfg = write_train_yaml(tmp_path, image_folder)
    cfg.write_text(cfg.read_text() + "batch_size: 8\n")
    with pytest.raises(ConfigError) as info:
        load_config(cfg)
    message = str(info.value)
    assert str(cfg) in message and "'batch_size'" in message and "twice" in message
    nested = tmp_path / "nested.yaml"
    nested.write_text("family: heat\nfamily_params:\n  K: 5\n  sigma_max: 3\n  K: 6\n")
    with pytest.raises(ConfigError, match=r"'K' is given twice \(lines 3 and 5\)"):
        load_config(nested)
    merged = tmp_path / "merged.yaml"  # a merge key's entries may be overridden: that is not a duplicate
    merged.write_text("base: &b {K: 5, sigma_max: 3}\nfamily: heat\nfamily_params:\n  <<: *b\n  K: 6\n")
    from advdiff.yaml_files import load_yaml

    assert load_yaml(merged)["family_params"] == {"K": 6, "sigma_max": 3}


@pytest.mark.workflow
@pytest.mark.skipif(
    shutil.which("snakemake", path=str(Path(sys.executable).parent)) is None,
    reason="snakemake is not installed next to this Python",
)
def test_the_workflow_refuses_a_config_file_with_a_key_given_twice(tmp_path):
    text = (ROOT / "config" / "config.yaml").read_text()
    assert "\nbench:\n" in text
    config = tmp_path / "dup.yaml"
    config.write_text(text.replace("\nbench:\n", "\nbench:\n  steps: 3\n", 1))
    snakemake = shutil.which("snakemake", path=str(Path(sys.executable).parent))
    proc = subprocess.run(
        [snakemake, "-n", "--cores", "1", "--configfile", str(config)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert proc.returncode != 0
    assert "'steps' is given twice" in proc.stderr + proc.stdout and str(config) in proc.stderr + proc.stdout
