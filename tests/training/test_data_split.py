"""Training on a flat image folder: the held-out files are never read, the split is recorded, streaming is exact."""

from __future__ import annotations

import json

import pytest
import torch

from advdiff.data import folder as folder_module
from advdiff.data.folder import ImageFolderDataset, StreamedImages, names_sha256
from advdiff.errors import ConfigError
from advdiff.training import TrainConfig, train
from advdiff.training.trainer import load_images
from tests.training.helpers import tiny_config, tiny_net, write_image_folder


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """32 grey 8x8 PNGs in a flat folder."""
    return write_image_folder(tmp_path_factory.mktemp("flat"), count=32)


def _reads(monkeypatch) -> list[str]:
    """Every file the folder loader decodes from now on, by name."""
    seen: list[str] = []
    original = folder_module.read_image

    def spy(path, **kwargs):
        seen.append(path.name)
        return original(path, **kwargs)

    monkeypatch.setattr(folder_module, "read_image", spy)
    return seen


@pytest.mark.parametrize(("family", "budget"), [("heat", 16384), ("advdiff", 16384), ("advdiff", 0)])
def test_training_never_reads_a_held_out_file_and_records_the_split(folder, tmp_path, monkeypatch, family, budget):
    """In memory and streamed (budget 0), on-the-fly pairs and the trajectory pool: no held-out file is opened."""
    dataset = {
        "name": "folder",
        "root": str(folder),
        "size": 8,
        "channels": 1,
        "holdout": 6,
        "holdout_seed": 11,
        "memory_budget_mb": budget,
    }
    held = ImageFolderDataset(folder, 8, 1, split="test", holdout=6, holdout_seed=11).heldout_names
    reads = _reads(monkeypatch)
    summary = train(
        tiny_config(folder, family, steps=4, checkpoint_every=4, dataset=dataset),
        tmp_path / "run",
        model=tiny_net(),
        progress=False,
    )
    assert reads and not set(reads) & set(held)
    split = summary["data_split"]
    assert split["kind"] == "holdout" and split["holdout"] == 6 and split["holdout_seed"] == 11
    assert split["train"] == 26 and split["images"] == 26 and split["holdout_sha256"] == names_sha256(held)
    assert split.get("streamed", False) is (budget == 0)
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["data_split"] == split


def test_streamed_images_are_the_in_memory_images(folder):
    """The loader for data above the memory budget reads from disk per batch the same uint8 images."""
    cfg = TrainConfig.from_dict(tiny_config(folder, "heat"))
    memory = load_images(cfg.dataset, compact=True)
    streamed = load_images(cfg.replace(dataset={**cfg.dataset.__dict__, "memory_budget_mb": 0}).dataset, compact=True)
    assert isinstance(streamed, StreamedImages) and memory.dtype == streamed.dtype == torch.uint8
    assert streamed.shape == memory.shape and len(streamed) == memory.shape[0] == 29  # 32 less the default 3
    index = torch.randperm(memory.shape[0], generator=torch.Generator().manual_seed(0))[:9]
    assert torch.equal(streamed[index], memory[index])
    assert torch.equal(streamed[3:7], memory[3:7]) and torch.equal(streamed[-1], memory[-1])
    assert torch.equal(streamed[[0, 0, 5]], memory[[0, 0, 5]])
    with pytest.raises(ConfigError, match="indexed by an int"):
        streamed[0.5]


def test_the_held_out_keys_name_folder_runs_only(folder):
    """Held-out size and seed name a folder run, not a built-in data set's; the memory budget names none."""
    run = TrainConfig.from_dict(tiny_config(folder, "heat"))
    assert run.replace(dataset={**run.dataset.__dict__, "holdout": 4}).hash() != run.hash()
    assert run.replace(dataset={**run.dataset.__dict__, "holdout_seed": 1}).hash() != run.hash()
    assert run.replace(dataset={**run.dataset.__dict__, "memory_budget_mb": 1}).hash() == run.hash()
    fmnist = TrainConfig(family="heat")
    assert fmnist.replace(dataset={"name": "fashion_mnist", "holdout_seed": 9}).hash() == fmnist.hash()
    with pytest.raises(ConfigError, match=r"dataset.holdout=3 is not allowed: expected null or 0 for dataset"):
        TrainConfig(dataset={"name": "fashion_mnist", "holdout": 3})
    with pytest.raises(ConfigError, match=r"dataset.holdout=-1 is not allowed"):
        TrainConfig.from_dict(tiny_config(folder, dataset={"name": "folder", "root": str(folder), "holdout": -1}))
    with pytest.raises(ConfigError, match=r"dataset.memory_budget_mb=-5 is not allowed"):
        TrainConfig.from_dict(
            tiny_config(folder, dataset={"name": "folder", "root": str(folder), "memory_budget_mb": -5})
        )


def test_the_scores_of_the_test_split_use_the_held_out_images_and_record_them(folder, tmp_path):
    """evaluate_run with real_split test: exactly the held-out images, and their SHA-256 in metrics.json."""
    from advdiff.runs import evaluate_run

    dataset = {"name": "folder", "root": str(folder), "size": 8, "channels": 1, "holdout": 8, "holdout_seed": 2}
    cfg = tiny_config(folder, "heat", steps=2, checkpoint_every=2, model={"preset": "tiny"}, dataset=dataset)
    summary = train(cfg, tmp_path / "run", progress=False)
    result = evaluate_run(
        tmp_path / "run",
        8,
        real_split="test",
        feature_extractor="tiny-test",
        cache=tmp_path,
        kid_subset=4,
        progress=False,
    )
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert result["n_real"] == 8 and saved["dataset"]["split"] == "test"
    split = saved["dataset"]["split_info"]
    assert split["split"] == "test" and split["images"] == 8
    assert split["holdout_sha256"] == summary["data_split"]["holdout_sha256"]
