"""Detection numbers with bootstrap intervals: P(bar) AUC and shares of a set.

Why: the real sets are small (22 examples, 89 Galaxy Builder galaxies) and their
labels noisy, so every number needs its interval to be read at all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from galaxyscope.model.val_metrics import binary_auc


@dataclass(frozen=True)
class Estimate:
    """A value with its percentile bootstrap interval and the number of rows used."""

    value: float
    low: float
    high: float
    n: int

    def format(self, digits: int = 2, percent: bool = False) -> str:
        if not math.isfinite(self.value):
            return f"undefined (n = {self.n})"
        k = 100.0 if percent else 1.0
        unit = " %" if percent else ""
        return (f"{self.value * k:.{0 if percent else digits}f}{unit} "
                f"[{self.low * k:.{0 if percent else digits}f}, {self.high * k:.{0 if percent else digits}f}] "
                f"(n = {self.n})")


def _interval(draws: np.ndarray, confidence: float) -> tuple[float, float]:
    draws = draws[np.isfinite(draws)]
    if draws.size == 0:
        return math.nan, math.nan
    a = (1 - confidence) / 2
    lo, hi = np.quantile(draws, [a, 1 - a])
    return float(lo), float(hi)


def auc_interval(scores, labels, *, n_resamples: int = 2000, seed: int = 0,
                 confidence: float = 0.95) -> Estimate:
    """ROC AUC of ``scores`` for the boolean ``labels``; resamples rows with replacement."""
    s = np.asarray(scores, float)
    y = np.asarray(labels, bool)
    keep = np.isfinite(s)
    s, y = s[keep], y[keep]
    n = int(s.size)
    if n == 0 or y.all() or not y.any():
        return Estimate(math.nan, math.nan, math.nan, n)
    value = float(binary_auc(s, y))
    rng = np.random.default_rng(seed)
    draws = np.full(n_resamples, np.nan)
    for i in range(n_resamples):
        idx = rng.integers(0, n, n)
        if y[idx].any() and not y[idx].all():
            draws[i] = binary_auc(s[idx], y[idx])
    return Estimate(value, *_interval(draws, confidence), n)


def share_interval(flags, *, n_resamples: int = 2000, seed: int = 0, confidence: float = 0.95) -> Estimate:
    """The share of True in ``flags`` with a bootstrap interval."""
    f = np.asarray(flags, bool)
    n = int(f.size)
    if n == 0:
        return Estimate(math.nan, math.nan, math.nan, 0)
    rng = np.random.default_rng(seed)
    draws = f[rng.integers(0, n, (n_resamples, n))].mean(axis=1)
    return Estimate(float(f.mean()), *_interval(draws, confidence), n)
