"""The image view: the galaxy with zoom/pan, a histogram for levels, overlays and a cursor readout.

Layout only: pixels are turned into display values by ``display.display_array``
(astropy stretches and intervals) and the readout by ``readout.readout_at``.
"""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Signal
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from galaxyscope.gui.display import DisplaySettings, IMAGE_COLORMAPS, display_array
from galaxyscope.gui.overlays import OverlayLayer
from galaxyscope.gui.readout import Readout, readout_at

#: the previous image's opacity while the selected one is read
LOADING_OPACITY = 0.3


class ImageView(QWidget):
    """A title line over a pyqtgraph view (image + overlays) and a HistogramLUT for the levels.

    cursor_moved(Readout or None) fires as the mouse moves over the image.
    """

    cursor_moved = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel("no image")
        self.title.setTextFormat(pg.QtCore.Qt.TextFormat.RichText)
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.glw = pg.GraphicsLayoutWidget()
        self.view = pg.ViewBox(lockAspect=True, invertY=True, enableMenu=True)
        self.view.setBackgroundColor((20, 20, 24))
        self.glw.addItem(self.view, row=0, col=0)
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.view.addItem(self.image_item)
        self.hist = pg.HistogramLUTItem(image=self.image_item, levelMode="mono")
        self.glw.addItem(self.hist, row=0, col=1)
        self.overlays = OverlayLayer(self.view)
        self.message = pg.TextItem("open a folder of galaxy images: File > Open folder… (Ctrl+O)",
                                   color=(255, 190, 190), anchor=(0.5, 0.5))
        self.view.addItem(self.message, ignoreBounds=True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.title)
        layout.addWidget(self.glw, 1)
        self.pixels: np.ndarray | None = None
        self.wcs: Any = None
        self.display: np.ndarray | None = None
        self.settings = DisplaySettings()
        self.cmap = "grey"
        self._shape: tuple[int, int] | None = None
        self.last_readout: Readout | None = None
        self.glw.scene().sigMouseMoved.connect(self._mouse_moved)

    # ------------------------------------------------------------------ content

    def set_image(self, pixels: np.ndarray, wcs: Any = None, settings: DisplaySettings | None = None,
                  cmap: str | None = None, focus: tuple[int, int, int, int] | None = None) -> None:
        """Show HxWxC pixels. When the image size changes the view shows ``focus``
        ((row0, row1, col0, col1), e.g. the region the model saw) or the whole image;
        otherwise zoom and pan are kept, so neighbouring images compare at one scale."""
        self.pixels = np.asarray(pixels)
        self.wcs = wcs
        self.message.setText("")
        self.image_item.setOpacity(1.0)
        if settings is not None:
            self.settings = settings
        if cmap is not None:
            self.cmap = cmap
        self.redisplay()
        shape = self.pixels.shape[:2]
        if shape != self._shape:
            self._shape = shape
            if focus is not None:
                self.zoom_to(focus)
            else:
                self.fit()

    def redisplay(self) -> None:
        """Recompute display values after a stretch/interval/channel change; levels reset to the full range."""
        if self.pixels is None:
            return
        self.display = display_array(self.pixels, self.settings)
        self.image_item.setImage(self.display, autoLevels=False, levels=(0.0, 1.0))
        self.hist.setHistogramRange(0.0, 1.0)
        self.hist.setLevels(0.0, 1.0)
        self.set_colormap(self.cmap)

    def set_display(self, settings: DisplaySettings, cmap: str) -> None:
        self.settings = settings
        self.cmap = cmap
        self.redisplay()

    def set_colormap(self, name: str) -> None:
        """Colour map for one-band display (RGB images keep their colours)."""
        self.cmap = name
        pg_name = IMAGE_COLORMAPS.get(name, name)
        try:
            cmap = pg.colormap.get(pg_name)
        except (FileNotFoundError, KeyError, ValueError):
            cmap = pg.colormap.get(IMAGE_COLORMAPS["grey"])
        self.hist.gradient.setColorMap(cmap)
        if self.display is not None and self.display.ndim == 3:
            self.image_item.setLookupTable(None)

    def show_loading(self, name: str) -> None:
        """Another image is being read: name it in the title at once and dim the one still shown,
        so the view never passes off the previous galaxy as the one selected in the browser."""
        self.title.setText(f"<b>{html.escape(name)}</b> · <i>loading…</i>")
        self.image_item.setOpacity(LOADING_OPACITY)

    def show_message(self, text: str) -> None:
        """Clear the image and show ``text`` (e.g. why a file could not be read) in its place."""
        self.image_item.setOpacity(1.0)
        self.pixels = None
        self.display = None
        self.image_item.clear()
        self.overlays.clear()
        self.message.setText(text)
        self.message.setPos(0.5 * (self._shape[1] if self._shape else 1), 0.5 * (self._shape[0] if self._shape else 1))

    def clear(self) -> None:
        self.pixels = None
        self.display = None
        self.image_item.clear()
        self.overlays.clear()
        self.title.setText("no image")

    # ------------------------------------------------------------------ view

    def fit(self) -> None:
        """Fit the whole image in the view (small margin)."""
        if self._shape is None:
            return
        h, w = self._shape
        self.view.setRange(QRectF(0, 0, w, h), padding=0.02)

    def zoom_to(self, box: tuple[int, int, int, int]) -> None:
        """Show the pixel box (row0, row1, col0, col1), with a small margin."""
        r0, r1, c0, c1 = box
        self.view.setRange(QRectF(c0, r0, c1 - c0, r1 - r0), padding=0.03)

    def levels(self) -> tuple[float, float]:
        lo, hi = self.hist.getLevels()
        return float(lo), float(hi)

    def _mouse_moved(self, pos: QPointF) -> None:
        if self.pixels is None or not self.view.sceneBoundingRect().contains(pos):
            self.last_readout = None
            self.cursor_moved.emit(None)
            return
        p = self.view.mapSceneToView(pos)
        self.last_readout = self.readout_at(p.x(), p.y())
        self.cursor_moved.emit(self.last_readout)

    def readout_at(self, x: float, y: float) -> Readout | None:
        """The readout at view coordinates (x, y); used by the mouse handler and tests. Drawing blind, it
        leaves the saliency out (its value under the cursor would show where the machine looks)."""
        if self.pixels is None:
            return None
        saliency = None if self.overlays.blind else self.overlays.saliency_map
        return readout_at(self.pixels, x, y, self.wcs, saliency)
