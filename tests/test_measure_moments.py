"""Our "moments" bar fit: accuracy, rotation/flip behaviour, robustness, uncertainty, calibration."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from galaxyscope.measure import MomentsParams, mask_at_threshold, measure_bar
from galaxyscope.measure.geometry import brute_force_diameter
from galaxyscope.measure.testmaps import gaussian_bar_map


def pa_diff(a: float, b: float) -> float:
    return abs((a - b + 90.0) % 180.0 - 90.0)


@pytest.mark.parametrize("pa", [0.0, 20.0, 45.0, 90.0, 120.0, 170.0])
def test_recovers_length_and_angle_at_any_orientation(pa):
    s = gaussian_bar_map((160, 160), length=80, width=14, pa_deg=pa, noise=0.05, seed=2)
    m = measure_bar(s, "moments")
    assert m.length_px == pytest.approx(80, rel=0.04)  # extent at half maximum = FWHM
    assert pa_diff(m.pa_deg, pa) < 2.0
    assert m.width_px == pytest.approx(14, rel=0.2)
    assert m.flags == ()
    (x1, y1), (x2, y2) = m.endpoints
    assert math.dist((x1, y1), (x2, y2)) == pytest.approx(m.length_px)
    assert 0 < m.length_err_px < 0.25 * m.length_px


def test_bar_with_bulge_and_noise():
    s = gaussian_bar_map((160, 160), length=80, width=14, pa_deg=25, noise=0.25, seed=5,
                         bulge_sigma=7, bulge_amp=0.25)
    m = measure_bar(s, "moments")
    # the bulge raises the peak, so half of it cuts the bar shorter: within 20 %
    assert m.length_px == pytest.approx(80, rel=0.2)
    assert pa_diff(m.pa_deg, 25) < 3.0
    assert m.flags == ()


@settings(max_examples=12, deadline=None)
@given(pa=st.floats(0, 180), seed=st.integers(0, 1000), noise=st.floats(0, 0.3))
def test_rot90_rotates_pa_and_keeps_length(pa, seed, noise):
    s = gaussian_bar_map((96, 96), length=50, width=10, pa_deg=pa, noise=noise, seed=seed,
                         bulge_sigma=5, bulge_amp=0.2)
    a = measure_bar(s, "moments")
    b = measure_bar(np.rot90(s), "moments")
    assert b.length_px == pytest.approx(a.length_px, rel=1e-6)
    assert pa_diff(b.pa_deg, a.pa_deg + 90.0) < 1e-4
    assert np.array_equal(np.rot90(a.mask), b.mask)


def test_sweep_mode_is_rotation_free():
    """The rotation-invariant stop fires the same way for a bar along x and along y,
    where the paper's |Pearson| test cannot fire at all."""
    s = gaussian_bar_map((120, 120), length=60, width=12, pa_deg=0.0, noise=0.0,
                         bulge_sigma=9, bulge_amp=0.6)
    a = measure_bar(s, "moments", threshold_mode="sweep")
    b = measure_bar(np.rot90(s), "moments", threshold_mode="sweep")
    assert a.threshold == b.threshold
    assert a.length_px == pytest.approx(b.length_px)
    d = measure_bar(gaussian_bar_map((120, 120), length=60, width=12, pa_deg=45.0,
                                     bulge_sigma=9, bulge_amp=0.6), "moments", threshold_mode="sweep")
    assert d.threshold == pytest.approx(a.threshold, abs=0.02)
    assert d.length_px == pytest.approx(a.length_px, rel=0.05)


def test_far_blob_is_ignored():
    s = gaussian_bar_map((160, 160), length=50, width=10, pa_deg=30, noise=0.02)
    alone = measure_bar(s, "moments").length_px
    s2 = s.copy()
    s2[10:20, 140:150] = 1.0  # a bright artefact near the corner
    m = measure_bar(s2, "moments")
    assert m.length_px == pytest.approx(alone, rel=0.02)
    assert not m.mask[10:20, 140:150].any()
    assert measure_bar(s2, "paper").length_px > 1.5 * alone  # the paper keeps every pixel


def test_given_center_picks_the_bar_there():
    s = gaussian_bar_map((160, 160), length=40, width=8, pa_deg=60, center=(50.0, 110.0))
    m = measure_bar(s, "moments", center=(50.0, 110.0))
    assert m.length_px == pytest.approx(40, rel=0.06)
    assert pa_diff(m.pa_deg, 60) < 2
    assert "off_centre" not in m.flags
    assert "off_centre" in measure_bar(s, "moments").flags


def test_axis_length_of_a_uniform_rectangle():
    s = np.zeros((40, 80), np.float32)
    s[18:23, 20:61] = 1.0  # 41 x 5 pixels
    ext = measure_bar(s, "moments", blur_sigma=0.0, min_pixels=10, length_from="extent")
    ax = measure_bar(s, "moments", blur_sigma=0.0, min_pixels=10, length_from="axis")
    assert ext.length_px == pytest.approx(40.0)
    assert ext.width_px == pytest.approx(4.0)
    assert ax.length_px == pytest.approx(4 * math.sqrt((41**2 - 1) / 12))
    assert ext.pa_deg == pytest.approx(0.0, abs=1e-9) or ext.pa_deg == pytest.approx(180.0)


