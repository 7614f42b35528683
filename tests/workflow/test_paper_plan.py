"""config/paper.yaml on a prepared FFHQ-like flat folder: every rule planned through the report, the split written."""

import json

import numpy as np
import pytest
from PIL import Image

from advdiff.data.folder import ImageFolderDataset, names_sha256
from tests.workflow.helpers import ROOT, job_counts, snakemake

PAPER = ROOT / "config" / "paper.yaml"

pytestmark = pytest.mark.workflow  # both tests start Snakemake


@pytest.fixture
def ffhq_like(tmp_path):
    """40 random 128 x 128 RGB PNGs in a flat folder, as `advdiff prepare ffhq` writes FFHQ, and a config
    that points the paper's sweep at it (holding out 4 of them: the paper's 5 000 need a full FFHQ)."""
    folder = tmp_path / "ffhq128"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(40):
        Image.fromarray(rng.integers(0, 256, (128, 128, 3), dtype=np.uint8)).save(folder / f"{i:05d}.png")
    override = tmp_path / "local.yaml"
    override.write_text(f"sweep:\n  dataset: {{ root: {folder}, holdout: 4 }}\n")
    return folder, override


def test_the_paper_config_plans_every_rule_through_the_report(tmp_path, ffhq_like):
    folder, override = ffhq_like
    res = snakemake("all", "-n", "--configfile", str(PAPER), str(override), cwd=tmp_path)  # target first
    assert res.returncode == 0, res.stderr[-3000:]
    jobs = job_counts(res.stdout)
    for rule in ("train", "sample", "evaluate", "record", "track"):
        assert jobs[rule] == 14, (rule, jobs)  # 7 Pe x 2 seeds
    figures = sum(n for rule, n in jobs.items() if rule.startswith("point_figures_"))
    assert figures == 14, jobs
    for rule in ("check_data", "report_sweep", "report_lbm", "report_corruptions", "operator_report", "publish", "all"):
        assert jobs[rule] == 1, (rule, jobs)
    assert not (tmp_path / "results").exists()

    # the first job for real: the data check reads the folder and writes the held-out manifest
    res = snakemake("results/sweep/paper/data.json", "--configfile", str(PAPER), str(override), cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    note = json.loads((tmp_path / "results" / "sweep" / "paper" / "data.json").read_text())
    held = ImageFolderDataset(folder, 128, 3, split="test", holdout=4, holdout_seed=0).heldout_names
    assert note["images"] == 36 and note["shape"] == [3, 128, 128]
    assert note["holdout_files"] == held and len(held) == 4
    assert note["split"]["holdout_sha256"] == names_sha256(held) and note["split"]["holdout_seed"] == 0


def test_a_held_out_size_that_leaves_nothing_to_train_on_is_named(tmp_path, ffhq_like):
    """The paper's 5 000 held-out images against a 40-image folder: the data check names the key and the count."""
    folder, _ = ffhq_like
    override = tmp_path / "root_only.yaml"
    override.write_text(f"sweep:\n  dataset: {{ root: {folder} }}\n")
    res = snakemake("results/sweep/paper/data.json", "--configfile", str(PAPER), str(override), cwd=tmp_path)
    assert res.returncode != 0
    log = (tmp_path / "results" / "logs" / "sweep" / "paper" / "check_data.log").read_text()
    assert "sweep.dataset.holdout=5000 is not allowed: expected 0 to 39" in res.stderr + log
