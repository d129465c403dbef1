"""Bar measurement from a saliency map (no Qt).

``measure_bar(saliency, "paper" | "moments")`` returns a ``BarMeasurement`` in map
pixels; ``BarMeasurement.with_units(pixel_scale, redshift)`` gives astropy Quantities.
"paper" is Bhambra, Joachimi & Lahav (2022)'s threshold sweep; "moments" is our
rotation-free, blurred, weighted-ellipse fit.  ``PaperParams`` / ``MomentsParams`` hold
the parameters with slider ranges (``param_specs``); ``mask_at_threshold`` draws masks.
"""

from __future__ import annotations

import importlib
from typing import Any

# public name -> submodule, imported on first use (PEP 562) so that ``galaxyscope --help``,
# which imports this package's command module, does not pay for SciPy and astropy.units
_WHERE = {
    "BAR_METHODS": "api",
    "METHOD_ALIASES": "api",
    "METHOD_PARAMS": "api",
    "METHODS": "api",
    "measure_bar": "api",
    "measure_moments": "api",
    "measure_paper": "api",
    "resolve_method": "api",
    "farthest_pair": "geometry",
    "farthest_pair_in_mask": "geometry",
    "position_angle": "geometry",
    "MeasureError": "maps",
    "mask_at_threshold": "maps",
    "PaperSweep": "paper",
    "paper_sweep": "paper",
    "MomentsParams": "params",
    "PaperParams": "params",
    "ParamSpec": "params",
    "param_specs": "params",
    "MinPixels": "resolution",
    "crop_box": "resolution",
    "scaled_min_pixels": "resolution",
    "FLAG_DESCRIPTIONS": "result",
    "BarMeasurement": "result",
    "MeasureDiagnostics": "result",
    "BarLengths": "units",
    "kpc_per_arcsec": "units",
    "to_units": "units",
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
