"""Statistics for comparing benchmark points across training seeds.

A benchmark point (one family at one setting) is trained with several seeds, each giving one number
per score. :func:`summarize` and :func:`paired_difference` give the mean, or the same-seed difference,
with a bootstrap percentile interval over seeds (Efron & Tibshirani, *An Introduction to the
Bootstrap*, 1993, ch. 13), the latter also with a Student-t interval because with few seeds the
percentile interval covers less than nominal; :func:`verdict` states a difference in one sentence;
:func:`bootstrap_images` gives a set score's spread over the generated images;
:func:`cross_machine_spread` and :func:`exceeds` compare two machines. All NumPy, deterministic given
``seed``. See docs/scores.md, section "Comparing points across seeds".
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from numbers import Integral, Real
from typing import Any

import numpy as np

from advdiff.errors import bad_value

log = logging.getLogger(__name__)

_CHUNK_ELEMENTS = 2_000_000
"""Largest resampling index block held at once (n_boot rows are drawn in chunks of this size)."""

_MINUS = "\u2212"


def _show(x: np.ndarray) -> object:
    """A short form of an array for error messages: the list when small, else its shape."""
    if x.size <= 8:
        return x.tolist()
    return f"array of shape {x.shape}"


def _as_values(key: str, values: Any, min_len: int = 2) -> np.ndarray:
    """``values`` as a 1-D float64 array of at least ``min_len`` finite numbers, or ``bad_value``."""
    allowed = f"a 1-D sequence of at least {min_len} finite numbers"
    try:
        x = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise bad_value(key, values, allowed) from None
    if x.ndim != 1 or x.size < min_len or not np.all(np.isfinite(x)):
        raise bad_value(key, _show(x), allowed)
    return x


def _check_confidence(confidence: Any) -> float:
    if (
        isinstance(confidence, bool)
        or not isinstance(confidence, Real)
        or not math.isfinite(confidence)
        or not 0 < confidence < 1
    ):
        raise bad_value("confidence", confidence, "a number strictly between 0 and 1")
    return float(confidence)


def _check_int(key: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < low:
        raise bad_value(key, value, f"an integer >= {low}")
    return int(value)


def _bootstrap_means(x: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """Means of ``n_boot`` resamples (with replacement) of ``x``, drawn from ``default_rng(seed)``."""
    rng = np.random.default_rng(seed)
    n = x.size
    rows = max(1, _CHUNK_ELEMENTS // n)
    out = np.empty(n_boot, dtype=np.float64)
    for start in range(0, n_boot, rows):
        stop = min(n_boot, start + rows)
        idx = rng.integers(0, n, size=(stop - start, n))
        out[start:stop] = x[idx].mean(axis=1)
    return out


def _percentile_interval(draws: np.ndarray, confidence: float) -> tuple[float, float]:
    alpha = 1.0 - confidence
    low, high = np.quantile(draws, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def summarize(values: Any, *, confidence: float = 0.95, n_boot: int = 10000, seed: int = 0) -> dict:
    """Mean over seeds with a bootstrap percentile interval.

    ``values``: one number per seed (1-D, at least 2, all finite); ``confidence`` strictly between 0 and
    1; ``n_boot`` (>= 2) resamples of the seeds with replacement, drawn by
    ``numpy.random.default_rng(seed)``. Returns ``n``, ``mean``, ``std`` (ddof=1), ``ci_low``,
    ``ci_high``, ``confidence``, ``method``.
    """
    x = _as_values("values", values)
    confidence = _check_confidence(confidence)
    n_boot = _check_int("n_boot", n_boot, 2)
    seed = _check_int("seed", seed, 0)
    low, high = _percentile_interval(_bootstrap_means(x, n_boot, seed), confidence)
    log.debug("summarize: n=%d, mean=%g, interval (%g, %g)", x.size, x.mean(), low, high)
    return {
        "n": int(x.size),
        "mean": float(x.mean()),
        "std": float(x.std(ddof=1)),
        "ci_low": low,
        "ci_high": high,
        "confidence": confidence,
        "method": "bootstrap percentile over seeds",
    }


def paired_difference(
    values: Any, baseline: Any, *, confidence: float = 0.95, n_boot: int = 10000, seed: int = 0
) -> dict:
    """Mean same-seed difference ``values - baseline`` with bootstrap and Student-t intervals.

    ``values`` and ``baseline`` hold one finite number per seed each, paired by position (same length,
    at least 2); ``confidence``, ``n_boot`` and ``seed`` are as in :func:`summarize`. Returns ``n``,
    ``mean``, ``std`` (ddof=1) of the differences, the bootstrap percentile interval ``ci_low``,
    ``ci_high`` of the mean difference, ``separable`` (that interval excludes 0), the Student-t interval
    ``t_low``, ``t_high`` (left out when SciPy is not importable), ``confidence`` and ``method``.
    """
    x = _as_values("values", values)
    b = _as_values("baseline", baseline)
    if b.size != x.size:
        raise bad_value("baseline", _show(b), f"as many numbers as values ({x.size}), paired by seed")
    confidence = _check_confidence(confidence)
    n_boot = _check_int("n_boot", n_boot, 2)
    seed = _check_int("seed", seed, 0)
    d = x - b
    n = d.size
    mean = float(d.mean())
    std = float(d.std(ddof=1))
    low, high = _percentile_interval(_bootstrap_means(d, n_boot, seed), confidence)
    out: dict[str, Any] = {
        "n": int(n),
        "mean": mean,
        "std": std,
        "ci_low": low,
        "ci_high": high,
        "separable": bool(low > 0 or high < 0),
        "confidence": confidence,
        "method": "bootstrap percentile over paired seeds",
    }
    try:
        from scipy.stats import t as student_t
    except ImportError:  # pragma: no cover - scipy is a dependency, but the t interval is optional
        log.debug("paired_difference: scipy is not importable; no Student-t interval")
    else:
        half = float(student_t.ppf(0.5 + confidence / 2, n - 1)) * std / math.sqrt(n)
        out["t_low"] = mean - half
        out["t_high"] = mean + half
    log.debug("paired_difference: n=%d, mean=%g, interval (%g, %g)", n, mean, low, high)
    return out


def bootstrap_images(
    per_image_fn: Callable[[Any, Any], Any],
    features_fake: Any,
    features_real: Any,
    *,
    n_boot: int = 200,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict:
    """Sampling spread of a set score over the generated images.

    Resamples the rows (axis 0, at least 2) of ``features_fake`` with replacement ``n_boot`` (>= 2)
    times and recomputes ``per_image_fn(fake_rows, features_real) -> number`` on each; the real set is
    passed unchanged. Returns ``value`` (full set), ``ci_low``, ``ci_high`` (percentile interval of the
    resampled scores), ``std`` (ddof=1), ``n_boot``, ``n`` (rows) and ``confidence``. For FID the
    interval can sit above the full-set value (repeated rows bias it upwards): read it as a spread. See
    docs/scores.md, section "Comparing points across seeds".
    """
    if not callable(per_image_fn):
        raise bad_value("per_image_fn", per_image_fn, "a callable (fake_rows, real) -> number")
    shape = getattr(features_fake, "shape", None)
    if shape is None:
        features_fake = np.asarray(features_fake)
        shape = features_fake.shape
    if len(shape) < 1 or shape[0] < 2:
        raise bad_value("features_fake", f"shape {tuple(shape)}", "an array of at least 2 rows (axis 0)")
    n_boot = _check_int("n_boot", n_boot, 2)
    seed = _check_int("seed", seed, 0)
    confidence = _check_confidence(confidence)
    n = int(shape[0])

    def score(rows: Any, what: str) -> float:
        try:
            v = float(per_image_fn(rows, features_real))
        except (TypeError, ValueError):
            raise bad_value("per_image_fn", per_image_fn, f"a function returning one number ({what})") from None
        if not math.isfinite(v):
            raise bad_value("per_image_fn", per_image_fn, f"a function returning a finite number; got {v} {what}")
        return v

    value = score(features_fake, "on the full set")
    rng = np.random.default_rng(seed)
    draws = np.empty(n_boot, dtype=np.float64)
    for i in range(n_boot):
        idx = rng.integers(0, n, size=n)
        draws[i] = score(features_fake[idx], f"on resample {i}")
    low, high = _percentile_interval(draws, confidence)
    log.debug("bootstrap_images: n=%d, value=%g, interval (%g, %g)", n, value, low, high)
    return {
        "value": value,
        "ci_low": low,
        "ci_high": high,
        "std": float(draws.std(ddof=1)),
        "n_boot": n_boot,
        "n": n,
        "confidence": confidence,
    }


def _decimals(width: float, scale: float) -> int:
    """Decimals that show two significant digits of ``width`` (or of ``scale`` when width is 0)."""
    ref = width if width > 0 else scale
    if ref <= 0 or not math.isfinite(ref):
        return 1
    return int(min(12, max(0, 1 - math.floor(math.log10(ref)))))


def _num(v: float, decimals: int) -> str:
    text = f"{v:.{decimals}f}"
    if float(text) == 0:
        text = text.lstrip("-")
    return text.replace("-", _MINUS)


def _pct(confidence: float) -> str:
    return f"{round(confidence * 100, 10):g} %"


def verdict(name: str, diff: Mapping[str, Any], *, lower_is_better: bool, unit: str = "") -> str:
    """One sentence stating a :func:`paired_difference` result ``diff`` about ``name``.

    ``diff`` needs ``mean``, ``ci_low``, ``ci_high``, ``n`` and ``confidence``; ``lower_is_better`` says
    whether a lower score is better (FID, KID) or worse (precision, recall); ``unit`` is appended to the
    numbers. E.g. ``"FID lower (better) by 3.2 (difference −3.2, 95 % CI −5.3 to −1.1, 3 seeds): the
    difference exceeds the seed noise."``; the interval is the signed one of the tables (point minus
    baseline), so a sentence and its table row show the same numbers.
    """
    if not isinstance(lower_is_better, bool):
        raise bad_value("lower_is_better", lower_is_better, "True or False")
    needed = ("mean", "ci_low", "ci_high", "n", "confidence")
    if not isinstance(diff, Mapping) or any(k not in diff for k in needed):
        keys = sorted(diff) if isinstance(diff, Mapping) else type(diff).__name__
        raise bad_value("diff", keys, f"a paired_difference result with keys {', '.join(needed)}")
    mean, low, high = (float(diff[k]) for k in ("mean", "ci_low", "ci_high"))
    if not all(math.isfinite(v) for v in (mean, low, high)):
        raise bad_value("diff", {"mean": mean, "ci_low": low, "ci_high": high}, "finite mean and interval")
    n = int(diff["n"])
    separable = low > 0 or high < 0
    suffix = f" {unit}" if unit else ""
    dec = _decimals(high - low, abs(mean))
    seeds = f"{n} seed" if n == 1 else f"{n} seeds"

    if float(f"{mean:.{dec}f}") == 0:
        # The mean rounds to zero at the shown precision: state the signed interval as it is.
        ci = f"{_pct(float(diff['confidence']))} CI {_num(low, dec)} to {_num(high, dec)}{suffix}, {seeds}"
        if separable:
            return f"{name} about unchanged on average ({ci}): the interval nevertheless excludes zero."
        return f"{name} unchanged on average: not separable at this scale ({ci})."

    lower = mean < 0
    direction = "lower" if lower else "higher"
    better = "better" if lower == lower_is_better else "worse"
    signed = _num(mean, dec) if lower else f"+{_num(mean, dec)}"
    ci = (
        f"difference {signed}{suffix}, {_pct(float(diff['confidence']))} CI {_num(low, dec)} to "
        f"{_num(high, dec)}{suffix}, {seeds}"
    )
    size = f"{_num(abs(mean), dec)}{suffix}"
    if separable:
        return f"{name} {direction} ({better}) by {size} ({ci}): the difference exceeds the seed noise."
    return f"{name} {direction} by {size}: not separable at this scale ({ci})."


def _as_points(key: str, x: Any) -> dict[Any, np.ndarray]:
    """Points of :func:`cross_machine_spread`: a mapping name -> number(s), or a sequence by position."""
    items = x.items() if isinstance(x, Mapping) else enumerate(np.asarray(x, dtype=object))
    out: dict[Any, np.ndarray] = {}
    for name, v in items:
        try:
            arr = np.atleast_1d(np.asarray(v, dtype=np.float64))
        except (TypeError, ValueError):
            raise bad_value(f"{key}[{name!r}]", v, "a finite number or 1-D sequence of finite numbers") from None
        if arr.ndim != 1 or arr.size == 0 or not np.all(np.isfinite(arr)):
            raise bad_value(f"{key}[{name!r}]", _show(arr), "a finite number or 1-D sequence of finite numbers")
        out[name] = arr
    if not out:
        raise bad_value(key, x, "at least one point")
    return out


def cross_machine_spread(a: Any, b: Any) -> dict:
    """Differences between the same points measured on two machines.

    ``a`` and ``b`` map each point name to a number or 1-D sequence (e.g. one per seed or per score), or
    are sequences of such entries matched by position; both need the same points and lengths. Returns
    ``points`` (per point ``abs_mean``, ``abs_max`` of ``|a - b|`` and ``rel_mean``, ``rel_max`` of
    ``|a - b| / ((|a| + |b|) / 2)``, 0 where both are 0), the same four keys over all entries,
    ``n_points`` and ``spread`` (= ``abs_max``, the value to give :func:`exceeds`).
    """
    pa = _as_points("a", a)
    pb = _as_points("b", b)
    if set(pa) != set(pb):
        raise bad_value("b", sorted(map(str, pb)), f"the same points as a ({sorted(map(str, pa))})")
    points: dict[Any, dict[str, float]] = {}
    all_abs, all_rel = [], []
    for name, va in pa.items():
        vb = pb[name]
        if va.shape != vb.shape:
            raise bad_value(f"b[{name!r}]", _show(vb), f"{va.size} number(s), as in a")
        absd = np.abs(va - vb)
        scale = (np.abs(va) + np.abs(vb)) / 2
        rel = np.divide(absd, scale, out=np.zeros_like(absd), where=scale > 0)
        points[name] = {
            "abs_mean": float(absd.mean()),
            "abs_max": float(absd.max()),
            "rel_mean": float(rel.mean()),
            "rel_max": float(rel.max()),
        }
        all_abs.append(absd)
        all_rel.append(rel)
    absd = np.concatenate(all_abs)
    rel = np.concatenate(all_rel)
    return {
        "n_points": len(points),
        "points": points,
        "abs_mean": float(absd.mean()),
        "abs_max": float(absd.max()),
        "rel_mean": float(rel.mean()),
        "rel_max": float(rel.max()),
        "spread": float(absd.max()),
    }


def exceeds(diff: Mapping[str, Any], spread: float) -> bool:
    """Whether a :func:`paired_difference` result is beyond a cross-machine spread.

    True when ``|mean| > spread`` and the whole interval lies beyond ``spread`` on the same side
    (``ci_low > spread`` or ``ci_high < -spread``).
    """
    if isinstance(spread, bool) or not isinstance(spread, Real) or not math.isfinite(spread) or spread < 0:
        raise bad_value("spread", spread, "a finite number >= 0")
    if not isinstance(diff, Mapping) or any(k not in diff for k in ("mean", "ci_low", "ci_high")):
        keys = sorted(diff) if isinstance(diff, Mapping) else type(diff).__name__
        raise bad_value("diff", keys, "a paired_difference result with keys mean, ci_low, ci_high")
    mean, low, high = (float(diff[k]) for k in ("mean", "ci_low", "ci_high"))
    if mean > 0:
        return bool(mean > spread and low > spread)
    return bool(-mean > spread and high < -spread)
