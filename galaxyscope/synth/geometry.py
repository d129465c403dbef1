"""The bar as it appears on the image, and the galaxy's R90: the exact truth of a synthetic galaxy.

Why closed forms: the truth must not depend on noise, PSF or a measuring algorithm. A Ferrers
bar's outline is an ellipse in the disc plane; a tilted disc maps it linearly onto the sky, and
the image of an ellipse under a linear map is again an ellipse, whose axes follow from one 2x2
eigen-decomposition.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from galaxyscope.synth.profiles import sky_to_disc_matrix


@dataclass(frozen=True)
class ProjectedBar:
    """The bar's outline on the image (the ellipse where its light falls to zero).

    length_px: end-to-end length of the outline's major axis on the image, 2A. This is the
        length a careful human draws: from tip to tip of the visible bar along its long axis.
        Face-on it equals the intrinsic 2a; inclined it is foreshortened, down to ~2a*cos(i)
        for a bar lying along the disc's minor axis (an end-on bar).
    pa_deg: direction of that axis on the image, degrees(atan2(dy, dx)) mod 180, x = column,
        y = row (row 0 on top).
    axis_ratio: minor / major axis of the outline on the image (B / A), in (0, 1].
    x1, y1, x2, y2: the two ends of the major axis, (x, y) pixel coordinates with the origin
        at the centre of the top-left pixel; x1 <= x2.
    """

    length_px: float
    pa_deg: float
    axis_ratio: float
    x1: float
    y1: float
    x2: float
    y2: float

    @property
    def semi_major_px(self) -> float:
        return self.length_px / 2.0


def projected_bar(
    a: float, b: float, phi_deg: float, disc_pa_deg: float, disc_axis_ratio: float, x0: float, y0: float
) -> ProjectedBar:
    """Outline on the sky of a bar with semi-axes (a, b) at angle ``phi_deg`` in a tilted disc.

    The disc (centre (x0, y0)) has its major axis at ``disc_pa_deg`` on the image and appears
    with ``disc_axis_ratio``; ``phi_deg`` is the bar's angle in the disc plane from that axis.
    """
    to_disc = sky_to_disc_matrix(math.radians(disc_pa_deg), disc_axis_ratio)
    c, s = math.cos(math.radians(phi_deg)), math.sin(math.radians(phi_deg))
    to_bar = np.array([[c, s], [-s, c]])
    shape = np.diag([1.0 / a**2, 1.0 / b**2])
    form = to_disc.T @ to_bar.T @ shape @ to_bar @ to_disc  # outline: s^T form s = 1 on the sky
    eigenvalues, eigenvectors = np.linalg.eigh(form)  # ascending: first = major axis
    semi_major = 1.0 / math.sqrt(eigenvalues[0])
    semi_minor = 1.0 / math.sqrt(eigenvalues[1])
    ex, ey = eigenvectors[:, 0]
    if ex < 0 or (ex == 0 and ey < 0):
        ex, ey = -ex, -ey
    pa = math.degrees(math.atan2(ey, ex)) % 180.0
    if pa >= 180.0:  # -1e-17 % 180 is 180.0 in floating point; the range is [0, 180)
        pa = 0.0
    return ProjectedBar(
        length_px=2.0 * semi_major,
        pa_deg=pa,
        axis_ratio=semi_minor / semi_major,
        x1=x0 - semi_major * ex,
        y1=y0 - semi_major * ey,
        x2=x0 + semi_major * ex,
        y2=y0 + semi_major * ey,
    )


def enclosed_light_radius(image: np.ndarray, x0: float, y0: float, fraction: float = 0.9) -> float:
    """Radius (px) of the circle about (x0, y0) holding ``fraction`` of the image's light.

    This is how r90_px is defined: 90 % of the galaxy's noise-free, PSF-free r-band light
    inside the frame, in circular apertures like SDSS's petroR90 (which uses circles too).
    Light is binned in 0.05 px annuli and the radius interpolated.
    """
    height, width = image.shape
    yy, xx = np.indices((height, width))
    radius = np.hypot(xx - x0, yy - y0).ravel()
    step = 0.05
    bins = (radius / step).astype(np.int64)
    per_annulus = np.bincount(bins, weights=image.ravel().astype(np.float64))
    cumulative = np.cumsum(per_annulus)
    target = fraction * cumulative[-1]
    k = int(np.searchsorted(cumulative, target))
    below = cumulative[k - 1] if k > 0 else 0.0
    inside = (target - below) / max(per_annulus[k], 1e-300)
    return float((k + inside) * step)
