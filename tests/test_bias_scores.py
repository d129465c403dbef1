"""Placement scores: saliency put on the star, on the galaxy, on the border, off centre, flat."""

from __future__ import annotations

import math

import numpy as np
import pytest

from galaxyscope.bias.masks import galaxy_masks
from galaxyscope.bias.scores import PlacementScores, ScoreParams, placement_scores, saliency_mass
from test_bias_testdata import SIZE, STAR_XY, draw_scene


def blob(xy: tuple[float, float], sigma: float = 2.0, size: int = SIZE) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size].astype(float)
    return np.exp(-0.5 * ((xx - xy[0]) ** 2 + (yy - xy[1]) ** 2) / sigma**2).astype(np.float32)


@pytest.fixture(scope="module")
def masks():
    return galaxy_masks(draw_scene(star_xy=STAR_XY))


def test_map_on_the_star_puts_the_mass_there(masks):
    s = placement_scores(blob(STAR_XY), masks)
    assert s.share_sources > 0.8
    assert s.top_source_share > 0.8
    assert s.share_outside >= s.share_sources
    assert s.peak_on_source
    assert s.top_source_xy is not None
    assert math.dist(s.top_source_xy, STAR_XY) <= 1.5
    assert math.dist(s.peak_xy, STAR_XY) <= 1.0
    # the centroid sits on the star: far from the centre in galaxy radii
    expected = math.dist(STAR_XY, masks.centre)
    assert s.centroid_offset_px == pytest.approx(expected, abs=1.5)
    assert s.centroid_offset_r == pytest.approx(s.centroid_offset_px / masks.radius_px)


def test_map_on_the_galaxy_stays_on_it(masks):
    c = (SIZE - 1) / 2
    s = placement_scores(blob((c, c), sigma=3.0), masks)
    assert s.share_outside < 0.1
    assert s.share_sources < 0.05
    assert s.share_border == 0.0
    assert not s.peak_on_source
    assert s.centroid_offset_r < 0.2
    assert s.galaxy_found


def test_map_on_the_border(masks):
    edge = np.zeros((SIZE, SIZE), np.float32)
    edge[:, :3] = 1.0
    s = placement_scores(edge, masks)
    assert s.share_border == pytest.approx(1.0)
    assert s.share_outside == pytest.approx(1.0)


def test_mass_is_the_map_above_its_floor():
    m = np.full((10, 10), 0.2, np.float32)
    m[2, 3] = 1.0
    w = saliency_mass(m, (0, 10, 0, 10))
    assert w[2, 3] == pytest.approx(0.8) and w.sum() == pytest.approx(0.8)
    # outside the region the model saw, nothing counts
    assert saliency_mass(m, (5, 10, 5, 10))[2, 3] == 0.0
    assert saliency_mass(m, (0, 10, 0, 10), floor_quantile=0.0).sum() == pytest.approx(0.8)


def test_flat_map_scores_nothing(masks):
    s = placement_scores(np.zeros((SIZE, SIZE), np.float32), masks)
    assert s.total_mass == 0.0 and s.share_outside == 0.0 and s.share_sources == 0.0
    assert s.top_source_xy is None


def test_numbers_are_flat_and_complete(masks):
    n = placement_scores(blob(STAR_XY), masks, ScoreParams(peak_smooth_px=0)).numbers()
    for key in ("share_outside", "share_sources", "share_border", "top_source_x", "top_source_y",
                "centroid_offset_px", "centroid_offset_r", "peak_on_source", "galaxy_radius_px"):
        assert key in n
    assert n["top_source_x"] == pytest.approx(STAR_XY[0], abs=1.5)


def test_shape_mismatch_is_an_error(masks):
    with pytest.raises(ValueError, match="differ in shape"):
        placement_scores(np.zeros((5, 5)), masks)


def test_scores_rebuild_from_their_numbers(masks):
    s = placement_scores(blob(STAR_XY), masks)
    back = type(s).from_numbers(s.numbers())
    assert back.numbers() == s.numbers()
    flat = placement_scores(np.zeros((SIZE, SIZE), np.float32), masks)
    assert type(flat).from_numbers(flat.numbers()).top_source_xy is None


def same_row(a: PlacementScores, b: PlacementScores) -> bool:
    """Field by field as rows, NaN equal to NaN (dataclass equality says nan != nan)."""
    ra, rb = a.to_row(), b.to_row()
    return list(ra) == list(rb) and all(
        type(ra[k]) is type(rb[k]) and (ra[k] == rb[k] or (math.isnan(ra[k]) and math.isnan(rb[k]))) for k in ra)


def test_placement_scores_round_trip_through_a_row():
    """A distributed scan's Parquet row rebuilds the very scores (total_mass and a missing top source too)."""
    masks = galaxy_masks(draw_scene(star_xy=STAR_XY))
    real = placement_scores(blob(STAR_XY), masks)  # numpy scalars inside
    flat = PlacementScores(0.0, 0.0, 0.0, 0.0, None, (31.5, 31.5), 0.0, math.nan, (3.0, 4.0), False, 0.0,
                           False, 0.0)
    for s in (real, flat):
        row = s.to_row()
        assert all(type(v) in (float, bool) for v in row.values())
        back = PlacementScores.from_row(row)
        assert same_row(back, s)
        assert back.top_source_xy == s.top_source_xy and back.total_mass == s.total_mass
    assert real.top_source_xy is not None and real.total_mass > 0
    assert PlacementScores.from_row({**flat.to_row(), "top_source_x": None}).top_source_xy is None
