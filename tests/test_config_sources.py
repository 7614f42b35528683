"""Where the defaults live: the workflow's schema, the config classes, config/README.md and config/config.yaml agree."""

import copy
import dataclasses
import re
from pathlib import Path

import pytest
import yaml
from snakemake.utils import validate

from advdiff.errors import ConfigError
from advdiff.sweep import build_sweep, schema_defaults
from advdiff.sweep.defaults import EVALUATE_KEYS, SAMPLE_KEYS, SECTION_KEYS, TRAIN_KEYS, schema_node
from advdiff.training.config import DatasetConfig, ModelConfig, PoolConfig, TrainConfig

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"
README = ROOT / "config" / "README.md"
FAMILIES = ["ddpm", "heat", "blur", "advdiff"]

# README rows whose default column is words or covers only some of the row's keys: key -> the default it states
STATED = {
    "lbm.collisions": {"lbm.collisions": ["bgk", "central_moment"]},  # both
    "corrupt.dataset": {"corrupt.dataset": "fashion_mnist"},
    "corrupt.families": {"corrupt.families": FAMILIES},  # all four
    "corrupt.settings": {"corrupt.settings": [{"peclet": 0.06, "reynolds": None}]},  # Pe 0.06
    "sweep.dataset": {"sweep.dataset.name": "fashion_mnist"},  # Fashion-MNIST
    "sweep.families": {"sweep.families": FAMILIES},  # all four
    "sweep.model": {"sweep.model.preset": "small"},
    "sweep.train": {},  # CPU smoke scale: the numbers are the schema's (checked against TrainConfig below)
    "sweep.sample": {"sweep.sample.n": 256},
    "sweep.evaluate": {"sweep.evaluate.feature_extractor": "inception", "sweep.evaluate.clean_fid": False},
}


def _validated(config):
    config = copy.deepcopy(config)
    validate(config, schema=str(SCHEMA))  # fills in the schema's defaults, as the workflow does
    return config


def _default(key):
    path = key.split(".")
    node = schema_node(*path)
    assert "default" in node or node.get("properties"), f"{key} has no default in the schema"
    return schema_defaults(*path)


def _split(cell):
    """A README cell's comma-separated values, commas inside [...] or {...} kept."""
    parts, depth, current = [], 0, ""
    for char in cell:
        depth += char in "[{"
        depth -= char in "]}"
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    return [p for p in [*parts, current.strip()] if p]


def _readme_rows():
    rows = []
    for line in README.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].startswith("`"):
            continue
        keys = []
        for name in re.findall(r"`([^`]+)`", cells[0]):
            keys.append(keys[-1].rsplit(".", 1)[0] + name if name.startswith(".") else name)
        rows.append((keys, cells[2]))
    return rows


def test_the_readme_default_column_states_the_schemas_defaults():
    rows = _readme_rows()
    assert len(rows) > 30
    checked = 0
    for keys, cell in rows:
        if "<" in keys[0]:  # sweep.family_params.<family>
            assert cell == "`{}`" and _default("sweep.family_params") == {f: {} for f in FAMILIES}
            continue
        if keys[0] in STATED:
            for key, value in STATED[keys[0]].items():
                assert _default(key) == value, (key, cell)
            checked += 1
            continue
        values = _split(cell)
        assert len(values) == len(keys), f"README row {keys}: {cell!r} does not give one default per key"
        for key, text in zip(keys, values, strict=True):
            default = _default(key)
            if isinstance(default, dict):  # per stage: train/sample/evaluate
                assert [yaml.safe_load(v) for v in text.split("/")] == list(default.values()), (key, text)
            else:
                assert yaml.safe_load(text.strip("`")) == default, (key, text, default)
        checked += 1
    assert checked > 25


