"""The benchmark sweep: corruption families x Péclet x Reynolds x seeds, each point one training run.

The workflow validates its ``sweep`` section with :func:`build_sweep` once, before any job starts
(``build_sweep(config["sweep"])`` raises ConfigError naming the key), then trains, samples, scores,
records and tracks every :class:`SweepPoint` of ``sweep.points``. The modules:
:mod:`~advdiff.sweep.defaults` (the section's keys and defaults, from the workflow's schema),
:mod:`~advdiff.sweep.points` (expanding the grid; point ids and labels), :mod:`~advdiff.sweep.jobs`
(a job's logging, GPU and threads), :mod:`~advdiff.sweep.locks` (one GPU per job),
:mod:`~advdiff.sweep.data` (the data check) and :mod:`~advdiff.sweep.records` (a finished point's record).
"""

from advdiff.sweep.data import DataMissingError, check_data
from advdiff.sweep.defaults import (
    EVALUATE_KEYS,
    FIGURE_KEYS,
    SAMPLE_KEYS,
    SECTION_KEYS,
    TRAIN_KEYS,
    schema_defaults,
)
from advdiff.sweep.jobs import configure_job
from advdiff.sweep.locks import claim_gpu
from advdiff.sweep.points import (
    FEATURE_EXTRACTORS,
    LIMITER_DISTINCT,
    LIMITER_WARN,
    NATIVE_SIZES,
    POINT_ID_PATTERN,
    SWEPT_PARAMS,
    Sweep,
    SweepPoint,
    build_sweep,
    number_label,
    point_id,
    point_label,
)
from advdiff.sweep.records import build_record, read_curve, write_record

__all__ = [
    "EVALUATE_KEYS",
    "FEATURE_EXTRACTORS",
    "FIGURE_KEYS",
    "LIMITER_DISTINCT",
    "LIMITER_WARN",
    "NATIVE_SIZES",
    "POINT_ID_PATTERN",
    "SAMPLE_KEYS",
    "SECTION_KEYS",
    "SWEPT_PARAMS",
    "TRAIN_KEYS",
    "DataMissingError",
    "Sweep",
    "SweepPoint",
    "build_record",
    "build_sweep",
    "check_data",
    "claim_gpu",
    "configure_job",
    "number_label",
    "point_id",
    "point_label",
    "read_curve",
    "schema_defaults",
    "write_record",
]
