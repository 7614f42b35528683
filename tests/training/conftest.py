import pytest

from tests.training.helpers import write_image_folder


@pytest.fixture(scope="session")
def image_folder(tmp_path_factory):
    """24 grey 8x8 PNGs."""
    return write_image_folder(tmp_path_factory.mktemp("images"))


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Every test here runs on one thread (tests/conftest.py)."""
