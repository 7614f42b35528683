"""``advdiff bench features``: Inception feature extraction, the previous path against the default one.

Both paths run the same network on the same images in one process, interleaved (A, B, A, B, ...),
and the best repeat of each is kept, so that a busy machine slows both alike:

* ``fp32_eager``: float32, NCHW layout, batch norms as separate layers, the caller's batch size: the
  path before any speed setting;
* the default (:func:`advdiff.metrics.features.build_extractor`): on the CPU, NHWC (channels-last),
  batch norms folded into the convolutions, passes of ``CPU_MICRO_BATCH`` images, and freed tensor
  memory kept for reuse (:func:`advdiff.devices.set_cpu_allocator`).

The allocator setting holds for a whole process, so the previous path runs in a child process whose
allocator is left as glibc sets it; the two still take turns.

The features of the two paths are compared too (``max_abs_diff`` relative to the largest feature),
so a speed-up that changed the scores would show here.
"""

from __future__ import annotations

import logging
import multiprocessing
import time
from typing import Any

import torch

from advdiff.bench.machine import describe
from advdiff.errors import bad_value

log = logging.getLogger(__name__)


def _timed(extractor: Any, images: torch.Tensor, batch_size: int) -> tuple[float, torch.Tensor]:
    t0 = time.perf_counter()
    feats = extractor.features(images, batch_size=batch_size)
    return images.shape[0] / (time.perf_counter() - t0), feats


def _plain_path_worker(conn: Any, name: str, images: torch.Tensor, batch_size: int) -> None:
    """Child process: the previous feature path, timed once per message until ``None`` arrives."""
    from advdiff.metrics.features import build_extractor

    extractor = build_extractor(name, device="cpu", channels_last=False, fast=False)
    extractor.features(images[:batch_size], batch_size=batch_size)  # warm-up
    conn.send("ready")
    while conn.recv() is not None:
        conn.send(_timed(extractor, images, batch_size))
    conn.close()


def bench_features(
    n: int = 100, batch_size: int = 50, size: int = 28, channels: int = 1, repeats: int = 3, name: str = "inception"
) -> dict[str, Any]:
    """Images/s of the previous (NCHW) and default feature paths of ``name`` on this CPU, and their ratio."""
    from advdiff.metrics.features import build_extractor

    for key, value, low in (("n", n, 1), ("batch_size", batch_size, 1), ("size", size, 8), ("repeats", repeats, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise bad_value(key, value, f"an integer >= {low}")
    if channels not in (1, 3):
        raise bad_value("channels", channels, "1 or 3")
    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, channels, size, size), generator=gen, dtype=torch.uint8)
    ctx = multiprocessing.get_context("spawn")
    conn, child_conn = ctx.Pipe()
    child = ctx.Process(target=_plain_path_worker, args=(child_conn, name, images, batch_size), daemon=True)
    child.start()
    try:
        default = build_extractor(name, device="cpu")
        default.features(images[:batch_size], batch_size=batch_size)  # warm-up: oneDNN primitives, caches
        if conn.recv() != "ready":
            raise RuntimeError("the plain feature path's process did not start")
        best = {"fp32_eager": 0.0, "default": 0.0}
        feats: dict[str, torch.Tensor] = {}
        for i in range(repeats):
            for path in best:
                if path == "fp32_eager":
                    conn.send("run")
                    ips, feats[path] = conn.recv()
                else:
                    ips, feats[path] = _timed(default, images, batch_size)
                best[path] = max(best[path], ips)
                log.info("bench features: repeat %d, %s %.2f images/s", i + 1, path, ips)
        conn.send(None)
    finally:
        child.join(timeout=60)
        if child.is_alive():
            child.terminate()
    scale = float(feats["fp32_eager"].abs().max())
    diff = float((feats["default"] - feats["fp32_eager"]).abs().max())
    return {
        "fp32_eager_images_per_s": best["fp32_eager"],
        "images_per_s": best["default"],
        "speedup": best["default"] / best["fp32_eager"],
        "default_settings": {
            "channels_last": default.channels_last,
            "batch_norm_folded": default.folded,
            "micro_batch": default.micro_batch,
            "allocator": "reuse" if default.reuses_memory else "glibc",
            "dtype": "float32",
            "threads": torch.get_num_threads(),
        },
        "max_abs_diff_relative": diff / scale if scale else 0.0,
        "extractor": default.name,
        "n": n,
        "batch_size": batch_size,
        "image": [channels, size, size],
        "repeats": repeats,
        "machine": describe(),
    }
