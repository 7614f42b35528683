"""``advdiff gpu-check``: what a GPU machine must show before the paper's sweep is sent to it, in one JSON.

Five stages, each timed and recorded with its outcome (a failed stage is recorded and the next one
runs): ``parity`` (the backend's LBM against the NumPy oracle for every collision, wall and the
authors' variant; goal 1e-5), ``roofline`` (``advdiff bench lbm``; goal >= 0.8 of the copy bandwidth
on a GPU), ``train`` (images/s of the paper's network with the advdiff trajectory pool, bfloat16
autocast on CUDA, on random images), ``sample`` (seconds per image) and ``projection`` (GPU-hours of
``config/paper.yaml`` from the two rates). On a GPU: ``make gpu-check`` (backend ``cupy``, under 10
minutes); on a CPU the tests run it with ``--backend cpu --quick`` (a tiny network, small images).
See docs/reproducing-the-paper.md, "1. Check the GPU machine".
"""

from __future__ import annotations

import logging
import tempfile
import time
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from advdiff.bench.machine import describe
from advdiff.errors import bad_value

log = logging.getLogger(__name__)

PARITY_TOL = 1e-5
ROOFLINE_GOAL = 0.8


def _stage(report: dict[str, Any], name: str, work: Callable[[], dict[str, Any]]) -> None:
    """Run one stage; record its result, seconds and outcome (``ok``, ``below goal`` or ``error``)."""
    t0 = time.perf_counter()
    try:
        result = work()
        result.setdefault("status", "ok")
    except Exception as exc:  # noqa: BLE001 - a failed stage is the finding; the others still run
        log.exception("gpu-check stage %s failed", name)
        result = {
            "status": "error",
            "error": f"{type(exc).__name__}: {exc}",
            "traceback": traceback.format_exc(limit=4),
        }
    result["seconds"] = time.perf_counter() - t0
    report["stages"][name] = result
    log.info("gpu-check %s: %s (%.1f s)", name, result["status"], result["seconds"])


