"""Tests of advdiff.stats: interval coverage, paired differences, verdicts, bad inputs, determinism."""

from __future__ import annotations

import math

import numpy as np
import pytest

from advdiff.errors import ConfigError
from advdiff.stats import (
    bootstrap_images,
    cross_machine_spread,
    exceeds,
    paired_difference,
    summarize,
    verdict,
)


def _coverage(confidence: float, *, n: int = 12, experiments: int = 300, true_mean: float = 3.0) -> float:
    """Share of simulated experiments whose bootstrap interval contains the true mean."""
    rng = np.random.default_rng(20240601)
    hits = 0
    for i in range(experiments):
        x = rng.normal(true_mean, 2.0, size=n)
        s = summarize(x, confidence=confidence, n_boot=1000, seed=i)
        hits += s["ci_low"] <= true_mean <= s["ci_high"]
    return hits / experiments


def test_bootstrap_interval_covers_the_true_mean_at_about_the_nominal_rate():
    # The percentile bootstrap of a mean behaves like mean +- z * s_plugin / sqrt(n), with the
    # plug-in (ddof=0) deviation and the normal quantile, so at small n it undercovers: the expected
    # coverage at 95 % nominal is P(|t_{n-1}| < 1.96 sqrt((n-1)/n)), 0.89 at n=8 and 0.91 at n=12.
    # With 300 experiments the Monte Carlo standard error is about 0.017, so n=12 keeps the expected
    # rate about 3.7 standard errors above 0.85 and 4.6 below 0.99 (n=8 would leave only 2.4 above
    # 0.85). An interval of the wrong width (std instead of std / sqrt(n), or too few resamples of
    # the right thing) falls outside [0.85, 0.99].
    rate = _coverage(0.95)
    assert 0.85 <= rate <= 0.99, rate


def test_coverage_check_can_tell_a_narrow_interval():
    # The same check at 50 % nominal must fail the band above: the coverage test discriminates.
    rate = _coverage(0.5)
    assert rate < 0.7, rate


def test_summarize_keys_and_values():
    s = summarize([1.0, 2.0, 3.0, 4.0], n_boot=2000)
    assert s["n"] == 4
    assert s["mean"] == pytest.approx(2.5)
    assert s["std"] == pytest.approx(np.std([1, 2, 3, 4], ddof=1))
    assert 1.0 <= s["ci_low"] < 2.5 < s["ci_high"] <= 4.0
    assert s["confidence"] == 0.95
    assert s["method"] == "bootstrap percentile over seeds"


def test_identical_inputs_give_zero_difference_not_separable():
    x = [12.3, 11.8, 13.1]
    d = paired_difference(x, list(x))
    assert d["mean"] == 0.0
    assert d["std"] == 0.0
    assert d["ci_low"] == 0.0 and d["ci_high"] == 0.0
    assert d["ci_low"] <= 0.0 <= d["ci_high"]
    assert d["separable"] is False
    assert d["t_low"] == 0.0 and d["t_high"] == 0.0


def test_clear_shift_is_separable_with_the_right_sign():
    rng = np.random.default_rng(7)
    baseline = rng.normal(20.0, 3.0, size=4)
    up = baseline + 5.0 + rng.normal(0.0, 0.1, size=4)
    d = paired_difference(up, baseline)
    assert d["separable"] is True
    assert d["mean"] == pytest.approx(5.0, abs=0.3)
    assert 4.0 < d["ci_low"] <= d["mean"] <= d["ci_high"] < 6.0
    assert d["t_low"] < d["mean"] < d["t_high"]
    down = paired_difference(baseline - 5.0 + rng.normal(0.0, 0.1, size=4), baseline)
    assert down["separable"] is True
    assert down["ci_high"] < -4.0


def test_noise_only_difference_is_not_separable():
    d = paired_difference([10.0, 14.0, 9.0, 13.0], [12.0, 11.0, 12.5, 11.5])
    assert d["ci_low"] < 0 < d["ci_high"]
    assert d["separable"] is False


def test_t_interval_matches_the_formula():
    from scipy.stats import t

    x = np.array([1.0, 2.5, 0.5, 3.0])
    d = paired_difference(x, np.zeros(4))
    half = t.ppf(0.975, 3) * x.std(ddof=1) / 2.0
    assert d["t_low"] == pytest.approx(x.mean() - half)
    assert d["t_high"] == pytest.approx(x.mean() + half)


