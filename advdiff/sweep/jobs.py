"""The set-up every workflow job script does first: its log file, its GPU and its CPU threads."""

from __future__ import annotations

import logging
import os

from advdiff.sweep.locks import claim_gpu


def configure_job(threads: int | None = None, log_file: str | None = None, gpus: int = 0) -> None:
    """Set up a workflow job: logging into its log file, its GPU (``gpus`` > 0), and the CPU threads."""
    if log_file:
        logging.basicConfig(
            filename=log_file, level=logging.INFO, force=True, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    if gpus:
        claim_gpu()
    if threads:
        import torch

        torch.set_num_threads(int(threads))
        os.environ["ADVDIFF_NUM_THREADS"] = str(int(threads))
