"""The sweep on a flat folder of RGB images (the paper's FFHQ path): every rule from training to the report."""

import json

import numpy as np
import pytest
import yaml
from PIL import Image

from tests.workflow.helpers import ROOT, snakemake

pytestmark = pytest.mark.workflow


def test_a_flat_rgb_folder_runs_the_whole_sweep(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:32, 0:32] / 32
    for i in range(12):  # smooth coloured blobs, no train/ or test/ subfolder
        blob = np.exp(-((xx - rng.uniform(0.3, 0.7)) ** 2 + (yy - rng.uniform(0.3, 0.7)) ** 2) / 0.05)
        img = np.stack([blob * rng.uniform(100, 255) for _ in range(3)], axis=-1).astype(np.uint8)
        Image.fromarray(img).save(folder / f"{i:05d}.png")
    cfg = yaml.safe_load((ROOT / "tests" / "workflow" / "smoke_folder.yaml").read_text())
    cfg["sweep"]["dataset"]["root"] = str(folder)
    config = tmp_path / "smoke_folder.yaml"
    config.write_text(yaml.safe_dump(cfg))
    res = snakemake("sweep", "--configfile", str(config), cwd=tmp_path)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    (record_path,) = (tmp_path / "results" / "sweep" / "smoke_folder").glob("*/record.json")
    record = json.loads(record_path.read_text())
    assert record["dataset"] == "folder-32" and record["scores"]["n_real"] == 6
    assert record["compute"]["lbm_backend"] == "cpu"  # the backend that ran, recorded
    assert record["train"]["image_shape"] == [3, 32, 32]
    # the held-out split: recorded with the run, listed by the data check, never trained on
    note = json.loads((tmp_path / "results" / "sweep" / "smoke_folder" / "data.json").read_text())
    assert record["data_split"]["holdout"] == 2 and record["data_split"]["train"] == 10
    assert record["data_split"]["holdout_sha256"] == note["split"]["holdout_sha256"]
    assert len(note["holdout_files"]) == 2 and note["images"] == 10
    assert (record_path.parent / "figures" / "trajectory_strip.png").stat().st_size > 1000
    page = (tmp_path / "results" / "reports" / "sweep_smoke_folder.md").read_text()
    assert "folder-32" in page and "not FID" in page
    assert (tmp_path / "results" / "sweep" / "smoke_folder" / record["point"] / "tracking.json").is_file()
