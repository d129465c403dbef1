"""Small geometric pieces of the bar fit: farthest pair, covariance axes, position angle.

Coordinates are (x, y) = (column, row) with the origin at the centre of the top-left
pixel; position angles are ``degrees(atan2(dy, dx)) mod 180`` in those coordinates.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial import ConvexHull, QhullError
from scipy.spatial.distance import pdist, squareform

Point = tuple[float, float]


def _brute_farthest(points: np.ndarray) -> tuple[int, int, float]:
    if len(points) < 2:
        return 0, 0, 0.0
    d = pdist(points)
    k = int(np.argmax(d))
    i, j = np.triu_indices(len(points), 1)
    return int(i[k]), int(j[k]), float(d[k])


def farthest_pair(points: np.ndarray) -> tuple[Point, Point, float]:
    """The two points of an (N, 2) array farthest apart, and their distance.

    Why: the paper's bar length is the largest distance between two pixels; the pair
    always lies on the convex hull, so only its vertices are compared (collinear or
    tiny sets fall back to comparing all points).
    """
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if len(pts) == 0:
        raise ValueError("farthest_pair needs at least one point")
    cand = pts
    if len(pts) > 3:
        try:
            cand = pts[ConvexHull(pts).vertices]
        except QhullError:  # all points on one line (or coincident)
            cand = pts
    i, j, dist = _brute_farthest(cand)
    return _ordered(tuple(cand[i]), tuple(cand[j])) + (dist,)


def _ordered(p: tuple, q: tuple) -> tuple[Point, Point]:
    p = (float(p[0]), float(p[1]))
    q = (float(q[0]), float(q[1]))
    return (p, q) if p <= q else (q, p)


def row_extremes(mask: np.ndarray) -> np.ndarray:
    """(x, y) of the leftmost and rightmost True pixel of every row of a boolean mask.

    Why: a pixel with set pixels on both sides in its row cannot be a convex-hull
    vertex, so these (at most 2 per row) are all the farthest-pair search needs.
    """
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return np.empty((0, 2))
    sub = mask[rows]
    first = np.argmax(sub, axis=1)
    last = sub.shape[1] - 1 - np.argmax(sub[:, ::-1], axis=1)
    pts = np.concatenate([np.stack([first, rows], 1), np.stack([last, rows], 1)])
    return np.unique(pts, axis=0).astype(np.float64)


def farthest_pair_in_mask(mask: np.ndarray) -> tuple[Point, Point, float]:
    """Farthest pair of True pixel centres of a 2-D boolean mask (endpoints as (x, y))."""
    return farthest_pair(row_extremes(np.asarray(mask, dtype=bool)))


def brute_force_diameter(mask: np.ndarray) -> float:
    """Largest distance between any two True pixels, comparing every pair (slow; for checks)."""
    ys, xs = np.nonzero(mask)
    if xs.size < 2:
        return 0.0
    pts = np.stack([xs, ys], 1).astype(np.float64)
    return float(squareform(pdist(pts)).max())


def position_angle(p1: Point, p2: Point) -> float:
    """degrees(atan2(dy, dx)) mod 180 of the segment p1 -> p2 (the project's convention)."""
    return math.degrees(math.atan2(p2[1] - p1[1], p2[0] - p1[0])) % 180.0


def covariance_axes(cxx: float, cyy: float, cxy: float) -> tuple[float, float, float]:
    """(lambda1, lambda2, theta) of a 2x2 covariance in (x, y); theta (rad) is the major axis.

    lambda1 >= lambda2; theta is the angle of the major axis from +x towards +y.
    """
    half_tr = 0.5 * (cxx + cyy)
    root = math.hypot(0.5 * (cxx - cyy), cxy)
    l1 = half_tr + root
    l2 = max(half_tr - root, 0.0)
    theta = 0.5 * math.atan2(2.0 * cxy, cxx - cyy)
    return l1, l2, theta


def elongation_from_axes(l1: float, l2: float) -> float:
    """1 - lambda2/lambda1: 0 for a round blob, 1 for a line; rotation-invariant."""
    if not l1 > 0:
        return float("nan")
    return 1.0 - l2 / l1


def extent_along(xs: np.ndarray, ys: np.ndarray, centre: Point,
                 theta: float) -> tuple[float, float, float, float]:
    """(pmin, pmax, qmin, qmax): projections of points on the axis at angle theta through
    centre (p) and on its normal (q)."""
    c, s = math.cos(theta), math.sin(theta)
    dx = xs - centre[0]
    dy = ys - centre[1]
    p = dx * c + dy * s
    q = -dx * s + dy * c
    return float(p.min()), float(p.max()), float(q.min()), float(q.max())


def perpendicular_extent(xs: np.ndarray, ys: np.ndarray, p1: Point, p2: Point) -> float:
    """Extent of points perpendicular to the line p1 -> p2 (0 for a one-pixel-wide line)."""
    theta = math.atan2(p2[1] - p1[1], p2[0] - p1[0])
    _, _, qmin, qmax = extent_along(xs, ys, p1, theta)
    return qmax - qmin
