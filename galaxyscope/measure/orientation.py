"""A bar's position angle on the sky: east of north, as astronomers quote it.

Why: the measurement's ``pa_deg`` is measured in the image, from the +x (column) axis
towards +y (row); that is only comparable between images with the same orientation.
With a celestial WCS the angle on the sky is known (astropy's
`SkyCoord.position_angle`, east of north); without one, the text says "from +x".
"""

from __future__ import annotations

import math
from typing import Any


def sky_position_angle(endpoints: tuple[tuple[float, float], tuple[float, float]] | None,
                       wcs: Any) -> float | None:
    """The bar's PA east of north in degrees, in [0, 180) (a bar has no head), or None.

    ``endpoints`` are core pixel coordinates (x = column, y = row, 0-based at pixel
    centres), which is astropy's ``pixel_to_world`` convention. None without a
    celestial WCS or without end points.
    """
    if endpoints is None or wcs is None or not getattr(wcs, "has_celestial", False):
        return None
    (x1, y1), (x2, y2) = endpoints
    if not all(math.isfinite(v) for v in (x1, y1, x2, y2)) or (x1, y1) == (x2, y2):
        return None
    try:
        a, b = wcs.celestial.pixel_to_world([x1, x2], [y1, y2])
        pa = float(a.position_angle(b).deg) % 180.0
    except Exception:  # a WCS that cannot map these pixels: no sky angle, not a crash
        return None
    return 0.0 if math.isclose(pa, 180.0) else pa


def describe_pa(pa_image_deg: float, pa_sky_deg: float | None) -> str:
    """'PA 35.2° E of N' with a sky angle, else 'PA 35.2° from +x' (the image angle)."""
    if pa_sky_deg is not None and math.isfinite(pa_sky_deg):
        return f"PA {pa_sky_deg:.1f}° E of N"
    return f"PA {pa_image_deg:.1f}° from +x"