def test_every_schema_default_is_accepted_by_the_sweep():
    """The schema's defaults, filled into an empty section as the workflow does, make a valid sweep;
    and build_sweep, given nothing, fills in the same defaults (the schema is their one source)."""
    config = _validated({"sweep": {}})
    from_schema = build_sweep(config["sweep"])
    from_python = build_sweep({})
    assert list(from_schema.points) == list(from_python.points)
    assert from_schema.sample == from_python.sample and from_schema.evaluate == from_python.evaluate
    assert from_schema.evaluate["n"] == from_schema.sample["n"]  # evaluate.n: sample.n unless given
    assert "default" not in schema_node("sweep", "evaluate", "n")


@pytest.mark.parametrize("overlay", [None, "config/study.yaml", "config/paper.yaml", "tests/workflow/smoke.yaml"])
def test_config_files_resolve_alike_from_python_and_from_the_workflow(overlay):
    """config/config.yaml (and the files read on top of it): build_sweep on the files as written gives the
    points the workflow gets after the schema filled in its defaults."""
    from snakemake.utils import update_config

    config = {}
    for path in ["config/config.yaml", *([overlay] if overlay else [])]:
        update_config(config, yaml.safe_load((ROOT / path).read_text(encoding="utf-8")))
    workflow = build_sweep(_validated(config)["sweep"])
    python = build_sweep(copy.deepcopy(config["sweep"]))
    assert list(workflow.points) == list(python.points)
    assert [p.config.to_dict(include_device=True) for p in workflow.points.values()] == [
        p.config.to_dict(include_device=True) for p in python.points.values()
    ]
    assert (workflow.sample, workflow.evaluate, workflow.figures) == (python.sample, python.evaluate, python.figures)


def test_the_schema_lists_the_keys_the_sweep_reads():
    sweep = schema_node("sweep")["properties"]
    assert SECTION_KEYS == tuple(sweep)
    assert TRAIN_KEYS == tuple(sweep["train"]["properties"])
    assert SAMPLE_KEYS == tuple(sweep["sample"]["properties"])
    assert EVALUATE_KEYS == tuple(sweep["evaluate"]["properties"])
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    assert set(TRAIN_KEYS) <= fields
    assert set(sweep["dataset"]["properties"]) == {f.name for f in dataclasses.fields(DatasetConfig)}
    assert set(sweep["model"]["properties"]) == {f.name for f in dataclasses.fields(ModelConfig)}


def test_the_schemas_dataset_and_model_defaults_are_the_classes():
    """sweep.dataset and sweep.model are TrainConfig's sections: the schema states the classes' defaults."""
    assert schema_defaults("sweep", "dataset") == dataclasses.asdict(DatasetConfig())
    assert schema_defaults("sweep", "model") == dataclasses.asdict(ModelConfig())
    assert schema_defaults("sweep", "train", "pool") == {}  # PoolConfig's own defaults
    assert PoolConfig().mode == "auto"


def test_the_sweeps_train_defaults_are_the_schemas_not_the_clis():
    """TrainConfig's defaults are the library's and `advdiff train`'s (paper scale); a sweep's training
    settings come from the schema (CPU scale) when the section does not give them."""
    train = schema_defaults("sweep", "train")
    point = next(iter(build_sweep({"families": ["heat"]}).points.values()))
    for key, value in train.items():
        if key != "pool":
            assert getattr(point.config, key) == value, key
    assert TrainConfig().steps != train["steps"]  # two scales, each written once


def test_config_errors_carry_the_key_as_an_attribute():
    with pytest.raises(ConfigError) as err:
        build_sweep({"families": ["heat"], "family_params": {"heat": {"Kay": 3}}})
    assert err.value.key == "sweep.family_params.heat key" and str(err.value).startswith(err.value.key + "=")
    with pytest.raises(ConfigError) as err:
        build_sweep({"families": ["advdiff"], "peclet": [0.0, 1.0], "reynolds": [100, None]})
    assert err.value.key == "sweep.reynolds"
    with pytest.raises(ConfigError) as err:
        build_sweep({"families": ["advdiff"], "peclet": [0.0, 50.0], "family_params": {"advdiff": {"K": 10}}})
    assert err.value.key == "sweep.family_params.advdiff" and str(err.value).startswith(err.value.key + " [")
