"""A finished point's record: everything its result files say, as one JSON file the reports read."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from advdiff.files import atomic_write_text

if TYPE_CHECKING:
    from advdiff.sweep.points import Sweep, SweepPoint


def _read_json(path: str | os.PathLike[str]) -> dict[str, Any]:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def read_curve(metrics_jsonl: str | os.PathLike[str]) -> dict[str, list[tuple[int, float]]]:
    """The training curves of ``metrics.jsonl``: name -> [(step, value), ...] for every numeric key."""
    curves: dict[str, list[tuple[int, float]]] = {}
    path = Path(metrics_jsonl)
    if not path.is_file():
        return curves
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        entry = json.loads(line)
        step = int(entry.get("step", 0))
        for key, value in entry.items():
            number = isinstance(value, int | float) and not isinstance(value, bool)
            if key != "step" and number and math.isfinite(value):
                curves.setdefault(key, []).append((step, float(value)))
    return curves


def build_record(
    sweep: Sweep,
    point: SweepPoint,
    run_dir: str | os.PathLike[str],
    sample_json: str | os.PathLike[str],
    metrics_json: str | os.PathLike[str],
    figures_dir: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Everything known about one finished point, from its result files (the reports read these records)."""
    from advdiff.tracking import git_state
    from advdiff.training.trainer import CONFIG_FILE, METRICS_FILE, SUMMARY_FILE

    run = Path(run_dir)
    train = _read_json(run / SUMMARY_FILE)
    sample = _read_json(sample_json)
    scores = _read_json(metrics_json)
    config = _read_json(run / CONFIG_FILE)
    curves = read_curve(run / METRICS_FILE)
    # the family's numbers at this size (advdiff: its LBM schedule and velocity RMS); None for the others
    schedule = point.config.build_corruption().shape_summary(sweep.image_size, sweep.image_size)
    git = git_state()
    device = str(train.get("device", "cpu"))
    seconds = {
        "train": float(train.get("seconds") or 0.0),
        "sample": float(sample.get("seconds") or 0.0),
        "evaluate": float(scores.get("seconds") or 0.0),
    }
    files = {
        "config": str(run / CONFIG_FILE),
        "train_summary": str(run / SUMMARY_FILE),
        "train_metrics": str(run / METRICS_FILE),
        "sample_grid": str(sample.get("grid", "")),
        "sample_summary": str(sample_json),
        "scores": str(metrics_json),
    }
    if figures_dir is not None:
        for name in ("trajectory_strip.png", "velocity_field.png", "power_spectra.png"):
            f = Path(figures_dir) / name
            if f.is_file():
                files[name.removesuffix(".png")] = str(f)
    return {
        **point.labels(),
        "sweep": sweep.name,
        "dataset": sweep.dataset_label,
        "image_size": sweep.image_size,
        "config": config,
        "settings": sweep.settings(),
        "train": train,
        "curves": curves,
        "sample": sample,
        "scores": scores,
        "schedule": schedule,
        "compute": {
            "device": device,
            "lbm_backend": train.get("lbm_backend"),  # the backend that ran (``auto`` resolved); advdiff only
            "versions": train.get("versions") or {},
            "seconds": seconds,
            "hours": sum(seconds.values()) / 3600.0,
            "kind": "GPU" if device.startswith("cuda") else "CPU",
        },
        # a flat folder's held-out split (seed, size, SHA-256 of the held-out names) that training left out
        "data_split": train.get("data_split"),
        "git_commit": git["commit"],  # the plain commit; what differed from it is listed apart
        "git_dirty_paths": git["dirty_paths"],
        "files": files,
    }


def write_record(record: Mapping[str, Any], out: str | os.PathLike[str]) -> Path:
    """Write a point record as JSON (atomically)."""
    return atomic_write_text(out, json.dumps(record, indent=2, default=str) + "\n")
