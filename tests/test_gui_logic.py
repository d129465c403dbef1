"""The GUI's Qt-free logic: display scaling, overlay geometry, readout, browser sort/filter, labels."""

from __future__ import annotations

import math

import astropy.units as u
import numpy as np
import pytest
from astropy.wcs import WCS

from galaxyscope.gui.bar_fit import describe_fit, fit_bar, length_label, params_with
from galaxyscope.images.row_filter import FilterError, filter_mask, sort_order
from galaxyscope.gui.display import (
    DisplaySettings,
    channel_choices,
    display_array,
    saliency_rgba,
    select_channels,
    thumbnail_rgb,
)
from galaxyscope.gui.overlay_geometry import (
    bar_line_xy,
    crop_box_xy,
    label_anchor,
    mask_outline_xy,
    width_box_xy,
)
from galaxyscope.gui.readout import format_dec, format_ra, header_text, pixel_under, readout_at
from galaxyscope.gui.shortcuts import SHORTCUTS, shortcut_help_html, shortcut_rows
from galaxyscope.measure import MomentsParams, measure_bar


def bar_map(size: int = 64, angle_deg: float = 30.0, half: float = 14.0) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size].astype(float)
    c = (size - 1) / 2
    a = math.radians(angle_deg)
    u_ = (xx - c) * math.cos(a) + (yy - c) * math.sin(a)
    v_ = -(xx - c) * math.sin(a) + (yy - c) * math.cos(a)
    m = np.exp(-0.5 * ((u_ / half) ** 2 + (v_ / 2.5) ** 2))
    return (m / m.max()).astype(np.float32)


# ---------------------------------------------------------------- display


@pytest.mark.parametrize("stretch", ["linear", "sqrt", "log", "asinh"])
@pytest.mark.parametrize("interval", ["minmax", "percentile", "zscale"])
def test_display_array_is_in_unit_range_and_monotonic(stretch, interval):
    rng = np.random.default_rng(1)
    px = np.sort(rng.normal(100, 20, 400)).reshape(20, 20, 1).astype(np.float32)
    out = display_array(px, DisplaySettings(stretch=stretch, interval=interval, channel="luminance"))
    assert out.shape == (20, 20) and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    flat = out.ravel()
    assert np.all(np.diff(flat) >= -1e-6)  # brighter pixels never display darker
    assert flat[-1] > flat[0]


def test_display_minmax_maps_extremes_and_nan_becomes_zero():
    px = np.array([[0.0, 5.0], [10.0, np.nan]], np.float32)
    out = display_array(px, DisplaySettings(stretch="linear", interval="minmax", channel="luminance"))
    assert out[0, 0] == 0.0 and out[1, 0] == pytest.approx(1.0) and out[0, 1] == pytest.approx(0.5)
    assert out[1, 1] == 0.0


def test_display_rgb_uses_one_interval_for_all_channels():
    px = np.zeros((4, 4, 3), np.float32)
    px[..., 0] = 1.0  # red at full, blue at half: the colour must survive
    px[..., 2] = 0.5
    px[0, 0] = 0.0
    out = display_array(px, DisplaySettings(stretch="linear", interval="minmax", channel="rgb"))
    assert out.shape == (4, 4, 3)
    assert out[1, 1, 0] == pytest.approx(1.0) and out[1, 1, 2] == pytest.approx(0.5)


def test_channel_choices_and_fallback():
    keys = [k for k, _ in channel_choices(3, ("g", "r", "i"))]
    assert keys == ["rgb", "luminance", "band:0", "band:1", "band:2"]
    assert [k for k, _ in channel_choices(1)] == ["luminance"]
    one = np.arange(6, dtype=np.float32).reshape(2, 3, 1)
    assert select_channels(one, "rgb").shape == (2, 3)  # remembered "rgb" on a one-band FITS
    three = np.stack([one[..., 0], one[..., 0] * 2, one[..., 0] * 3], axis=2)
    assert np.allclose(select_channels(three, "band:2"), one[..., 0] * 3)
    assert np.allclose(select_channels(three, "luminance"), one[..., 0] * 2)


