"""Validation metrics computed during training, always beside a constant baseline.

AUC comes from the Mann-Whitney U statistic (scipy), which is exactly the
probability that a random positive scores above a random negative.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy.stats import mannwhitneyu, pearsonr


def binary_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """ROC AUC of ``scores`` for boolean ``labels``; NaN when a class is missing.

    Ties count one half (midranks), as in the usual trapezoidal ROC AUC.
    """
    scores = np.asarray(scores, float)
    labels = np.asarray(labels, bool)
    pos, neg = scores[labels], scores[~labels]
    if len(pos) == 0 or len(neg) == 0:
        return math.nan
    u = mannwhitneyu(pos, neg, alternative="two-sided", method="asymptotic").statistic
    return float(u) / (len(pos) * len(neg))


@dataclass
class OutputMetrics:
    """Validation quality of one output, in the target's own units.

    auc: for classification outputs, AUC against target >= 0.5 (NaN if the
        validation set holds one class only).
    baseline_rmse: RMSE of always predicting the training mean: a model is
        only useful if ``rmse`` is clearly below it.
    r: Pearson correlation of prediction and target (NaN if either is constant).
    """

    name: str
    rmse: float
    mse: float
    baseline_rmse: float
    auc: float = math.nan
    r: float = math.nan

    def describe(self) -> str:
        parts = [f"{self.name}:"]
        if not math.isnan(self.auc):
            parts.append(f"AUC {self.auc:.3f}")
        parts.append(f"RMSE {self.rmse:.4g} (constant baseline {self.baseline_rmse:.4g})")
        if not math.isnan(self.r):
            parts.append(f"r {self.r:.3f}")
        return " ".join(parts)


@dataclass
class ValMetrics:
    """All validation metrics of one epoch."""

    loss: float
    n: int
    outputs: list[OutputMetrics] = field(default_factory=list)

    def auc(self, name: str) -> float:
        """AUC of the named output (NaN if undefined)."""
        return next(o.auc for o in self.outputs if o.name == name)

    def to_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        return f"val loss {self.loss:.4g} (n={self.n}); " + "; ".join(o.describe() for o in self.outputs)


def output_metrics(names: list[str], predictions: np.ndarray, targets: np.ndarray,
                   train_mean: np.ndarray, classify: bool) -> list[OutputMetrics]:
    """Per-output metrics of ``predictions`` (N x K, target units) against ``targets``."""
    out = []
    for j, name in enumerate(names):
        p, t = predictions[:, j].astype(float), targets[:, j].astype(float)
        mse = float(np.mean((p - t) ** 2))
        base = float(np.sqrt(np.mean((t - train_mean[j]) ** 2)))
        auc = binary_auc(p, t >= 0.5) if classify else math.nan
        r = float(pearsonr(p, t).statistic) if len(t) > 2 and np.ptp(p) > 0 and np.ptp(t) > 0 else math.nan
        out.append(OutputMetrics(name=name, rmse=math.sqrt(mse), mse=mse, baseline_rmse=base, auc=auc, r=r))
    return out
