"""Flag rules: a map on the galaxy is not flagged, one on the star is, with its numbers in the reason."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from galaxyscope.bias.flags import (
    NO_GALAXY,
    OFF_GALAXY,
    OFFSET,
    ON_BORDER,
    ON_SOURCE,
    FlagThresholds,
    evaluate_flags,
)
from galaxyscope.bias.masks import galaxy_masks
from galaxyscope.bias.scores import placement_scores
from test_bias_scores import blob
from test_bias_testdata import SIZE, STAR_XY, draw_scene


@pytest.fixture(scope="module")
def masks():
    return galaxy_masks(draw_scene(star_xy=STAR_XY))


def test_map_on_the_galaxy_is_not_flagged(masks):
    c = (SIZE - 1) / 2
    r = evaluate_flags(placement_scores(blob((c, c), sigma=3.0), masks))
    assert not r.flagged
    assert r.reasons == [] and r.kinds == []
    assert 0 <= r.score < 1


def test_map_on_the_star_is_flagged_with_the_numbers(masks):
    sc = placement_scores(blob(STAR_XY), masks)
    r = evaluate_flags(sc)
    assert r.flagged and r.score >= 1
    assert ON_SOURCE in r.kinds and OFF_GALAXY in r.kinds and OFFSET in r.kinds
    reason = r.reasons[r.kinds.index(ON_SOURCE)]
    pct = round(100 * sc.top_source_share)
    x, y = (round(v) for v in sc.top_source_xy)
    assert f"{pct} % of the saliency lies on another source (star/companion) at ({x}, {y})" in reason
    assert "peak" in reason
    offset = r.reasons[r.kinds.index(OFFSET)]
    assert re.search(r"\d+\.\d\d galaxy radii \(\d+ px\)", offset)
    assert f"pulled towards another source (star/companion) at ({x}, {y}) that holds {pct} %" in offset
    flag = r.flags[r.kinds.index(ON_SOURCE)]
    assert flag.value == pytest.approx(sc.top_source_share) and flag.ratio >= 1
    # the score ranks by how far over its threshold the worst rule is
    assert r.score == pytest.approx(max(f.ratio for f in r.flags))


def test_thresholds_are_configurable(masks):
    sc = placement_scores(blob(STAR_XY), masks)
    off = FlagThresholds(source_share=math.inf, outside_share=math.inf, offset_r=math.inf)
    assert not evaluate_flags(sc, off).flagged
    strict = evaluate_flags(placement_scores(blob((31.5, 31.5), sigma=3.0), masks),
                            FlagThresholds(offset_r=1e-3))
    assert strict.kinds == [OFFSET]


def test_border_and_no_galaxy(masks):
    edge = np.zeros((SIZE, SIZE), np.float32)
    edge[:, :3] = 1.0
    assert ON_BORDER in evaluate_flags(placement_scores(edge, masks)).kinds
    empty = galaxy_masks(draw_scene(galaxy=False))
    r = evaluate_flags(placement_scores(blob((31.5, 31.5)), empty))
    assert r.kinds == [NO_GALAXY] and "no central galaxy" in r.reasons[0]
    assert not evaluate_flags(placement_scores(blob((31.5, 31.5)), empty),
                              FlagThresholds(flag_no_galaxy=False)).flagged
