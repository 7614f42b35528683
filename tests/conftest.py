"""Fixtures shared by every test folder."""

import pytest
import torch


@pytest.fixture
def one_thread(monkeypatch):
    """One torch and one LBM thread: the tensors of the tests are small and the machine is shared.

    Folders and modules whose tests all want it request it from an autouse fixture of their own."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    monkeypatch.setenv("ADVDIFF_NUM_THREADS", "1")
    yield
    torch.set_num_threads(threads)
