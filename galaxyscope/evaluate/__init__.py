"""Evaluate measurements against a reference: metrics with bootstrap intervals, baselines, plots (no Qt).

Why this package exists: a correlation alone misleads (multiplying both sides
by a galaxy's size gives r ≈ 0.74 even to a constant prediction), so every
number here comes with an interval and with the baselines beside it.
Plotting lives in :mod:`galaxyscope.evaluate.plot` (matplotlib, Agg) and is not
imported here.
"""

from galaxyscope.evaluate.baselines import (
    best_scale,
    constant_prediction,
    cross_validated_linear_prediction,
    times_size,
)
from galaxyscope.evaluate.comparison import PairedSample, build_pairs, read_table
from galaxyscope.evaluate.evaluation import (
    Baseline,
    Evaluation,
    ScaledMeasurement,
    evaluate,
    evaluation_to_json,
    format_evaluation,
)
from galaxyscope.evaluate.metrics import Metric, MetricSet, compute_metrics

__all__ = [
    "Baseline",
    "Evaluation",
    "Metric",
    "MetricSet",
    "PairedSample",
    "ScaledMeasurement",
    "best_scale",
    "build_pairs",
    "compute_metrics",
    "constant_prediction",
    "cross_validated_linear_prediction",
    "evaluate",
    "evaluation_to_json",
    "format_evaluation",
    "read_table",
    "times_size",
]
