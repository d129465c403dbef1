"""Scatter plot of measured against reference values, written as a PNG.

Why: one look at the scatter shows what r hides (a few outliers, a floor, a
size-driven cloud). Drawn on a bare ``matplotlib.figure.Figure`` with the Agg
canvas, so it needs no display and never touches pyplot's global state or a
Qt backend.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from galaxyscope.errors import GalaxyscopeError
from galaxyscope.evaluate.evaluation import CONSTANT, SIZE, Evaluation, interval_text, format_number


def default_plot_path(measured_path: str | Path) -> Path:
    """``RESULTS.ecsv`` → ``RESULTS_eval.png`` beside it."""
    p = Path(measured_path)
    return p.with_name(f"{p.stem}_eval.png")


def plot_evaluation(ev: Evaluation, path: str | Path) -> Path:
    """Write the measured-vs-reference scatter with the 1:1 line and the fitted scale."""
    s = ev.sample
    x, y = s.reference, s.measured
    fig = Figure(figsize=(6.4, 6.0), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.scatter(x, y, s=12, alpha=0.6, edgecolors="none", label=f"galaxies (n = {s.n})")
    finite = np.concatenate([x, y])
    finite = finite[np.isfinite(finite)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if hi <= lo:
        lo, hi = lo - 1.0, hi + 1.0
    pad = 0.05 * (hi - lo)
    line = np.array([min(lo - pad, 0.0 if lo >= 0 else lo - pad), hi + pad])
    ax.plot(line, line, "k--", lw=1, label="1:1")
    scale = ev.scaled.scale
    if math.isfinite(scale) and scale > 0:
        ax.plot(line, line / scale, "C1-", lw=1.2, label=f"fitted scale: reference = {format_number(scale)} × measured")
    ax.set_xlim(line[0], line[1])
    ax.set_ylim(line[0], line[1])
    ax.set_aspect("equal")
    suffix = f" / {s.normalised_by}" if s.normalised_by else (f" [{s.reference_unit}]" if s.reference_unit else "")
    msuffix = f" / {s.normalised_by}" if s.normalised_by else (f" [{s.measured_unit}]" if s.measured_unit else "")
    ax.set_xlabel(f"reference {s.reference_column}{suffix}")
    ax.set_ylabel(f"measured {s.measured_column}{msuffix}" + (f" ({s.method})" if s.method else ""))
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    ax.set_title(_title(ev), fontsize=8)
    fig.tight_layout()
    out = Path(path)
    try:
        fig.savefig(out, format="png")
    except OSError as exc:
        raise GalaxyscopeError(f"{out}: cannot write the plot ({exc.strerror or exc})") from exc
    return out


def _title(ev: Evaluation) -> str:
    m = ev.measured

    def mt(metric) -> str:
        return f"{format_number(metric.value)} {interval_text(metric)}" if metric.defined else "undefined"

    lines = [
        f"r = {mt(m.pearson_r)}   ρ = {mt(m.spearman_rho)}   n = {m.n}",
        f"RMSE = {mt(m.rmse)}   median rel. err. = {mt(m.median_rel_err)}",
        f"scaled ×{format_number(ev.scaled.scale)} (fitted): median rel. err. = {mt(ev.scaled.metrics.median_rel_err)}",
    ]
    const = ev.baseline(CONSTANT)
    size = ev.baseline(SIZE)
    base = []
    if const is not None:
        base.append(f"constant: RMSE {format_number(const.metrics.rmse.value)}")
    if size is not None:
        base.append(f"size: r {format_number(size.metrics.pearson_r.value)}, RMSE {format_number(size.metrics.rmse.value)}")
    if base:
        lines.append("baselines — " + "; ".join(base))
    return "\n".join(lines)
