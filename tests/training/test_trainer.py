"""The training loop: every family learns, resume is bit-identical, NaN stops the run, the run directory."""

import json
import logging
import math

import pytest
import torch

from advdiff.errors import AdvdiffError, ConfigError
from advdiff.training import NonFiniteLossError, TrainConfig, load_checkpoint, loss_for, train
from advdiff.training.seeding import image_generators
from advdiff.training.trainer import ema_decay_at, ema_update, load_images, lr_at
from tests.training.helpers import NaNAt, tiny_config, tiny_net


class Crash(Exception):
    """Stands for a kill."""


def crash_at(step):
    def callback(s, info):
        if s == step:
            raise Crash(f"killed at step {s}")

    return callback


def same(a, b, path="checkpoint"):
    """Recursive exact equality of checkpoint contents (tensors with torch.equal)."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b), path
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), path
        for key in a:
            same(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, list | tuple):
        assert type(a) is type(b) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            same(x, y, f"{path}[{i}]")
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


def comparable(ckpt, skip=("totals",)):
    """Everything in a checkpoint except the wall-clock totals (and other keys in ``skip``)."""
    return {key: value for key, value in ckpt.items() if key not in skip}


@pytest.mark.parametrize("family", ["ddpm", "heat", "blur", "advdiff"])
def test_each_family_learns(image_folder, tmp_path, family):
    """A few dozen steps cut the loss on a fixed batch (fixed levels and noise) by well over a third."""
    cfg = TrainConfig.from_dict(tiny_config(image_folder, family, steps=40, checkpoint_every=40, log_every=10))
    net = tiny_net()
    loss = loss_for(cfg.build_corruption())
    x0 = load_images(cfg.dataset)[:16]

    def fixed_batch_loss():
        with torch.no_grad():
            return sum(float(loss(net, x0, image_generators(123, s, 16))[0]) for s in range(4)) / 4

    before = fixed_batch_loss()
    summary = train(cfg, tmp_path / "run", model=net, progress=False)
    after = fixed_batch_loss()
    assert after < 0.6 * before, (before, after)
    assert summary["step"] == 40 and summary["loss_kind"] == loss.kind
    lines = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [line["step"] for line in lines] == [10, 20, 30, 40]
    assert all(math.isfinite(line["loss"]) for line in lines)


def test_run_directory_layout(image_folder, tmp_path):
    run = tmp_path / "run"
    cfg = TrainConfig.from_dict(tiny_config(image_folder, "advdiff", steps=6, checkpoint_every=4, log_every=2))
    summary = train(cfg, run, model=tiny_net(), progress=False)
    assert sorted(p.name for p in run.iterdir()) == ["checkpoint.pt", "config.json", "metrics.jsonl", "summary.json"]
    assert TrainConfig.load(run / "config.json").hash() == cfg.hash() == summary["run"]
    assert json.loads((run / "summary.json").read_text()) == summary
    assert summary["images_per_second"] > 0 and summary["images_seen"] == 6 * 8 and summary["device"] == "cpu"
    assert summary["data"]["source"] == "pool" and summary["data"]["trajectories_computed"] == 6 + 2 * 6
    ckpt = load_checkpoint(run / "checkpoint.pt")
    assert ckpt["step"] == 6 and ckpt["config_hash"] == cfg.hash() and ckpt["config"] == cfg.to_dict()
    for key in ("model", "ema", "optimizer", "schedule", "rng", "data", "model_info"):
        assert key in ckpt
    assert ckpt["model_info"]["config"] == tiny_net().config
    assert ckpt["data"]["pairs"]["trajectories"].shape == (6, 7, 1, 8, 8)
    line = json.loads((run / "metrics.jsonl").read_text().splitlines()[0])
    assert {"step", "loss", "mse", "lr", "grad_norm", "images_per_second", "data_mean_reuse"} <= line.keys()
    assert line["lr"] == pytest.approx(lr_at(2, cfg.lr, cfg.warmup_steps)) == pytest.approx(cfg.lr)
    assert not list(run.glob("*.tmp"))


@pytest.mark.parametrize(
    ("family", "crash", "extra"),
    [
        ("heat", 10, {}),  # two steps after the checkpoint of step 8
        ("heat", 11, {"log_every": 3}),  # the logging window 7..9 is cut by the checkpoint of step 8
        ("heat", 8, {}),  # right after a checkpoint
        ("heat", 3, {}),  # before the first checkpoint: starts again from scratch
        ("ddpm", 7, {}),
        ("advdiff", 6, {}),  # the trajectory pool's tensors travel in the checkpoint
        ("advdiff", 6, {"pool": {"size": 6, "refresh_per_step": 2, "chunk": 4, "in_checkpoint": False}}),
    ],
)
def test_resume_after_a_kill_is_bit_identical(image_folder, tmp_path, family, crash, extra):
    cfg = tiny_config(image_folder, family, steps=12, checkpoint_every=4, **extra)
    train(cfg, tmp_path / "straight", model=tiny_net(), progress=False)
    with pytest.raises(Crash):
        train(cfg, tmp_path / "killed", model=tiny_net(), progress=False, callback=crash_at(crash))
    resumed = train(cfg, tmp_path / "killed", model=tiny_net(), progress=False)
    a = load_checkpoint(tmp_path / "straight" / "checkpoint.pt")
    b = load_checkpoint(tmp_path / "killed" / "checkpoint.pt")
    assert a["step"] == b["step"] == 12
    same(comparable(a), comparable(b))
    logged = {}
    for name in ("straight", "killed"):
        lines = [json.loads(line) for line in (tmp_path / name / "metrics.jsonl").read_text().splitlines()]
        logged[name] = [(line["step"], line["loss"], line["grad_norm"], line["lr"]) for line in lines]
    # lines written after the checkpoint were dropped and written again; a logging window cut by the kill continues
    assert logged["killed"] == logged["straight"]
    assert [entry[0] for entry in logged["killed"]] == list(range(cfg["log_every"], 13, cfg["log_every"]))
    assert resumed["images_seen"] == 12 * 8


def test_resume_continues_the_passed_model_in_place(image_folder, tmp_path):
    cfg = tiny_config(image_folder, "heat", steps=8, checkpoint_every=4)
    straight = tiny_net()
    train(cfg, tmp_path / "a", model=straight, progress=False)
    with pytest.raises(Crash):
        train(cfg, tmp_path / "b", model=tiny_net(), progress=False, callback=crash_at(6))
    resumed = tiny_net(seed=5)
    train(cfg, tmp_path / "b", model=resumed, progress=False)
    for (name, p), q in zip(straight.named_parameters(), resumed.parameters(), strict=True):
        assert torch.equal(p, q), name


@pytest.mark.parametrize("at", [6, 8])
def test_nan_loss_stops_with_the_step_and_the_last_good_checkpoint(image_folder, tmp_path, at):
    """NaN at step 6 or 8 (a checkpoint step): the error names it and checkpoint.pt (step 4) keeps finite weights."""
    run = tmp_path / "run"
    cfg = tiny_config(image_folder, "heat", steps=12, checkpoint_every=4)
    with pytest.raises(NonFiniteLossError) as info:
        train(cfg, run, model=NaNAt(tiny_net(), at=at), progress=False)
    err = info.value
    assert isinstance(err, AdvdiffError)
    assert err.step == at and err.checkpoint == run / "checkpoint.pt" and err.checkpoint_step == 4
    assert f"at step {at}" in str(err) and str(run / "checkpoint.pt") in str(err) and "(step 4)" in str(err)
    ckpt = load_checkpoint(run / "checkpoint.pt")
    assert ckpt["step"] == 4
    for part in ("model", "ema"):
        assert all(bool(torch.isfinite(t).all()) for t in ckpt[part].values())
    assert not list(run.glob("*.tmp"))


def test_nan_before_any_checkpoint_says_so(image_folder, tmp_path):
    with pytest.raises(NonFiniteLossError, match="at step 2.*no checkpoint was written"):
        train(
            tiny_config(image_folder, "ddpm", steps=6), tmp_path / "run", model=NaNAt(tiny_net(), at=2), progress=False
        )
    assert not (tmp_path / "run" / "checkpoint.pt").exists()


def test_a_different_config_is_refused_and_run_control_keys_may_change(image_folder, tmp_path):
    run = tmp_path / "run"
    cfg = tiny_config(image_folder, "heat", steps=4, checkpoint_every=4)
    train(cfg, run, model=tiny_net(), progress=False)
    stored = (run / "config.json").read_text()
    with pytest.raises(ConfigError, match=r"lr: stored 0\.002, given 0\.001.*seed: stored 7, given 8"):
        train({**cfg, "lr": 1e-3, "seed": 8}, run, model=tiny_net(), progress=False)
    with pytest.raises(ConfigError, match="family_params.K"):
        train({**cfg, "family_params": {"K": 5, "sigma_max": 3.0}}, run, model=tiny_net(), progress=False)
    assert (run / "config.json").read_text() == stored
    longer = train({**cfg, "steps": 6, "log_every": 2}, run, model=tiny_net(), progress=False)
    assert longer["step"] == 6 and longer["steps_this_call"] == 2
    assert TrainConfig.load(run / "config.json").steps == 6
    again = train({**cfg, "steps": 6, "log_every": 2}, run, model=tiny_net(), progress=False)
    assert again["steps_this_call"] == 0 and load_checkpoint(run / "checkpoint.pt")["step"] == 6


def test_amp_is_ignored_on_a_cpu_without_native_bf16_with_a_log_message(image_folder, tmp_path, caplog, monkeypatch):
    monkeypatch.setattr("advdiff.devices.native_bf16", lambda: False)
    with caplog.at_level(logging.INFO, logger="advdiff.training"):
        summary = train(
            tiny_config(image_folder, "heat", steps=2, amp=True), tmp_path / "run", model=tiny_net(), progress=False
        )
    assert summary["amp"] is False
    assert any("amp=true is ignored on this CPU" in r.getMessage() for r in caplog.records)


def test_amp_on_a_cpu_with_native_bf16_trains_in_bf16_autocast(image_folder, tmp_path, monkeypatch):
    """Where the CPU has native bf16 (forced here: emulated on this one), amp trains under CPU autocast:
    the losses differ from float32 ones by bf16 rounding, not more."""
    monkeypatch.setattr("advdiff.devices.native_bf16", lambda: True)
    cfg = tiny_config(image_folder, "heat", steps=4, checkpoint_every=4)
    fp32 = train({**cfg, "amp": False}, tmp_path / "fp32", model=tiny_net(), progress=False)
    bf16 = train({**cfg, "amp": True}, tmp_path / "bf16", model=tiny_net(), progress=False)
    auto = train({**cfg, "amp": "auto"}, tmp_path / "auto", model=tiny_net(), progress=False)
    assert fp32["amp"] is False and bf16["amp"] is True and auto["amp"] is True
    a = [json.loads(x)["loss"] for x in (tmp_path / "fp32" / "metrics.jsonl").read_text().splitlines()]
    b = [json.loads(x)["loss"] for x in (tmp_path / "bf16" / "metrics.jsonl").read_text().splitlines()]
    assert len(a) == len(b) == 4 and all(math.isfinite(v) for v in b)
    assert a != b  # autocast really ran
    assert all(abs(x - y) <= 0.05 * abs(x) for x, y in zip(a, b, strict=True))
    c = [json.loads(x)["loss"] for x in (tmp_path / "auto" / "metrics.jsonl").read_text().splitlines()]
    assert c == b  # auto is bf16 autocast where bf16 is native


def test_amp_auto_is_float32_on_a_cpu_without_native_bf16(image_folder, tmp_path, caplog, monkeypatch):
    """amp: auto (the default) computes exactly as amp: false where bf16 would be emulated, and logs it."""
    monkeypatch.setattr("advdiff.devices.native_bf16", lambda: False)
    cfg = tiny_config(image_folder, "heat", steps=3, checkpoint_every=3)
    with caplog.at_level(logging.INFO, logger="advdiff.training"):
        auto = train(cfg, tmp_path / "auto", model=tiny_net(), progress=False)
    fp32 = train({**cfg, "amp": False}, tmp_path / "fp32", model=tiny_net(), progress=False)
    assert TrainConfig.from_dict(cfg).amp == "auto" and auto["amp"] is False and fp32["amp"] is False
    assert any("amp=auto: float32" in r.getMessage() for r in caplog.records)
    a = (tmp_path / "auto" / "metrics.jsonl").read_text().splitlines()
    b = (tmp_path / "fp32" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["loss"] for x in a] == [json.loads(x)["loss"] for x in b]


def test_sample_grids_do_not_change_the_run(image_folder, tmp_path, caplog):
    """With a preview function, grids are written every sample_every steps and the weights are unchanged;
    without one, no grids and a line in the log."""
    calls = []

    def preview(model, corruption, x_K, generator, images):
        calls.append((x_K.shape, len(generator), images.shape[0]))
        torch.rand(3)  # a sampler that touches the global RNG must not disturb training
        return model(x_K, torch.full((x_K.shape[0],), corruption.K)).sigmoid()

    cfg = tiny_config(image_folder, "heat", steps=8, checkpoint_every=8)
    gridded = {**cfg, "sample_every": 4, "sample_count": 5}
    train(cfg, tmp_path / "plain", model=tiny_net(), progress=False)
    train(gridded, tmp_path / "grids", model=tiny_net(), progress=False, preview=preview)
    assert sorted(p.name for p in (tmp_path / "grids" / "samples").iterdir()) == [
        "step_0000004.png",
        "step_0000008.png",
    ]
    n_images = calls[0][2]
    assert calls == [((5, 1, 8, 8), 5, n_images)] * 2  # one generator per image, the training images alongside
    skip = ("totals", "config")  # the configs differ in sample_every and sample_count
    same(
        comparable(load_checkpoint(tmp_path / "plain" / "checkpoint.pt"), skip),
        comparable(load_checkpoint(tmp_path / "grids" / "checkpoint.pt"), skip),
    )
    with caplog.at_level("INFO", logger="advdiff.training.trainer"):
        train(gridded, tmp_path / "none", model=tiny_net(), progress=False)
    assert not (tmp_path / "none" / "samples").exists() or not any((tmp_path / "none" / "samples").iterdir())
    assert any("no preview function" in r.getMessage() for r in caplog.records)


def test_a_run_that_fails_before_training_leaves_no_config_behind(image_folder, tmp_path):
    """A typo in the data folder must not pin the run directory to the wrong configuration."""
    run = tmp_path / "run"
    with pytest.raises(AdvdiffError):
        train(tiny_config(tmp_path / "missing", "heat", steps=2), run, model=tiny_net(), progress=False)
    assert not (run / "config.json").exists()
    assert train(tiny_config(image_folder, "heat", steps=2), run, model=tiny_net(), progress=False)["step"] == 2


def test_ema_warmup_forgets_the_initial_weights():
    # the warm-up decay grows towards ema_decay and never exceeds it; off means the plain decay
    decays = [ema_decay_at(n, 0.999, True) for n in range(1, 5001)]
    assert decays[0] == pytest.approx(2 / 11)
    assert all(a <= b for a, b in zip(decays, decays[1:], strict=False))
    assert max(decays) < 0.999 == ema_decay_at(9000, 0.999, True) == ema_decay_at(1, 0.999, False)
    # after 3 000 steps towards constant weights the initial weights' share is tiny with warm-up only
    for warmup, bound in ((True, 1e-3), (False, None)):
        ema, model = torch.nn.Linear(1, 1, bias=False), torch.nn.Linear(1, 1, bias=False)
        torch.nn.init.constant_(ema.weight, 1.0)
        torch.nn.init.constant_(model.weight, 0.0)
        for n in range(1, 3001):
            ema_update(ema, model, ema_decay_at(n, 0.999, warmup))
        share = float(ema.weight.detach())
        if bound is None:
            assert share == pytest.approx(0.999**3000, rel=1e-3)
        else:
            assert share < bound


def test_ema_warmup_is_a_checked_flag():
    with pytest.raises(ConfigError, match="ema_warmup"):
        TrainConfig(ema_warmup="yes")


def test_the_lbm_backend_that_ran_is_recorded_and_auto_says_which(image_folder, tmp_path, caplog):
    import logging

    from advdiff.lbm.backends import _AUTO_SAID
    from tests.training.helpers import FAMILY_PARAMS, tiny_config

    _AUTO_SAID.clear()
    params = dict(FAMILY_PARAMS["advdiff"], backend="auto")
    cfg = TrainConfig.from_dict(tiny_config(image_folder, "advdiff", steps=2, family_params=params))
    with caplog.at_level(logging.INFO, logger="advdiff.lbm.backends"):
        summary = train(cfg, tmp_path / "run", progress=False)
    assert summary["lbm_backend"] == "cpu"  # no usable CuPy here: auto resolved to the CPU solver ...
    assert "running on the CPU (backend cpu)" in caplog.text  # ... and the log says so, with the reason
    assert summary["versions"]["torch"] == torch.__version__ and summary["versions"]["gpu"] is None
    assert set(summary["versions"]["cpu"]) == {"model", "family_model", "kind"}  # float results depend on the CPU
    heat_cfg = TrainConfig.from_dict(tiny_config(image_folder, "heat", steps=1))
    heat = train(heat_cfg, tmp_path / "heat", progress=False)
    assert heat["lbm_backend"] is None


def test_a_gpu_run_never_falls_back_to_the_cpu_solver(monkeypatch):
    from advdiff.errors import BackendUnavailableError
    from advdiff.lbm import backends
    from advdiff.training.trainer import check_lbm_backend

    assert check_lbm_backend({"backend": "cpu"}, torch.device("cpu")) == "cpu"
    assert check_lbm_backend({"K": 6}, torch.device("cpu")) is None  # a family without an LBM
    monkeypatch.setattr(backends, "_AUTO_SAID", set())
    with pytest.raises(BackendUnavailableError, match=r"cupy-cuda12x.*backend: cpu"):
        check_lbm_backend({"backend": "auto"}, torch.device("cuda"))  # auto fell back to cpu: refused
    assert check_lbm_backend({"backend": "cpu"}, torch.device("cuda")) == "cpu"  # chosen by name: allowed
    if not torch.cuda.is_available():  # backend cupy without a GPU: refused before training, saying why
        with pytest.raises(BackendUnavailableError, match="(?i)cupy|cuda"):
            check_lbm_backend({"backend": "cupy"}, torch.device("cpu"))
