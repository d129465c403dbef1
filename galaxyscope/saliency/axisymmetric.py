"""A galaxy's axisymmetric model: its median light in fixed-geometry elliptical annuli.

Why: an attribution needs a baseline, and the question "where does the model see the bar?" is
answered by a baseline that is the same galaxy *without* its bar. A disc seen at an angle is
axisymmetric on ellipses of one shape; a bar, arms, stars and artefacts are not. The median
over each annulus keeps the bar out of the model as long as it covers less than half of the
annulus (a bar covers two narrow arcs), where the mean of an isophote fit would take part of
it in. The geometry (centre, axis ratio, position angle) is that of the outer light: the region
holding the brightest ``region_fraction`` of the frame, shaped by scikit-image's regionprops,
so the bar inside it tilts it little.
"""

from __future__ import annotations

import numpy as np

#: share of the frame's pixels (the brightest) whose region gives the disc's shape; galaxy
#: framing puts R90 at ~0.39 of the frame side, so the galaxy within R90 fills ~45 % of it
REGION_FRACTION = 0.4


def disc_geometry(lum: np.ndarray, region_fraction: float = REGION_FRACTION) -> tuple[float, float, float, float]:
    """(x0, y0, axis ratio, orientation in radians, scikit-image's convention) of the outer light."""
    from skimage.measure import label, regionprops

    h, w = lum.shape
    mask = lum >= np.quantile(lum, 1.0 - region_fraction)
    lab = label(mask)
    cy, cx = (h - 1) / 2, (w - 1) / 2
    centre_label = lab[int(round(cy)), int(round(cx))]
    if centre_label == 0:  # the centre is not bright (an odd frame): the largest region
        centre_label = int(np.argmax(np.bincount(lab.ravel())[1:]) + 1) if lab.max() else 0
    if centre_label == 0:
        return cx, cy, 1.0, 0.0
    region = regionprops((lab == centre_label).astype(np.uint8), intensity_image=lum)[0]
    y0, x0 = region.centroid_weighted
    major, minor = region.axis_major_length, region.axis_minor_length
    q = float(np.clip(minor / major, 0.1, 1.0)) if major > 0 else 1.0
    return float(x0), float(y0), q, float(region.orientation)


def elliptical_radius(shape: tuple[int, int], x0: float, y0: float, q: float, orientation: float) -> np.ndarray:
    """Semi-major-axis radius of every pixel on ellipses of axis ratio q (scikit-image orientation:
    angle between the rows axis and the major axis)."""
    yy, xx = np.mgrid[: shape[0], : shape[1]].astype(float)
    dy, dx = yy - y0, xx - x0
    along = dy * np.cos(orientation) + dx * np.sin(orientation)
    across = -dy * np.sin(orientation) + dx * np.cos(orientation)
    return np.hypot(along, across / q)


def axisymmetric_model(image: np.ndarray, region_fraction: float = REGION_FRACTION) -> np.ndarray:
    """The C x H x W (or H x W) image's axisymmetric model, same shape and dtype.

    The annuli are one pixel wide along the major axis; each channel's median per annulus is
    interpolated back onto every pixel's elliptical radius.
    """
    arr = np.asarray(image)
    planes = arr[None] if arr.ndim == 2 else arr
    lum = planes.mean(axis=0)
    x0, y0, q, theta = disc_geometry(lum, region_fraction)
    r = elliptical_radius(lum.shape, x0, y0, q, theta)
    ring = np.floor(r).astype(int).ravel()
    order = np.argsort(ring, kind="stable")
    edges = np.flatnonzero(np.diff(ring[order])) + 1
    groups = np.split(order, edges)
    centres = np.array([r.ravel()[g].mean() for g in groups])
    out = np.empty_like(planes, dtype=np.float64)
    for c, plane in enumerate(planes):
        flat = plane.ravel().astype(np.float64)
        prof = np.array([np.median(flat[g]) for g in groups])
        out[c] = np.interp(r, centres, prof)
    out = out.astype(arr.dtype if np.issubdtype(arr.dtype, np.floating) else np.float32)
    return out[0] if arr.ndim == 2 else out