def test_verdict_wording_follows_lower_is_better():
    base = np.array([30.0, 32.0, 31.0])
    lower = paired_difference(base - np.array([3.0, 3.3, 3.3]), base)
    s = verdict("advdiff Pe 0.06 vs Pe 0: FID", lower, lower_is_better=True)
    assert s.startswith(
        "advdiff Pe 0.06 vs Pe 0: FID lower (better) by 3.20 "
        "(difference \u22123.20, 95 % CI \u22123.30 to \u22123.00, 3 seeds)"
    )
    assert s.endswith("the difference exceeds the seed noise.")
    s = verdict("recall", lower, lower_is_better=False)
    assert s.startswith("recall lower (worse) by 3.20")
    higher = paired_difference(base + 2.0 + np.array([0.0, 0.1, -0.1]), base)
    assert verdict("FID", higher, lower_is_better=True).startswith("FID higher (worse) by 2.00")
    assert verdict("coverage", higher, lower_is_better=False, unit="pts").startswith(
        "coverage higher (better) by 2.00 pts"
    )


def test_verdict_not_separable_and_unchanged():
    d = {"mean": 1.05, "ci_low": -2.0, "ci_high": 4.1, "n": 3, "confidence": 0.95}
    s = verdict("FID", d, lower_is_better=True)
    assert s == "FID higher by 1.1: not separable at this scale (difference +1.1, 95 % CI \u22122.0 to 4.1, 3 seeds)."
    d = {"mean": -1.05, "ci_low": -4.1, "ci_high": 2.0, "n": 3, "confidence": 0.9}
    s = verdict("FID", d, lower_is_better=True)
    assert s == (
        "FID lower by 1.1: not separable at this scale (difference \u22121.1, 90 % CI \u22124.1 to 2.0, 3 seeds)."
    )
    same = paired_difference([1.0, 2.0], [1.0, 2.0])
    assert "unchanged on average: not separable" in verdict("KID", same, lower_is_better=True)


@pytest.mark.parametrize(
    ("call", "key"),
    [
        (lambda: paired_difference([1.0, 2.0, 3.0], [1.0, 2.0]), "baseline"),
        (lambda: summarize([1.0]), "values"),
        (lambda: summarize([1.0, float("nan"), 2.0]), "values"),
        (lambda: summarize([1.0, float("inf")]), "values"),
        (lambda: summarize([[1.0, 2.0], [3.0, 4.0]]), "values"),
        (lambda: summarize(["a", "b"]), "values"),
        (lambda: paired_difference([1.0, 2.0], [1.0, float("nan")]), "baseline"),
        (lambda: paired_difference([1.0], [1.0]), "values"),
        (lambda: summarize([1.0, 2.0], confidence=1.0), "confidence"),
        (lambda: summarize([1.0, 2.0], confidence=95), "confidence"),
        (lambda: summarize([1.0, 2.0], n_boot=1), "n_boot"),
        (lambda: summarize([1.0, 2.0], n_boot=10.5), "n_boot"),
        (lambda: summarize([1.0, 2.0], seed=-1), "seed"),
        (lambda: bootstrap_images(lambda f, r: 0.0, np.zeros((1, 3)), None), "features_fake"),
        (lambda: bootstrap_images(lambda f, r: float("nan"), np.zeros((4, 3)), None), "per_image_fn"),
        (lambda: bootstrap_images("fid", np.zeros((4, 3)), None), "per_image_fn"),
        (lambda: verdict("FID", {"mean": 1.0}, lower_is_better=True), "diff"),
        (lambda: verdict("FID", paired_difference([1, 2], [0, 1]), lower_is_better="yes"), "lower_is_better"),
        (lambda: cross_machine_spread({"p": 1.0}, {"q": 1.0}), "b"),
        (lambda: cross_machine_spread({"p": [1.0, 2.0]}, {"p": [1.0]}), "b['p']"),
        (lambda: cross_machine_spread({"p": float("nan")}, {"p": 1.0}), "a['p']"),
        (lambda: exceeds({"mean": 1.0, "ci_low": 0.5, "ci_high": 1.5}, -0.1), "spread"),
    ],
)
def test_bad_inputs_are_refused_naming_the_key(call, key):
    with pytest.raises(ConfigError) as err:
        call()
    assert str(err.value).startswith(f"{key}="), str(err.value)


