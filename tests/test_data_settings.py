"""advdiff.data_settings: the data-set checks that run without torch, shared with advdiff.data."""

from pathlib import Path

import pytest

from advdiff import data_settings
from advdiff.data import CHANNELS, SPLITS, DataRootError, available_datasets, check_root
from advdiff.errors import ConfigError


def test_names_are_those_of_the_loaders():
    assert data_settings.DATASETS == available_datasets()
    assert data_settings.SPLITS == SPLITS
    assert data_settings.CHANNELS == CHANNELS


@pytest.mark.parametrize(
    ("check", "value", "key"),
    [
        (data_settings.check_split, "val", "split"),
        (data_settings.check_size, 2.5, "size"),
        (data_settings.check_channels, 2, "channels"),
        (data_settings.check_limit, 0, "limit"),
        (data_settings.check_holdout, -1, "holdout"),
        (data_settings.check_holdout_seed, True, "holdout_seed"),
    ],
    ids=lambda v: getattr(v, "__name__", repr(v)),
)
def test_checks_refuse_naming_the_key_and_value(check, value, key):
    with pytest.raises(ConfigError) as info:
        check(value)
    assert info.value.key == key and repr(value) in str(info.value)


def test_root_check_raises_the_loaders_error_only_through_advdiff_data(tmp_path):
    a_file = tmp_path / "file.png"
    a_file.write_bytes(b"")
    for root in (tmp_path / "missing", str(a_file)):
        with pytest.raises(ConfigError) as plain:
            data_settings.check_root("folder", root, "corrupt.data_root")
        assert not isinstance(plain.value, DataRootError)
        with pytest.raises(DataRootError, match="corrupt.data_root") as loaders:
            check_root("folder", root, "corrupt.data_root")
        assert str(loaders.value) == str(plain.value)
    for bad in ("", "  ", 3):
        with pytest.raises(ConfigError, match="folder path"):
            check_root("folder", bad)
    assert data_settings.check_root("folder", str(tmp_path)) == Path(tmp_path) == check_root("folder", tmp_path)
    assert check_root("fashion_mnist", None) is None
