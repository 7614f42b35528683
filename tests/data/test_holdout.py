"""The held-out split of a flat image folder: disjoint, seeded, deterministic, validated, recorded."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from advdiff.data import DataError, ImageFolderDataset, load_dataset
from advdiff.data.folder import default_holdout, holdout_split, names_sha256
from advdiff.errors import ConfigError


@pytest.fixture
def flat(tmp_path):
    """40 small RGB PNGs in a flat folder (no train/ or test/), in two subfolders like FFHQ's copy."""
    rng = np.random.default_rng(0)
    root = tmp_path / "flat"
    for i in range(40):
        where = root / f"{i // 20:02d}000"
        where.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(where / f"{i:05d}.png")
    return root


def _names(data: ImageFolderDataset) -> list[str]:
    return [p.relative_to(data.root).as_posix() for p in data.files]


def test_train_and_test_are_disjoint_and_cover_the_folder(flat):
    train = ImageFolderDataset(flat, 8, holdout=6, holdout_seed=3)
    test = ImageFolderDataset(flat, 8, split="test", holdout=6, holdout_seed=3)
    assert len(test) == 6 and len(train) == 34
    assert not set(_names(train)) & set(_names(test))
    assert sorted(_names(train) + _names(test)) == sorted(p.relative_to(flat).as_posix() for p in flat.rglob("*.png"))
    assert _names(test) == sorted(_names(test)) and test.heldout_names == _names(test)
    # a limit takes the first files of a split; it never moves a file into the other split
    assert _names(ImageFolderDataset(flat, 8, holdout=6, holdout_seed=3, limit=10)) == _names(train)[:10]
    assert _names(ImageFolderDataset(flat, 8, split="test", holdout=6, holdout_seed=3, limit=2)) == _names(test)[:2]


def test_the_same_seed_gives_the_same_split_and_another_seed_another(flat, tmp_path):
    first = ImageFolderDataset(flat, 8, split="test", holdout=6, holdout_seed=3)
    again = ImageFolderDataset(flat, 8, split="test", holdout=6, holdout_seed=3, verify=False)
    assert _names(first) == _names(again)
    moved = shutil.copytree(flat, tmp_path / "elsewhere")  # the split depends on the names, not on the path
    assert _names(ImageFolderDataset(moved, 8, split="test", holdout=6, holdout_seed=3)) == _names(first)
    others = [_names(ImageFolderDataset(flat, 8, split="test", holdout=6, holdout_seed=s)) for s in (4, 5)]
    assert all(names != _names(first) for names in others)
    # the pure function: positions of the training and held-out files, from names, size and seed only
    names = [f"{i:05d}.png" for i in range(1000)]
    train, held = holdout_split(names, 100, 7)
    assert (train, held) == holdout_split(list(names), 100, 7) and held != holdout_split(names, 100, 8)[1]
    assert len(held) == 100 and sorted(train + held) == list(range(1000))


def test_the_default_size_and_the_record_of_the_split(flat):
    assert [default_holdout(n) for n in (1, 2, 40, 1000, 70_000)] == [0, 1, 4, 100, 5000]
    data = ImageFolderDataset(flat, 8, holdout=None, holdout_seed=1)  # None: the default size
    info = data.split_info()
    held = ImageFolderDataset(flat, 8, split="test", holdout=None, holdout_seed=1)
    assert info["kind"] == "holdout" and info["holdout"] == 4 and info["holdout_seed"] == 1
    assert info["files"] == 40 and info["train"] == 36 and info["test"] == 4 and info["images"] == 36
    assert info["holdout_sha256"] == names_sha256(_names(held)) == held.split_info()["holdout_sha256"]
    assert ImageFolderDataset(flat, 8, holdout=0).split_info()["kind"] == "none"


@pytest.mark.parametrize(
    ("kwargs", "key", "allowed"),
    [
        ({"holdout": 40}, "holdout=40", "fewer than the 40 images"),
        ({"holdout": -1}, "holdout=-1", "integer >= 0"),
        ({"holdout": True}, "holdout=True", "integer >= 0"),
        ({"holdout": "10%"}, "holdout='10%'", "integer >= 0"),
        ({"holdout_seed": -2}, "holdout_seed=-2", "integer >= 0"),
    ],
)
def test_bad_held_out_settings_name_key_value_and_what_is_allowed(flat, kwargs, key, allowed):
    with pytest.raises(ConfigError, match="expected") as info:
        load_dataset("folder", root=flat, size=8, **kwargs)
    assert key in str(info.value) and allowed in str(info.value)


def test_built_in_data_sets_refuse_a_held_out_size_and_folders_without_one_have_no_test_split(flat):
    with pytest.raises(ConfigError, match="holdout=5 is not allowed.*its own test split"):
        load_dataset("mnist", root=flat, holdout=5)
    with pytest.raises(DataError, match="no 'test' subfolder and holds nothing out"):
        load_dataset("folder", root=flat, split="test", size=8, holdout=0)


def test_split_subfolders_are_used_as_they_are(flat):
    (flat / "test").mkdir()
    Image.fromarray(np.zeros((8, 8, 3), dtype=np.uint8)).save(flat / "test" / "t.png")
    test = load_dataset("folder", root=flat, split="test", size=8, holdout=None)
    assert len(test) == 1 and test.split_info()["kind"] == "subfolders"
    assert torch.equal(test.tensor(), torch.zeros(1, 3, 8, 8))
    train = load_dataset("folder", root=flat, split="train", size=8, holdout=None)  # no train/: all but test/
    assert len(train) == 40 and not any("test" in p.parts for p in train.files)
