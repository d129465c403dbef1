"""measure_bar's contract: methods and aliases, parameters, quality flags, units."""

from __future__ import annotations

import math

import astropy.units as u
import numpy as np
import pytest
from astropy.cosmology import FlatLambdaCDM, Planck18

from galaxyscope.errors import GalaxyscopeError
from galaxyscope.measure import (FLAG_DESCRIPTIONS, METHOD_ALIASES, METHOD_PARAMS, METHODS,
                                 BarMeasurement, MeasureError, MomentsParams, PaperParams,
                                 measure_bar, param_specs)
from galaxyscope.measure.testmaps import gaussian_bar_map, saliency_like_map

BAR = gaussian_bar_map((128, 128), length=60, width=12, pa_deg=35, noise=0.05)


def test_methods_and_aliases():
    assert set(METHODS) == {"paper", "moments"} == set(METHOD_PARAMS)
    for alias, target in METHOD_ALIASES.items():
        assert measure_bar(BAR, alias).method == target
    assert measure_bar(BAR, "MOMENTS").method == "moments"
    assert measure_bar(BAR).method == "moments"
    with pytest.raises(GalaxyscopeError, match="unknown bar method"):
        measure_bar(BAR, "nope")


def test_bad_inputs_raise_project_errors():
    with pytest.raises(MeasureError, match="2-D"):
        measure_bar(np.zeros((4, 4, 3)), "paper")
    with pytest.raises(MeasureError, match="unknown MomentsParams parameter"):
        measure_bar(BAR, "moments", stop_pearson=0.9)
    with pytest.raises(MeasureError, match="t_start"):
        measure_bar(BAR, "paper", t_start=1.5)
    with pytest.raises(MeasureError, match="differ in shape"):
        measure_bar([BAR, BAR[:64]], "moments")
    with pytest.raises(MeasureError):
        measure_bar(BAR, "moments", length_from="diagonal")
    assert issubclass(MeasureError, GalaxyscopeError)


@pytest.mark.parametrize("method", ["paper", "moments"])
@pytest.mark.parametrize("kind", ["zeros", "constant", "nan"])
def test_no_signal(method, kind):
    s = {"zeros": np.zeros((64, 64), np.float32), "constant": np.full((64, 64), 0.7, np.float32),
         "nan": np.full((64, 64), np.nan, np.float32)}[kind]
    m = measure_bar(s, method)
    assert m.flags == ("no_signal",)
    assert math.isnan(m.length_px) and m.endpoints is None and m.n_pixels == 0
    assert not m.mask.any() and m.mask.shape == (64, 64)
    assert not m.ok
    units = m.with_units(0.4 * u.arcsec / u.pix, 0.05)
    assert np.isnan(units.length_arcsec.value)


@pytest.mark.parametrize("method", ["paper", "moments"])
def test_tiny_blob_is_too_few_pixels(method):
    s = np.zeros((424, 424), np.float32)
    s[210:213, 210:214] = 1.0  # 12 pixels; the scaled minimum on 424 px is ~143
    m = measure_bar(s, method)
    assert "too_few_pixels" in m.flags
    assert m.n_pixels < m.params.min_pixels
    assert m.ok and m.length_px < 8


@pytest.mark.parametrize("method", ["paper", "moments"])
def test_touches_crop_edge(method):
    # a bar longer than the central half of the frame: it reaches the crop's edge
    s = gaussian_bar_map((200, 200), length=200, width=10, pa_deg=30)
    r0, r1, c0, c1 = 50, 150, 50, 150
    s[:r0] = 0
    s[r1:] = 0
    s[:, :c0] = 0
    s[:, c1:] = 0
    # a light blur (1.5 px): a wide one pulls the mask back from the zeroed edge
    opts = {"blur_sigma": 1.5} if method == "moments" else {}
    m = measure_bar(s, method, crop_fraction=0.5, **opts)
    assert m.diagnostics.crop_box == (r0, r1, c0, c1)
    assert "touches_crop_edge" in m.flags
    inner = gaussian_bar_map((200, 200), length=40, width=10, pa_deg=30)
    assert "touches_crop_edge" not in measure_bar(inner, method, crop_fraction=0.5).flags


