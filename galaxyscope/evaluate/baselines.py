"""Predictions that know nothing about bars, to set the floor a measurement must beat.

Why: a correlation means little until it is set beside what a trivial
prediction gets on the same rows. Two baselines matter here:

* the *constant* prediction (the mean of the reference): its Pearson r is
  undefined, but its RMSE and relative error are the floor for any measurement;
* the *galaxy-size* prediction: the reference fitted linearly on a size column
  (e.g. Petrosian R90). Bigger galaxies have longer bars, so size alone
  correlates with bar length. The fit is cross-validated (each row predicted by
  a line fitted on the other folds), so the baseline is not flattered by
  fitting its own rows.

And the trap of Bhambra et al. (2022): multiplying *both* sides by a size
column gives a high correlation even to a constant prediction, because the
shared factor correlates with itself (:func:`times_size`).

:func:`best_scale` fits the one free factor between saliency lengths and human
lengths (the two are in arbitrary proportion), choosing the factor with the
smallest median relative error. It is fitted on the very rows it is scored on,
so metrics of the scaled measurement are slightly optimistic.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

DEFAULT_FOLDS = 5


def constant_prediction(reference: np.ndarray) -> np.ndarray:
    """The mean of the (finite) reference, repeated for every row."""
    r = np.asarray(reference, dtype=float)
    finite = np.isfinite(r)
    value = float(r[finite].mean()) if finite.any() else math.nan
    return np.full(r.shape, value)


def cross_validated_linear_prediction(
    size: np.ndarray,
    reference: np.ndarray,
    *,
    n_folds: int = DEFAULT_FOLDS,
    seed: int | None = 0,
) -> np.ndarray:
    """Predict each row's reference from a line ``reference ~ a + b * size`` fitted without it.

    Why cross-validated: an in-sample fit would score the baseline on the rows it
    was fitted to and make it look better than it is. Rows are shuffled with
    ``seed`` and split into ``n_folds`` folds (fewer when there are few rows);
    each fold is predicted from a ``scipy.stats.linregress`` fit on the others.
    Rows with a non-finite size or reference get NaN and take no part in fits.
    """
    x = np.asarray(size, dtype=float)
    y = np.asarray(reference, dtype=float)
    if x.shape != y.shape:
        raise ValueError(f"size and reference differ in length ({x.size} vs {y.size})")
    if n_folds < 2:
        raise ValueError(f"n_folds must be at least 2, got {n_folds}")
    out = np.full(y.shape, np.nan)
    usable = np.flatnonzero(np.isfinite(x) & np.isfinite(y))
    if usable.size < 3:
        return out
    folds = min(n_folds, usable.size)
    order = np.random.default_rng(seed).permutation(usable)
    for held_out in np.array_split(order, folds):
        train = np.setdiff1d(order, held_out, assume_unique=True)
        xt, yt = x[train], y[train]
        if np.ptp(xt) == 0:  # no slope can be fitted: predict the training mean
            out[held_out] = yt.mean()
            continue
        fit = stats.linregress(xt, yt)
        out[held_out] = fit.intercept + fit.slope * x[held_out]
    return out


def best_scale(measured: np.ndarray, reference: np.ndarray) -> float:
    """The one factor ``s`` that minimises the median relative error of ``s * m`` against ``r``.

    Why this criterion: saliency lengths and human lengths are in arbitrary
    proportion, and the median relative error is the unit-free number we
    report. The median of |s*q - 1| (q = m/r) is at most t exactly when half of
    the q lie in [(1-t)/s, (1+t)/s]: so the answer is the narrowest (in ratio)
    window holding half of the sorted q, and s = 2/(q_low + q_high). Computed
    exactly from the sorted ratios of rows with both sides > 0 (for even n the
    two window sizes around the median are tried and the better kept). NaN
    when no row has both sides positive. This is a *fitted* parameter.
    """
    m = np.asarray(measured, dtype=float)
    r = np.asarray(reference, dtype=float)
    ok = np.isfinite(m) & np.isfinite(r) & (m > 0) & (r > 0)
    if not ok.any():
        return math.nan
    q = np.sort(m[ok] / r[ok])
    n = q.size
    best, best_err = math.nan, math.inf
    for h in sorted({max(1, n // 2), n // 2 + 1}):
        if h > n:
            continue
        low, high = q[: n - h + 1], q[h - 1 :]
        i = int(np.argmin((high - low) / (high + low)))
        s = 2.0 / (low[i] + high[i])
        err = _median_relative_error(s * m, r)
        if err < best_err:
            best, best_err = float(s), err
    return best


def _median_relative_error(m: np.ndarray, r: np.ndarray) -> float:
    ok = np.isfinite(m) & np.isfinite(r) & (r > 0)
    return float(np.median(np.abs(m[ok] - r[ok]) / r[ok])) if ok.any() else math.inf


def times_size(values: np.ndarray, size: np.ndarray) -> np.ndarray:
    """``values * size``: the paper's way of putting lengths on a common scale.

    Kept as a named step so the trap is explicit: after this, even a constant
    ``values`` correlates with any reference that was multiplied by the same size.
    """
    return np.asarray(values, dtype=float) * np.asarray(size, dtype=float)