def test_thumbnail_is_small_uint8_rgb():
    px = np.random.default_rng(0).random((424, 424, 3)).astype(np.float32)
    th = thumbnail_rgb(px, 48)
    assert th.dtype == np.uint8 and th.ndim == 3 and th.shape[2] == 3
    assert max(th.shape[:2]) <= 48 and min(th.shape[:2]) >= 40


def test_saliency_rgba_fades_low_values_and_respects_opacity():
    lut = np.stack([np.arange(256)] * 3, axis=1).astype(np.uint8)
    m = np.array([[0.0, 0.05, 0.5, 1.0]], np.float32)
    rgba = saliency_rgba(m, lut, opacity=0.5, floor=0.1)
    assert rgba.shape == (1, 4, 4) and rgba.dtype == np.uint8
    assert rgba[0, 0, 3] == 0 and rgba[0, 1, 3] == 0  # at or below the floor: invisible
    assert 0 < rgba[0, 2, 3] < rgba[0, 3, 3] == round(0.5 * 255)
    assert rgba[0, 3, 0] == 255  # colour from the top of the lookup table


# ---------------------------------------------------------------- overlay geometry


def test_bar_line_shifts_half_a_pixel_and_handles_missing():
    xs, ys = bar_line_xy(((10.0, 20.0), (30.0, 20.0)))
    assert list(xs) == [10.5, 30.5] and list(ys) == [20.5, 20.5]
    assert bar_line_xy(None) is None
    assert bar_line_xy(((np.nan, 1.0), (2.0, 3.0))) is None


def test_width_box_is_centred_on_the_line():
    bx, by = width_box_xy(((10.0, 20.0), (30.0, 20.0)), 6.0)
    assert len(bx) == 5 and bx[0] == bx[-1] and by[0] == by[-1]
    assert sorted(set(np.round(by, 6))) == [17.5, 23.5]
    assert sorted(set(np.round(bx, 6))) == [10.5, 30.5]
    assert width_box_xy(((0, 0), (5, 5)), float("nan")) is None


def test_mask_outline_surrounds_the_mask_even_at_the_border():
    mask = np.zeros((10, 10), bool)
    mask[0:3, 4:7] = True  # touches the top edge
    xs, ys = mask_outline_xy(mask)
    finite = np.isfinite(xs)
    assert finite.sum() > 4
    # outline runs around pixel rows 0..2 and columns 4..6 (scene coordinates: +0.5)
    assert xs[finite].min() == pytest.approx(4.0) and xs[finite].max() == pytest.approx(7.0)
    assert ys[finite].min() == pytest.approx(0.0) and ys[finite].max() == pytest.approx(3.0)
    assert mask_outline_xy(np.zeros((5, 5), bool)) is None


def test_crop_box_and_label_anchor():
    xs, ys = crop_box_xy((106, 318, 106, 318))
    assert (xs.min(), xs.max(), ys.min(), ys.max()) == (106, 318, 106, 318)
    ax, ay = label_anchor(((10.0, 40.0), (30.0, 20.0)), offset_px=0.0)
    assert (ax, ay) == (30.5, 20.5)  # the upper end (smaller y)


def test_measured_bar_overlay_lies_along_the_planted_bar():
    m = measure_bar(bar_map(angle_deg=30.0), "moments")
    xs, ys = bar_line_xy(m.endpoints)
    angle = math.degrees(math.atan2(ys[1] - ys[0], xs[1] - xs[0])) % 180
    assert abs(angle - 30.0) < 5.0
    mid = ((xs[0] + xs[1]) / 2, (ys[0] + ys[1]) / 2)
    assert abs(mid[0] - 32.0) < 2 and abs(mid[1] - 32.0) < 2  # the map centre (31.5) + half a pixel


# ---------------------------------------------------------------- readout


