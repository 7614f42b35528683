"""advdiff.runs.load_network: a run folder's trained U-Net, as sampling and the study report rebuild it."""

import pytest
import torch

from advdiff.errors import ConfigError
from advdiff.models import build_model
from advdiff.runs import load_network
from advdiff.training.trainer import CHECKPOINT_FILE, CHECKPOINT_FORMAT


def _save(folder, *, with_config=True):
    torch.manual_seed(0)
    ema, raw = build_model("tiny", in_channels=1, image_size=8), build_model("tiny", in_channels=1, image_size=8)
    state = {"format": CHECKPOINT_FORMAT, "config_hash": "abc", "ema": ema.state_dict(), "model": raw.state_dict()}
    if with_config:
        state["model_info"] = {"config": ema.config}
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(state, folder / CHECKPOINT_FILE)
    return ema, raw


def _same(a, b):
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))


def test_the_ema_or_the_raw_weights_in_eval_mode(tmp_path):
    ema, raw = _save(tmp_path / "run")
    model, ckpt = load_network(tmp_path / "run", config_hash="abc")
    assert not model.training and ckpt["config_hash"] == "abc"
    assert _same(model, ema) and not _same(model, raw)
    assert _same(load_network(tmp_path / "run", use_ema=False)[0], raw)


def test_a_missing_foreign_or_config_less_checkpoint_is_named(tmp_path):
    with pytest.raises(ConfigError, match="no trained network at .*checkpoint"):
        load_network(tmp_path / "empty")
    _save(tmp_path / "run")
    with pytest.raises(ConfigError, match="belongs to run abc, not to this configuration \\(def\\)"):
        load_network(tmp_path / "run", config_hash="def")
    _save(tmp_path / "bare", with_config=False)
    with pytest.raises(ConfigError, match="custom network without a config"):
        load_network(tmp_path / "bare")
