"""Farthest pair via the convex hull equals brute force; angle and axis conventions."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.spatial.distance import pdist

from galaxyscope.measure import farthest_pair, farthest_pair_in_mask, position_angle
from galaxyscope.measure.geometry import (brute_force_diameter, covariance_axes,
                                          elongation_from_axes, row_extremes)

points = arrays(np.int64, st.tuples(st.integers(1, 60), st.just(2)), elements=st.integers(-30, 30))


@settings(max_examples=60, deadline=None)
@given(pts=points)
def test_hull_farthest_pair_equals_brute_force(pts):
    p, q, d = farthest_pair(pts)
    brute = pdist(pts.astype(float)).max() if len(pts) > 1 else 0.0
    assert d == pytest.approx(brute, abs=1e-9)
    assert math.dist(p, q) == pytest.approx(d, abs=1e-9)
    assert p <= q


@settings(max_examples=40, deadline=None)
@given(mask=arrays(bool, st.tuples(st.integers(1, 20), st.integers(1, 20))))
def test_mask_farthest_pair_equals_brute_force(mask):
    if not mask.any():
        return
    _, _, d = farthest_pair_in_mask(mask)
    assert d == pytest.approx(brute_force_diameter(mask), abs=1e-9)


def test_collinear_points_fall_back_to_brute_force():
    pts = np.array([[0, 0], [1, 1], [5, 5], [2, 2], [3, 3]])
    p, q, d = farthest_pair(pts)
    assert (p, q) == ((0.0, 0.0), (5.0, 5.0))
    assert d == pytest.approx(5 * math.sqrt(2))


def test_row_extremes_keeps_only_row_ends():
    mask = np.zeros((4, 6), bool)
    mask[1, 1:5] = True
    mask[2, 3] = True
    ext = {tuple(p) for p in row_extremes(mask)}
    assert ext == {(1.0, 1.0), (4.0, 1.0), (3.0, 2.0)}


def test_position_angle_convention():
    # x = column, y = row (down): a segment going right and down has pa 45
    assert position_angle((0, 0), (1, 1)) == pytest.approx(45)
    assert position_angle((0, 0), (1, -1)) == pytest.approx(135)
    assert position_angle((3, 3), (0, 3)) == pytest.approx(0)
    assert position_angle((0, 0), (0, 2)) == pytest.approx(90)


def test_covariance_axes_of_a_rotated_line():
    th = math.radians(30)
    t = np.linspace(-10, 10, 201)
    xs, ys = t * math.cos(th), t * math.sin(th)
    c = np.cov(np.stack([xs, ys]), bias=True)
    l1, l2, theta = covariance_axes(c[0, 0], c[1, 1], c[0, 1])
    assert math.degrees(theta) == pytest.approx(30)
    assert l2 == pytest.approx(0, abs=1e-9)
    assert elongation_from_axes(l1, l2) == pytest.approx(1.0)
    assert elongation_from_axes(2.0, 2.0) == pytest.approx(0.0)
