"""Tests of the realism features: companions, boxy / ansae / dusty bars, irregular arms, stars,
survey colours and correlated noise. Each would fail if the feature broke the bar truth or
silently stopped doing what it is for."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from galaxyscope.synth.params import STYLE_SPECS, sample_params
from galaxyscope.synth.render import (
    _other_galaxies_by_band,
    _unit_noise,
    bar_mask_for,
    galaxy_components,
    render_galaxy,
)


def _with_companions(seed: int, size: int, merger: bool = False):
    for index in range(400):
        p = sample_params(seed, index, size, has_bar=True)
        if p.companions and (p.merger or not merger):
            return p
    raise AssertionError("no galaxy with companions drawn")


@pytest.mark.parametrize("merger", [False, True])
def test_companions_are_listed_and_never_touch_the_bar(merger):
    p = _with_companions(21, 128, merger=merger)
    galaxy = render_galaxy(p)
    assert galaxy.truth.n_companions == len(p.companions) > 0
    assert galaxy.truth.merger == p.merger
    if merger:
        assert any(c.tail_length > 0 for c in p.companions)
    light = _other_galaxies_by_band(dataclasses.replace(p, background_galaxies=()))
    assert light.sum() > 0  # they are rendered ...
    assert not light[:, galaxy.bar_mask].any()  # ... but none of their light is on the bar
    # and they are no part of the target's truth
    alone = render_galaxy(dataclasses.replace(p, companions=(), merger=False)).truth
    assert alone.r90_px == galaxy.truth.r90_px and alone.bar_length_px == galaxy.truth.bar_length_px


def test_about_one_in_twelve_galaxies_is_a_merger():
    mergers = [sample_params(3, i, 96).merger for i in range(300)]
    assert 0.03 < np.mean(mergers) < 0.15


def _face_on_bar(**changes):
    p = sample_params(5, 0, 128, has_bar=True)
    return dataclasses.replace(p, inclination_deg=0.0, disc_axis_ratio=1.0, disc_pa_deg=0.0, bar_phi_deg=0.0,
                               bar_a_px=24.0, bar_b_px=8.0, bar_n=1.0, arm_dust_tau=0.0, **changes)


def test_boxy_bar_with_ansae_and_dust_keeps_its_outline_and_mask():
    plain = render_galaxy(_face_on_bar(bar_boxiness=2.0, bar_ansae=0.0, bar_dust_tau=0.0))
    fancy = render_galaxy(_face_on_bar(bar_boxiness=4.0, bar_ansae=0.8, bar_dust_tau=1.0))
    shaped = galaxy_components(_face_on_bar(bar_boxiness=4.0, bar_ansae=0.8, bar_dust_tau=0.0))
    # same outline: same mask, same truth, all bar light inside the mask
    assert np.array_equal(plain.bar_mask, fancy.bar_mask)
    assert np.array_equal(fancy.bar_mask, bar_mask_for(fancy.params, fancy.components.bar))
    assert not fancy.components.bar[~fancy.bar_mask].any()
    assert fancy.truth.bar_length_px == plain.truth.bar_length_px == 48.0
    cx, cy = int(round(fancy.params.centre_x)), int(round(fancy.params.centre_y))
    def rel(bar, dx, dy):
        return bar[cy + dy, cx + dx] / bar[cy, cx]
    # boxy: brighter towards the corners of the outline than an elliptical bar
    assert rel(shaped.bar, 12, 4) > rel(plain.components.bar, 12, 4) + 0.05
    # ansae: near the tips (0.8 a) the bar is brighter than its centre would make it
    assert rel(shaped.bar, 19, 0) > rel(plain.components.bar, 19, 0) + 0.3
    assert np.array_equal(shaped.bar > 0, plain.components.bar > 0)
    # dust lanes dim the galaxy on one side of the bar only, and only inside the outline
    assert fancy.components.dust_tau is not None
    tau = fancy.components.dust_tau
    assert tau[~fancy.bar_mask].max() < 1e-12
    upper, lower = tau[cy - 5, cx + 14], tau[cy + 5, cx + 14]
    assert max(upper, lower) > 0.3 and min(upper, lower) < 0.05
    # point-symmetric: the other end has its lane on the other side
    assert (tau[cy - 5, cx - 14] > tau[cy + 5, cx - 14]) == (lower > upper)


def test_irregular_arms_are_not_a_perfect_spiral():
    p = sample_params(4, 3, 160, has_bar=False)
    p = dataclasses.replace(p, has_arms=True, clumpiness=0.0, arm_dust_tau=0.0, arm_flocculence=0.0)
    regular = galaxy_components(dataclasses.replace(p, arm_wobble=0.0)).arms
    wobbly = galaxy_components(dataclasses.replace(p, arm_wobble=0.4)).arms
    floc = galaxy_components(dataclasses.replace(p, arm_wobble=0.4, arm_flocculence=0.8)).arms
    assert regular.sum() > 0
    assert np.abs(wobbly - regular).sum() > 0.2 * regular.sum()
    assert np.abs(floc - wobbly).sum() > 0.2 * wobbly.sum()


def test_arm_dust_dims_the_disc_where_the_arms_are():
    p = dataclasses.replace(sample_params(4, 3, 160, has_bar=False), has_arms=True, arm_dust_tau=0.8)
    clean = galaxy_components(dataclasses.replace(p, arm_dust_tau=0.0))
    dusty = galaxy_components(p)
    assert dusty.dust_tau is not None and dusty.dust_tau.max() > 0.1
    assert (dusty.disc <= clean.disc + 1e-12).all() and dusty.disc.sum() < clean.disc.sum()


def test_bright_stars_have_white_saturated_cores_and_many_colours():
    stars = [s for i in range(60) for s in sample_params(7, i, 424, style="sdss").stars]
    assert 18 < len(stars) / 60 < 32  # GZ2 frames show ~20 point sources
    g_r = np.array([s.colour.g_r for s in stars])
    assert g_r.min() < 0.4 and g_r.max() > 1.3  # blue turn-off stars and red M dwarfs
    sigma = sample_params(7, 0, 424, style="sdss").psf_fwhm_px / 2.355
    bright = [s for s in stars if s.flux / (2 * math.pi * sigma**2) > 2e4]
    if bright:
        assert max(abs(s.colour.g_r - 0.3) for s in bright) < 0.6


def _sky_rgb(style: str) -> np.ndarray:
    values = []
    for i in range(4):
        g = render_galaxy(sample_params(12, i, 212, style=style))
        corners = np.concatenate([g.rgb[:20, :20].reshape(-1, 3), g.rgb[-20:, -20:].reshape(-1, 3)])
        values.append(np.median(corners, axis=0))
    return np.mean(values, axis=0)


def test_sky_is_dark_and_near_neutral_like_the_real_cutouts():
    decals = _sky_rgb("decals") * 255
    assert decals.max() - decals.min() < 3.0  # real DECaLS sky ~(17, 16, 16)
    assert 8 < decals.mean() < 24
    sdss = _sky_rgb("sdss") * 255
    assert sdss.max() < 9  # real GZ2 sky ~(4, 4, 2); before it was ~(10, 8, 5)


@pytest.mark.parametrize("style, lo, hi", [("sdss", 0.5, 0.95), ("decals", 0.2, 0.8)])
def test_sky_noise_is_correlated_like_resampled_survey_images(style, lo, hi):
    noise = _unit_noise(sample_params(2, 1, 424, style=style))
    assert np.allclose(noise.std(axis=(1, 2)), 1.0, atol=0.02)
    d = noise[1] - noise[1].mean()
    lag1 = float((d[:, 1:] * d[:, :-1]).mean() / d.var())
    assert lo < lag1 < hi
    # bands independent: coloured grain, as in the real cutouts
    assert abs(np.corrcoef(noise[0].ravel(), noise[2].ravel())[0, 1]) < 0.1


def test_decals_frames_show_galaxies_larger_than_gz2_framing():
    sdss = [sample_params(8, i, 424, style="sdss").r90_target_px for i in range(40)]
    decals = [sample_params(8, i, 424, style="decals") for i in range(40)]
    assert np.median([p.r90_target_px for p in decals]) > 1.15 * np.median(sdss)
    assert max(p.r90_target_px for p in decals) <= 0.155 * 424 + 1e-9  # artefacts still fit the crop
    for p in decals[:3]:  # the catalogue's petro R90 undoes the zoom
        t = render_galaxy(dataclasses.replace(p, size=424)).truth
        assert math.isclose(t.petro_r90_arcsec, p.pixel_scale_arcsec * 50 / 2.12 / 0.02 * p.frame_zoom / 50 * 2.12,
                            rel_tol=1e-9)


def test_same_seed_same_pixels_with_companions_and_dust():
    p = _with_companions(21, 96, merger=True)
    p = dataclasses.replace(p, bar_dust_tau=0.7, bar_boxiness=3.5, bar_ansae=0.5)
    a, b = render_galaxy(p), render_galaxy(p)
    assert np.array_equal(a.rgb, b.rgb) and np.array_equal(a.bands, b.bands)
    assert sample_params(21, 5, 96, style="decals") == sample_params(21, 5, 96, style="decals")
    assert STYLE_SPECS["decals"].colour_saturation != STYLE_SPECS["decals"].source_saturation
