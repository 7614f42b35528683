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
