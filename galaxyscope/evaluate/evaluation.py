"""One evaluation: the measurement's metrics beside its baselines, as a result and as text/JSON.

Why bundled: a correlation is never reported alone. :func:`evaluate` always
computes, on the same rows and bootstrap seed,

* the measurement itself;
* the measurement times one fitted scale (``best_scale``; *fitted* on these rows);
* the constant prediction (Pearson r undefined, reported as such);
* with a size column: the size baseline (cross-validated linear fit of the
  reference on size; with ``normalised_by`` set it is the constant ratio
  prediction, i.e. "length proportional to size"), and the trap of multiplying
  both sides by the size: constant × size and measured × size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from galaxyscope.evaluate.baselines import (
    DEFAULT_FOLDS,
    best_scale,
    constant_prediction,
    cross_validated_linear_prediction,
    times_size,
)
from galaxyscope.evaluate.comparison import PairedSample
from galaxyscope.evaluate.metrics import (
    DEFAULT_CONFIDENCE,
    DEFAULT_RESAMPLES,
    METRIC_NAMES,
    Metric,
    MetricSet,
    compute_metrics,
)

CONSTANT = "constant"
SIZE = "size"
CONSTANT_TIMES_SIZE = "constant_times_size"


@dataclass(frozen=True)
class Baseline:
    """A prediction that knows nothing of bars, scored like the measurement."""

    name: str
    description: str
    metrics: MetricSet


@dataclass(frozen=True)
class ScaledMeasurement:
    """The measurement times one fitted factor (saliency and human lengths differ in scale)."""

    scale: float
    metrics: MetricSet


@dataclass(frozen=True)
class Evaluation:
    """Everything one ``galaxyscope evaluate`` run reports."""

    sample: PairedSample
    measured: MetricSet
    scaled: ScaledMeasurement
    baselines: tuple[Baseline, ...]
    measured_times_size: MetricSet | None
    n_resamples: int
    seed: int | None
    confidence: float
    n_folds: int

    def baseline(self, name: str) -> Baseline | None:
        """The baseline called ``name``, or None when it was not computed (no size column)."""
        return next((b for b in self.baselines if b.name == name), None)


def evaluate(
    sample: PairedSample,
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int | None = 0,
    confidence: float = DEFAULT_CONFIDENCE,
    n_folds: int = DEFAULT_FOLDS,
) -> Evaluation:
    """Score the measurement and every baseline on the rows of ``sample``."""

    def score(pred: np.ndarray, ref: np.ndarray) -> MetricSet:
        return compute_metrics(pred, ref, n_resamples=n_resamples, seed=seed, confidence=confidence)

    m, r, size = sample.measured, sample.reference, sample.size
    scale = best_scale(m, r)
    baselines = [
        Baseline(CONSTANT, "mean of the reference for every galaxy (Pearson r undefined)", score(constant_prediction(r), r))
    ]
    measured_times_size = None
    if size is not None:
        if sample.normalised_by:
            size_pred = constant_prediction(r)
            size_text = f"length proportional to {sample.size_column}: constant ratio (mean of reference/size)"
        else:
            size_pred = cross_validated_linear_prediction(size, r, n_folds=n_folds, seed=seed)
            size_text = f"reference ~ a + b*{sample.size_column}, {n_folds}-fold cross-validated"
        baselines.append(Baseline(SIZE, size_text, score(size_pred, r)))
        baselines.append(
            Baseline(
                CONSTANT_TIMES_SIZE,
                f"the trap: constant × {sample.size_column} against reference × {sample.size_column}",
                score(times_size(constant_prediction(r), size), times_size(r, size)),
            )
        )
        measured_times_size = score(times_size(m, size), times_size(r, size))
    return Evaluation(
        sample=sample,
        measured=score(m, r),
        scaled=ScaledMeasurement(scale, score(m * scale, r)),
        baselines=tuple(baselines),
        measured_times_size=measured_times_size,
        n_resamples=n_resamples,
        seed=seed,
        confidence=confidence,
        n_folds=n_folds,
    )


# --------------------------------------------------------------------------- JSON


def metric_set_to_json(ms: MetricSet) -> dict:
    """Flat numbers (NaN → null) plus ``intervals``: {name: [low, high]}."""
    out: dict = {name: _num(getattr(ms, name).value) for name in METRIC_NAMES}
    out["n"] = ms.n
    out["n_dropped"] = ms.n_dropped
    out["intervals"] = {name: [_num(getattr(ms, name).low), _num(getattr(ms, name).high)] for name in METRIC_NAMES}
    return out


def evaluation_to_json(ev: Evaluation) -> dict:
    """The JSON object printed by ``galaxyscope evaluate --json`` (strict JSON: no NaN)."""
    s = ev.sample
    out = metric_set_to_json(ev.measured)
    out["best_scale"] = {
        "scale": _num(ev.scaled.scale),
        "fitted": True,
        **metric_set_to_json(ev.scaled.metrics),
    }
    out["baselines"] = {CONSTANT: None, SIZE: None, CONSTANT_TIMES_SIZE: None}
    for b in ev.baselines:
        out["baselines"][b.name] = {"description": b.description, **metric_set_to_json(b.metrics)}
    out["measured_times_size"] = metric_set_to_json(ev.measured_times_size) if ev.measured_times_size else None
    out["selection"] = {
        "measured_column": s.measured_column,
        "reference_column": s.reference_column,
        "key": s.key,
        "method": s.method,
        "normalised_by": s.normalised_by,
        "size_column": s.size_column,
        "measured_unit": s.measured_unit,
        "reference_unit": s.reference_unit,
        "measured_rows": s.n_measured_rows,
        "unmatched": s.n_unmatched,
        "matched_by_stem": s.n_matched_by_stem,
        "nonpositive_reference_excluded": s.n_nonpositive_reference,
        "not_finite_dropped": s.n_not_finite,
        "where": s.where,
        "where_excluded": s.n_where_excluded,
    }
    out["bootstrap"] = {
        "resamples": ev.n_resamples,
        "seed": ev.seed,
        "confidence": ev.confidence,
        "interval": "percentile",
    }
    return out


# --------------------------------------------------------------------------- text


def format_evaluation(ev: Evaluation) -> str:
    """A readable table: metrics with intervals, the baselines beneath for comparison."""
    s = ev.sample
    unit = f" [{s.reference_unit}]" if s.reference_unit else ""
    lines = [
        f"measured '{s.measured_column}'" + (f" (method {s.method})" if s.method else "")
        + f" vs reference '{s.reference_column}'{unit}, joined on '{s.key}'"
        + (f" ({s.n_matched_by_stem} by file stem)" if s.n_matched_by_stem else ""),
        f"rows: {s.n_measured_rows} measured, {s.n_unmatched} without a reference row, "
        f"{s.n_nonpositive_reference} with reference <= 0 left out, {s.n_not_finite} not finite dropped "
        f"-> n = {s.n}",
    ]
    if s.where:
        lines.append(f"subset: reference rows with {s.where} ({s.n_where_excluded} matched rows left out); "
                     "the baselines use the same rows")
    if s.normalised_by:
        lines.append(f"both sides divided by '{s.normalised_by}' (what the measurement knows beyond size)")
    if s.measured_unit and s.reference_unit and s.measured_unit != s.reference_unit:
        lines.append(f"note: units differ ({s.measured_unit} vs {s.reference_unit}); see the fitted scale")
    lines.append("")
    header = f"{'':28s}" + "".join(f"{h:>24s}" for h in ("Pearson r", "Spearman rho", "RMSE", "median rel. err.")) + f"{'n':>6s}"
    lines.append(header)
    lines.append(_row("measured", ev.measured))
    lines.append(_row(f"measured × {format_number(ev.scaled.scale)} (fitted)", ev.scaled.metrics))
    for b in ev.baselines:
        if b.name == CONSTANT_TIMES_SIZE:
            continue
        lines.append(_row(f"baseline: {b.name}", b.metrics))
    trap = ev.baseline(CONSTANT_TIMES_SIZE)
    if trap is not None and ev.measured_times_size is not None:
        lines.append(f"both sides × '{s.size_column}' (the paper's trap: compare the two rows):")
        lines.append(_row("  measured × size", ev.measured_times_size))
        lines.append(_row("  constant × size", trap.metrics))
    lines.append("")
    pct = round(100 * ev.confidence)
    lines.append(
        f"[low, high]: {pct}% percentile bootstrap intervals, {ev.n_resamples} resamples, seed {ev.seed}. "
        "The scale is fitted on these rows (least median relative error), so its row is slightly optimistic."
    )
    for b in ev.baselines:
        lines.append(f"  {b.name}: {b.description}")
    return "\n".join(lines)


def _row(label: str, ms: MetricSet) -> str:
    cells = []
    for name in METRIC_NAMES:
        metric = getattr(ms, name)
        if not metric.defined:
            cells.append(f"{'undefined':>24s}")
        else:
            cells.append(f"{format_number(metric.value) + ' ' + interval_text(metric):>24s}")
    return f"{label[:28]:28s}" + "".join(cells) + f"{ms.n:>6d}"


def interval_text(metric: Metric) -> str:
    """"[low, high]" or "[n/a]" when the bootstrap gave no interval."""
    if not (math.isfinite(metric.low) and math.isfinite(metric.high)):
        return "[n/a]"
    return f"[{format_number(metric.low)}, {format_number(metric.high)}]"


def format_number(x: float) -> str:
    """Three significant figures for tables and titles; "nan" for undefined."""
    if not math.isfinite(x):
        return "nan"
    return f"{x:.3g}" if abs(x) < 1000 else f"{x:.4g}"


def _num(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None
