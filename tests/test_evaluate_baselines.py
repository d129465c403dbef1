"""Baselines: constant, cross-validated size fit, fitted scale, and the R90 trap."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from galaxyscope.evaluate.baselines import (
    best_scale,
    constant_prediction,
    cross_validated_linear_prediction,
    times_size,
)
from galaxyscope.evaluate.comparison import pair_arrays
from galaxyscope.evaluate.evaluation import CONSTANT, CONSTANT_TIMES_SIZE, SIZE, evaluate
from galaxyscope.evaluate.metrics import median_relative_error, rmse


def galaxies(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Petrosian-like sizes spanning a factor ~5 and bar fractions independent of them."""
    rng = np.random.default_rng(seed)
    r90 = rng.lognormal(np.log(20.0), 0.5, n)
    frac = rng.uniform(0.2, 0.8, n)
    return r90, frac


def test_constant_prediction_is_the_mean_of_finite_reference():
    r = np.array([1.0, 2.0, np.nan, 6.0])
    pred = constant_prediction(r)
    assert pred.shape == r.shape and np.all(pred == 3.0)


def test_cross_validated_prediction_never_sees_its_own_row():
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 10, 40)
    y = 2 * x + rng.normal(0, 1, 40)
    base = cross_validated_linear_prediction(x, y, n_folds=5, seed=3)
    for i in (0, 17, 39):
        y2 = y.copy()
        y2[i] += 1000.0
        moved = cross_validated_linear_prediction(x, y2, n_folds=5, seed=3)
        assert moved[i] == pytest.approx(base[i], abs=1e-9)  # its own value took no part
        assert np.abs(moved - base).max() > 1.0  # but it did train the other folds


def test_cross_validated_fit_is_not_optimistic():
    rng = np.random.default_rng(2)
    x = rng.uniform(0, 10, 60)
    y = 0.5 * x + rng.normal(0, 2, 60)
    fit = stats.linregress(x, y)
    in_sample = fit.intercept + fit.slope * x
    cv = cross_validated_linear_prediction(x, y, n_folds=5, seed=0)
    assert rmse(cv, y) > rmse(in_sample, y)
    # pure noise: an in-sample fit finds some correlation, the cross-validated one does not gain it
    noise = rng.normal(0, 1, 60)
    fit = stats.linregress(x, noise)
    r_in = stats.pearsonr(fit.intercept + fit.slope * x, noise).statistic
    r_cv = stats.pearsonr(cross_validated_linear_prediction(x, noise, seed=0), noise).statistic
    assert r_cv < abs(r_in)


def test_cross_validated_prediction_handles_nan_and_few_rows():
    x = np.array([1.0, 2.0, np.nan, 4.0, 5.0, 6.0])
    y = np.array([2.0, 4.0, 6.0, 8.0, np.nan, 12.0])
    pred = cross_validated_linear_prediction(x, y, n_folds=10)
    assert np.isnan(pred[2]) and np.isnan(pred[4])
    assert np.allclose(pred[[0, 1, 3, 5]], 2 * x[[0, 1, 3, 5]])  # exact line, leave-one-out
    assert np.all(np.isnan(cross_validated_linear_prediction(x[:2], y[:2])))


def test_best_scale_recovers_a_factor_and_ignores_an_outlier():
    _, r = galaxies(50)
    m = r / 3.0
    m[0] *= 50.0
    s = best_scale(m, r)
    assert s == pytest.approx(3.0)
    assert math.isnan(best_scale(np.zeros(3), np.ones(3)))


@pytest.mark.parametrize("n", [31, 40])
def test_best_scale_minimises_the_median_relative_error(n):
    rng = np.random.default_rng(n)
    r = rng.uniform(1, 10, n)
    m = 0.3 * r * rng.lognormal(0, 0.4, n)
    s = best_scale(m, r)
    grid = np.geomspace(0.5, 10, 20001)
    errs = np.median(np.abs(grid[:, None] * m - r) / r, axis=1)
    assert median_relative_error(s * m, r) <= errs.min() + 1e-9
    assert median_relative_error(s * m, r) < median_relative_error(m, r)


def test_size_baseline_is_no_better_than_truth():
    r90, frac = galaxies(200, seed=4)
    length = frac * r90
    sample = pair_arrays(length.copy(), length, size=r90, size_column="r90_px")
    ev = evaluate(sample, n_resamples=200)
    size = ev.baseline(SIZE)
    assert ev.measured.rmse.value == 0.0 and ev.measured.pearson_r.value == pytest.approx(1.0)
    assert size is not None and size.metrics.rmse.value > 0.1 * length.std()
    assert size.metrics.pearson_r.value < 0.95
    assert "cross-validated" in size.description


def test_the_r90_trap():
    """Constant × R90 against truth × R90 correlates highly; size-normalised there is nothing."""
    r90, frac = galaxies(400, seed=7)
    rng = np.random.default_rng(8)
    useless = rng.uniform(0.2, 0.8, frac.size)  # a "measurement" that knows nothing of the bar
    # directly: multiplying both sides by R90 manufactures a correlation
    r_trap = stats.pearsonr(times_size(constant_prediction(frac), r90), times_size(frac, r90)).statistic
    assert r_trap > 0.6
    # through evaluate(), in the size-normalised units where the measurement lives
    sample = pair_arrays(useless * r90, frac * r90, size=r90, normalise_by_size=True, size_column="r90")
    assert np.allclose(sample.measured, useless) and np.allclose(sample.reference, frac)
    ev = evaluate(sample, n_resamples=500)
    assert ev.measured.pearson_r.contains(0.0)  # normalised: nothing
    assert ev.measured_times_size.pearson_r.value > 0.6  # ...yet x R90 looks like a success
    trap = ev.baseline(CONSTANT_TIMES_SIZE)
    assert trap.metrics.pearson_r.value > 0.6
    assert trap.metrics.pearson_r.value == pytest.approx(stats.pearsonr(r90, frac * r90).statistic)
    # in normalised mode the size baseline is the constant ratio: no correlation at all
    assert math.isnan(ev.baseline(SIZE).metrics.pearson_r.value)
    assert ev.baseline(SIZE).metrics.rmse == ev.baseline(CONSTANT).metrics.rmse


def test_without_a_size_column_only_the_constant_baseline():
    r90, frac = galaxies(30)
    ev = evaluate(pair_arrays(frac * 1.1, frac), n_resamples=100)
    assert [b.name for b in ev.baselines] == [CONSTANT]
    assert ev.measured_times_size is None
    assert ev.scaled.scale == pytest.approx(1 / 1.1)
    assert ev.scaled.metrics.median_rel_err.value == pytest.approx(0.0, abs=1e-12)