def test_calibration_hook():
    s = gaussian_bar_map((128, 128), length=60, width=12, pa_deg=35, noise=0.05)
    raw = measure_bar(s, "moments")
    cal = measure_bar(s, "moments", calibration_slope=1.2, calibration_intercept=-3.0)
    assert cal.length_px == pytest.approx(1.2 * raw.length_px - 3.0)
    assert cal.diagnostics.length_raw_px == pytest.approx(raw.length_px)
    assert math.dist(*cal.endpoints) == pytest.approx(cal.length_px)
    assert cal.length_err_px == pytest.approx(1.2 * raw.length_err_px)
    assert cal.params.calibration_slope == 1.2 and cal.params.calibration_intercept == -3.0
    assert cal.pa_deg == pytest.approx(raw.pa_deg)


def test_several_noise_seeds_add_their_spread():
    maps = [gaussian_bar_map((128, 128), length=60, width=12, pa_deg=35, noise=0.4, seed=k)
            for k in range(4)]
    m = measure_bar(maps, "moments")
    d = m.diagnostics
    assert d.n_maps == 4
    assert math.isfinite(d.err_seeds_px) and d.err_seeds_px > 0
    assert m.length_err_px == pytest.approx(math.hypot(d.err_threshold_px, d.err_seeds_px))
    singles = [measure_bar(x, "moments", err_steps=0).length_px for x in maps]
    assert d.err_seeds_px == pytest.approx(np.std(singles, ddof=1))
    p = measure_bar(maps, "paper")
    assert p.length_err_px == pytest.approx(p.diagnostics.err_seeds_px)


def test_mask_helper_draws_the_measured_mask():
    s = gaussian_bar_map((100, 100), length=50, width=10, pa_deg=70, noise=0.1)
    m = measure_bar(s, "moments")
    drawn = mask_at_threshold(s, m.threshold, blur_sigma=m.diagnostics.blur_sigma_px, center=m.center,
                              peak_radius=m.diagnostics.peak_radius_px)
    assert np.array_equal(drawn, m.mask)
    p = measure_bar(s, "paper")
    assert np.array_equal(mask_at_threshold(s, p.threshold), p.mask)


def test_blur_is_in_model_pixels_when_the_input_size_is_known():
    s = gaussian_bar_map((424, 424), length=90, width=16, pa_deg=35, noise=0.1)
    m = measure_bar(s, "moments", model_input_size=96, crop_fraction=0.5, blur_sigma=1.5)
    assert m.diagnostics.blur_sigma_px == pytest.approx(1.5 * 212 / 96)
    assert measure_bar(s, "moments", blur_sigma=1.5).diagnostics.blur_sigma_px == 1.5


maps_strategy = st.builds(
    lambda pa, length, width, noise, seed, bulge: gaussian_bar_map(
        (48, 48), length=length, width=width, pa_deg=pa, noise=noise, seed=seed,
        bulge_sigma=4, bulge_amp=bulge),
    st.floats(0, 180), st.floats(6, 50), st.floats(2, 12), st.floats(0, 0.5),
    st.integers(0, 1000), st.floats(0, 1))


@settings(max_examples=20, deadline=None)
@given(s=maps_strategy, method=st.sampled_from(["paper", "moments", "moments-extent"]))
def test_length_invariant_under_flips_and_bounded_by_the_mask_diameter(s, method):
    # the extent along the major axis can't exceed the mask's diameter; the default "axis"
    # length (4 sqrt(lambda1)) can, by up to 4/sqrt(12) for a uniform rod, plus a pixel
    kw = {"length_from": "extent"} if method == "moments-extent" else {}
    method = method.split("-")[0]
    m = measure_bar(s, method, **kw)
    for flipped in (np.fliplr(s), np.flipud(s)):
        f = measure_bar(np.ascontiguousarray(flipped), method, **kw)
        assert f.length_px == pytest.approx(m.length_px, rel=1e-6, abs=1e-9)
    bound = brute_force_diameter(m.mask)
    if method == "moments" and not kw:
        bound = 4 / np.sqrt(12) * (bound + 1)
    assert m.length_px <= bound + 1e-9
    if method == "paper":
        assert m.length_px == pytest.approx(brute_force_diameter(m.mask))


def test_params_dataclass_is_accepted_and_overridden():
    s = gaussian_bar_map((64, 64), length=30, width=8, pa_deg=10)
    base = MomentsParams(t_start=0.4)
    m = measure_bar(s, "moments", options=base, blur_sigma=1.0)
    assert m.params.t_start == 0.4 and m.params.blur_sigma == 1.0
    assert m.threshold == pytest.approx(0.4)
