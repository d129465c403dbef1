"""The isophote layer: fitted ellipses over the image and ellipticity / PA profiles.

Why: the isophote length is the training-free check on the saliency length; an
astronomer judges it from the profiles (the ellipticity peak, the PA twist), so the
window shows them with the chosen radius marked, not just a number.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

ELLIPSE_PEN = (120, 220, 120, 150)
BAR_PEN = (255, 210, 60)


def ellipse_xy(x0: float, y0: float, sma: float, eps: float, pa_deg: float, n: int = 72) -> tuple[np.ndarray, np.ndarray]:
    """Outline of one isophote in image pixels (x = column, y = row, PA from +x towards +y)."""
    t = np.linspace(0, 2 * np.pi, n)
    a, b = sma, sma * (1 - eps)
    th = math.radians(pa_deg)
    x = x0 + a * np.cos(t) * math.cos(th) - b * np.sin(t) * math.sin(th)
    y = y0 + a * np.cos(t) * math.sin(th) + b * np.sin(t) * math.cos(th)
    return x, y


def isophote_outlines(fit: Any, every: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Every ``every``-th isophote as one NaN-separated curve (one plot item draws them all)."""
    prof = fit.profile
    if prof is None or len(prof) == 0:
        return np.array([]), np.array([])
    xs, ys = [], []
    for i in range(0, len(prof), every):
        x, y = ellipse_xy(prof.x0[i], prof.y0[i], prof.sma_px[i], prof.eps[i], prof.pa_deg[i])
        xs += [x, [np.nan]]
        ys += [y, [np.nan]]
    return np.concatenate(xs), np.concatenate(ys)


class IsophotePanel(QWidget):
    """Button, status line and two small profile plots; ``show_fit`` fills them."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.fit_button = QPushButton("Fit isophotes")
        self.fit_button.setToolTip("ellipse fits to the light (photutils.isophote): the bar length "
                                   "from the ellipticity peak and the PA twist, without the network")
        self.status = QLabel("no isophote fit")
        self.status.setWordWrap(True)
        self.eps_plot = pg.PlotWidget()
        self.pa_plot = pg.PlotWidget()
        for plot, name in ((self.eps_plot, "ellipticity"), (self.pa_plot, "PA (deg)")):
            plot.setLabel("left", name)
            plot.setLabel("bottom", "semi-major axis (px)")
            plot.setMinimumHeight(120)
            plot.getAxis("left").enableAutoSIPrefix(False)  # ellipticity is 0-1, not "x0.001"
        self.eps_curve = self.eps_plot.plot([], [], pen=None, symbol="o", symbolSize=4)
        self.pa_curve = self.pa_plot.plot([], [], pen=None, symbol="o", symbolSize=4)
        self.eps_line = pg.InfiniteLine(angle=90, pen=pg.mkPen(BAR_PEN, width=2))
        self.pa_line = pg.InfiniteLine(angle=90, pen=pg.mkPen(BAR_PEN, width=2))
        self.eps_plot.addItem(self.eps_line)
        self.pa_plot.addItem(self.pa_line)
        top = QHBoxLayout()
        top.addWidget(self.fit_button)
        top.addWidget(self.status, 1)
        plots = QHBoxLayout()
        plots.addWidget(self.eps_plot)
        plots.addWidget(self.pa_plot)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(plots)
        self.clear()

    def clear(self, text: str = "no isophote fit") -> None:
        self.fit = None
        self.status.setText(text)
        self.eps_curve.setData([], [])
        self.pa_curve.setData([], [])
        self.eps_line.setVisible(False)
        self.pa_line.setVisible(False)

    def show_fit(self, fit: Any) -> None:
        self.fit = fit
        prof = fit.profile
        if prof is not None and len(prof):
            self.eps_curve.setData(prof.sma_px, prof.eps)
            self.pa_curve.setData(prof.sma_px, prof.pa_deg)
        m = fit.measurement
        if m.ok:
            self.status.setText(f"isophote bar: {m.length_px:.1f} px tip to tip (a = {fit.bar_sma_px:.1f} px), "
                                f"PA {m.pa_deg:.1f}°, ellipticity {1 - m.width_px / max(m.length_px, 1e-9):.2f}")
            for line in (self.eps_line, self.pa_line):
                line.setValue(fit.bar_sma_px)
                line.setVisible(True)
        else:
            flag = ", ".join(m.flags) or "no bar"
            self.status.setText(f"isophotes: {flag} — {fit.reason}")
            self.eps_line.setVisible(False)
            self.pa_line.setVisible(False)
