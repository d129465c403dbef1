"""The paper's bar rule (Bhambra et al. 2022): fast sorted sweep == literal loop, and its known flaw."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from galaxyscope.measure import PaperParams, measure_bar, paper_sweep, scaled_min_pixels
from galaxyscope.measure.geometry import brute_force_diameter
from galaxyscope.measure.testmaps import gaussian_bar_map


def literal_paper(saliency: np.ndarray, min_pixels: float, t_start: float = 0.5, t_end: float = 1.0,
                  step: float = 1e-4, stop: float = 0.85):
    """The rule exactly as written, one threshold at a time: (stop reason, threshold, mask)."""
    s = np.asarray(saliency, dtype=np.float64)
    n_steps = int(math.floor((t_end - t_start) / step + 1e-9))
    previous = None
    for k in range(n_steps + 1):
        t = t_start + k * step
        mask = s > t
        n = int(mask.sum())
        if n < min_pixels:
            if previous is None:
                return "start_too_small", t, mask
            return "min_pixels", previous[0], previous[1]
        ys, xs = np.nonzero(mask)
        if n >= 2 and xs.std() > 0 and ys.std() > 0:
            r = abs(np.corrcoef(xs, ys)[0, 1])
            if r > stop:
                return "correlation", t, mask
        previous = (t, mask)
    return "not_elongated", previous[0], previous[1]


def small_map(seed: int, size: int, quantise: bool) -> np.ndarray:
    rng = np.random.default_rng(seed)
    m = gaussian_bar_map((size, size), length=rng.uniform(4, 1.5 * size), width=rng.uniform(1.5, 5),
                         pa_deg=rng.uniform(0, 180), noise=rng.uniform(0, 0.4), seed=seed,
                         bulge_sigma=2.0, bulge_amp=rng.uniform(0, 0.4))
    if quantise:  # many ties: the set at t must still be a prefix of the sorted pixels
        m = np.round(m * 64) / 64
    return m.astype(np.float32)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), size=st.integers(8, 24), quantise=st.booleans(),
       min_pixels=st.floats(1, 30))
def test_fast_sweep_equals_literal_loop(seed, size, quantise, min_pixels):
    s = small_map(seed, size, quantise)
    reason, t, mask = literal_paper(s, min_pixels)
    m = measure_bar(s, "paper", min_pixels=min_pixels)
    assert m.diagnostics.stop_reason == reason
    assert m.threshold == t
    assert np.array_equal(m.mask, mask)
    expected = brute_force_diameter(mask) if mask.sum() else math.nan
    assert m.length_px == pytest.approx(expected, abs=1e-9, nan_ok=True)


def test_fast_sweep_equals_literal_loop_on_a_diagonal_bar_with_custom_thresholds():
    s = gaussian_bar_map((40, 40), length=24, width=5, pa_deg=45, noise=0.05)
    reason, t, mask = literal_paper(s, 10, t_start=0.3, t_end=0.95, step=1e-3, stop=0.9)
    m = measure_bar(s, "paper", min_pixels=10, t_start=0.3, t_end=0.95, t_step=1e-3, stop_pearson=0.9)
    assert (m.diagnostics.stop_reason, m.threshold) == (reason, t)
    assert np.array_equal(m.mask, mask)
    assert m.length_px == pytest.approx(brute_force_diameter(mask))


@pytest.mark.parametrize("pa", [30.0, 45.0, 135.0, 150.0])
def test_diagonal_bar_length_and_angle(pa):
    s = gaussian_bar_map((160, 160), length=80, width=14, pa_deg=pa, noise=0.05, seed=1)
    m = measure_bar(s, "paper")
    assert m.diagnostics.stop_reason == "correlation"
    assert m.threshold == pytest.approx(0.5, abs=0.02)
    assert m.length_px == pytest.approx(80, rel=0.04)  # extent at half maximum = FWHM
    assert abs((m.pa_deg - pa + 90) % 180 - 90) < 3.0
    assert m.flags == ()


@pytest.mark.parametrize("pa", [0.0, 90.0])
def test_axis_aligned_bar_misfires_as_the_rule_implies(pa):
    """|Pearson(row, col)| ~ 0 for a bar along an image axis, so the line test never fires:
    the sweep runs on until fewer than min_pixels remain and measures that small core."""
    s = gaussian_bar_map((160, 160), length=80, width=14, pa_deg=pa, noise=0.0)
    m = measure_bar(s, "paper")
    sweep = paper_sweep(s)
    assert np.nanmax(sweep.abs_pearson[: sweep.stop_index]) < 0.05
    assert m.diagnostics.stop_reason == "min_pixels"
    assert "not_elongated" in m.flags
    min_px = m.params.min_pixels
    assert min_px <= m.n_pixels < min_px + 40
    assert m.length_px < 0.6 * 80
    good = measure_bar(s, "moments", blur_sigma=1.5, length_from="extent")
    assert good.length_px == pytest.approx(80, rel=0.05)


def test_flips_and_rot90_keep_the_paper_length():
    s = gaussian_bar_map((96, 96), length=50, width=10, pa_deg=60, noise=0.2, seed=3)
    ref = measure_bar(s, "paper")
    for t in (np.fliplr(s), np.flipud(s), np.rot90(s)):
        m = measure_bar(np.ascontiguousarray(t), "paper")
        assert m.length_px == pytest.approx(ref.length_px, abs=1e-9)
        assert m.threshold == ref.threshold


def test_min_pixels_scales_with_area():
    assert scaled_min_pixels((224, 224)).map == pytest.approx(40)
    mp = scaled_min_pixels((424, 424), model_input_size=128, crop_fraction=0.5)
    assert mp.map == pytest.approx(40 * (424 / 224) ** 2)
    assert mp.model == pytest.approx(52.2, abs=0.1)  # the prototype's equivalent
    m = measure_bar(np.zeros((424, 424), np.float32) + np.eye(424, dtype=np.float32), "paper",
                    model_input_size=128, crop_fraction=0.5)
    assert m.params.min_pixels == pytest.approx(mp.map)
    assert m.diagnostics.min_pixels_model == pytest.approx(mp.model)


def test_sweep_curve_is_consistent():
    s = gaussian_bar_map((64, 64), length=30, width=8, pa_deg=40, noise=0.1)
    sw = paper_sweep(s, PaperParams(), min_pixels=20)
    assert len(sw.thresholds) == 5001 and sw.thresholds[0] == 0.5 and sw.thresholds[-1] == pytest.approx(1.0)
    assert np.all(np.diff(sw.n_pixels) <= 0)
    k = 1234
    assert sw.n_pixels[k] == int((s.astype(np.float64) > sw.thresholds[k]).sum())


def test_start_too_small_measures_what_is_there():
    s = np.zeros((50, 50), np.float32)
    s[20, 10:30] = 1.0  # a 20-px line, below a 30-px minimum
    m = measure_bar(s, "paper", min_pixels=30)
    assert m.diagnostics.stop_reason == "start_too_small"
    assert "too_few_pixels" in m.flags
    assert m.length_px == pytest.approx(19.0)
    assert m.pa_deg == pytest.approx(0.0)
