"""The training configurations shipped in config/train/ load as they are documented to."""

from pathlib import Path

import pytest

from advdiff.runs import load_config

TRAIN = Path(__file__).resolve().parents[2] / "config" / "train"


@pytest.mark.parametrize("path", sorted(TRAIN.glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_training_config_loads(path):
    config = load_config(path)
    assert config.family in ("ddpm", "heat", "blur", "advdiff") and config.steps > 0


def test_the_longer_study_run_is_the_study_point_itself():
    """Its first 600 steps are the study's advdiff Pe 0 seed-1 run: the same run identity as that point."""
    from advdiff.naming import run_name

    config = load_config(TRAIN / "study_advdiff_pe0_3000.yaml")
    assert run_name(config) == "advdiff-pe0-reinf-mappaper-s1-e261fda06f"


def test_the_batch_32_run_differs_from_the_study_point_in_batch_and_steps_only():
    """config/train/study_advdiff_pe0_batch32.yaml: the 3000-step file's run with 32 images a step."""
    a = load_config(TRAIN / "study_advdiff_pe0_3000.yaml").to_dict()
    b = load_config(TRAIN / "study_advdiff_pe0_batch32.yaml").to_dict()
    differ = {k for k in a.keys() | b.keys() if a.get(k) != b.get(k)}
    assert differ <= {"batch_size", "steps", "checkpoint_every", "sample_every", "pool"} and "batch_size" in differ
    # the trajectory pool refreshes in proportion to the batch, so each trajectory serves as many pairs
    assert dict(a["pool"], refresh_per_step=None) == dict(b["pool"], refresh_per_step=None)
    assert a["pool"]["refresh_per_step"] * b["batch_size"] == b["pool"]["refresh_per_step"] * a["batch_size"]
    assert b["batch_size"] * b["steps"] == 600 * 64  # the study's training images


def test_the_batch_32_run_is_the_study_point_itself():
    """config/study.yaml trains 1 200 steps of batch 32: the batch-32 file is its advdiff Pe 0 seed-1 run."""
    import yaml

    from advdiff.naming import run_name

    study = yaml.safe_load((TRAIN.parents[0] / "study.yaml").read_text())["sweep"]["train"]
    config = load_config(TRAIN / "study_advdiff_pe0_batch32.yaml")
    assert (study["batch_size"], study["steps"]) == (config.batch_size, config.steps) == (32, 1200)
    assert study["amp"] is False and config.amp is False  # the committed study ran in float32 on every CPU
    assert run_name(config) == "advdiff-pe0-reinf-mappaper-s1-96e08188e4"
