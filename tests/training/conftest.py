import pytest
import torch

from tests.training.helpers import write_image_folder


@pytest.fixture(scope="session")
def image_folder(tmp_path_factory):
    """24 grey 8x8 PNGs."""
    return write_image_folder(tmp_path_factory.mktemp("images"))


@pytest.fixture(autouse=True)
def one_thread(monkeypatch):
    """One torch and one LBM thread: tiny tensors gain nothing from threads and suffer badly on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    monkeypatch.setenv("ADVDIFF_NUM_THREADS", "1")
    yield
    torch.set_num_threads(threads)
