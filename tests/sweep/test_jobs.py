"""Workflow jobs use the CPU threads Snakemake reserved for them, and no more."""

from pathlib import Path

import torch

from advdiff.sweep import configure_job

SCRIPTS = Path(__file__).resolve().parents[2] / "workflow" / "scripts"
NO_TORCH = {"publish_reports.py", "sweep_record.py", "sweep_track.py"}  # files, JSON and MLflow only
# Upstream of every training job: Snakemake re-runs a job whose script changed, and everything after it,
# so these keep their text (they read and check data, on the threads torch chooses).
UPSTREAM = {"sweep_check_data.py", "prepare_ffhq.py"}


def test_configure_job_sets_the_torch_threads():
    before = torch.get_num_threads()
    try:
        configure_job(1)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_every_job_script_that_computes_sets_its_threads():
    """Snakemake sets OMP_NUM_THREADS for shell commands only: a `script:` job that does not set its
    threads runs torch on every core beside the other jobs (a 15x slower report was measured so)."""
    scripts = [p for p in SCRIPTS.glob("*.py") if "smk = snakemake" in p.read_text()]
    assert len(scripts) >= 10
    missing = [
        p.name
        for p in scripts
        if p.name not in NO_TORCH | UPSTREAM and "configure_job(smk.threads" not in p.read_text()
    ]
    assert not missing, missing
