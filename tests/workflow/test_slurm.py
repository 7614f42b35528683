"""The smoke sweep on a real SLURM cluster (`make test-slurm` starts a one-node cluster first).

Runs the sweep through workflow/profiles/slurm: Snakemake submits every non-local job with sbatch
and reads its state with sacct. Afterwards sacct must report each submitted job COMPLETED in the
partition its kind asks for, with a run time and a memory peak. Skips, saying why, where no cluster
answers (start one with `bash workflow/scripts/slurm_cluster.sh start`)."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.workflow.helpers import ROOT, SMOKE, snakemake

pytestmark = [pytest.mark.slow, pytest.mark.slurm]

SMOKE_SLURM = Path(__file__).with_name("smoke_slurm.yaml")
CLUSTER_ENV = Path(os.environ.get("ADVDIFF_SLURM_DIR", "/tmp/advdiff-slurm")) / "env"
SUBMITTED = re.compile(r"Job \d+ has been submitted with SLURM jobid (\d+) \(log: .*/rule_(\w+)/")


def _slurm_env() -> dict:
    """This process's environment plus SLURM_CONF of the cluster started by slurm_cluster.sh (if any)."""
    env = dict(os.environ)
    if CLUSTER_ENV.is_file():
        for line in CLUSTER_ENV.read_text().splitlines():
            name, _, value = line.removeprefix("export ").partition("=")
            if name == "SLURM_CONF":
                env["SLURM_CONF"] = value
    return env


@pytest.fixture(scope="module")
def cluster():
    """The environment in which sbatch/sacct reach a cluster with accounting, or a skip that says why."""
    missing = [c for c in ("sbatch", "sacct", "sinfo") if shutil.which(c) is None]
    if missing:
        pytest.skip(f"SLURM client commands missing ({', '.join(missing)}): run `make test-slurm` as root")
    env = _slurm_env()
    for cmd in (["sinfo", "-h", "-o", "%P %a"], ["sacct", "-n", "-X"]):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=30, check=False)
        if done.returncode != 0:
            pytest.skip(
                f"no SLURM cluster answers `{' '.join(cmd)}` ({done.stderr.strip()[:200]}): "
                "start one with `bash workflow/scripts/slurm_cluster.sh start`"
            )
    partitions = subprocess.run(["sinfo", "-h", "-o", "%R"], env=env, capture_output=True, text=True, check=False)
    if not {"cpu", "gpu"} <= set(partitions.stdout.split()):
        pytest.skip(f"the cluster lacks the partitions cpu and gpu (has {partitions.stdout.split()})")
    return env


def _sacct(job_ids: list[str], env: dict) -> dict[str, dict]:
    """sacct's view of the jobs: id -> State, Partition, ElapsedRaw (s) and the batch step's MaxRSS."""
    fields = "JobID,State,Partition,ElapsedRaw,MaxRSS"
    done = subprocess.run(
        ["sacct", "-j", ",".join(job_ids), "--parsable2", "-n", "-o", fields],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    jobs: dict[str, dict] = {}
    for line in done.stdout.splitlines():
        job, state, partition, elapsed, rss = line.split("|")
        base, _, step = job.partition(".")
        if not step:
            jobs[base] = {"state": state, "partition": partition, "elapsed_s": int(elapsed or 0), "max_rss": None}
        elif step == "batch" and base in jobs:
            jobs[base]["max_rss"] = rss
    return jobs


def _rss_kib(value: str | None) -> float:
    """sacct's MaxRSS (e.g. '812345K', '1.2G') in KiB; 0 when empty."""
    if not value:
        return 0.0
    scale = {"K": 1, "M": 1024, "G": 1024**2}.get(value[-1], 1 / 1024)
    return float(value.rstrip("KMG")) * scale


def test_smoke_sweep_runs_through_sbatch_and_sacct_reports_every_job(tmp_path, cluster):
    env = {"SLURM_CONF": cluster["SLURM_CONF"]} if "SLURM_CONF" in cluster else None
    args = [
        "sweep",
        "--workflow-profile",
        str(ROOT / "workflow" / "profiles" / "slurm"),
        "--max-threads",
        "1",
        "--slurm-init-seconds-before-status-checks",
        "5",
        "--seconds-between-status-checks",
        "5",
        "--latency-wait",
        "10",
        "--retries",
        "0",
        "--configfile",
        str(SMOKE),
        str(SMOKE_SLURM),
    ]
    res = snakemake(*args, cwd=tmp_path, env=env, timeout=900)
    log = res.stdout + res.stderr
    assert res.returncode == 0, log[-4000:]

    submitted = dict(SUBMITTED.findall(log))  # SLURM job id -> rule
    assert sorted(submitted.values()) == ["evaluate", "point_figures_heat", "sample", "train"], log[-3000:]
    jobs = _sacct(list(submitted), cluster)
    assert set(jobs) == set(submitted)
    for job_id, rule in submitted.items():
        job = jobs[job_id]
        assert job["state"] == "COMPLETED", (rule, job)
        assert job["partition"] == "cpu", (rule, job)  # resources.gpu = 0: the CPU partition
        assert job["elapsed_s"] >= 1, (rule, job)
        assert _rss_kib(job["max_rss"]) > 10 * 1024, (rule, job)  # a Python process with torch: > 10 MiB
    # the local jobs ran on the submitting node, and the sweep is complete
    assert (tmp_path / "results" / "reports" / "sweep_smoke_slurm.md").is_file()
    assert not any(rule in submitted.values() for rule in ("record", "track", "report_sweep"))
