"""What is drawn over the galaxy: saliency, the model's crop, the threshold mask, the bar.

Why one object: the window toggles, restyles and clears these together, and the
z-order (saliency under outlines under the bar under its label) is fixed here.
Shapes come from overlay_geometry (which owns the half-pixel shift).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt

from galaxyscope.gui.display import overlay_scale, saliency_rgba
from galaxyscope.gui.overlay_geometry import (
    bar_line_xy,
    clamp_to_image,
    crop_box_xy,
    label_alignment,
    label_anchor,
    mask_outline_xy,
    width_box_xy,
)

OVERLAYS: tuple[str, ...] = ("saliency", "mask", "bar", "width", "label")

BAR_COLOUR = (0, 230, 255)        # cyan: stands out on yellow-white galaxies and on inferno saliency
FLAGGED_COLOUR = (255, 150, 40)   # orange: a measurement with quality flags (not to be trusted blindly)
MASK_COLOUR = (120, 255, 90)      # green outline over a black edge: readable on dark sky and pale saliency
CROP_COLOUR = (255, 255, 255, 110)


def colormap_lut(name: str, n: int = 256) -> np.ndarray:
    """n x 3 uint8 colours of a pyqtgraph colour map name."""
    cmap = pg.colormap.get(name)
    return np.asarray(cmap.getLookupTable(0.0, 1.0, n, alpha=False), dtype=np.uint8)[:, :3]


class OverlayLayer:
    """The overlay items inside one ViewBox, each switchable by name (OVERLAYS)."""

    def __init__(self, view: pg.ViewBox) -> None:
        self.view = view
        self.visible: dict[str, bool] = {name: True for name in OVERLAYS}
        self.blind = False
        self.saliency_item = pg.ImageItem(axisOrder="row-major")
        self.saliency_item.setZValue(10)
        self.crop_item = pg.PlotCurveItem(pen=pg.mkPen(CROP_COLOUR, width=1, style=Qt.PenStyle.DotLine))
        self.crop_item.setZValue(12)
        self.mask_shadow = pg.PlotCurveItem(pen=pg.mkPen((0, 0, 0, 200), width=3.5), connect="finite")
        self.mask_shadow.setZValue(19)
        self.mask_item = pg.PlotCurveItem(pen=pg.mkPen(MASK_COLOUR, width=1.5), connect="finite")
        self.mask_item.setZValue(20)
        self.width_item = pg.PlotCurveItem(pen=pg.mkPen(BAR_COLOUR, width=1.5, style=Qt.PenStyle.DashLine))
        self.width_item.setZValue(25)
        self.bar_shadow = pg.PlotCurveItem(pen=pg.mkPen((0, 0, 0, 200), width=5))
        self.bar_shadow.setZValue(29)
        self.bar_item = pg.PlotDataItem(pen=pg.mkPen(BAR_COLOUR, width=2.5), symbol="o", symbolSize=10,
                                        symbolBrush=pg.mkBrush(BAR_COLOUR), symbolPen=pg.mkPen("k", width=1.5))
        self.bar_item.setZValue(30)
        self.label_item = pg.TextItem("", color=(255, 255, 255), anchor=(0.5, 1.0),
                                      fill=pg.mkBrush(0, 0, 0, 170), border=pg.mkPen(BAR_COLOUR, width=1))
        self.label_item.setZValue(40)
        for item in (self.saliency_item, self.crop_item, self.mask_shadow, self.mask_item, self.width_item,
                     self.bar_shadow, self.bar_item, self.label_item):
            view.addItem(item, ignoreBounds=True)
        self.saliency_map: np.ndarray | None = None
        self.saliency_scale = 1.0
        self.measurement: Any = None
        self.label_text = ""
        self.flagged = False
        self._apply_visibility()
        self.clear()

    # ------------------------------------------------------------------ content

    def set_saliency(self, saliency: np.ndarray | None, cmap: str = "inferno", opacity: float = 0.4,
                     crop_box: tuple[int, int, int, int] | None = None) -> None:
        """Show a [0, 1] saliency map (None clears it) and the box the model saw."""
        self.saliency_map = saliency
        if saliency is None:
            self.saliency_item.clear()
            self.crop_item.setData([], [])
            return
        self.saliency_scale = overlay_scale(saliency)
        rgba = saliency_rgba(saliency, colormap_lut(cmap), opacity, scale=self.saliency_scale)
        self.saliency_item.setImage(rgba, autoLevels=False, levels=(0, 255))
        if crop_box is not None:
            self.crop_item.setData(*crop_box_xy(crop_box))
        else:
            self.crop_item.setData([], [])

    def set_bar(self, measurement: Any, label: str = "", flagged: bool = False,
                label_pos: tuple[float, float] | None = None) -> None:
        """Draw a BarMeasurement (line with endpoints, width box, mask outline, label); None clears.

        ``flagged`` draws it in orange instead of cyan: the core raised quality flags.
        A measurement without end points (no bar reported) shows only ``label`` at ``label_pos``.
        """
        self.measurement = measurement
        self.label_text = label
        self.flagged = bool(flagged)
        colour = FLAGGED_COLOUR if flagged else BAR_COLOUR
        self.bar_item.setPen(pg.mkPen(colour, width=2.5))
        self.bar_item.setSymbolBrush(pg.mkBrush(colour))
        self.width_item.setPen(pg.mkPen(colour, width=1.5, style=Qt.PenStyle.DashLine))
        self.label_item.border = pg.mkPen(colour, width=1)
        line = bar_line_xy(measurement.endpoints) if measurement is not None else None
        if line is None:
            self.bar_item.setData([], [])
            self.bar_shadow.setData([], [])
            self.width_item.setData([], [])
            self.label_item.setText(label if label_pos is not None else "")
            if label_pos is not None:
                self.label_item.setAnchor((0.5, 1.0))
                self.label_item.setPos(*label_pos)
        else:
            self.bar_item.setData(*line)
            self.bar_shadow.setData(*line)
            box = width_box_xy(measurement.endpoints, measurement.width_px)
            self.width_item.setData(*(box if box is not None else ([], [])))
            anchor = label_anchor(measurement.endpoints)
            self.label_item.setText(label)
            if anchor is not None:
                shape = getattr(getattr(measurement, "mask", None), "shape", None)
                anchor = clamp_to_image(anchor, shape)
                self.label_item.setAnchor(label_alignment(anchor, shape))
                self.label_item.setPos(*anchor)
        self._apply_visibility()
        outline = mask_outline_xy(measurement.mask) if measurement is not None else None
        self.mask_item.setData(*(outline if outline is not None else ([], [])))
        self.mask_shadow.setData(*(outline if outline is not None else ([], [])))

    def clear(self) -> None:
        self.set_saliency(None)
        self.set_bar(None)

    # ------------------------------------------------------------------ visibility

    def set_visible(self, name: str, visible: bool) -> None:
        if name not in self.visible:
            raise KeyError(f"unknown overlay {name!r}; choose from {OVERLAYS}")
        self.visible[name] = bool(visible)
        self._apply_visibility()

    def set_blind(self, blind: bool) -> None:
        """Hide every overlay whatever its switch says (annotate mode before the annotator saved),
        without touching the switches: clearing it shows them exactly as they were."""
        self.blind = bool(blind)
        self._apply_visibility()

    def items_for(self, name: str) -> tuple[Any, ...]:
        return {
            "saliency": (self.saliency_item, self.crop_item),
            "mask": (self.mask_item, self.mask_shadow),
            "bar": (self.bar_item, self.bar_shadow),
            "width": (self.width_item,),
            "label": (self.label_item,),
        }[name]

    def is_shown(self, name: str) -> bool:
        """True when the overlay is switched on and has something to draw."""
        return self.visible[name] and any(i.isVisible() for i in self.items_for(name))

    def _apply_visibility(self) -> None:
        for name in OVERLAYS:
            # the width box and the length label belong to the bar: hiding the bar (B) hides them
            shown = not self.blind and self.visible[name] and (name not in ("width", "label") or self.visible["bar"])
            for item in self.items_for(name):
                item.setVisible(shown)
        if not self.label_text or not self.label_item.toPlainText():  # an empty label would draw its frame
            self.label_item.setVisible(False)
