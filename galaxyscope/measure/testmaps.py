"""Synthetic saliency maps with a known bar, for checking and timing the measuring step.

Not galaxies (that is ``galaxyscope.synth``): just the shapes a saliency map of a
barred galaxy tends to have, with the bar's true length and angle known.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from galaxyscope.measure.resolution import crop_box


def gaussian_bar_map(shape: tuple[int, int] = (128, 128), length: float = 60.0, width: float = 12.0,
                     pa_deg: float = 30.0, center: tuple[float, float] | None = None,
                     bulge_sigma: float = 0.0, bulge_amp: float = 0.0, noise: float = 0.0,
                     seed: int = 0) -> np.ndarray:
    """float32 map in [0, 1]: an elongated Gaussian whose FWHM along its axis is ``length``.

    Why FWHM: both methods threshold at half the peak by default, so the bar's extent
    at t = 0.5 is ``length`` (pixel centres: up to ~1 px less).  Optional round bulge
    (Gaussian, ``bulge_amp`` relative to the bar's peak) and uniform noise; the result
    is min-max normalised like a SmoothGrad map.  ``pa_deg`` follows the project's
    convention (x = column, y = row, atan2(dy, dx)).
    """
    h, w = shape
    cx, cy = center if center is not None else ((w - 1) / 2.0, (h - 1) / 2.0)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    th = math.radians(pa_deg)
    dx, dy = xx - cx, yy - cy
    u = dx * math.cos(th) + dy * math.sin(th)
    v = -dx * math.sin(th) + dy * math.cos(th)
    fwhm = 2.0 * math.sqrt(2.0 * math.log(2.0))
    m = np.exp(-0.5 * (u / (length / fwhm)) ** 2 - 0.5 * (v / (width / fwhm)) ** 2)
    if bulge_amp > 0 and bulge_sigma > 0:
        m += bulge_amp * np.exp(-0.5 * (dx**2 + dy**2) / bulge_sigma**2)
    if noise > 0:
        m += noise * np.random.default_rng(seed).random(m.shape)
    lo, hi = m.min(), m.max()
    return ((m - lo) / (hi - lo)).astype(np.float32)


def saliency_like_map(frame: int = 424, crop_fraction: float = 0.5, input_size: int = 128,
                      length: float = 90.0, width: float = 18.0, pa_deg: float = 35.0,
                      bulge_amp: float = 0.5, noise: float = 0.3, seed: int = 0) -> np.ndarray:
    """A map shaped like a cached SmoothGrad map on a ``frame`` px image: computed on the
    model's ``input_size`` grid (bar + bulge + speckle), resized bilinearly into the central
    crop, zero outside.  ``length``/``width`` are in frame pixels.
    """
    r0, r1, c0, c1 = crop_box((frame, frame), crop_fraction)
    scale = input_size / float(r1 - r0)
    rng = np.random.default_rng(seed)
    small = gaussian_bar_map((input_size, input_size), length * scale, width * scale, pa_deg,
                             bulge_sigma=0.08 * input_size, bulge_amp=bulge_amp)
    small = small * (1.0 + noise * rng.standard_normal(small.shape)) + 0.05 * noise * rng.random(small.shape)
    small = np.abs(small)
    small = (small - small.min()) / (small.max() - small.min())
    up = ndimage.zoom(small, (r1 - r0) / input_size, order=1, grid_mode=True, mode="nearest")
    out = np.zeros((frame, frame), np.float32)
    out[r0:r1, c0:c1] = np.clip(up[: r1 - r0, : c1 - c0], 0.0, 1.0)
    return out