def parity(backend: str, shape: tuple[int, int, int, int] = (2, 2, 24, 20), steps: int = 12) -> dict[str, Any]:
    """Largest difference to the NumPy oracle per (collision, walls, variant); ``ok`` when all are <= 1e-5."""
    from advdiff.lbm import solve
    from advdiff.lbm.backends import get_backend
    from advdiff.lbm.backends.base import BOUNDARIES, COLLISIONS

    xp = get_backend(backend).xp
    rng = np.random.default_rng(3)
    u = rng.uniform(0.2, 1.0, shape).astype(np.float32)
    vel = (rng.standard_normal((shape[0], 2, shape[2], shape[3])) * 0.02).astype(np.float32)
    alphas = np.linspace(0.02, 0.16, steps)
    cases = [(c, b, "default") for c in COLLISIONS for b in BOUNDARIES] + [("central_moment", None, "authors")]
    out: dict[str, Any] = {"tolerance": PARITY_TOL, "cases": {}}
    for collision, boundary, variant in cases:
        kw = dict(collision=collision, boundary=boundary, record=[steps // 2, steps], variant=variant)

        def field(n: int, xp_: Any = np) -> Any:
            return xp_.asarray(vel * np.float32(np.cos(0.3 * n)))

        ref = solve(u, alphas, steps, field, backend="numpy", **kw)
        got = solve(xp.asarray(u), alphas, steps, lambda n: field(n, xp), backend=backend, **kw)
        got = got.get() if hasattr(got, "get") else np.asarray(got)
        out["cases"][f"{collision}/{boundary or 'variant walls'}/{variant}"] = float(np.abs(got - ref).max())
    worst = max(out["cases"].values())
    out.update(max_abs_diff=worst, status="ok" if worst <= PARITY_TOL else "above tolerance")
    return out


def roofline(backend: str, quick: bool) -> dict[str, Any]:
    """``advdiff bench lbm`` on ``backend``; ``ok`` when it reaches 0.8 of the copy-bandwidth roofline."""
    from advdiff.bench.lbm import bench_lbm

    shape = (2, 1, 64, 64) if quick else (16, 3, 256, 256)
    r = bench_lbm(backend, shape, steps=3 if quick else 20, numpy_steps=1, repeats=1 if quick else 3)
    r["goal"] = ROOFLINE_GOAL
    r["status"] = "ok" if r["roofline_ratio"] >= ROOFLINE_GOAL else "below goal"
    return r


def _config(backend: str, device: str, quick: bool, steps: int, folder: Path) -> Any:
    """The paper's advdiff training set-up on random images in ``folder`` (tiny with ``quick``)."""
    from PIL import Image

    from advdiff.training import TrainConfig

    size, count = (16, 16) if quick else (128, 64)
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(folder / f"{i:05d}.png")
    family = {"K": 8, "sigma_max": 4.0} if quick else {"K": 200, "sigma_max": 20.0}
    return TrainConfig.from_dict(
        {
            "family": "advdiff",
            "family_params": {**family, "peclet": 0.06, "backend": backend},
            "dataset": {"name": "folder", "root": str(folder), "size": size, "channels": 3},
            "model": {"preset": "tiny", "overrides": {"image_size": size}} if quick else {"preset": "ffhq128"},
            "batch_size": 4 if quick else 8,
            "steps": steps,
            "warmup_steps": 0,
            "amp": device.startswith("cuda"),
            "checkpoint_every": steps,
            "log_every": max(1, steps // 4),
            "sample_every": 0,
            "device": device,
        }
    )


def train_and_sample(backend: str, device: str, quick: bool, steps: int, n_samples: int, work: Path) -> dict:
    """Training images/s of the paper's network with the advdiff pool, then seconds per sampled image."""
    from advdiff.runs import sample_run
    from advdiff.training import train

    config = _config(backend, device, quick, steps, work / "images")
    summary = train(config, work / "run", progress=False)
    sampled = sample_run(config, n_samples, work / "run", out=work / "samples.png", progress=False)
    return {
        "steps": steps,
        "batch_size": config.batch_size,
        "image_size": config.dataset.size,
        "preset": config.model.preset,
        "amp_bf16": summary["amp"],
        "lbm_backend": summary["lbm_backend"],
        "train_images_per_s": summary["images_per_second"],
        "samples": n_samples,
        "sample_seconds_per_image": sampled["seconds"] / n_samples,
        "K": int(config.family_params["K"]),
    }


def projection(rates: Mapping[str, Any], paper: Mapping[str, Any]) -> dict[str, Any]:
    """GPU-hours of the paper's sweep: every point's training images / train rate + its samples x sample time."""
    sweep = paper["sweep"]
    points = len(sweep["peclet"]) * len(sweep.get("seeds", [1]))
    train = sweep["train"]
    train_h = train["steps"] * train["batch_size"] / rates["train_images_per_s"] / 3600
    k_paper = int(sweep["family_params"]["advdiff"]["K"])
    per_image = rates["sample_seconds_per_image"] * k_paper / rates["K"]  # sampling cost grows with the levels
    sample_h = sweep["sample"]["n"] * per_image / 3600
    return {
        "points": points,
        "train_hours_per_point": train_h,
        "sample_hours_per_point": sample_h,
        "gpu_hours": points * (train_h + sample_h),
        "assumes": "measured rates of this check; training steps, batch, K and samples of config/paper.yaml",
    }


def gpu_check(
    out: str | Path,
    *,
    backend: str = "cupy",
    device: str = "cuda",
    quick: bool = False,
    steps: int = 100,
    samples: int = 4,
    paper_config: str | Path = "config/paper.yaml",
) -> dict[str, Any]:
    """Run every stage and write the JSON report to ``out``; returns it."""
    import json

    from advdiff.files import atomic_write_text
    from advdiff.yaml_files import load_yaml

    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise bad_value("steps", steps, "an integer >= 1")
    report: dict[str, Any] = {"backend": backend, "device": device, "quick": quick, "machine": describe(), "stages": {}}
    _stage(report, "parity", lambda: parity(backend))
    _stage(report, "roofline", lambda: roofline(backend, quick))
    with tempfile.TemporaryDirectory(prefix="advdiff-gpu-check-") as tmp:
        _stage(report, "train_sample", lambda: train_and_sample(backend, device, quick, steps, samples, Path(tmp)))
    rates = report["stages"]["train_sample"]
    if rates["status"] == "ok":
        _stage(report, "projection", lambda: projection(rates, load_yaml(paper_config)))
    statuses = [s["status"] for s in report["stages"].values()]
    report["status"] = "ok" if all(s == "ok" for s in statuses) else "attention"
    atomic_write_text(out, json.dumps(report, indent=2, default=str, allow_nan=False) + "\n")
    return report
