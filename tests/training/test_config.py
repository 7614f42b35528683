"""TrainConfig: defaults in one place, unknown keys list the known ones, bad values name the key, a stable hash."""

import json

import pytest

from advdiff.errors import ConfigError
from advdiff.training import CONTROL_KEYS, TrainConfig


def test_defaults_are_valid_and_resolved():
    cfg = TrainConfig()
    assert cfg.family == "heat"
    assert cfg.family_params["K"] == 100 and cfg.family_params["noise_sigma"] == 0.01
    assert TrainConfig(family_params={"K": 100}).hash() == cfg.hash()
    assert cfg.pool_enabled() is False
    assert TrainConfig(family="advdiff").pool_enabled() is True


def test_unknown_key_lists_the_known_keys():
    with pytest.raises(ConfigError, match="batchsize.*batch_size.*warmup_steps"):
        TrainConfig.from_dict({"batchsize": 8})
    with pytest.raises(ConfigError, match="dataset key='nmae'.*name, root, split, limit, size, channels"):
        TrainConfig.from_dict({"dataset": {"nmae": "mnist"}})
    with pytest.raises(ConfigError, match="pool key='sise'.*refresh_per_step"):
        TrainConfig.from_dict({"pool": {"sise": 3}})
    with pytest.raises(ConfigError, match="family_params key='sigma'.*sigma_max"):
        TrainConfig.from_dict({"family": "heat", "family_params": {"sigma": 3}})


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"batch_size": 0}, "batch_size=0"),
        ({"lr": -1.0}, "lr=-1.0"),
        ({"lr": "fast"}, "lr='fast'"),
        ({"ema_decay": 1.0}, "ema_decay=1.0"),
        ({"warmup_steps": 1.5}, "warmup_steps=1.5"),
        ({"amp": "yes"}, "amp='yes'.*true, false or 'auto'"),
        ({"amp": 1}, "amp=1"),
        ({"seed": -1}, "seed=-1"),
        ({"family": "dppm"}, "family='dppm'.*ddpm, heat, blur, advdiff"),
        ({"family_params": {"K": 0}}, "family_params.K=0"),
        ({"dataset": {"split": "val"}}, "dataset.split='val'"),
        ({"dataset": {"size": 0}}, "dataset.size=0"),
        ({"dataset": {"name": "folder"}}, "dataset.root=None"),
        ({"pool": {"refresh_per_step": 300}}, "pool.refresh_per_step=300"),
        ({"family": "ddpm", "pool": {"mode": "pool"}}, "pool.mode='pool'"),
        ({"device": "tpu"}, "device='tpu'"),
        ({"model": {"overrides": {"in_channels": 3}}}, "model.overrides.in_channels"),
    ],
)
def test_bad_values_name_the_key(changes, key):
    with pytest.raises(ConfigError, match=key):
        TrainConfig.from_dict(changes)


def test_amp_defaults_to_auto_and_is_part_of_the_identity():
    """amp: auto (bfloat16 autocast where bf16 is native) is the default; true and false name other runs."""
    cfg = TrainConfig()
    assert cfg.amp == "auto" and TrainConfig.from_dict({"amp": " Auto "}).amp == "auto"
    names = {TrainConfig.from_dict({"amp": value}).hash() for value in ("auto", True, False)}
    assert len(names) == 3


def test_integral_floats_from_yaml_are_accepted():
    cfg = TrainConfig.from_dict({"steps": 1e3, "batch_size": 16.0})
    assert cfg.steps == 1000 and isinstance(cfg.batch_size, int)


def test_hash_ignores_device_and_run_control_keys_but_not_identity_keys():
    base = TrainConfig(family="ddpm", family_params={"K": 50})
    assert "device" in CONTROL_KEYS and "device" not in base.to_dict()
    same = base.replace(device="cpu", steps=7, log_every=3, checkpoint_every=2, sample_every=0)
    assert same.hash() == base.hash()
    assert base.replace(lr=1e-3).hash() != base.hash()
    assert base.replace(family_params={"K": 51}).hash() != base.hash()
    assert [d[0] for d in base.differences(base.replace(lr=1e-3, steps=3))] == ["lr"]
    assert [d[0] for d in base.differences(base.replace(lr=1e-3, steps=3), keys="control")] == ["steps"]


def test_saved_config_round_trips(tmp_path):
    cfg = TrainConfig(family="advdiff", family_params={"K": 6, "sigma_max": 3.0, "peclet": 1.0}, device="cpu")
    cfg.save(tmp_path / "config.json")
    stored = json.loads((tmp_path / "config.json").read_text())
    assert "device" not in stored
    again = TrainConfig.load(tmp_path / "config.json")
    assert again.hash() == cfg.hash() and again.to_dict() == cfg.to_dict()


def test_pool_refresh_defaults_scale_with_the_batch():
    """By default each advdiff trajectory serves about 16 pairs whatever the batch (R = batch // 16, E <= 4)."""
    from advdiff.training import TrainConfig

    for batch, rate in ((16, 1), (64, 4), (128, 8), (256, 16)):
        cfg = TrainConfig(family="advdiff", batch_size=batch, dataset={"name": "mnist"})
        assert cfg.pool.refresh_per_step == rate
        assert cfg.pool.refresh_every == 4
    explicit = TrainConfig(
        family="advdiff", batch_size=64, pool={"refresh_per_step": 2, "refresh_every": 1}, dataset={"name": "mnist"}
    )
    assert (explicit.pool.refresh_per_step, explicit.pool.refresh_every) == (2, 1)
    assert TrainConfig.from_dict(explicit.to_dict()).hash() == explicit.hash()


def test_pool_settings_name_only_runs_that_use_the_pool():
    """Without a trajectory pool (ddpm, heat, blur; advdiff on the fly) pool.* changes nothing and names nothing."""
    for family in ("ddpm", "heat", "blur"):
        base = TrainConfig(family=family, family_params={"K": 20})
        other = base.replace(pool={"size": 64, "refresh_per_step": 2, "chunk": 8, "mode": "on_the_fly"})
        assert other.hash() == base.hash(), family
        assert base.differences(other) == [] and {d[0] for d in base.differences(other, keys="control")} >= {
            "pool.size",
            "pool.chunk",
        }
    adv = TrainConfig(family="advdiff", family_params={"K": 6, "sigma_max": 3.0})
    assert adv.pool_enabled() and adv.replace(pool={"size": 64}).hash() != adv.hash()
    assert [d[0] for d in adv.differences(adv.replace(pool={"size": 64}))] == ["pool.size"]
    fly = adv.replace(pool={"mode": "on_the_fly"})
    assert fly.hash() != adv.hash()  # switching the pool off changes the pairs
    assert [d[0] for d in fly.differences(adv)] == ["pool.mode"]
    assert [d[0] for d in adv.differences(fly)] == ["pool.mode"]
    assert fly.replace(pool={"mode": "on_the_fly", "size": 64}).hash() == fly.hash()
    heat = TrainConfig(family="heat", family_params={"K": 20})
    assert heat.replace(pool={"mode": "pool"}).hash() != heat.hash()  # heat from a pool is another run
