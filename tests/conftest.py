"""Fixtures shared by every test folder."""

from contextlib import contextmanager

import pytest
import torch


@contextmanager
def one_torch_thread():
    """torch on one thread inside the block (for fixtures wider than a test, which cannot use `one_thread`)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@pytest.fixture
def one_thread(monkeypatch):
    """One torch and one LBM thread: the tensors of the tests are small and the machine is shared.

    Folders and modules whose tests all want it request it from an autouse fixture of their own."""
    monkeypatch.setenv("ADVDIFF_NUM_THREADS", "1")
    with one_torch_thread():
        yield
