"""Surface-brightness models that astropy.modeling lacks: a Ferrers bar, log-spiral arms, a ring.

Why astropy models: they compose with ``AffineTransformation2D`` (``to_disc | model``), so a
component is written once in the disc's own plane and projected onto the sky exactly, and they
can be fitted later with astropy's fitters. Bulge and disc use astropy's own ``Sersic2D``.

Coordinates follow the project convention: x = column index, y = row index (row 0 on top), and
an angle ``theta`` turns from +x towards +y, i.e. ``theta = atan2(dy, dx)`` in pixel coordinates.
"""

from __future__ import annotations

import numpy as np
from astropy.modeling import Fittable2DModel, Parameter
from astropy.modeling.models import AffineTransformation2D


class Ferrers2D(Fittable2DModel):
    """Ferrers bar: ``amplitude * (1 - m**2)**n`` inside the ellipse m < 1, zero outside.

    m**2 = (x'/a)**2 + (y'/b)**2 with x' along ``theta``. ``a`` and ``b`` are the semi-axes of the
    bar's outline (where its light reaches zero), so the bar's end-to-end length is exactly 2a.
    n = 0 is a flat ellipse; n ~ 0.5-1 are the flat-ish bars of early-type discs, n = 2 the
    classic centrally concentrated Ferrers bar.
    """

    amplitude = Parameter(default=1.0)
    x_0 = Parameter(default=0.0)
    y_0 = Parameter(default=0.0)
    a = Parameter(default=10.0)
    b = Parameter(default=3.0)
    theta = Parameter(default=0.0)
    n = Parameter(default=1.0)

    @staticmethod
    def evaluate(x, y, amplitude, x_0, y_0, a, b, theta, n):  # noqa: D102 (astropy hook)
        cos_t, sin_t = np.cos(theta), np.sin(theta)
        dx, dy = x - x_0, y - y_0
        xp = dx * cos_t + dy * sin_t
        yp = -dx * sin_t + dy * cos_t
        m2 = (xp / a) ** 2 + (yp / b) ** 2
        inside = np.clip(1.0 - m2, 0.0, None)
        return amplitude * inside**n


class LogSpiralArms2D(Fittable2DModel):
    """``n_arms`` logarithmic spiral arms riding on an exponential disc, in the disc plane.

    I = amplitude * exp(-r / r_scale) * taper(r) * ((1 + cos(n_arms*(phi - ln(r/r_in)/tan(pitch))
    - phase)) / 2) ** sharpness * (1 + lopsided * cos(phi - lopsided_angle)).
    ``pitch`` (radians) is signed: its sign is the winding sense. taper rises smoothly from 0
    inside ``r_in`` (arms start at the bar's ends or the bulge). ``lopsided`` in [0, 1) makes
    one side brighter, as real arms rarely are symmetric.
    """

    amplitude = Parameter(default=1.0)
    x_0 = Parameter(default=0.0)
    y_0 = Parameter(default=0.0)
    r_scale = Parameter(default=10.0)
    r_in = Parameter(default=5.0)
    pitch = Parameter(default=0.3)
    phase = Parameter(default=0.0)
    n_arms = Parameter(default=2.0)
    sharpness = Parameter(default=2.0)
    lopsided = Parameter(default=0.0)
    lopsided_angle = Parameter(default=0.0)

    @staticmethod
    def evaluate(x, y, amplitude, x_0, y_0, r_scale, r_in, pitch, phase, n_arms, sharpness, lopsided,
                 lopsided_angle):  # noqa: D102
        dx, dy = x - x_0, y - y_0
        r = np.hypot(dx, dy)
        phi = np.arctan2(dy, dx)
        rr = np.maximum(r, 1e-3)
        wave = 0.5 * (1.0 + np.cos(n_arms * (phi - np.log(rr / r_in) / np.tan(pitch)) - phase))
        taper = 1.0 / (1.0 + np.exp(-(r - r_in) / (0.2 * r_in)))
        side = 1.0 + lopsided * np.cos(phi - lopsided_angle)
        return amplitude * np.exp(-r / r_scale) * taper * wave**sharpness * side


class GaussianRing2D(Fittable2DModel):
    """A circular ring with a Gaussian cross-section: ``amplitude * exp(-(r - radius)**2 / 2 width**2)``."""

    amplitude = Parameter(default=1.0)
    x_0 = Parameter(default=0.0)
    y_0 = Parameter(default=0.0)
    radius = Parameter(default=10.0)
    width = Parameter(default=2.0)

    @staticmethod
    def evaluate(x, y, amplitude, x_0, y_0, radius, width):  # noqa: D102
        r = np.hypot(x - x_0, y - y_0)
        return amplitude * np.exp(-0.5 * ((r - radius) / width) ** 2)


def sky_to_disc_matrix(pa_rad: float, axis_ratio: float) -> np.ndarray:
    """2x2 matrix taking sky offsets (dx, dy) from the centre to the disc's own plane.

    The disc's major axis (line of nodes) lies at ``pa_rad`` on the sky; the disc appears with
    ``axis_ratio`` = minor/major, so the minor-axis coordinate is stretched by 1/axis_ratio.
    """
    c, s = np.cos(pa_rad), np.sin(pa_rad)
    rotate = np.array([[c, s], [-s, c]])  # sky -> (along nodes, across nodes)
    return np.diag([1.0, 1.0 / axis_ratio]) @ rotate


def sky_to_disc(x0: float, y0: float, pa_rad: float, axis_ratio: float) -> AffineTransformation2D:
    """astropy transform from sky pixel (x, y) to disc-plane coordinates centred on (x0, y0).

    Compose it in front of a face-on model (``sky_to_disc(...) | Ferrers2D(...)``) to see that
    model projected with the disc's inclination and position angle.
    """
    matrix = sky_to_disc_matrix(pa_rad, axis_ratio)
    translation = -matrix @ np.array([x0, y0])
    return AffineTransformation2D(matrix=matrix, translation=translation)


def sersic_total_flux(amplitude: float, r_eff: float, n: float, axis_ratio: float) -> float:
    """Total flux of astropy's ``Sersic2D`` (``amplitude`` = surface brightness at ``r_eff``).

    Why: bulges and background galaxies are specified by flux (bulge-to-disc ratio, magnitude),
    but Sersic2D takes a surface brightness.
    """
    from scipy.special import gamma, gammaincinv

    b_n = float(gammaincinv(2.0 * n, 0.5))
    return float(
        amplitude * 2.0 * np.pi * r_eff**2 * axis_ratio * n * np.exp(b_n) * b_n ** (-2.0 * n) * gamma(2.0 * n)
    )
