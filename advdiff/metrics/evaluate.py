"""``advdiff evaluate``: every score of generated images against real ones, into ``metrics.json``.

Two ways in: :func:`evaluate_folders` (two folders of images, ``--real DIR --fake DIR``) and
:func:`advdiff.runs.evaluate_run` (a run folder of ``advdiff train``, sampled there and scored with
this module's pieces against its data set, whose statistics :mod:`advdiff.metrics.reference` caches).
Both check everything that can be checked before the slow feature extraction and write
``metrics.json`` atomically once every score exists: a failed evaluation writes nothing. ``fid`` is
the Fréchet distance on the named extractor's features; ``fid_is_standard`` is true only for the
TF-Inception pool3 features, and any other extractor adds a ``note`` saying that the number is not
comparable with published FID. The keys and the checks: docs/scores.md, "What is computed".
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from os import PathLike
from pathlib import Path
from typing import Any

import torch

from advdiff.errors import ConfigError, bad_value
from advdiff.files import atomic_write_text
from advdiff.metrics.features import INCEPTION, FeatureExtractor, build_extractor
from advdiff.metrics.images import check_same_size, read_folder
from advdiff.metrics.reference import ReferenceStats, folder_fingerprint, reference_key, reference_stats
from advdiff.metrics.scores import (
    channel_histograms,
    check_count,
    fid_from_stats,
    gaussian_stats,
    kid,
    kid_subset_size,
    palette_scores,
    prdc,
)

log = logging.getLogger(__name__)

METRICS_FILE = "metrics.json"


def check_counts(n_real: int, n_fake: int, *, prdc_k: int = 5, kid_subset: int = 1000) -> None:
    """Raise before any work if the set sizes cannot give every score."""
    if isinstance(prdc_k, bool) or not isinstance(prdc_k, int) or prdc_k < 1:
        raise bad_value(
            "prdc_k", prdc_k, "an integer >= 1 (5 is the prdc package's example value; the paper does not state its k)"
        )
    if isinstance(kid_subset, bool) or not isinstance(kid_subset, int) or kid_subset < 2:
        raise bad_value("kid_subset_size", kid_subset, "an integer >= 2")
    for side, n in (("real", n_real), ("generated", n_fake)):
        check_count("FID", side, n, 2, "a covariance needs 2 images or more; use more images")
        check_count(
            f"precision/recall/density/coverage with k={prdc_k}",
            side,
            n,
            prdc_k + 1,
            "k-nearest neighbours need more than k images: use more images or a smaller prdc_k",
        )
    kid_subset_size(n_real, n_fake, kid_subset)


def score(
    reference: ReferenceStats,
    fake: torch.Tensor,
    extractor: FeatureExtractor,
    *,
    prdc_k: int = 5,
    kid_subsets: int = 100,
    kid_subset: int = 1000,
    seed: int = 2020,
    batch_size: int = 32,
    progress: bool = False,
) -> dict[str, Any]:
    """Every score of uint8 generated images ``fake`` (N, C, H, W) against ``reference``."""
    check_counts(reference.n, fake.shape[0], prdc_k=prdc_k, kid_subset=kid_subset)
    check_same_size(reference.image_size, fake.shape[2:])
    t0 = time.perf_counter()
    features = extractor.features(fake, batch_size=batch_size, progress=progress, desc="generated images")
    seconds_fake = time.perf_counter() - t0
    if not torch.isfinite(features).all():
        raise ConfigError(
            f"the {extractor.name} features of the generated images hold NaN or infinite values; "
            "the feature extractor's weights are broken: check or delete the weights file"
        )
    result: dict[str, Any] = {"fid": fid_from_stats(reference.fid_stats(), gaussian_stats(features))}
    result["kid"], result["kid_std"] = kid(
        reference.features, features, subsets=kid_subsets, subset_size=kid_subset, seed=seed
    )
    result.update(prdc(reference.features, features, k=prdc_k))
    result.update(palette_scores(reference.histograms, channel_histograms(fake)))
    result.update(
        n_real=reference.n,
        n_fake=int(fake.shape[0]),
        feature_extractor=extractor.name,
        feature_layer=extractor.layer,
        weights_sha256=extractor.weights_sha256,
        weights_source=extractor.weights_source,
        fid_is_standard=extractor.is_standard,
        prdc_k=prdc_k,
        kid_subsets=kid_subsets,
        kid_subset_size=kid_subset_size(reference.n, int(fake.shape[0]), kid_subset),
        image_size_real=list(reference.image_size),
        image_size_fake=[int(fake.shape[2]), int(fake.shape[3])],
        device=str(extractor.device),
        reference_from_cache=reference.from_cache,
        seconds_features_fake=seconds_fake,
        seconds_per_image=seconds_fake / fake.shape[0],
    )
    if not reference.from_cache:
        result["seconds_features_real"] = reference.seconds
    if not extractor.is_standard and extractor.name == INCEPTION:
        result["note"] = (
            "Inception features, but the weights file's checksum is not a known TF-Inception one: "
            "not comparable with published FID unless it is the standard network"
        )
    elif not extractor.is_standard:
        result["note"] = (
            f"fid, kid and precision/recall/density/coverage are computed on {extractor.name} "
            "features, not on TF-Inception pool3: not comparable with published FID"
        )
    return result


def add_clean_fid(
    result: dict[str, Any],
    identity: dict[str, Any],
    load_real: Any,
    fake: torch.Tensor,
    *,
    cache: str | PathLike[str] | None,
    use_cache: bool,
    batch_size: int,
    progress: bool,
    device: str,
) -> None:
    """Add ``fid_clean`` (clean-fid's "clean" mode on the offline TF-Inception network) to ``result``.

    The real side's clean features are cached like any extractor's (:mod:`advdiff.metrics.reference`)."""
    from advdiff.metrics.cleanfid import build_clean_extractor, fid_clean_from_features

    clean = build_clean_extractor(cache=cache, device=device)
    reference = reference_stats(
        reference_key(clean, **identity),
        load_real,
        clean,
        cache=cache,
        use_cache=use_cache,
        batch_size=batch_size,
        progress=progress,
    )
    t0 = time.perf_counter()
    features = clean.features(fake, batch_size=batch_size, progress=progress, desc="generated images (clean-fid)")
    result["fid_clean"] = fid_clean_from_features(reference.features, features)
    result.update(
        fid_clean_extractor=f"{clean.name} (clean-fid {_cleanfid_version()}, mode clean)",
        fid_clean_weights_sha256=clean.weights_sha256,
        seconds_features_fake_clean=time.perf_counter() - t0,
    )


def _cleanfid_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("clean-fid")
    except metadata.PackageNotFoundError:
        return "unknown"


def write_metrics(path: str | PathLike[str], result: dict[str, Any]) -> Path:
    """Write ``result`` as JSON atomically (temporary file, then rename); NaN is refused."""
    target = atomic_write_text(path, json.dumps(result, indent=2, allow_nan=False) + "\n")
    log.info("wrote %s", target)
    return target


def check_out(out: str | PathLike[str] | None) -> Path | None:
    """The ``metrics.json`` path ``out`` as a Path, refused if it names a folder (None: no file)."""
    if out is None:
        return None
    target = Path(out)
    if target.is_dir():
        raise bad_value("out", str(target), f"a file path (e.g. {target / METRICS_FILE}), not a folder")
    return target


def score_against_real(
    identity: dict[str, Any],
    load_real: Callable[[], torch.Tensor],
    fake: torch.Tensor,
    extractor: FeatureExtractor,
    *,
    cache: str | PathLike[str] | None,
    use_cache: bool,
    batch_size: int,
    progress: bool,
    device: str,
    clean_fid: bool,
    **score_options: Any,
) -> dict[str, Any]:
    """Every score of ``fake`` against the real images that ``identity`` names (their statistics cached under it).

    ``load_real()`` reads the real images only on a cache miss; ``score_options`` go to :func:`score`;
    ``clean_fid`` adds ``fid_clean`` (:func:`add_clean_fid`).
    """
    reference = reference_stats(
        reference_key(extractor, **identity),
        load_real,
        extractor,
        cache=cache,
        use_cache=use_cache,
        batch_size=batch_size,
        progress=progress,
    )
    result = score(reference, fake, extractor, batch_size=batch_size, progress=progress, **score_options)
    if clean_fid:
        add_clean_fid(
            result,
            identity,
            load_real,
            fake,
            cache=cache,
            use_cache=use_cache,
            batch_size=batch_size,
            progress=progress,
            device=device,
        )
    return result


def evaluate_folders(
    real: str | PathLike[str],
    fake: str | PathLike[str],
    out: str | PathLike[str] | None = None,
    *,
    feature_extractor: str = "inception",
    n_real: int | None = None,
    n_fake: int | None = None,
    weights: str | PathLike[str] | None = None,
    cache: str | PathLike[str] | None = None,
    use_cache: bool = True,
    download: bool = False,
    device: str = "auto",
    batch_size: int = 32,
    prdc_k: int = 5,
    kid_subsets: int = 100,
    kid_subset: int = 1000,
    seed: int = 2020,
    progress: bool = True,
    clean_fid: bool = False,
) -> dict[str, Any]:
    """Score the images of folder ``fake`` against those of folder ``real``; write ``out`` if given.

    ``n_real`` / ``n_fake`` keep the first images of each folder (sorted paths). The real folder's
    statistics are cached, keyed by its path, its files and the extractor. ``clean_fid`` adds
    ``fid_clean``, the paper's FID (clean-fid's "clean" mode), beside torch-fidelity's ``fid``.
    """
    from advdiff.data.folder import read_image
    from advdiff.devices import resolve_device

    t0 = time.perf_counter()
    target = check_out(out)
    resolve_device(device)  # a CUDA device on a machine without one is refused now, not after reading images
    real_path, fake_path = Path(real).resolve(), Path(fake).resolve()
    fake_images = read_folder(fake_path, "fake", limit=n_fake)
    if not real_path.is_dir():
        raise bad_value("real", str(real), "an existing folder of images")
    real_files = read_folder_listing(real_path, n_real)
    real_count = len(real_files)
    if real_count == 0:
        read_folder(real_path, "real", limit=n_real)  # raises the empty-folder error
    width, height = read_image(real_files[0]).size  # one file: every real image has its size (read_folder checks)
    check_same_size((height, width), fake_images.shape[2:])
    check_counts(real_count, fake_images.shape[0], prdc_k=prdc_k, kid_subset=kid_subset)
    extractor = build_extractor(feature_extractor, weights=weights, cache=cache, download=download, device=device)
    identity = dict(dataset="folder", root=str(real_path), n=real_count, files=folder_fingerprint(real_path, n_real))
    result = score_against_real(
        identity,
        lambda: read_folder(real_path, "real", limit=n_real),
        fake_images,
        extractor,
        cache=cache,
        use_cache=use_cache,
        batch_size=batch_size,
        progress=progress,
        device=device,
        clean_fid=clean_fid,
        prdc_k=prdc_k,
        kid_subsets=kid_subsets,
        kid_subset=kid_subset,
        seed=seed,
    )
    result.update(real=str(real_path), fake=str(fake_path), seconds=time.perf_counter() - t0)
    if target is not None:
        write_metrics(target, result)
    return result


def read_folder_listing(folder: Path, limit: int | None) -> list[Path]:
    """The image files that :func:`~advdiff.metrics.images.read_folder` would read."""
    from advdiff.data.folder import list_images

    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise bad_value("n_real", limit, "None or an integer >= 1")
    return list_images(folder)[:limit]


def load_samples(path: Path) -> torch.Tensor:
    """The image tensor saved in the ``.pt`` file ``path``; an unreadable file or another object is refused."""
    try:
        samples = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is reported the same way
        raise bad_value("samples", str(path), f"a readable .pt file of an image tensor ({exc})") from exc
    if not isinstance(samples, torch.Tensor):
        raise bad_value("samples", str(path), "a .pt file holding one image tensor (N, C, H, W)")
    return samples


def describe(result: dict[str, Any]) -> list[str]:
    """Short human-readable lines of a result (for the command line)."""
    fid_name = "FID" if result["fid_is_standard"] else f"FID-like distance on {result['feature_extractor']} features"
    lines = [
        f"{fid_name}: {result['fid']:.4g}   KID: {result['kid']:.4g} ± {result['kid_std']:.2g}",
        f"precision {result['precision']:.3f}  recall {result['recall']:.3f}  density {result['density']:.3f}  "
        f"coverage {result['coverage']:.3f}  (k = {result['prdc_k']})",
        f"palette {result['palette']:.4g} (intensity shift per channel: "
        + ", ".join(f"{v:+.4f}" for v in result["intensity_shift"])
        + ")",
        f"{result['n_fake']} generated vs {result['n_real']} real images, {result['feature_extractor']} "
        f"(weights sha256 {result['weights_sha256'][:12]}…), {result['seconds']:.1f} s",
    ]
    if "fid_clean" in result:
        lines.insert(
            1,
            f"FID (clean-fid, mode clean: the paper's): {result['fid_clean']:.4g}   [{result['fid_clean_extractor']}]",
        )
    if not result["fid_is_standard"]:
        lines.append("note: " + result["note"])
    return lines
