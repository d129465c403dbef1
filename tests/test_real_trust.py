"""Framing by galaxy size, the P(bar) gate, agreement and domain flags (issue 13)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from galaxyscope.evaluate.classification import auc_interval, share_interval
from galaxyscope.images.extent import image_extent, measure_extent
from galaxyscope.images.galaxy_image import GalaxyImage
from galaxyscope.measure import measure_bar
from galaxyscope.measure.trust import (check_agreement, gate_by_probability, lengths_disagree,
                                       mark_out_of_domain, trusted)
from galaxyscope.model.preprocess import Preprocessing, padded_crop

ROOT = Path(__file__).resolve().parents[1]


def exp_galaxy(size: int, r_scale: float, noise: float = 0.01, seed: int = 0) -> np.ndarray:
    """An exponential disc: R90 = 3.89 scale lengths (circular apertures)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(float)
    c = (size - 1) / 2
    r = np.hypot(xx - c, yy - c)
    rng = np.random.default_rng(seed)
    return (np.exp(-r / r_scale) + rng.normal(0, noise, (size, size))).astype(np.float32)


@pytest.mark.parametrize("scale", [4.0, 8.0])
def test_extent_follows_the_galaxy_size(scale):
    ext = measure_extent(exp_galaxy(160, scale))
    assert ext.ok
    assert ext.r90_px == pytest.approx(3.89 * scale, rel=0.3)
    assert ext.r50_px < ext.r90_px
    assert abs(ext.centre[0] - 79.5) < 2 and abs(ext.centre[1] - 79.5) < 2


def test_extent_of_blank_noise_fails_with_a_reason():
    rng = np.random.default_rng(1)
    ext = measure_extent(rng.normal(0, 1, (64, 64)).astype(np.float32) * 0 + 1.0)
    assert not ext.ok and math.isnan(ext.r90_px) and ext.reason


def test_galaxy_framing_scales_the_box_with_r90_and_pads_beyond_the_image():
    pre = Preprocessing(input_size=32, crop_fraction=0.5, framing="galaxy", frame_r90=4.0)
    small = GalaxyImage(exp_galaxy(160, 4.0), id="small")
    big = GalaxyImage(exp_galaxy(160, 16.0), id="big")
    rs, re_, cs, ce = pre.box_for(small)
    rb, rbe, cb, cbe = pre.box_for(big)
    side_s, side_b = re_ - rs, rbe - rb
    assert side_s == pytest.approx(4.0 * image_extent(small).r90_px, abs=1)
    assert side_b > 160 and rb < 0  # bigger than the frame: padded
    assert side_b / side_s == pytest.approx(4.0, rel=0.35)
    x = pre.to_model(big)
    assert tuple(x.shape) == (1, 3, 32, 32) and np.isfinite(x.numpy()).all()
    # the fixed crop ignores the galaxy
    assert Preprocessing(input_size=32, crop_fraction=0.5).box_for(big) == (40, 120, 40, 120)


def test_padding_is_sky_not_zero():
    px = np.full((20, 20, 1), 5.0, np.float32)
    px[8:12, 8:12] = 100.0
    crop = padded_crop(px, (-10, 30, -10, 30))
    assert crop.shape == (40, 40, 1)
    assert np.allclose(crop[:5, :5], 5.0)  # border median, no spread
    assert np.allclose(crop[18:22, 18:22], 100.0)


def test_map_back_puts_the_model_map_where_the_box_overlaps():
    pre = Preprocessing(input_size=8, crop_fraction=0.5)
    m = np.zeros((8, 8), np.float32)
    m[:, 4:] = 1.0
    out = pre.map_back(m, 20, 20, box=(-10, 30, -10, 30))  # the box is twice the image
    assert out.shape == (20, 20)
    assert out[:, :8].max() < 0.1 and out[:, 12:].min() > 0.9


def test_old_checkpoints_keep_their_dict():
    assert "framing" not in Preprocessing().to_dict()
    d = Preprocessing(framing="galaxy", frame_r90=3.0).to_dict()
    assert Preprocessing.from_dict(d).frame_r90 == 3.0
    with pytest.raises(ValueError):
        Preprocessing(framing="zoom")


def bar_map(size: int = 96) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size].astype(float)
    c = (size - 1) / 2
    return np.exp(-(((xx - c) / 18) ** 2 + ((yy - c) / 4) ** 2)).astype(np.float32)


def test_gate_withdraws_the_bar_below_the_threshold_only():
    m = measure_bar(bar_map(), "moments")
    assert m.ok
    low = gate_by_probability(m, 0.18, 0.6)
    assert not low.ok and low.endpoints is None and "no_bar" in low.flags
    assert low.notes == ("no bar detected (P = 0.18 < 0.60)",) and not low.mask.any()
    assert gate_by_probability(m, 0.7, 0.6) is m
    assert gate_by_probability(m, 0.1, 0.0) is m  # threshold 0 switches the gate off
    assert "no_bar" in gate_by_probability(m, float("nan"), 0.5).flags


