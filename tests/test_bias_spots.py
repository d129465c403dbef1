"""The recurring-spot rule (issue 21): off-galaxy saliency that keeps landing in one place across a set
(a planted artefact) is found against a clean reference, and only the images with much of it there flag."""

from __future__ import annotations

import numpy as np
import pytest

from galaxyscope.bias.masks import galaxy_masks
from galaxyscope.bias.spots import GRID, SpotParams, find_hotspot, off_galaxy_grid, spot_shares
from test_bias_scores import blob
from test_bias_testdata import SIZE, STAR_XY, draw_scene


def test_grid_holds_the_off_galaxy_share_where_it_lies():
    masks = galaxy_masks(draw_scene(star_xy=STAR_XY))
    c = (SIZE - 1) / 2
    on_star = off_galaxy_grid(blob(STAR_XY), masks)
    assert on_star.shape == (GRID, GRID)
    row, col = np.unravel_index(np.argmax(on_star), on_star.shape)
    assert (col + 0.5) / GRID == pytest.approx(STAR_XY[0] / SIZE, abs=1.5 / GRID)
    assert (row + 0.5) / GRID == pytest.approx(STAR_XY[1] / SIZE, abs=1.5 / GRID)
    assert 0.5 < on_star.sum() <= 1.0 + 1e-6
    assert off_galaxy_grid(blob((c, c), sigma=3.0), masks).sum() < 0.1  # on the galaxy: nothing off it


def test_hotspot_is_found_where_the_set_beats_the_reference_and_nowhere_on_a_clean_set():
    rng = np.random.default_rng(0)

    def clean(n):
        g = rng.exponential(0.002, (n, GRID, GRID))
        # a random field star now and then, anywhere
        for k in range(n):
            if rng.random() < 0.2:
                g[k, rng.integers(GRID), rng.integers(GRID)] += rng.uniform(0.1, 0.35)
        return g

    reference = clean(200)
    shortcut = clean(100)
    carriers = rng.random(100) < 0.35
    shortcut[carriers, 3, 12] += rng.uniform(0.08, 0.25, carriers.sum())  # the planted star's cell
    spot = find_hotspot(shortcut, reference)
    assert spot.found and spot.cells[3, 12]
    assert spot.where() == "the upper right of the model's view"
    assert spot.set_mean > 3 * spot.reference_mean
    shares = spot_shares(shortcut, spot)
    ref_q = np.quantile(spot_shares(reference, spot), 0.99)
    flagged = shares > max(ref_q, 0.03)
    assert flagged[carriers].mean() > 0.9 and flagged[~carriers].mean() < 0.05
    assert not find_hotspot(clean(100), reference).found  # a clean set has no spot
    assert not find_hotspot(shortcut, reference, SpotParams(min_excess=0.5)).found
