"""Evaluate measurements against a reference: metrics with bootstrap intervals, baselines, plots (no Qt).

Why this package exists: a correlation alone misleads (multiplying both sides
by a galaxy's size gives r ≈ 0.74 even to a constant prediction), so every
number here comes with an interval and with the baselines beside it.
Plotting lives in :mod:`galaxyscope.evaluate.plot` (matplotlib, Agg) and is not
imported here.
"""

from __future__ import annotations

import importlib
from typing import Any

# public name -> submodule, imported on first use (PEP 562) so that ``galaxyscope --help``,
# which imports this package's command module, does not pay for SciPy and astropy.table
_WHERE = {
    "best_scale": "baselines",
    "constant_prediction": "baselines",
    "cross_validated_linear_prediction": "baselines",
    "times_size": "baselines",
    "PairedSample": "comparison",
    "build_pairs": "comparison",
    "read_table": "comparison",
    "Baseline": "evaluation",
    "Evaluation": "evaluation",
    "ScaledMeasurement": "evaluation",
    "evaluate": "evaluation",
    "evaluation_to_json": "evaluation",
    "format_evaluation": "evaluation",
    "Metric": "metrics",
    "MetricSet": "metrics",
    "compute_metrics": "metrics",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
