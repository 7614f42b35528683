"""Reference statistics of real images, computed once and cached.

A sweep scores many runs against the same data: the real side's features, their Gaussian
statistics and the palette histograms are computed once per key and kept in
``<cache>/reference/`` (cache folder: argument, ``$ADVDIFF_CACHE`` or ``~/.cache/advdiff``).
The key holds the data set (name, root, split, image size, channels), the number of images and
the feature extractor (name, layer, weights checksum), plus a fingerprint of the files for image
folders; any change gives a new file. Files are written atomically and checked against their key
when read.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

import torch

from advdiff.data.folder import list_images
from advdiff.metrics.features import FeatureExtractor
from advdiff.metrics.scores import channel_histograms, gaussian_stats
from advdiff.metrics.weights import atomic_save, cache_dir

log = logging.getLogger(__name__)

FORMAT = 1
"""Version of the cached file layout; part of the key."""


@dataclass
class ReferenceStats:
    """Features and statistics of a set of real images."""

    key: dict[str, Any]
    features: torch.Tensor  # (N, D) float32
    mu: torch.Tensor  # (D,) float64
    sigma: torch.Tensor  # (D, D) float64
    histograms: torch.Tensor  # (C, 256) float64 counts
    image_size: tuple[int, int]  # (H, W)
    seconds: float  # time it took to compute (when computed, not when loaded)
    from_cache: bool = False
    path: Path | None = None

    @property
    def n(self) -> int:
        return int(self.features.shape[0])

    @property
    def channels(self) -> int:
        return int(self.histograms.shape[0])

    def fid_stats(self) -> dict[str, Any]:
        return {"mu": self.mu.numpy(), "sigma": self.sigma.numpy()}


def reference_key(extractor: FeatureExtractor, **identity: Any) -> dict[str, Any]:
    """The cache key: what the real images are (``identity``) and which features describe them."""
    return {
        "format": FORMAT,
        **identity,
        "feature_extractor": extractor.name,
        "feature_layer": extractor.layer,
        "weights_sha256": extractor.weights_sha256,
    }


def folder_fingerprint(folder: str | PathLike[str], limit: int | None = None) -> str:
    """sha256 of the relative paths, sizes and modification times of a folder's (first ``limit``) images."""
    root = Path(folder)
    digest = hashlib.sha256()
    for file in list_images(root)[:limit]:
        st = file.stat()
        digest.update(f"{file.relative_to(root).as_posix()}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def cache_path(key: dict[str, Any], cache: str | PathLike[str] | None = None) -> Path:
    """``<cache>/reference/<dataset>-<split>-<size>-n<n>-<extractor>-<hash of the key>.pt``."""
    text = json.dumps(key, sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    parts = [str(key.get(k)) for k in ("dataset", "split", "size") if key.get(k) is not None]
    stem = "-".join([*parts, f"n{key.get('n')}", key["feature_extractor"], digest])
    return cache_dir(cache) / "reference" / f"{stem}.pt"


def compute_reference(
    key: dict[str, Any],
    images: torch.Tensor,
    extractor: FeatureExtractor,
    *,
    batch_size: int = 32,
    progress: bool = False,
) -> ReferenceStats:
    """Features, Gaussian statistics and palette histograms of uint8 real images (N, C, H, W)."""
    t0 = time.perf_counter()
    features = extractor.features(images, batch_size=batch_size, progress=progress, desc="real images")
    stats = gaussian_stats(features)
    return ReferenceStats(
        key=key,
        features=features,
        mu=torch.from_numpy(stats["mu"]),
        sigma=torch.from_numpy(stats["sigma"]),
        histograms=channel_histograms(images),
        image_size=(int(images.shape[2]), int(images.shape[3])),
        seconds=time.perf_counter() - t0,
    )


def _save(ref: ReferenceStats, path: Path) -> None:
    payload = {
        "key": json.dumps(ref.key, sort_keys=True),
        "features": ref.features,
        "mu": ref.mu,
        "sigma": ref.sigma,
        "histograms": ref.histograms,
        "image_size": torch.tensor(ref.image_size),
        "seconds": torch.tensor(ref.seconds),
    }
    atomic_save(payload, path)


def _load(path: Path, key: dict[str, Any]) -> ReferenceStats | None:
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        stored = json.loads(payload["key"])
    except Exception as exc:  # noqa: BLE001 - a damaged cache file is recomputed, whatever the damage
        log.warning("cached reference statistics %s are unreadable (%s): computing them again", path, exc)
        return None
    if stored != json.loads(json.dumps(key, sort_keys=True)):
        log.warning("cached reference statistics %s belong to another key: computing them again", path)
        return None
    return ReferenceStats(
        key=key,
        features=payload["features"],
        mu=payload["mu"],
        sigma=payload["sigma"],
        histograms=payload["histograms"],
        image_size=tuple(int(v) for v in payload["image_size"]),
        seconds=float(payload["seconds"]),
        from_cache=True,
        path=path,
    )


def reference_stats(
    key: dict[str, Any],
    load_images: Callable[[], torch.Tensor],
    extractor: FeatureExtractor,
    *,
    cache: str | PathLike[str] | None = None,
    use_cache: bool = True,
    batch_size: int = 32,
    progress: bool = False,
) -> ReferenceStats:
    """The reference statistics of ``key``: from the cache if there, else computed (and cached).

    ``load_images`` is called only on a cache miss and returns uint8 images (N, C, H, W).
    """
    path = cache_path(key, cache)
    if not use_cache:
        return compute_reference(key, load_images(), extractor, batch_size=batch_size, progress=progress)
    # One job computes a missing entry; jobs that ask for it meanwhile (two evaluate jobs of a sweep
    # start together) wait on the lock and then read the cache instead of repeating the work.
    with _entry_lock(path):
        if path.is_file():
            ref = _load(path, key)
            if ref is not None:
                log.info("reference statistics from cache %s (%d images)", path, ref.n)
                return ref
        ref = compute_reference(key, load_images(), extractor, batch_size=batch_size, progress=progress)
        _save(ref, path)
    ref.path = path
    log.info("cached reference statistics of %d images in %s", ref.n, path)
    return ref


@contextlib.contextmanager
def _entry_lock(path: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``<entry>.lock`` beside a cache entry, held while it is read or computed."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
