"""How big the galaxy is on the image: R50/R90 and centre, measured from the pixels.

Why: a network trained on Galaxy Zoo-like frames has learnt the galaxy at one scale
(GZ2 frames are 0.02 x petroR90 arcsec/px, so R90 is always about 50 of 424 px).
Surveys cut their frames differently (Galaxy Builder: 4 Petrosian radii; DECaLS,
FITS cutouts at the native scale), so a fixed central crop shows the network a
different part of the galaxy on every survey. Framing by the measured R90 fixes that.

The measurement is photutils' segmentation and its ``SourceCatalog.flux_radius``
(the radius of the circle holding a fraction of the Kron flux, other sources
masked), on the luminance after subtracting a sigma-clipped border sky. The
source is the segment under the image centre (cutouts are centred on their target)
or, if there is none, the nearest segment within a quarter of the frame.
"""

from __future__ import annotations

import math
from collections.abc import Callable
import warnings
from dataclasses import dataclass

import numpy as np

from galaxyscope.images.galaxy_image import GalaxyImage

#: fraction of the frame's shorter side used as the border for the sky estimate
SKY_BORDER = 0.1
#: detection threshold in sky sigmas, and the smallest segment in pixels
DETECT_SIGMA = 2.0
MIN_SEGMENT_PX = 20


@dataclass(frozen=True)
class GalaxyExtent:
    """The central galaxy's size on one image (pixels of the image grid).

    ok: False when no central source was found; r50/r90 are then NaN and
        ``reason`` says why.
    centre: (x, y) of the source's centroid (pixel-centre coordinates).
    """

    r50_px: float
    r90_px: float
    centre: tuple[float, float]
    ok: bool
    reason: str = ""

    def describe(self) -> str:
        if not self.ok:
            return f"galaxy extent unknown ({self.reason})"
        return f"R50 {self.r50_px:.1f} px, R90 {self.r90_px:.1f} px"


def _min_pixels(detect: Callable[..., object], n: int) -> dict[str, int]:
    """The minimum-size argument under photutils 3's name (n_pixels) or 2's (npixels).

    Why: photutils 3 deprecates ``npixels`` with a warning printed in the user's terminal.
    """
    import inspect

    return {"n_pixels" if "n_pixels" in inspect.signature(detect).parameters else "npixels": int(n)}


def _centroids(cat) -> tuple[np.ndarray, np.ndarray]:
    """Source centroids under photutils 3 names (x_centroid) or 2 names (xcentroid), without
    the deprecation warnings the old names print in the user's terminal."""
    if hasattr(type(cat), "x_centroid"):
        return np.asarray(cat.x_centroid, float), np.asarray(cat.y_centroid, float)
    return np.asarray(cat.xcentroid, float), np.asarray(cat.ycentroid, float)


def _failed(shape: tuple[int, int], reason: str) -> GalaxyExtent:
    h, w = shape
    return GalaxyExtent(math.nan, math.nan, ((w - 1) / 2.0, (h - 1) / 2.0), False, reason)


def border_pixels(lum: np.ndarray, frac: float = SKY_BORDER) -> np.ndarray:
    """The frame's four border strips, ``frac`` of the shorter side wide, each pixel once."""
    h, w = lum.shape
    b = max(2, int(round(min(h, w) * frac)))
    return np.concatenate([lum[:b].ravel(), lum[-b:].ravel(), lum[b:-b, :b].ravel(), lum[b:-b, -b:].ravel()])


def border_sky(lum: np.ndarray, frac: float = SKY_BORDER) -> tuple[float, float]:
    """Sigma-clipped median and std of the frame's border strips (each pixel once), where the
    galaxy is not. Shared by the extent and the isophote fits so both see the same sky."""
    from astropy.stats import sigma_clipped_stats

    border = border_pixels(lum, frac)
    border = border[np.isfinite(border)]
    if border.size == 0:
        return 0.0, 0.0
    _, median, std = sigma_clipped_stats(border, sigma=3.0, maxiters=5)
    return float(median), float(std)


def measure_extent(image: GalaxyImage | np.ndarray) -> GalaxyExtent:
    """R50, R90 and centre of the galaxy at the centre of the frame (see the module docstring)."""
    from astropy.convolution import convolve
    from photutils.segmentation import SourceCatalog, detect_sources, make_2dgaussian_kernel

    if isinstance(image, GalaxyImage):
        lum = image.luminance()
    else:
        arr = np.asarray(image, np.float32)
        lum = arr if arr.ndim == 2 else np.nanmean(arr, axis=2)
    lum = np.asarray(lum, np.float64)
    shape = (int(lum.shape[0]), int(lum.shape[1]))
    if min(shape) < 8:
        return _failed(shape, f"image too small ({shape[1]}x{shape[0]} px)")
    finite = np.isfinite(lum)
    if not finite.any():
        return _failed(shape, "no finite pixels")
    sky, std = border_sky(lum)
    data = np.where(finite, lum - sky, 0.0)
    peak = float(np.max(data))
    if not peak > 0:
        return _failed(shape, "nothing brighter than the sky")
    # flat (masked, quantised) skies have std 0: fall back to a small fraction of the peak
    noise = std if std > 1e-3 * peak else 0.02 * peak
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        smooth = convolve(data, make_2dgaussian_kernel(3.0, size=7), normalize_kernel=True)
        segm = detect_sources(smooth, DETECT_SIGMA * noise, **_min_pixels(detect_sources, MIN_SEGMENT_PX))
        if segm is None:
            return _failed(shape, "no source above the sky")
        h, w = shape
        label = int(segm.data[h // 2, w // 2])
        cat = SourceCatalog(data, segm, convolved_data=smooth)
        if label == 0:
            cx, cy = _centroids(cat)
            d = np.hypot(cx - (w - 1) / 2.0, cy - (h - 1) / 2.0)
            d[~np.isfinite(d)] = np.inf
            j = int(np.argmin(d))
            if not d[j] <= 0.25 * min(h, w):
                return _failed(shape, "no source near the centre")
            label = int(cat.labels[j])
        src = cat.select_label(label) if hasattr(cat, "select_label") else cat.get_label(label)
        r50 = float(np.asarray(src.flux_radius(0.5)).ravel()[0])
        r90 = float(np.asarray(src.flux_radius(0.9)).ravel()[0])
        sx, sy = _centroids(src)
        centre = (float(np.ravel(sx)[0]), float(np.ravel(sy)[0]))
    if not (math.isfinite(r90) and r90 > 0):
        return _failed(shape, "the light profile gave no R90")
    return GalaxyExtent(r50, r90, centre, True)


def image_extent(image: GalaxyImage) -> GalaxyExtent:
    """``measure_extent`` once per GalaxyImage object (kept on the object; pixels don't change)."""
    cached = image.__dict__.get("_galaxy_extent")
    if cached is None:
        cached = measure_extent(image)
        image.__dict__["_galaxy_extent"] = cached
    return cached
