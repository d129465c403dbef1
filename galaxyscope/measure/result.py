"""`BarMeasurement`: what both bar methods return, plus readable quality flags.

Lengths are in pixels of the saliency map's grid (the original image); call
``with_units`` to get astropy Quantities (pix, arcsec, kpc) for anything that
leaves the core.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import astropy.units as u
import numpy as np

from galaxyscope.measure.units import BarLengths, to_units

NO_SIGNAL = "no_signal"
TOO_FEW_PIXELS = "too_few_pixels"
NOT_ELONGATED = "not_elongated"
TOUCHES_CROP_EDGE = "touches_crop_edge"
OFF_CENTRE = "off_centre"
FRAGMENTED = "fragmented"
NOT_NORMALISED = "not_normalised"
# set after measuring, by galaxyscope.measure.trust (and the isophote method)
NO_BAR = "no_bar"
METHODS_DISAGREE = "methods_disagree"
OUT_OF_DOMAIN = "out_of_domain"
#: saliency and isophote lengths disagree when one is more than this factor times the other
DISAGREE_FACTOR = 1.5

FLAG_DESCRIPTIONS: dict[str, str] = {
    NO_SIGNAL: "the map is empty, constant or not finite: nothing to measure",
    TOO_FEW_PIXELS: "fewer pixels than the minimum at the measuring threshold",
    NOT_ELONGATED: "the pixels do not look like a bar (paper: the |Pearson| line test never "
                   "fired; moments: 1 - l2/l1 below min_elongation)",
    TOUCHES_CROP_EDGE: "the mask reaches the edge of the region the model saw",
    OFF_CENTRE: "the measured blob lies far from the galaxy centre",
    FRAGMENTED: "the measured pixels form several separate pieces",
    NOT_NORMALISED: "map values outside [0, 1]: thresholds lose their meaning",
    NO_BAR: "the model's P(bar) is below the threshold: no bar is reported (length NaN)",
    METHODS_DISAGREE: f"the saliency length and the isophote length differ by more than a factor "
                      f"{DISAGREE_FACTOR:g}, or the isophotes show no bar",
    "isophote_failed": "ellipse fitting failed (no source, no isophote converged, or photutils "
                       "raised): nothing was measured",
    "no_bar_isophote": "the isophotes were fitted but show no bar signature (no ellipticity peak "
                       "followed by an ellipticity drop or a PA turn)",
    OUT_OF_DOMAIN: "the image is unlike the model's training images (colour, framing): "
                   "its P(bar) and saliency are not to be trusted",
}


@dataclass(frozen=True)
class MeasureDiagnostics:
    """How a measurement came about (for the GUI's info panel and for debugging).

    stop_reason: "correlation" / "elongation" (the stop rule fired), "min_pixels"
        (too few pixels remained), "not_elongated" (sweep ended without firing),
        "fixed", "start_too_small", "no_signal".
    pearson_r: |Pearson(row, col)| of the measured pixels (the paper's statistic).
    length_raw_px: length before the optional calibration.
    err_threshold_px / err_seeds_px: the two parts of length_err_px (NaN if not estimated).
    min_pixels_model: the minimum pixel count expressed on the model's input grid.
    blur_sigma_px: the blur actually applied, in map pixels (0 for "paper").
    peak_radius_px: thresholds are fractions of the blurred peak within this distance
        of the centre ("moments"; None for "paper").
    crop_box: (row0, row1, col0, col1) of the region the model saw.
    """

    stop_reason: str = ""
    pearson_r: float = math.nan
    length_raw_px: float = math.nan
    err_threshold_px: float = math.nan
    err_seeds_px: float = math.nan
    n_maps: int = 1
    min_pixels_model: float | None = None
    blur_sigma_px: float = 0.0
    peak_radius_px: float | None = None
    crop_box: tuple[int, int, int, int] = (0, 0, 0, 0)


@dataclass(frozen=True)
class BarMeasurement:
    """One bar measured on one saliency map.

    endpoints: ((x1, y1), (x2, y2)) in map pixels (x = column, y = row, origin at
        the centre of the top-left pixel), x1 <= x2; None when nothing was measured.
    pa_deg: degrees(atan2(y2 - y1, x2 - x1)) mod 180.
    mask: bool HxW, the pixels the length was measured on.
    threshold: the threshold the mask was taken at (on the raw map for "paper", as a
        fraction of the blurred map's peak for "moments").
    elongation: 1 - lambda2/lambda1 of the mask's pixel covariance.
    params: the parameter dataclass used (min_pixels resolved to a number).
    notes: readable reasons for this image's flags (e.g. "no bar detected (P = 0.18 <
        0.60)"), shown in the GUI and written to the tables beside ``flags``.
    """

    length_px: float
    width_px: float
    pa_deg: float
    endpoints: tuple[tuple[float, float], tuple[float, float]] | None
    mask: np.ndarray = field(repr=False, compare=False)
    threshold: float = math.nan
    method: str = ""
    flags: tuple[str, ...] = ()
    length_err_px: float = math.nan
    n_pixels: int = 0
    elongation: float = math.nan
    params: Any = None
    center: tuple[float, float] = (math.nan, math.nan)
    diagnostics: MeasureDiagnostics = field(default_factory=MeasureDiagnostics)
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when a length was measured (it may still carry quality flags)."""
        return math.isfinite(self.length_px)

    @property
    def length(self) -> u.Quantity:
        """The length as a Quantity in pixels."""
        return self.length_px * u.pix

    def with_units(self, pixel_scale: u.Quantity | None, redshift: float | None,
                   cosmology=None) -> BarLengths:
        """Length, width and uncertainty as Quantities: pix, arcsec (needs the pixel scale)
        and proper kpc (needs a redshift too; astropy.cosmology.Planck18 by default).
        None where unknown."""
        return to_units(self.length_px, self.width_px, self.length_err_px,
                        pixel_scale, redshift, cosmology)
