"""Where the overlay shapes go, in the view's coordinates (no Qt).

The core gives bar endpoints as (x, y) with the origin at the centre of the
top-left pixel; pyqtgraph's ImageItem puts that pixel's corner at (0, 0). Every
shape here is therefore shifted by half a pixel, in one place.
"""

from __future__ import annotations

import math

import numpy as np
from skimage.measure import find_contours

#: core pixel coordinates (centre of pixel 0 at 0) -> scene coordinates (corner at 0)
PIXEL_CENTRE = 0.5


def to_scene(x: float, y: float) -> tuple[float, float]:
    """A core (x, y) pixel position in the image view's coordinates."""
    return float(x) + PIXEL_CENTRE, float(y) + PIXEL_CENTRE


def bar_line_xy(endpoints: tuple[tuple[float, float], tuple[float, float]] | None
                ) -> tuple[np.ndarray, np.ndarray] | None:
    """(xs, ys) of the fitted bar's line in scene coordinates, or None when there is no bar."""
    if endpoints is None:
        return None
    (x1, y1), (x2, y2) = endpoints
    if not all(math.isfinite(float(v)) for v in (x1, y1, x2, y2)):
        return None
    a, b = to_scene(x1, y1), to_scene(x2, y2)
    return np.array([a[0], b[0]]), np.array([a[1], b[1]])


def width_box_xy(endpoints: tuple[tuple[float, float], tuple[float, float]] | None,
                 width_px: float) -> tuple[np.ndarray, np.ndarray] | None:
    """Closed outline (5 points) of the box spanned by the bar's line and its width.

    The box runs from endpoint to endpoint and ``width_px`` across, centred on the
    line: how wide the fitted bar is, drawn where it is.
    """
    line = bar_line_xy(endpoints)
    if line is None or not math.isfinite(float(width_px)) or width_px <= 0:
        return None
    xs, ys = line
    dx, dy = xs[1] - xs[0], ys[1] - ys[0]
    norm = math.hypot(dx, dy)
    if norm == 0:
        return None
    px, py = -dy / norm * width_px / 2.0, dx / norm * width_px / 2.0
    bx = np.array([xs[0] + px, xs[1] + px, xs[1] - px, xs[0] - px, xs[0] + px])
    by = np.array([ys[0] + py, ys[1] + py, ys[1] - py, ys[0] - py, ys[0] + py])
    return bx, by


def mask_outline_xy(mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray] | None:
    """Outline of a boolean mask as one polyline, pieces separated by NaN.

    Contours run along pixel edges' midpoints (scikit-image's marching squares at
    0.5), padded so a mask touching the border still closes. None when empty.
    """
    if mask is None:
        return None
    m = np.asarray(mask, dtype=bool)
    if m.ndim != 2 or not m.any():
        return None
    padded = np.pad(m.astype(np.float32), 1)
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    for contour in find_contours(padded, 0.5):
        rows, cols = contour[:, 0] - 1.0, contour[:, 1] - 1.0  # undo the padding
        xs += [cols + PIXEL_CENTRE, np.array([np.nan])]
        ys += [rows + PIXEL_CENTRE, np.array([np.nan])]
    if not xs:
        return None
    return np.concatenate(xs), np.concatenate(ys)


def crop_box_xy(box: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Closed outline of a (row0, row1, col0, col1) pixel box, e.g. the region the model saw."""
    r0, r1, c0, c1 = (float(v) for v in box)
    return np.array([c0, c1, c1, c0, c0]), np.array([r0, r0, r1, r1, r0])


def label_anchor(endpoints: tuple[tuple[float, float], tuple[float, float]] | None,
                 offset_px: float = 6.0) -> tuple[float, float] | None:
    """Scene position just beyond the bar's upper end, where its length label goes.

    Why the upper end (smaller y, i.e. higher on screen): the label then sits
    above the galaxy's centre rather than over the bar itself.
    """
    line = bar_line_xy(endpoints)
    if line is None:
        return None
    xs, ys = line
    i = 0 if ys[0] <= ys[1] else 1
    j = 1 - i
    dx, dy = xs[i] - xs[j], ys[i] - ys[j]
    norm = math.hypot(dx, dy) or 1.0
    return float(xs[i] + dx / norm * offset_px), float(ys[i] + dy / norm * offset_px)


def label_alignment(pos: tuple[float, float], shape: tuple[int, ...] | None) -> tuple[float, float]:
    """TextItem anchor (ax, ay) that keeps a label at ``pos`` inside an image of ``shape``.

    Why: centred above its point, a label near the image's right or left edge or its
    top is cut off by the view. Near the right edge the label ends at its point (ax 1),
    near the left it starts there (ax 0); near the top it hangs below (ay 0).
    """
    if shape is None or len(shape) < 2:
        return 0.5, 1.0
    h, w = float(shape[0]), float(shape[1])
    x, y = pos
    ax = 0.0 if x < 0.25 * w else 1.0 if x > 0.75 * w else 0.5
    ay = 0.0 if y < 0.12 * h else 1.0
    return ax, ay


def clamp_to_image(pos: tuple[float, float], shape: tuple[int, ...] | None) -> tuple[float, float]:
    """``pos`` moved inside the image (a label anchor beyond the edge would be drawn outside it)."""
    if shape is None or len(shape) < 2:
        return pos
    return min(max(pos[0], 0.0), float(shape[1])), min(max(pos[1], 0.0), float(shape[0]))
