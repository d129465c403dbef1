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

    Real bars are rarely plain ellipses, so two optional shapes, both *inside the same outline*
    (the light stays zero for m >= 1, so the bar's length and mask are unchanged):
    ``boxiness`` c > 2 makes the inner isophotes boxy, (|x'/a|^c + |y'/b|^c)^(1/c) = const, with
    the light falling to zero over the outer part of the elliptical outline; ``ansae`` > 0 adds
    two blobs near the tips (at 0.8 a) with that peak brightness relative to ``amplitude``.
    The defaults (c = 2, ansae = 0) give the plain Ferrers bar.
    """

    amplitude = Parameter(default=1.0)
    x_0 = Parameter(default=0.0)
    y_0 = Parameter(default=0.0)
    a = Parameter(default=10.0)
    b = Parameter(default=3.0)
    theta = Parameter(default=0.0)
    n = Parameter(default=1.0)
    boxiness = Parameter(default=2.0)
    ansae = Parameter(default=0.0)

    @staticmethod
    def evaluate(x, y, amplitude, x_0, y_0, a, b, theta, n, boxiness, ansae):  # noqa: D102 (astropy hook)
        cos_t, sin_t = np.cos(theta), np.sin(theta)
        dx, dy = x - x_0, y - y_0
        xp = dx * cos_t + dy * sin_t
        yp = -dx * sin_t + dy * cos_t
        m2 = (xp / a) ** 2 + (yp / b) ** 2
        inside = np.clip(1.0 - m2, 0.0, None)
        c = float(np.ravel(boxiness)[0])
        if c == 2.0:
            light = inside**n
        else:  # boxy isophotes inside, tapered to zero at the elliptical outline
            mc2 = (np.abs(xp / a) ** c + np.abs(yp / b) ** c) ** (2.0 / c)
            light = np.clip(1.0 - mc2, 0.0, None) ** n * inside ** (0.5 * (c - 2.0) / c)
        k = float(np.ravel(ansae)[0])
        if k > 0.0:
            blobs = np.exp(-0.5 * ((np.abs(xp) - 0.8 * a) / (0.1 * a)) ** 2 - 0.5 * (yp / (0.6 * b)) ** 2)
            light = light + k * blobs * np.sqrt(inside)
        return amplitude * np.where(m2 < 1.0, light, 0.0)


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


def _smooth_field(rng: np.random.Generator, lnr: np.ndarray, theta: np.ndarray, n_modes: int,
                  freq: tuple[float, float], max_m: int) -> np.ndarray:
    """A random smooth function of (ln r, arm angle), unit variance, periodic in the angle.

    Why a sum of a few sines: it is cheap on a full frame, deterministic from ``rng``, and the
    integer angular frequencies keep it continuous across phi = +-pi.
    """
    out = np.zeros_like(lnr)
    for _ in range(n_modes):
        f = float(rng.uniform(*freq)) * (1 if rng.random() < 0.5 else -1)
        m = int(rng.integers(0, max_m + 1))
        out += np.sin(f * lnr + m * theta + float(rng.uniform(0.0, 2.0 * np.pi)))
    return out * np.sqrt(2.0 / n_modes)


def irregular_arms(
    u: np.ndarray, v: np.ndarray, rng: np.random.Generator, *, amplitude: float, r_scale: float, r_in: float,
    pitch: float, phase: float, n_arms: int, sharpness: float, lopsided: float, lopsided_angle: float,
    wobble: float, flocculence: float, dust_tau: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Spiral arms as real discs show them, in the disc plane: (arm light, arm dust optical depth).

    Why not a perfect log spiral: a classifier tells those from real arms at a glance. Here each
    arm strays from the log spiral by up to ``wobble`` radians as a smooth random function of
    radius and of the arm (so the pitch varies along it and between arms), brightens and fades
    along its length (some arms end early), and a share ``flocculence`` of the light goes to
    many short, patchy arm segments (flocculent spirals) instead of the grand-design pattern.
    The dust follows the arms' inner (concave) edges, as in real trailing spirals.
    ``wobble = flocculence = dust_tau = 0`` gives LogSpiralArms2D's arms with the same parameters.
    """
    r = np.hypot(u, v)
    phi = np.arctan2(v, u)
    lnr = np.log(np.maximum(r, 1e-3) / r_in)
    tan_p = np.tan(pitch)
    arm_angle = phi - lnr / tan_p  # constant along an arm
    stray = wobble * _smooth_field(rng, lnr, arm_angle, 3, (0.6, 2.5), 2)
    along = arm_angle - stray
    wave = 0.5 * (1.0 + np.cos(n_arms * along - phase))
    grand = wave**sharpness * np.exp(0.45 * _smooth_field(rng, lnr, along, 4, (1.0, 4.0), 3))
    envelope = np.exp(-r / r_scale) / (1.0 + np.exp(-(r - r_in) / (0.2 * r_in)))
    envelope = envelope * (1.0 + lopsided * np.cos(phi - lopsided_angle))
    light = (1.0 - flocculence) * grand
    if flocculence > 0.0:
        n_floc = int(rng.integers(5, 10))
        floc_angle = phi - lnr / np.tan(pitch * float(rng.uniform(1.1, 1.6)))
        segments = 1.0 / (1.0 + np.exp(-3.0 * _smooth_field(rng, lnr, floc_angle, 6, (2.0, 7.0), n_floc)))
        floc_wave = (0.5 * (1.0 + np.cos(n_floc * floc_angle))) ** 2.0
        light = light + flocculence * 1.6 * floc_wave * segments
    tau = np.zeros_like(r)
    if dust_tau > 0.0:
        shift = np.sign(tan_p) * 0.3 * np.pi / n_arms  # towards the inner edge of each arm
        lane = (0.5 * (1.0 + np.cos(n_arms * (along - shift) - phase))) ** (2.0 * sharpness + 2.0)
        tau = dust_tau * lane * (1.0 - 0.6 * flocculence) * np.exp(-r / (2.0 * r_scale)) * (
            1.0 / (1.0 + np.exp(-(r - r_in) / (0.2 * r_in)))
        )
    return amplitude * envelope * light, tau


def bar_dust_lanes(u: np.ndarray, v: np.ndarray, *, a: float, b: float, phi: float, tau: float,
                   winding: float) -> np.ndarray:
    """Optical depth of the two straight dust lanes on a bar's leading edges, in the disc plane.

    Why: strong bars carry offset dust lanes (Athanassoula 1992) that real images show as dark
    streaks beside the bar. They lie inside the bar's outline (they fade where it narrows), so
    the bar mask still covers every pixel the bar changes. ``winding`` is the sign of the arms'
    pitch: trailing arms fix the sense of rotation, hence which edge leads.
    """
    c, s = np.cos(phi), np.sin(phi)
    xp = u * c + v * s
    yp = -u * s + v * c
    m2 = (xp / a) ** 2 + (yp / b) ** 2
    inside = np.sqrt(np.clip(1.0 - m2, 0.0, None))
    side = -np.sign(winding if winding != 0 else 1.0) * np.sign(xp)
    width = 0.15 * b + 0.5
    along = np.clip((np.abs(xp) / a - 0.12) / 0.25, 0.0, 1.0)
    return tau * along * inside * np.exp(-0.5 * ((yp - side * 0.55 * b) / width) ** 2)


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
