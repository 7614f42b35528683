"""Fixtures of the metrics tests: real Fashion-MNIST images, the fast test extractor, image folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from advdiff.data import DataUnavailableError, load_dataset
from advdiff.metrics import build_extractor


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Every test here runs on one thread (tests/conftest.py)."""


@pytest.fixture(scope="session")
def fmnist() -> torch.Tensor:
    """400 Fashion-MNIST test images, float (400, 1, 28, 28) in [0, 1]."""
    try:
        return load_dataset("fashion_mnist", split="test", limit=400, download=False).tensor()
    except DataUnavailableError as exc:
        pytest.skip(f"Fashion-MNIST is not installed here: {exc}")


@pytest.fixture(scope="session")
def tiny():
    """The fast test feature extractor (advdiff-tiny-test) on the CPU."""
    return build_extractor("tiny-test", device="cpu")


def write_pngs(folder: Path, images: torch.Tensor) -> Path:
    """Write float images (N, C, H, W) in [0, 1] as 8-bit PNGs ``0000.png``, ``0001.png``, ..."""
    folder.mkdir(parents=True, exist_ok=True)
    array = (images.clamp(0, 1) * 255 + 0.5).floor().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    for i, image in enumerate(array):
        mode = "L" if image.shape[2] == 1 else "RGB"
        Image.fromarray(np.ascontiguousarray(image.squeeze(2) if mode == "L" else image), mode=mode).save(
            folder / f"{i:04d}.png"
        )
    return folder