def test_pixel_under_uses_pixel_corners():
    assert pixel_under(0.0, 0.0, 10, 20) == (0, 0)
    assert pixel_under(19.99, 9.99, 10, 20) == (19, 9)
    assert pixel_under(20.0, 5.0, 10, 20) is None
    assert pixel_under(-0.01, 5.0, 10, 20) is None


def test_readout_values_and_sky_position():
    px = np.arange(12, dtype=np.float32).reshape(3, 4, 1)
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crval = [150.0, 2.0]
    w.wcs.crpix = [2.0, 2.0]  # FITS 1-based: pixel index (1, 1)
    w.wcs.cdelt = [-0.0001, 0.0001]
    r = readout_at(px, 1.5, 1.2, wcs=w)
    assert (r.x, r.y) == (1, 1) and r.values == (5.0,)
    assert r.ra_deg == pytest.approx(150.0) and r.dec_deg == pytest.approx(2.0)
    text = r.text()
    assert "x=2  y=2 (1-based" in text and "RA=10h00m00.00s" in text  # FITS pixel (2, 2) = CRPIX and "Dec=+02d00m00.0s" in text
    assert readout_at(px, 10, 10) is None
    assert format_ra(0.0).startswith("00h00m") and format_dec(-5.5).startswith("-05d30m")


def test_header_text():
    from astropy.io import fits

    h = fits.Header()
    h["OBJECT"] = "NGC 1300"
    assert "OBJECT  = 'NGC 1300'" in header_text(h)
    assert "no FITS header" in header_text(None)


# ---------------------------------------------------------------- browser sort / filter


def test_sort_order_puts_missing_last_both_ways_and_is_stable():
    values = np.ma.masked_array([3.0, 1.0, 2.0, 1.0, 9.0], mask=[0, 0, 0, 0, 1])
    rows = np.arange(5)
    assert list(sort_order(values, rows)) == [1, 3, 2, 0, 4]
    assert list(sort_order(values, rows, descending=True)) == [0, 2, 1, 3, 4]
    nan = np.array([np.nan, 2.0, 1.0])
    assert list(sort_order(nan, np.arange(3))) == [2, 1, 0]
    names = np.array(["b", "A", "c"])
    assert list(sort_order(names, np.arange(3))) == [1, 0, 2]  # case-insensitive
    assert list(sort_order(np.array([5.0, 4.0, 3.0]), np.array([2, 0]))) == [2, 0]


def test_filter_mask_clauses():
    keys = ["sdss/a.jpg", "sdss/b.jpg", "decals/c.jpg", "decals/d.jpg"]
    cols = {
        "has_bar": np.array([1, 0, 1, 0]),
        "survey": np.array(["sdss", "sdss", "decals", "decals"]),
        "paper_px": np.array([40.0, np.nan, 12.0, 80.0]),
        "flags": np.array(["", "paper:off_centre", "", "moments:touches_crop_edge"], dtype=object),
    }
    f = lambda text: list(np.flatnonzero(filter_mask(text, keys, cols.__getitem__, list(cols))))  # noqa: E731
    assert f("") == [0, 1, 2, 3]
    assert f("has_bar == 1") == [0, 2]
    assert f("survey = SDSS") == [0, 1]
    assert f("paper_px > 30") == [0, 3]  # NaN never passes a comparison
    assert f("paper_px != 40") == [1, 2, 3]  # ... but passes "not equal"
    assert f("flags ~ edge") == [3]
    assert f("flags !~ paper") == [0, 2, 3]
    assert f("has_bar == 1 and survey == decals") == [2]
    assert f("decals") == [2, 3]  # free text: file names
    assert f("Has_Bar=0 & d.jpg") == [3]
    with pytest.raises(FilterError, match="no column 'nope'"):
        f("nope == 3")
    with pytest.raises(FilterError, match="holds numbers"):
        f("paper_px > big")


# ---------------------------------------------------------------- bar labels