def test_agreement_and_domain_flags_carry_their_numbers():
    m = measure_bar(bar_map(), "moments")
    assert not lengths_disagree(40.0, 30.0) and lengths_disagree(40.0, 20.0) and lengths_disagree(10.0, 20.0)
    same = check_agreement(m, m.length_px * 1.2)
    assert trusted(same)
    far = check_agreement(m, m.length_px / 3)
    assert "methods_disagree" in far.flags and "isophote length" in far.notes[0]
    none = check_agreement(m, float("nan"), "ellipticity never exceeds 0.25")
    assert "methods_disagree" in none.flags and "0.25" in none.notes[0]
    ood = mark_out_of_domain(m, ["greyscale image"])
    assert "out_of_domain" in ood.flags and "greyscale" in ood.notes[0] and not trusted(ood)
    assert mark_out_of_domain(m, []) is m


def test_domain_reasons_name_greyscale_and_scale():
    from galaxyscope.model.domain import domain_reasons, is_greyscale

    class M:  # the two attributes domain_reasons reads
        class meta:
            preprocessing = Preprocessing(input_size=32, crop_fraction=0.5)
            domain = {"colour": True, "view_r90": [2.0, 4.5]}

    grey = GalaxyImage(exp_galaxy(160, 4.0), id="g")
    colour = GalaxyImage(np.stack([exp_galaxy(160, 4.0, seed=s) for s in range(3)], axis=2), id="c")
    assert is_greyscale(grey) and not is_greyscale(colour)
    reasons = domain_reasons(M, grey)
    assert any("greyscale" in r for r in reasons)
    # a fixed crop of 80 px on a galaxy of R90 ~ 16 px is a view of ~5 R90: outside 2.0-4.5
    assert any("x R90" in r for r in reasons)
    big = GalaxyImage(np.stack([exp_galaxy(160, 6.0, seed=s) for s in range(3)], axis=2), id="b")
    assert domain_reasons(M, big) == []


def test_measure_with_a_box_scales_the_minimum_with_the_frame():
    sal = bar_map(96)
    fixed = measure_bar(sal, "paper", model_input_size=32, crop_fraction=0.5)
    boxed = measure_bar(sal, "paper", model_input_size=32, crop_fraction=0.5, crop_box=(-48, 144, -48, 144))
    # the box (192 px) is 4x the fixed crop (48 px): the paper's minimum is an area, 16x
    assert boxed.params.min_pixels == pytest.approx(16 * fixed.params.min_pixels, rel=0.01)
    assert boxed.diagnostics.crop_box == (0, 96, 0, 96)


def test_auc_and_share_intervals():
    y = np.array([0] * 20 + [1] * 20, bool)
    perfect = auc_interval(np.arange(40.0), y)
    assert perfect.value == 1.0 and perfect.low == 1.0
    rng = np.random.default_rng(0)
    rand = auc_interval(rng.random(40), y)
    assert rand.low < 0.5 < rand.high
    s = share_interval(np.array([True] * 3 + [False] * 7))
    assert s.value == pytest.approx(0.3) and s.low < 0.3 < s.high and s.n == 10
    assert math.isnan(auc_interval(np.ones(5), np.ones(5, bool)).value)


GB = ROOT.parent / "shared" / "data" / "galaxy-builder-dev"


@pytest.mark.skipif(not GB.exists(), reason=f"{GB} not present (the shared real data set is not on this machine)")
def test_galaxy_builder_extent_tracks_the_catalogue_r90():
    from astropy.table import Table

    from galaxyscope.images.readers import read_image

    cat = Table.read(GB / "catalog.csv")[:12]
    measured = np.array([measure_extent(read_image(GB / f)).r90_px for f in cat["filename"]])
    # Galaxy Builder frames are 4 Petrosian radii wide, so R90 varies little between them;
    # the stretched, star-masked PNG gives a somewhat smaller R90 than SDSS's r-band one
    assert np.all(np.isfinite(measured))
    assert 0.6 < float(np.median(measured / np.asarray(cat["r90_px"], float))) < 1.1


def test_every_new_flag_has_a_description():
    from galaxyscope.measure.isophote import ISOPHOTE_FLAG_DESCRIPTIONS
    from galaxyscope.measure.result import FLAG_DESCRIPTIONS

    for flag in ("no_bar", "methods_disagree", "out_of_domain", *ISOPHOTE_FLAG_DESCRIPTIONS):
        assert FLAG_DESCRIPTIONS.get(flag), flag


def test_an_isophote_bar_the_network_does_not_see_is_flagged_not_withdrawn():
    from galaxyscope.jobs.measure_job import isophote_checked

    m = measure_bar(bar_map(), "moments")  # stands in for an isophote measurement
    flagged = isophote_checked(m, 0.3, 0.6)
    assert flagged.ok and "methods_disagree" in flagged.flags and "P = 0.30 < 0.60" in flagged.notes[0]
    assert isophote_checked(m, 0.7, 0.6) is m and isophote_checked(m, 0.3, 0.0) is m
