"""The README's sample figure: one panel per run folder, newest samples, titled with what made them."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from advdiff.errors import ConfigError
from advdiff.reporting.samples import grid_image, main, newest_samples, panel_info


def fake_run(folder, family, steps_and_n, params=None):
    (folder / "samples").mkdir(parents=True)
    cfg = {"family": family, "family_params": params or {"K": 10}, "batch_size": 8}
    (folder / "config.json").write_text(json.dumps(cfg))
    for step, n in steps_and_n:
        stem = folder / "samples" / f"samples_step{step:07d}_n{n}"
        torch.save(torch.full((n, 1, 6, 6), step / 1000.0), stem.with_suffix(".pt"))
        stem.with_suffix(".json").write_text(json.dumps({"sampler": "heat"}))
    return folder


def test_newest_samples_and_panel_info(tmp_path):
    run = fake_run(tmp_path / "a", "advdiff", [(100, 4), (300, 4), (300, 9), (200, 16)], {"K": 5, "peclet": 0.5})
    assert newest_samples(run).name == "samples_step0000300_n9.pt"
    info = panel_info(run)
    assert (info["family"], info["step"], info["n"], info["sampler"]) == ("advdiff", 300, 9, "heat")
    with pytest.raises(ConfigError, match="advdiff sample"):
        newest_samples(tmp_path)


def test_grid_image_places_every_image():
    images = np.stack([np.full((1, 2, 3), v, dtype=np.float32) for v in (0.2, 0.4, 0.6, 0.8, 1.5)])
    grid = grid_image(images, pad=1)
    assert grid.shape == (1, 2 * 3 + 1, 3 * 4 + 1)  # 5 images: 3 columns, 2 rows
    assert grid[0, 1, 1] == pytest.approx(0.2) and grid[0, 4, 1] == pytest.approx(0.8)
    assert grid.max() == 1.0 and grid[0, 0].max() == 0.0  # clipped; padding stays black


def test_the_figure_is_written(tmp_path):
    runs = [str(fake_run(tmp_path / f, f, [(50, 4)])) for f in ("heat", "ddpm")]
    out = tmp_path / "fig" / "samples.png"
    assert main([*runs, "--out", str(out), "--title", "two runs"]) == 0
    width, height = Image.open(out).size
    assert width > height > 100
    with pytest.raises(ConfigError, match="config.json"):
        panel_info(tmp_path / "missing")