def test_length_label_units_appear_only_when_known():
    m = measure_bar(bar_map(), "moments")
    assert m.ok
    px_only = length_label(m, None, None)
    assert px_only.endswith(" px") and "″" not in px_only and "kpc" not in px_only
    with_arcsec = length_label(m, 0.396 * u.arcsec / u.pix, None)
    assert "″" in with_arcsec and "kpc" not in with_arcsec
    arcsec_value = float(with_arcsec.split(" · ")[1].rstrip("″"))
    assert arcsec_value == pytest.approx(m.length_px * 0.396, abs=0.01)
    assert "kpc" in length_label(m, 0.396 * u.arcsec / u.pix, 0.05)
    assert length_label(None, None, None) == "no bar measured"


def test_a_refused_bar_gives_the_gates_reason_not_the_calibration_note():
    from dataclasses import replace

    m = measure_bar(bar_map(), "moments")
    refused = replace(m, flags=("no_bar",), notes=("length calibrated x0.30 +- 64 % (fitted on 46 bars)",
                                                   "no bar detected (P = 0.68 < 0.75)"))
    assert length_label(refused, None, None) == "no bar detected (P = 0.68 < 0.75)"
    assert describe_fit(type("Fit", (), {"measurement": refused, "method": "moments", "error": None})(),
                        None, None).splitlines()[0] == "moments: no bar detected (P = 0.68 < 0.75)"
    assert length_label(replace(refused, notes=()), None, None) == "no bar detected"


def test_fit_bar_uses_parameters_and_describe_lists_flags():
    sal = bar_map()
    low = fit_bar(sal, "moments", params_with(MomentsParams(), {"t_start": 0.2}), model_input_size=None,
                  crop_fraction=None)
    high = fit_bar(sal, "moments", params_with(MomentsParams(), {"t_start": 0.8}), model_input_size=None,
                   crop_fraction=None)
    assert low.ok and high.ok and low.measurement.length_px > high.measurement.length_px
    text = describe_fit(low, None, None)
    assert text.startswith("moments: ") and "flags:" in text and "PA" in text
    bad = fit_bar(np.zeros((3,), np.float32), "paper", None, model_input_size=None, crop_fraction=None)
    assert not bad.ok and bad.error


def test_describe_wraps_a_long_calibration_note_without_losing_words():
    """The result panel does not wrap, so a calibration note (~150 characters) ran off its edge."""
    from galaxyscope.gui.bar_fit import NOTE_WIDTH, BarFit
    from galaxyscope.measure.calibration import OTHER_SETTINGS_NOTE, LengthCalibration, calibrate

    fit = fit_bar(bar_map(), "moments", params_with(MomentsParams(), {"t_start": 0.3}), model_input_size=None,
                  crop_fraction=None)
    cal = LengthCalibration("moments", 0.8, 0.2, 80, "measurable bars of a long validation set name",
                            attribution="bar_evidence", settings={"t_start": 0.4})
    m = calibrate(fit.measurement, cal, MomentsParams(t_start=0.3))
    note = m.notes[-1]
    assert len(note) > NOTE_WIDTH and OTHER_SETTINGS_NOTE in note
    text = describe_fit(BarFit("moments", m), None, None)
    assert all(len(line) <= NOTE_WIDTH for line in text.splitlines() if not line.startswith("moments:"))
    assert " ".join(note.split()) in " ".join(text.split())  # every word kept, in order


# ---------------------------------------------------------------- shortcuts


def test_shortcuts_are_unique_and_listed_in_help():
    keys = [k for s in SHORTCUTS for k in s.keys]
    assert len(keys) == len(set(keys)), "two actions share a key"
    assert len({s.action for s in SHORTCUTS}) == len(SHORTCUTS)
    help_html = shortcut_help_html()
    for section, key_text, text in shortcut_rows():
        assert key_text in help_html or key_text.replace("&", "&amp;") in help_html
    for needed in ("next_image", "prev_image", "toggle_saliency", "fit_view", "switch_method"):
        assert any(s.action == needed and s.keys for s in SHORTCUTS)
