"""Bar measurement from a saliency map (no Qt).

``measure_bar(saliency, "paper" | "moments")`` returns a ``BarMeasurement`` in map
pixels; ``BarMeasurement.with_units(pixel_scale, redshift)`` gives astropy Quantities.
"paper" is Bhambra, Joachimi & Lahav (2022)'s threshold sweep; "moments" is our
rotation-free, blurred, weighted-ellipse fit.  ``PaperParams`` / ``MomentsParams`` hold
the parameters with slider ranges (``param_specs``); ``mask_at_threshold`` draws masks.
"""

from galaxyscope.measure.api import (BAR_METHODS, METHOD_ALIASES, METHOD_PARAMS, METHODS, measure_bar,
                                     measure_moments, measure_paper, resolve_method)
from galaxyscope.measure.geometry import farthest_pair, farthest_pair_in_mask, position_angle
from galaxyscope.measure.maps import MeasureError, mask_at_threshold
from galaxyscope.measure.paper import PaperSweep, paper_sweep
from galaxyscope.measure.params import MomentsParams, PaperParams, ParamSpec, param_specs
from galaxyscope.measure.resolution import MinPixels, crop_box, scaled_min_pixels
from galaxyscope.measure.result import FLAG_DESCRIPTIONS, BarMeasurement, MeasureDiagnostics
from galaxyscope.measure.units import BarLengths, kpc_per_arcsec, to_units

__all__ = [
    "BAR_METHODS", "METHODS", "METHOD_ALIASES", "METHOD_PARAMS", "measure_bar", "measure_paper", "measure_moments",
    "resolve_method", "farthest_pair", "farthest_pair_in_mask", "position_angle", "MeasureError",
    "mask_at_threshold", "PaperSweep", "paper_sweep", "MomentsParams", "PaperParams", "ParamSpec",
    "param_specs", "MinPixels", "crop_box", "scaled_min_pixels", "FLAG_DESCRIPTIONS",
    "BarMeasurement", "MeasureDiagnostics", "BarLengths", "kpc_per_arcsec", "to_units",
]
