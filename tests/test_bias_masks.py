"""Masks: the central galaxy, a separate star, a star on the disc, the border frame, no galaxy."""

from __future__ import annotations

import numpy as np

from galaxyscope.bias.masks import MaskParams, border_zone, galaxy_masks
from galaxyscope.images.galaxy_image import GalaxyImage
from test_bias_testdata import SIZE, STAR_XY, draw_scene


def at(mask: np.ndarray, xy: tuple[float, float]) -> bool:
    return bool(mask[int(round(xy[1])), int(round(xy[0]))])


def test_central_galaxy_and_separate_star():
    img = draw_scene(star_xy=STAR_XY)
    m = galaxy_masks(GalaxyImage(pixels=np.repeat(img[:, :, None], 3, axis=2), id="scene"))
    c = (SIZE - 1) / 2
    assert m.found_galaxy
    assert at(m.galaxy, (c, c))
    assert not at(m.galaxy, STAR_XY)
    assert at(m.sources, STAR_XY)
    assert not (m.galaxy & m.sources).any()
    # the star is one source, found at its peak
    assert m.source_at(*STAR_XY) >= 1
    k = m.source_at(*STAR_XY) - 1
    assert np.hypot(m.source_positions[k][0] - STAR_XY[0], m.source_positions[k][1] - STAR_XY[1]) <= 1.5
    # an exponential disc of scale 4 px: most light within ~4 scale lengths
    assert 5 < m.radius_px < 25
    assert abs(m.centre[0] - c) < 1.5 and abs(m.centre[1] - c) < 1.5
    # sky level and noise of the smoothed luminance
    assert abs(m.sky - 0.05) < 0.01
    assert 0 < m.sky_sigma < 0.01


def test_star_on_the_disc_is_cut_out_of_the_galaxy():
    c = (SIZE - 1) / 2
    star = (c + 9.0, c - 5.0)  # on the disc's outskirts, outside its core
    img = draw_scene(star_xy=star, galaxy_scale=6.0)
    m = galaxy_masks(img)
    assert at(m.sources, star)
    assert not at(m.galaxy, star)
    assert at(m.galaxy, (c, c))  # the centre never goes


def test_galaxy_without_stars_has_no_sources_on_it_and_known_centre_is_used():
    img = draw_scene(noise=0.005)
    m = galaxy_masks(img, centre=(30.0, 33.0))
    assert m.centre == (30.0, 33.0)
    assert not (m.sources & m.galaxy).any()
    assert m.galaxy.sum() > 50
    assert m.sources.sum() < 20  # at most a noise speck or two


def test_border_zone_is_a_frame_of_the_region():
    b = border_zone((40, 50), (5, 35, 10, 40), 0.1)  # region 30 x 30, frame 3 px
    assert b.sum() == 30 * 30 - 24 * 24
    assert b[5, 10] and b[7, 20] and not b[8, 20] and not b[20, 25]
    assert not b[0, 0] and not b[4, 20]  # outside the region
    m = galaxy_masks(draw_scene(), region=(0, SIZE, 0, SIZE), params=MaskParams(border_fraction=0.125))
    assert m.border[0].all() and m.border[:, -1].all()
    assert not m.border[SIZE // 2, SIZE // 2] and m.border.sum() == SIZE * SIZE - (SIZE - 16) ** 2


def test_empty_sky_has_no_galaxy():
    m = galaxy_masks(draw_scene(galaxy=False))
    assert not m.found_galaxy
    assert m.radius_px == 0.0


def test_star_alone_near_the_centre_search_is_not_taken_far_away():
    # only a star in a corner: it is far from the centre, so no galaxy is found
    m = galaxy_masks(draw_scene(galaxy=False, star_xy=(6.0, 6.0)))
    assert not m.found_galaxy
    assert at(m.sources, (6.0, 6.0))
