"""Published reference lengths on the image: a dashed circle per reference, labelled with its source.

Why a circle: a Hoyle et al. (2011) row (or a generic import) gives a bar length, often with
its spread, but no end points and no angle. A line would invent an orientation the source
never gave, and an annotator would copy it; a circle of diameter = the reference length,
centred on the galaxy, shows the size alone. The galaxy's centre is where its catalogue
position falls through the image's WCS when both are known, else the image centre
(cutouts are centred on their target, as `images.extent` and `bias.masks` assume).

Matching is by objid (the image's catalogue row, else its record in the annotation database);
lengths become this image's pixels with `galaxyscope.measure.units.to_pixels`, as in the
vetting table. Blind annotation hides the layer like the machine's line (`AnnotateState.blind`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import astropy.units as u
import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt

from galaxyscope.gui.annotate_logic import REFERENCE_COLOUR, image_to_scene
from galaxyscope.images.identity import identity_of
from galaxyscope.measure.units import to_pixels
from galaxyscope.store import ImageRecord
from galaxyscope.store.records import ReferenceRecord

Z_REFERENCE = 44  # under others' lines (45): a reference is context, not a line to copy

#: source ids as imported -> how a label names them
SOURCE_NAMES = {"hoyle2011": "Hoyle 2011"}


@dataclass(frozen=True)
class ReferenceMark:
    """One reference to draw: its source, length (and spread) in image pixels, and centre (core pixels)."""

    source: str
    length_px: float
    err_px: float | None
    centre: tuple[float, float]

    @property
    def text(self) -> str:
        """E.g. "Hoyle 2011: 38 px ± 6"."""
        name = SOURCE_NAMES.get(self.source, self.source or "reference")
        err = f" ± {self.err_px:.0f}" if self.err_px is not None and math.isfinite(self.err_px) else ""
        return f"{name}: {self.length_px:.0f} px{err}"


def galaxy_centre(image: Any, ref: ReferenceRecord | None = None) -> tuple[float, float]:
    """(x, y) in core pixels: the reference's RA/Dec through the image's WCS when that lands on the
    image, else the image centre."""
    h, w = int(image.height), int(image.width)
    centre = ((w - 1) / 2.0, (h - 1) / 2.0)
    wcs = getattr(image, "wcs", None)
    if wcs is None or ref is None or ref.ra_deg is None or ref.dec_deg is None:
        return centre
    try:
        x, y = wcs.celestial.world_to_pixel_values(ref.ra_deg, ref.dec_deg)
        x, y = float(np.ravel(x)[0]), float(np.ravel(y)[0])
    except Exception:  # noqa: BLE001 (a WCS astropy parses but cannot evaluate: use the centre)
        return centre
    if math.isfinite(x) and math.isfinite(y) and 0 <= x <= w - 1 and 0 <= y <= h - 1:
        return x, y
    return centre


def reference_marks(references: Iterable[ReferenceRecord], image: Any,
                    record: ImageRecord | None = None) -> list[ReferenceMark]:
    """The references of ``image``'s galaxy that convert to its pixels. Objid, pixel scale and redshift
    come from the image's catalogue row, else from its database ``record``."""
    ident = identity_of(image)
    objid = ident.objid if ident.objid is not None else (record.objid if record is not None else None)
    scale = ident.pixel_scale if ident.pixel_scale is not None else getattr(record, "pixel_scale", None)
    z = ident.redshift if ident.redshift is not None else getattr(record, "redshift", None)
    if objid is None:
        return []
    out = []
    for ref in references:
        if str(ref.objid) != str(objid):
            continue
        px = to_pixels(ref.length, scale, z)
        if px is None or not px.value > 0:
            continue
        err = to_pixels(ref.length_err, scale, z)
        out.append(ReferenceMark(ref.source, float(px.to_value(u.pix)),
                                 None if err is None else float(err.to_value(u.pix)), galaxy_centre(image, ref)))
    return out


def marks_for_image(store: Any, image: Any, record: ImageRecord | None) -> list[ReferenceMark]:
    """The references ``store`` holds for ``image``'s galaxy, ready to draw (none without an objid)."""
    objid = identity_of(image).objid
    if objid is None and record is not None:
        objid = record.objid
    return [] if objid is None else reference_marks(store.references(objid=objid), image, record)


def circle_xy(centre: tuple[float, float], diameter: float, n: int = 97) -> tuple[np.ndarray, np.ndarray]:
    """A closed circle in the view's coordinates (half a pixel from core pixels)."""
    cx, cy = image_to_scene(*centre)
    t = np.linspace(0.0, 2.0 * math.pi, n)
    return cx + 0.5 * diameter * np.cos(t), cy + 0.5 * diameter * np.sin(t)


class ReferenceItems:
    """The items of one reference: a dashed circle over a dark shadow, and its label."""

    def __init__(self, mark: ReferenceMark) -> None:
        self.mark = mark
        xy = circle_xy(mark.centre, mark.length_px)
        self.shadow = pg.PlotCurveItem(*xy, pen=pg.mkPen((0, 0, 0, 180), width=3.5))
        self.circle = pg.PlotCurveItem(*xy, pen=pg.mkPen(REFERENCE_COLOUR, width=2, style=Qt.PenStyle.DashLine))
        self.shadow.setZValue(Z_REFERENCE - 0.5)
        self.circle.setZValue(Z_REFERENCE)

    @property
    def lines(self) -> Sequence[Any]:
        return (self.shadow, self.circle)

    def label_pos(self) -> tuple[float, float]:
        """Under the circle's lowest point (away from the line ends human labels sit beside)."""
        cx, cy = image_to_scene(*self.mark.centre)
        return cx - 0.35 * self.mark.length_px, cy + 0.5 * self.mark.length_px

    def diameter_px(self) -> float:
        """The circle's drawn diameter in image pixels (for tests: what is on screen, not what was asked)."""
        x, _y = self.circle.getData()
        return float(np.max(x) - np.min(x)) if x is not None and len(x) else math.nan
