"""Cursor readout and FITS header text (no Qt).

Why: what the status bar says under the cursor (pixel, value, sky position) is
easy to get subtly wrong (half-pixel offsets, row/column swaps); as plain
functions it is tested directly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Readout:
    """What lies under the cursor.

    x, y: 0-based pixel indices (column, row), as the core and astropy count; the
    text shows them 1-based, as DS9 and FITS (CRPIX) do, and says so.
    values: one per band; ra/dec in degrees when the image has a celestial WCS.
    """

    x: int
    y: int
    values: tuple[float, ...]
    ra_deg: float | None = None
    dec_deg: float | None = None
    saliency: float | None = None

    def text(self) -> str:
        vals = ", ".join(_num(v) for v in self.values)
        out = f"x={self.x + 1}  y={self.y + 1} (1-based, as DS9)  value={vals if len(self.values) == 1 else '(' + vals + ')'}"
        if self.saliency is not None:
            out += f"  saliency={self.saliency:.3f}"
        if self.ra_deg is not None and self.dec_deg is not None:
            out += f"  RA={format_ra(self.ra_deg)}  Dec={format_dec(self.dec_deg)}" \
                   f"  ({self.ra_deg:.6f}°, {self.dec_deg:+.6f}°)"
        return out


def _num(v: float) -> str:
    if not math.isfinite(v):
        return str(v)
    return f"{v:.4g}"


def pixel_under(scene_x: float, scene_y: float, height: int, width: int) -> tuple[int, int] | None:
    """(x, y) pixel indices under a scene position (ImageItem: pixel (0, 0) spans [0, 1)), or None outside."""
    if not (math.isfinite(scene_x) and math.isfinite(scene_y)):
        return None
    x, y = int(math.floor(scene_x)), int(math.floor(scene_y))
    if 0 <= x < width and 0 <= y < height:
        return x, y
    return None


def readout_at(pixels: np.ndarray, scene_x: float, scene_y: float, wcs: Any = None,
               saliency: np.ndarray | None = None) -> Readout | None:
    """The readout for the pixel under a scene position; None outside the image.

    The sky position is that of the pixel's centre (astropy's pixel_to_world uses
    0-based indices with the origin at a pixel centre, as the core does).
    """
    px = np.asarray(pixels)
    h, w = px.shape[:2]
    hit = pixel_under(scene_x, scene_y, h, w)
    if hit is None:
        return None
    x, y = hit
    vals = px[y, x]
    values = tuple(float(v) for v in np.atleast_1d(vals))
    ra = dec = None
    if wcs is not None:
        try:
            world = wcs.celestial.pixel_to_world(x, y)
            ra, dec = float(world.icrs.ra.deg), float(world.icrs.dec.deg)
        except Exception:  # a WCS that cannot map this pixel: show no sky position
            ra = dec = None
    sal = None
    if saliency is not None and saliency.shape[:2] == (h, w):
        sal = float(saliency[y, x])
    return Readout(x, y, values, ra, dec, sal)


def format_ra(ra_deg: float) -> str:
    """RA in hours, minutes, seconds ("12h30m49.42s") via astropy's Angle."""
    from astropy.coordinates import Angle
    import astropy.units as u

    return Angle(ra_deg, u.deg).to_string(unit=u.hourangle, sep="hms", precision=2, pad=True)


def format_dec(dec_deg: float) -> str:
    """Dec in degrees, arcminutes, arcseconds ("+12d23m28.0s") via astropy's Angle."""
    from astropy.coordinates import Angle
    import astropy.units as u

    return Angle(dec_deg, u.deg).to_string(unit=u.deg, sep="dms", precision=1, alwayssign=True, pad=True)


def header_text(header: Any) -> str:
    """The FITS header as its 80-character cards, one per line; a short note when there is none."""
    if header is None:
        return "(no FITS header: this image is not a FITS file)"
    try:
        cards = [str(card) for card in header.cards]
    except AttributeError:
        return str(header)
    return "\n".join(c.rstrip() for c in cards) if cards else "(empty header)"
