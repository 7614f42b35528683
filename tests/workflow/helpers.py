"""Small pieces shared by the tests that run the workflow: Snakemake in a subprocess and its dry runs' job counts.

Tests that start Snakemake are marked ``workflow`` (pyproject.toml): the default selection leaves them out,
`make test-workflow` runs them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SNAKEMAKE = shutil.which("snakemake", path=str(BIN))
SMOKE = Path(__file__).with_name("smoke.yaml")


def snakemake_env(tmp: Path) -> dict[str, str]:
    """The test environment of a Snakemake run in ``tmp``: one thread, its own cache, this Python's tools first."""
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "ADVDIFF_NUM_THREADS": "1",
        "ADVDIFF_CACHE": str(tmp / "cache"),
    }
    env["PATH"] = f"{BIN}:{os.environ['PATH']}"
    env.pop("MLFLOW_TRACKING_URI", None)
    return env


def snakemake(*args, cwd: Path, env: dict[str, str] | None = None, timeout: float = 600):
    """Snakemake on the repository's Snakefile in ``cwd``; ``env`` adds to (or replaces) the test environment."""
    if SNAKEMAKE is None:
        pytest.skip("snakemake is not installed next to this Python")
    return subprocess.run(
        [SNAKEMAKE, *args, "--snakefile", str(ROOT / "Snakefile"), "--cores", "1"],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**snakemake_env(cwd), **(env or {})},
        timeout=timeout,
    )


def job_counts(stdout: str) -> dict[str, int]:
    """The 'Job stats' table of a dry run: rule -> count."""
    lines = stdout.split("Job stats:", 1)[1].splitlines()[3:]
    out = {}
    for line in lines:
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            break
        out[parts[0]] = int(parts[1])
    return out
