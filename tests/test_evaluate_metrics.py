"""Metrics against scipy/numpy computed directly, and the bootstrap intervals."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy import stats

from galaxyscope.evaluate.metrics import (
    METRIC_NAMES,
    compute_metrics,
    finite_pairs,
    median_relative_error,
    pearson_r,
    rmse,
    spearman_rho,
)


def noisy_pairs(n: int, seed: int = 0, noise: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    r = rng.uniform(2.0, 12.0, n)
    return r + rng.normal(0.0, noise, n), r


def test_point_values_match_scipy_and_numpy():
    m, r = noisy_pairs(80, seed=3)
    r[:5] = [-1.0, 0.0, 0.5, 0.0, -3.0]  # relative error only over r > 0
    ms = compute_metrics(m, r, n_resamples=200, seed=1)
    assert ms.pearson_r.value == pytest.approx(stats.pearsonr(m, r).statistic, abs=1e-12)
    assert ms.spearman_rho.value == pytest.approx(stats.spearmanr(m, r).statistic, abs=1e-12)
    assert ms.rmse.value == pytest.approx(np.sqrt(np.mean((m - r) ** 2)), rel=1e-12)
    pos = r > 0
    assert ms.median_rel_err.value == pytest.approx(np.median(np.abs(m[pos] - r[pos]) / r[pos]), rel=1e-12)
    assert ms.n == 80 and ms.n_dropped == 0
    # the single-metric helpers agree with the set
    assert pearson_r(m, r) == ms.pearson_r.value
    assert spearman_rho(m, r) == ms.spearman_rho.value
    assert rmse(m, r) == ms.rmse.value
    assert median_relative_error(m, r) == ms.median_rel_err.value


def test_perfect_prediction():
    _, r = noisy_pairs(40)
    ms = compute_metrics(r.copy(), r, n_resamples=300)
    assert ms.pearson_r.value == pytest.approx(1.0)
    assert ms.spearman_rho.value == pytest.approx(1.0)
    assert ms.rmse.value == 0.0
    assert ms.median_rel_err.value == 0.0
    assert ms.rmse.low == 0.0 and ms.rmse.high == 0.0


def test_intervals_contain_the_value_and_shrink_with_n():
    small = compute_metrics(*noisy_pairs(40, seed=5), n_resamples=1000, seed=2)
    large = compute_metrics(*noisy_pairs(1500, seed=5), n_resamples=1000, seed=2)
    for ms in (small, large):
        for name, metric in ms.metrics().items():
            assert metric.low < metric.high, name
            assert metric.contains(metric.value), (name, metric)
    for name in METRIC_NAMES:
        w_small = getattr(small, name).high - getattr(small, name).low
        w_large = getattr(large, name).high - getattr(large, name).low
        assert w_large < 0.5 * w_small, (name, w_small, w_large)


def test_interval_agrees_with_scipy_bootstrap():
    m, r = noisy_pairs(200, seed=11, noise=3.0)
    ours = compute_metrics(m, r, n_resamples=3000, seed=4).pearson_r
    ref = stats.bootstrap(
        (m, r),
        lambda a, b, axis=-1: stats.pearsonr(a, b, axis=axis).statistic,
        paired=True,
        vectorized=True,
        n_resamples=3000,
        method="percentile",
        rng=np.random.default_rng(9),
    ).confidence_interval
    assert ours.low == pytest.approx(ref.low, abs=0.02)
    assert ours.high == pytest.approx(ref.high, abs=0.02)


def test_seed_makes_intervals_reproducible():
    m, r = noisy_pairs(60, seed=1)
    a = compute_metrics(m, r, n_resamples=500, seed=7)
    b = compute_metrics(m, r, n_resamples=500, seed=7)
    c = compute_metrics(m, r, n_resamples=500, seed=8)
    assert a == b
    assert a.pearson_r.low != c.pearson_r.low


def test_confidence_level_widens_interval():
    m, r = noisy_pairs(100, seed=2)
    narrow = compute_metrics(m, r, n_resamples=800, confidence=0.5).rmse
    wide = compute_metrics(m, r, n_resamples=800, confidence=0.99).rmse
    assert wide.low < narrow.low and wide.high > narrow.high


def test_non_finite_rows_are_dropped_and_counted():
    m, r = noisy_pairs(50, seed=4)
    clean = compute_metrics(m, r, n_resamples=200, seed=0)
    m2 = np.concatenate([m, [np.nan, 1.0, np.inf]])
    r2 = np.concatenate([r, [1.0, np.nan, 2.0]])
    dirty = compute_metrics(m2, r2, n_resamples=200, seed=0)
    assert dirty.n == 50 and dirty.n_dropped == 3
    assert dirty == type(clean)(**{**clean.__dict__, "n_dropped": 3})
    masked = np.ma.masked_array(m2, mask=np.r_[np.zeros(50, bool), [False, False, False]])
    masked[0] = np.ma.masked
    fm, fr, dropped = finite_pairs(masked, r2)
    assert dropped == 4 and fm.size == fr.size == 49


def test_constant_prediction_has_undefined_correlation_without_warnings():
    _, r = noisy_pairs(30)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ms = compute_metrics(np.full(30, r.mean()), r, n_resamples=300)
    assert math.isnan(ms.pearson_r.value) and math.isnan(ms.spearman_rho.value)
    assert math.isnan(ms.pearson_r.low) and not ms.pearson_r.defined
    assert ms.rmse.value == pytest.approx(np.std(r))
    assert ms.rmse.contains(ms.rmse.value)


def test_empty_and_tiny_inputs():
    empty = compute_metrics(np.array([]), np.array([]))
    assert empty.n == 0 and math.isnan(empty.rmse.value)
    one = compute_metrics(np.array([2.0]), np.array([1.0]))
    assert one.rmse.value == 1.0 and math.isnan(one.rmse.low) and math.isnan(one.pearson_r.value)
    with pytest.raises(ValueError):
        compute_metrics(np.ones(3), np.ones(4))


def test_constant_up_to_rounding_counts_as_constant():
    rng = np.random.default_rng(0)
    s = rng.lognormal(3, 0.5, 50)
    nearly = 7.0 / s * s  # 7 with rounding noise, as in "measured / size × size"
    assert np.ptp(nearly) > 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ms = compute_metrics(nearly, s, n_resamples=200)
    assert math.isnan(ms.pearson_r.value) and math.isnan(ms.spearman_rho.value)


def test_resample_draws_equal_the_metrics_of_the_resampled_rows():
    """The counts-based bootstrap gives exactly the metric of each resampled sample (ties included)."""
    from galaxyscope.evaluate.metrics import bootstrap_draws

    rng = np.random.default_rng(5)
    n = 25
    r = np.round(rng.uniform(-1, 6, n))  # ties, and some r <= 0
    m = np.round(r + rng.normal(0, 1.5, n), 1)
    idx = rng.integers(0, n, size=(6, n))
    counts = np.stack([np.bincount(row, minlength=n) for row in idx]).astype(float)
    draws = bootstrap_draws(m, r, counts)
    for k, row in enumerate(idx):
        mm, rr = m[row], r[row]
        assert draws["pearson_r"][k] == pytest.approx(stats.pearsonr(mm, rr).statistic, abs=1e-10)
        assert draws["spearman_rho"][k] == pytest.approx(stats.spearmanr(mm, rr).statistic, abs=1e-10)
        assert draws["rmse"][k] == pytest.approx(np.sqrt(np.mean((mm - rr) ** 2)), rel=1e-12)
        pos = rr > 0
        assert draws["median_rel_err"][k] == pytest.approx(np.median(np.abs(mm[pos] - rr[pos]) / rr[pos]), rel=1e-12)
