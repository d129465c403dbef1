"""Saliency-map hygiene and the masks both methods (and the GUI overlays) draw.

Thresholds compare in float64 (``saliency > t`` with ``t`` a float64), so the fast
sweep and a literal loop see exactly the same sets.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from galaxyscope.errors import GalaxyscopeError
from galaxyscope.measure.result import TOUCHES_CROP_EDGE

EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


class MeasureError(GalaxyscopeError):
    """A bar measurement could not even start (wrong array shape, unknown method or parameter)."""


def clean_map(saliency: np.ndarray) -> np.ndarray:
    """The map as a float64 2-D array with NaN/inf set to 0 (the model saw nothing there).

    float64 so that thresholds compare exactly as written; values are otherwise
    untouched (the saliency package already min-max normalises to [0, 1]).
    """
    arr = np.asarray(saliency)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim != 2:
        raise MeasureError(f"saliency map must be 2-D (H x W), got shape {arr.shape}")
    if arr.size == 0:
        raise MeasureError("saliency map is empty (0 pixels)")
    out = np.array(arr, dtype=np.float64, copy=True)
    bad = ~np.isfinite(out)
    if bad.any():
        out[bad] = 0.0
    return out


def has_signal(clean: np.ndarray) -> bool:
    """False for an all-zero, negative or constant map: nothing a threshold could pick out."""
    hi = float(clean.max())
    return hi > 0.0 and hi > float(clean.min())


def is_normalised(clean: np.ndarray, tol: float = 1e-6) -> bool:
    """True when values lie in [0, 1] (up to ``tol``), where the thresholds mean what they say."""
    return float(clean.min()) >= -tol and float(clean.max()) <= 1.0 + tol


def support_box(clean: np.ndarray, margin: int = 0) -> tuple[slice, slice]:
    """Slices of the bounding box of non-zero pixels, grown by ``margin`` (whole map if empty)."""
    rows = np.flatnonzero(clean.any(axis=1))
    cols = np.flatnonzero(clean.any(axis=0))
    h, w = clean.shape
    if rows.size == 0:
        return slice(0, h), slice(0, w)
    return (slice(max(0, rows[0] - margin), min(h, rows[-1] + 1 + margin)),
            slice(max(0, cols[0] - margin), min(w, cols[-1] + 1 + margin)))


def blurred_normalised(clean: np.ndarray, sigma: float, center: tuple[float, float] | None = None,
                       peak_radius: float | None = None) -> np.ndarray:
    """Gaussian-blurred map divided by its peak (so thresholds are fractions of the peak).

    Why: moment fits on raw SmoothGrad maps chase single hot pixels; a 1-2 px blur
    turns them into smooth blobs.  With ``center`` (x, y) and ``peak_radius`` (px) the
    peak is the maximum within that distance of the centre, so a bright star or
    artefact elsewhere does not set the scale (values there may exceed 1); if that
    disc holds no signal the global peak is used.
    """
    field, (rows, cols) = blurred_in_box(clean, sigma, center, peak_radius)
    out = np.zeros_like(clean)
    out[rows, cols] = field
    return out


def blurred_in_box(clean: np.ndarray, sigma: float, center: tuple[float, float] | None = None,
                   peak_radius: float | None = None) -> tuple[np.ndarray, tuple[slice, slice]]:
    """``blurred_normalised`` restricted to the box around the non-zero pixels: (field, box).

    Outside the box the blurred map is exactly 0 (the filter runs with zeros beyond
    it, ``mode='constant'``, and the box has a margin of the kernel's radius), so this
    is the full-frame result, computed on the part that matters.
    """
    radius = int(4.0 * sigma + 0.5) if sigma > 0 else 0
    rows, cols = support_box(clean, margin=radius + 1)
    sub = clean[rows, cols]
    out = ndimage.gaussian_filter(sub, sigma, mode="constant", cval=0.0) if sigma > 0 else sub.copy()
    peak = 0.0
    if center is not None and peak_radius is not None:
        h, w = out.shape
        cx, cy = center[0] - cols.start, center[1] - rows.start
        r0, r1 = max(0, int(math.floor(cy - peak_radius))), min(h, int(math.ceil(cy + peak_radius)) + 1)
        c0, c1 = max(0, int(math.floor(cx - peak_radius))), min(w, int(math.ceil(cx + peak_radius)) + 1)
        if r1 > r0 and c1 > c0:
            yy, xx = np.ogrid[r0:r1, c0:c1]
            disc = (xx - cx) ** 2 + (yy - cy) ** 2 <= peak_radius**2
            if disc.any():
                peak = float(out[r0:r1, c0:c1][disc].max())
    if not peak > 0:
        peak = float(out.max())
    if peak > 0:
        out /= peak
    return out, (rows, cols)


def component_nearest(mask: np.ndarray, center: tuple[float, float]) -> tuple[np.ndarray, float]:
    """The 8-connected component of ``mask`` holding the pixel nearest ``center`` (x, y).

    Returns (component mask, distance in px from centre to its nearest pixel); an
    empty mask gives (all False, inf).  Why: a bar sits on the galaxy's centre, and
    saliency elsewhere (stars, artefacts) must not stretch the fit.
    """
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        return np.zeros_like(mask, dtype=bool), float("inf")
    d2 = (xs - center[0]) ** 2 + (ys - center[1]) ** 2
    k = int(np.argmin(d2))
    labels, n = ndimage.label(mask, structure=EIGHT_CONNECTED)
    if n == 1:
        return mask.astype(bool, copy=True), float(np.sqrt(d2[k]))
    return labels == labels[ys[k], xs[k]], float(np.sqrt(d2[k]))


def count_components(mask: np.ndarray) -> int:
    """Number of 8-connected pieces of a boolean mask."""
    return int(ndimage.label(mask, structure=EIGHT_CONNECTED)[1])


def mask_at_threshold(saliency: np.ndarray, t: float, *, blur_sigma: float = 0.0,
                      center: tuple[float, float] | None = None,
                      peak_radius: float | None = None) -> np.ndarray:
    """Boolean mask of pixels above ``t``, for drawing on the image.

    With ``blur_sigma`` 0 it is the paper's set (raw map > t).  With a blur (map px),
    ``t`` is a fraction of the blurred map's peak (within ``peak_radius`` px of
    ``center`` if both are given): the "moments" method; pass its
    ``diagnostics.blur_sigma_px`` and ``diagnostics.peak_radius_px``.  With a
    ``center`` (x, y) only the component nearest it is kept.
    """
    clean = clean_map(saliency)
    field_ = blurred_normalised(clean, blur_sigma, center, peak_radius) if blur_sigma > 0 else clean
    mask = field_ > np.float64(t)
    if center is not None:
        mask, _ = component_nearest(mask, center)
    return mask


def touches_box_edge(mask: np.ndarray, box: tuple[int, int, int, int]) -> bool:
    """True when a mask pixel lies on the outermost rows/columns of box (row0, row1, col0, col1)."""
    r0, r1, c0, c1 = box
    if r1 <= r0 or c1 <= c0:
        return False
    return bool(mask[r0, c0:c1].any() or mask[r1 - 1, c0:c1].any()
                or mask[r0:r1, c0].any() or mask[r0:r1, c1 - 1].any())


def edge_flags(mask: np.ndarray, box: tuple[int, int, int, int]) -> list[str]:
    """["touches_crop_edge"] when the mask reaches the edge of the region the model saw."""
    return [TOUCHES_CROP_EDGE] if touches_box_edge(mask, box) else []