def _mean_distance(fake: np.ndarray, real: np.ndarray) -> float:
    """Distance between the mean feature vectors: a simple set score."""
    return float(np.linalg.norm(fake.mean(axis=0) - real.mean(axis=0)))


def test_bootstrap_images_interval_contains_the_full_set_value():
    rng = np.random.default_rng(3)
    fake = rng.normal(0.5, 1.0, size=(200, 4))
    real = rng.normal(0.0, 1.0, size=(300, 4))
    out = bootstrap_images(_mean_distance, fake, real, n_boot=200, seed=1)
    assert out["value"] == pytest.approx(_mean_distance(fake, real))
    assert out["ci_low"] < out["value"] < out["ci_high"]
    assert out["n_boot"] == 200 and out["n"] == 200
    # The spread of the distance is about that of the fake mean: 1 / sqrt(200) per axis.
    assert 0.03 < out["std"] < 0.12


def test_same_seed_same_result_other_seed_other_interval():
    x = [3.1, 2.7, 3.6, 2.9, 3.3]
    b = [2.0, 2.2, 2.9, 2.1, 2.8]
    assert summarize(x, seed=5) == summarize(x, seed=5)
    assert paired_difference(x, b, seed=5) == paired_difference(x, b, seed=5)
    assert summarize(x, seed=5)["ci_low"] != summarize(x, seed=6)["ci_low"]
    rng = np.random.default_rng(0)
    fake, real = rng.normal(size=(50, 3)), rng.normal(size=(60, 3))
    one = bootstrap_images(_mean_distance, fake, real, n_boot=50, seed=9)
    assert one == bootstrap_images(_mean_distance, fake, real, n_boot=50, seed=9)
    assert one["ci_low"] != bootstrap_images(_mean_distance, fake, real, n_boot=50, seed=10)["ci_low"]


def test_many_resamples_in_chunks_match_the_plain_percentile_bounds():
    # A long per-seed list forces several resampling chunks; the interval must still match the
    # normal approximation of the mean's spread.
    x = np.random.default_rng(11).normal(0.0, 1.0, size=3000)
    s = summarize(x, n_boot=2000, seed=0)
    se = x.std() / math.sqrt(x.size)
    assert s["ci_low"] == pytest.approx(x.mean() - 1.96 * se, abs=0.3 * se)
    assert s["ci_high"] == pytest.approx(x.mean() + 1.96 * se, abs=0.3 * se)


def test_cross_machine_spread_and_exceeds():
    a = {"ddpm": [10.0, 11.0], "advdiff Pe 0.06": [9.0, 9.5]}
    b = {"ddpm": [10.2, 11.0], "advdiff Pe 0.06": [9.0, 9.0]}
    spread = cross_machine_spread(a, b)
    assert spread["n_points"] == 2
    assert spread["points"]["ddpm"]["abs_max"] == pytest.approx(0.2)
    assert spread["points"]["ddpm"]["abs_mean"] == pytest.approx(0.1)
    assert spread["points"]["advdiff Pe 0.06"]["rel_max"] == pytest.approx(0.5 / 9.25)
    assert spread["abs_max"] == pytest.approx(0.5)
    assert spread["spread"] == spread["abs_max"]
    assert spread["abs_mean"] == pytest.approx(0.7 / 4)
    by_position = cross_machine_spread([1.0, 2.0, 0.0], [1.5, 2.0, 0.0])
    assert by_position["points"][0]["abs_max"] == pytest.approx(0.5)
    assert by_position["points"][2]["rel_max"] == 0.0

    big = {"mean": -3.0, "ci_low": -4.0, "ci_high": -2.0}
    assert exceeds(big, spread["spread"]) is True
    assert exceeds(big, 2.5) is False  # the interval reaches inside the spread
    assert exceeds(big, 3.5) is False
    assert exceeds({"mean": 1.0, "ci_low": 0.6, "ci_high": 1.4}, 0.5) is True
    assert exceeds({"mean": 1.0, "ci_low": 0.6, "ci_high": 1.4}, 0.7) is False