def test_not_normalised_and_round_blob_flags():
    round_blob = gaussian_bar_map((96, 96), length=30, width=30, pa_deg=0)
    m = measure_bar(round_blob, "moments")
    assert "not_elongated" in m.flags and m.elongation < 0.2
    assert "not_normalised" in measure_bar(BAR * 3.0, "paper").flags
    for f in m.flags:
        assert f in FLAG_DESCRIPTIONS


def test_units_from_pixel_scale_and_redshift():
    m = measure_bar(BAR, "moments")
    scale = 0.396 * u.arcsec / u.pix
    z = 0.05
    res = m.with_units(scale, z)
    assert res.length.unit == u.pix and res.length.value == pytest.approx(m.length_px)
    assert res.length_arcsec.to_value(u.arcsec) == pytest.approx(0.396 * m.length_px)
    assert res.length_err_arcsec.to_value(u.arcsec) == pytest.approx(0.396 * m.length_err_px)
    # independent: angle in radians x angular diameter distance
    expected = (Planck18.angular_diameter_distance(z) * (0.396 * m.length_px * u.arcsec).to_value(u.rad))
    assert res.length_kpc.to_value(u.kpc) == pytest.approx(expected.to_value(u.kpc), rel=1e-6)
    assert res.width_kpc.unit == u.kpc and res.cosmology == "Planck18"
    other = FlatLambdaCDM(H0=100, Om0=0.3)
    res2 = m.with_units(scale, z, cosmology=other)
    expected2 = other.angular_diameter_distance(z) * (0.396 * m.length_px * u.arcsec).to_value(u.rad)
    assert res2.length_kpc.to_value(u.kpc) == pytest.approx(expected2.to_value(u.kpc), rel=1e-6)
    assert res2.length_kpc < res.length_kpc  # larger H0, smaller distances
    # a bare angle is read as per pixel
    assert m.with_units(0.396 * u.arcsec, None).length_arcsec == res.length_arcsec


def test_units_unknown_are_none():
    m = measure_bar(BAR, "paper")
    none = m.with_units(None, None)
    assert none.length.unit == u.pix
    assert none.length_arcsec is None and none.length_kpc is None and none.pixel_scale is None
    no_z = m.with_units(0.4 * u.arcsec / u.pix, None)
    assert no_z.length_arcsec is not None and no_z.length_kpc is None
    assert m.with_units(0.4 * u.arcsec / u.pix, float("nan")).length_kpc is None
    assert m.with_units(None, 0.1).length_kpc is None  # no angle without a pixel scale
    with pytest.raises(ValueError):
        m.with_units(0.4 * u.arcsec / u.pix, -0.1)
    with pytest.raises(TypeError):
        m.with_units(0.4, 0.1)
    assert isinstance(m, BarMeasurement) and m.length == m.length_px * u.pix


@pytest.mark.parametrize("cls", [PaperParams, MomentsParams])
def test_param_specs_have_ranges_that_hold_the_defaults(cls):
    specs = param_specs(cls)
    assert [s.name for s in specs] == [f for f in cls.__dataclass_fields__]
    for s in specs:
        if s.choices:
            assert s.default in s.choices
        elif s.default is not None:
            assert s.low <= s.default <= s.high, s.name
            assert s.step and s.step > 0
        assert s.label


def test_measurement_keeps_the_parameters_used():
    m = measure_bar(BAR, "paper", stop_pearson=0.8, min_pixels=25)
    assert isinstance(m.params, PaperParams)
    assert m.params.stop_pearson == 0.8 and m.params.min_pixels == 25.0
    assert param_specs(m.params)[0].default == m.params.t_start


@pytest.mark.parametrize("method", ["paper", "moments"])
def test_saliency_like_map_from_a_cropped_model_input(method):
    s = saliency_like_map(frame=424, crop_fraction=0.5, input_size=128, length=90, width=18,
                          pa_deg=35, bulge_amp=0.0, noise=0.1, seed=1)
    m = measure_bar(s, method, model_input_size=128, crop_fraction=0.5)
    assert m.ok and m.endpoints is not None
    assert abs((m.pa_deg - 35 + 90) % 180 - 90) < 5
    assert m.diagnostics.min_pixels_model == pytest.approx(52.2, abs=0.1)
    (x1, y1), (x2, y2) = m.endpoints
    assert 106 <= min(x1, x2) and max(x1, x2) <= 318  # inside the crop the model saw
    if method == "moments":
        assert m.length_px == pytest.approx(90, rel=0.1)
