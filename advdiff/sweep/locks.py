"""One GPU per workflow job on a multi-GPU machine, chosen by a lock file per GPU."""

from __future__ import annotations

import logging
import os
import subprocess
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

_GPU_LOCK: Any = None  # the open lock file of the GPU this process claimed (held until it exits)


def claim_gpu(lock_dir: str | os.PathLike[str] = Path("results") / ".gpu_locks") -> int | None:
    """Pin this job to one free GPU of a multi-GPU machine (``CUDA_VISIBLE_DEVICES``), before CUDA starts.

    Snakemake's ``gpu`` resource bounds how many jobs run at once; this picks *which* GPU each
    one uses by holding an ``fcntl`` lock on ``<lock_dir>/gpu<i>.lock`` until the process exits.
    Does nothing when ``CUDA_VISIBLE_DEVICES`` is already set (SLURM sets it) or with fewer than 2 GPUs.
    """
    import fcntl

    global _GPU_LOCK
    if os.environ.get("CUDA_VISIBLE_DEVICES") is not None or _GPU_LOCK is not None:
        return None
    try:
        listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    count = sum(1 for line in listing.stdout.splitlines() if line.startswith("GPU "))
    if count < 2:
        return None
    folder = Path(lock_dir)
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        fh = open(folder / f"gpu{index}.lock", "a+")  # noqa: SIM115 (kept open: the lock lives with the process)
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            continue
        _GPU_LOCK = fh
        os.environ["CUDA_VISIBLE_DEVICES"] = str(index)
        log.info("using GPU %d of %d", index, count)
        return index
    log.warning("all %d GPUs are claimed by other jobs; sharing them (raise no more gpu resources than GPUs)", count)
    return None
