"""Bad inputs to the workflow and the command line: refused early and clearly, or handled safely.

One test per case: config strings never reach a shell unquoted, configured data roots that do not
exist (or do not hold the data) are errors, settings used only after training (sampler, device,
tracking URI) are checked when the workflow is parsed or a command starts, large sizes are bounded,
and scores refuse real and generated images of different sizes or mostly clipped samples.
"""

from __future__ import annotations

import logging
import shlex
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from advdiff.cli import main
from advdiff.data import DataError, DataUnavailableError, load_dataset
from advdiff.errors import ConfigError
from tests.workflow.helpers import ROOT, snakemake

NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a usable CUDA GPU")


# --------------------------------------------------------------------------- helpers


def _fashion_mnist(folder: Path, n: int = 8) -> Path:
    """A tiny stand-in for Fashion-MNIST: ``n`` random 28x28 images per split, as raw idx files."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for prefix in ("train", "t10k"):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        (folder / f"{prefix}-images-idx3-ubyte").write_bytes(
            b"\0\0\x08\x03" + struct.pack(">3I", n, 28, 28) + images.tobytes()
        )
        (folder / f"{prefix}-labels-idx1-ubyte").write_bytes(
            b"\0\0\x08\x01" + struct.pack(">I", n) + bytes(i % 10 for i in range(n))
        )
    return folder


@pytest.fixture
def machine_copy(tmp_path, monkeypatch) -> Path:
    """A machine-wide Fashion-MNIST copy (``$ADVDIFF_FASHION_MNIST_DIR``): what a bad root fell back to."""
    folder = _fashion_mnist(tmp_path / "machine-wide")
    monkeypatch.setenv("ADVDIFF_FASHION_MNIST_DIR", str(folder))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return folder


def _merged(base: dict, changes: dict) -> dict:
    out = dict(base)
    for key, value in changes.items():
        out[key] = _merged(base.get(key) or {}, value) if isinstance(value, dict) else value
    return out


def _snakemake(tmp: Path, changes: dict, *args: str) -> subprocess.CompletedProcess:
    """Snakemake on the default configuration with ``changes`` merged in (tests marked ``workflow``)."""
    default = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    cfg = tmp / "config.yaml"
    cfg.write_text(yaml.safe_dump(_merged(default, changes)))
    return snakemake(*args, "--configfile", str(cfg), cwd=tmp, env={"XDG_CACHE_HOME": str(tmp / "xdg")})


def _refused_at_parse(res: subprocess.CompletedProcess, *needles: str) -> str:
    """A dry run that stopped while the workflow was parsed, with every needle in its message."""
    out = res.stdout + res.stderr
    assert res.returncode != 0, out
    assert "Job stats" not in res.stdout, out  # no job was planned
    for needle in needles:
        assert needle in out, (needle, out)
    return out


def _cli(capsys, *argv: str) -> tuple[int, str]:
    """Run the command line in-process: exit status and stderr (a raw exception fails the test)."""
    try:
        rc = main(list(argv))
    except SystemExit as exc:
        rc = exc.code
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    return rc, err


def _train_config(tmp_path: Path, **dataset) -> Path:
    cfg = {
        "family": "heat",
        "family_params": {"K": 4, "sigma_max": 4},
        "model": {"preset": "tiny"},
        "dataset": {"limit": 8, **dataset},
        "batch_size": 4,
        "steps": 1,
        "warmup_steps": 0,
        "sample_every": 0,
        "checkpoint_every": 1,
        "log_every": 1,
        "device": "cpu",
    }
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


# --------------------------------------------------------------------------- 1. no shell strings from config


def _hostile_root(tmp_path: Path) -> tuple[Path, Path]:
    """A data root with spaces, both quotes, a command substitution and backticks, holding the data."""
    pwned = tmp_path / "PWNED"
    root = tmp_path / f'data dir "q" it\'s $(touch {pwned}) `touch {pwned}` ;x' / "fm"
    return _fashion_mnist(root), pwned


@pytest.mark.workflow
def test_config_strings_are_one_quoted_argument_in_every_shell_command(tmp_path):
    root, pwned = _hostile_root(tmp_path)
    config = {
        "corrupt": {
            "data_root": str(root),
            "families": ["heat", "blur"],
            "n_images": 1,
            "settings": [{"peclet": 0.06}, {"peclet": 1.0, "reynolds": 10}],
        }
    }
    res = _snakemake(tmp_path, config, "-n", "--printshellcmds")
    assert res.returncode == 0, res.stdout + res.stderr
    commands = [
        line.split("Shell command:", 1)[-1].strip()
        for line in res.stdout.splitlines()
        if line.strip().startswith(("advdiff -v", "Shell command: advdiff"))
    ]
    corrupt = [c for c in commands if c.startswith("advdiff -v corrupt")]
    assert len(corrupt) == 2 and len(commands) >= 5, res.stdout
    for command in corrupt:
        args = shlex.split(command)
        assert args[args.index("--data-root") + 1] == str(root)  # one argument, unchanged
        assert args.count("--family") == 2
    # Run every printed command through a real shell with a stand-in `advdiff` that records its
    # arguments: a command substitution or a split would show up here (and create PWNED).
    stub = tmp_path / "stub"
    stub.mkdir()
    (stub / "advdiff").write_text('#!/bin/sh\nprintf "%s\\0" "$@" > "$ARGS_FILE"\n')
    (stub / "advdiff").chmod(0o755)
    run = tmp_path / "run"
    (run / "results" / "logs").mkdir(parents=True)
    for command in commands:
        args_file = tmp_path / "args"
        env = {"PATH": f"{stub}:/usr/bin:/bin", "ARGS_FILE": str(args_file)}
        subprocess.run(["bash", "-euo", "pipefail", "-c", command], cwd=run, env=env, check=True, timeout=60)
        recorded = args_file.read_bytes().decode().split("\0")[:-1]
        assert recorded == shlex.split(command)[1 : shlex.split(command).index(">")], command
        if "corrupt" in recorded[:2]:
            assert recorded[recorded.index("--data-root") + 1] == str(root)
    assert not pwned.exists()


@pytest.mark.workflow
def test_hostile_data_root_real_run_of_one_rule(tmp_path):
    root, pwned = _hostile_root(tmp_path)
    config = {"corrupt": {"data_root": str(root), "families": ["heat"], "n_images": 1}}
    res = _snakemake(tmp_path, config, "results/corrupt/pe0.06_reinf/corrupt.json")
    log = tmp_path / "results" / "logs" / "corrupt_pe0.06_reinf.log"
    assert res.returncode == 0, res.stderr + (log.read_text() if log.is_file() else "")
    assert (tmp_path / "results" / "corrupt" / "pe0.06_reinf" / "trajectory_strip.png").is_file()
    assert not pwned.exists()


# --------------------------------------------------------------------------- 2. paths that do not exist


def test_train_config_dataset_root_that_does_not_exist(tmp_path, capsys, machine_copy):
    missing = tmp_path / "nonexistent"
    rc, err = _cli(
        capsys,
        "train",
        "--config",
        str(_train_config(tmp_path, root=str(missing))),
        "--run-dir",
        str(tmp_path / "run"),
        "--no-progress",
    )
    assert rc != 0
    assert "root=" in err and str(missing) in err and "existing folder" in err
    assert not (tmp_path / "run" / "config.json").exists()


def test_corrupt_cli_data_root_that_does_not_exist(tmp_path, capsys, machine_copy):
    missing = tmp_path / "nonexistent"
    rc, err = _cli(
        capsys, "corrupt", "--family", "heat", "--n", "1", "--data-root", str(missing), "--out", str(tmp_path / "out")
    )
    assert rc != 0
    assert f"--data-root={str(missing)!r}" in err and "existing folder" in err
    assert not (tmp_path / "out" / "corrupt.json").exists()


def test_sweep_dataset_root_that_does_not_exist(tmp_path, machine_copy):
    from advdiff.sweep import DataMissingError, check_data

    missing = tmp_path / "nonexistent"
    with pytest.raises(DataMissingError) as info:
        check_data({"name": "fashion_mnist", "root": str(missing)}, tmp_path / "data.json")
    assert f"sweep.dataset.root={str(missing)!r}" in str(info.value)
    assert not (tmp_path / "data.json").exists()


def test_fashion_mnist_root_without_the_files_is_not_replaced_by_another_copy(tmp_path, machine_copy):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataUnavailableError) as info:
        load_dataset("fashion_mnist", root=empty, download=False)
    message = str(info.value)
    assert f"root={str(empty)!r} does not hold Fashion-MNIST" in message
    assert str(machine_copy) not in message  # the machine-wide copy is not searched for a configured root


@pytest.mark.workflow
def test_corrupt_data_root_that_does_not_exist_stops_the_workflow(tmp_path):
    missing = tmp_path / "nonexistent"
    res = _snakemake(tmp_path, {"corrupt": {"data_root": str(missing)}}, "-n")
    _refused_at_parse(res, f"corrupt.data_root={str(missing)!r}", "existing folder")


# --------------------------------------------------------------------------- 3. checks where they belong


@pytest.mark.workflow
def test_sweep_sampler_is_checked_when_the_workflow_is_parsed(tmp_path):
    res = _snakemake(tmp_path, {"sweep": {"families": ["heat", "ddpm"], "sample": {"sampler": "ddim"}}}, "-n")
    _refused_at_parse(res, "sweep.sample.sampler='ddim'", "heat: heat")
    res = _snakemake(tmp_path, {"sweep": {"sample": {"sampler": "euler"}}}, "-n")
    _refused_at_parse(res, "sweep.sample.sampler='euler'", "ddpm, ddim, blur, heat")


@pytest.mark.parametrize(
    ("uri", "allowed"),
    [
        ("ftp://mlflow.example.org/runs", "supported scheme"),
        ("htp//mlflow.example.org", "database or server URI"),
        ("http://", "with a host"),
        ("http://mlflow.example.org:99999", "port"),
        ("sqlite://relative.db", "sqlite:///"),
        ("http://mlflow.example.org/a b", "without spaces"),
    ],
)
def test_tracking_uri_is_checked_before_any_work(uri, allowed):
    from advdiff.preflight import check_tracking_uri

    with pytest.raises(ConfigError) as info:
        check_tracking_uri(uri)
    assert f"tracking.uri={uri!r}" in str(info.value) and allowed in str(info.value)


@pytest.mark.workflow
def test_tracking_uri_is_checked_when_the_workflow_is_parsed(tmp_path):
    res = _snakemake(tmp_path, {"tracking": {"uri": "ftp://mlflow.example.org/runs"}}, "-n")
    _refused_at_parse(res, "tracking.uri='ftp://mlflow.example.org/runs'", "sqlite://", "http://")


@pytest.mark.workflow
@NO_CUDA
def test_cuda_device_without_a_gpu_is_checked_when_the_workflow_is_parsed(tmp_path):
    res = _snakemake(tmp_path, {"sweep": {"train": {"device": "cuda"}}}, "-n")
    _refused_at_parse(res, "sweep.train.device='cuda'", "no CUDA GPU is usable here")
    # jobs that ask a scheduler for GPUs may run elsewhere: planned, and checked where they run
    res = _snakemake(tmp_path, {"sweep": {"train": {"device": "cuda"}}, "resources": {"gpu": 1}}, "-n")
    assert res.returncode == 0, res.stderr


@NO_CUDA
def test_cuda_device_without_a_gpu_is_checked_when_train_starts(tmp_path, capsys, machine_copy):
    rc, err = _cli(
        capsys,
        "train",
        "--config",
        str(_train_config(tmp_path)),
        "--device",
        "cuda",
        "--run-dir",
        str(tmp_path / "run"),
        "--no-progress",
    )
    assert rc != 0 and "device='cuda'" in err and "no CUDA GPU is usable here" in err
    assert not (tmp_path / "run").exists()


def test_sampler_is_checked_when_sample_starts(tmp_path, capsys, machine_copy):
    rc, err = _cli(
        capsys,
        "sample",
        "--config",
        str(_train_config(tmp_path)),
        "--n",
        "2",
        "--sampler",
        "ddim",
        "--run-dir",
        str(tmp_path / "run"),
    )
    assert rc != 0 and "--sampler='ddim'" in err and "fits ddpm" in err


@pytest.mark.parametrize(
    ("section", "key", "value", "bound"),
    [
        ("bench", "size", 100000, 4096),
        ("bench", "batch", 100000, 256),
        ("bench", "steps", 10**7, 100000),
        ("bench", "channels", 1000, 16),
        ("sweep.sample", "n", 10**7, 100000),
        ("sweep.evaluate", "n_real", 10**7, 100000),
        ("sweep.dataset", "size", 100000, 4096),
    ],
)
def test_large_values_have_an_upper_bound_in_the_schema(section, key, value, bound):
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    config: dict = {}
    node = config
    for part in section.split("."):
        node = node.setdefault(part, {})
    node[key] = value
    with pytest.raises(WorkflowError) as info:
        validate(config, str(ROOT / "workflow" / "schemas" / "config.schema.yaml"))
    message = str(info.value)
    assert f"{value} is greater than the maximum of {bound}" in message and key in message


def test_bench_lbm_size_has_an_upper_bound(capsys, monkeypatch):
    import advdiff.bench.lbm

    monkeypatch.setattr(advdiff.bench.lbm, "bench_lbm", lambda *a, **k: pytest.fail("the benchmark started"))
    rc, err = _cli(capsys, "bench", "lbm", "--size", "100000")
    assert rc != 0 and "--size=100000 is not allowed" in err and "from 8 to 4096" in err


# --------------------------------------------------------------------------- 4. scores


def _png_folder(folder: Path, n: int, size: int) -> Path:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(size)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (size, size), dtype=np.uint8), mode="L").save(folder / f"{i:03d}.png")
    return folder


def test_evaluate_refuses_real_and_generated_images_of_different_sizes(tmp_path, capsys):
    real, fake = _png_folder(tmp_path / "real", 8, 28), _png_folder(tmp_path / "fake", 8, 64)
    out = tmp_path / "metrics.json"
    rc, err = _cli(
        capsys,
        "evaluate",
        "--real",
        str(real),
        "--fake",
        str(fake),
        "--out",
        str(out),
        "--feature-extractor",
        "tiny-test",
        "--cache-dir",
        str(tmp_path / "cache"),
        "--no-progress",
        "--device",
        "cpu",
    )
    assert rc != 0 and not out.exists()
    assert "28x28" in err and "64x64" in err and "resize" in err


def test_evaluate_refuses_samples_mostly_outside_the_unit_range():
    from advdiff.metrics.images import to_uint8

    samples = torch.full((4, 1, 16, 16), 3.0)
    samples.view(-1)[:4] = 0.5  # 99.6 % of the values outside [0, 1]
    with pytest.raises(ConfigError) as info:
        to_uint8(samples, "generated images")
    message = str(info.value)
    assert "generated images" in message and "99.6%" in message and "[-0.05, 1.05]" in message


def test_evaluate_warns_about_small_clipping(caplog):
    from advdiff.metrics.images import to_uint8

    samples = torch.full((4, 1, 16, 16), 0.5)
    samples.view(-1)[:5] = 1.02  # slight overshoot, 0.5 % of the values: clipped, with a warning
    with caplog.at_level(logging.WARNING, logger="advdiff.metrics.images"):
        out = to_uint8(samples, "generated images")
    assert int(out.max()) == 255
    assert any(r.levelno == logging.WARNING and "clipped" in r.getMessage() for r in caplog.records)


def test_data_root_error_is_both_a_config_and_a_data_error(tmp_path):
    with pytest.raises(ConfigError):
        load_dataset("folder", root=tmp_path / "nowhere", size=8)
    with pytest.raises(DataError):
        load_dataset("mnist", root=tmp_path / "nowhere")
