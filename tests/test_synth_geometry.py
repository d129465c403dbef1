"""The exact truth: projected bar outline, R90, the Hoyle quantile table."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from galaxyscope.synth.bar_lengths import load_quantile_table
from galaxyscope.synth.geometry import enclosed_light_radius, projected_bar
from galaxyscope.synth.profiles import Ferrers2D, sersic_total_flux, sky_to_disc

bars = st.fixed_dictionaries(
    {
        "a": st.floats(2.0, 80.0),
        "ratio": st.floats(0.1, 0.9),
        "phi": st.floats(0.0, 180.0),
        "disc_pa": st.floats(0.0, 180.0),
        "disc_q": st.floats(0.15, 1.0),
    }
)


def angle_diff(a: float, b: float) -> float:
    """Smallest difference between two axis directions (mod 180), degrees."""
    return abs((a - b + 90.0) % 180.0 - 90.0)


@given(bars)
@settings(max_examples=60, deadline=None)
def test_projected_outline_is_where_the_ferrers_light_ends(bar):
    """Points on the reported outline ellipse map to m = 1 in the bar's own frame (exactly)."""
    b = bar["a"] * bar["ratio"]
    geo = projected_bar(bar["a"], b, bar["phi"], bar["disc_pa"], bar["disc_q"], 10.0, 20.0)
    to_disc = sky_to_disc(10.0, 20.0, math.radians(bar["disc_pa"]), bar["disc_q"])
    ferrers = Ferrers2D(amplitude=1.0, a=bar["a"], b=b, theta=math.radians(bar["phi"]), n=1.0)
    ux, uy = math.cos(math.radians(geo.pa_deg)), math.sin(math.radians(geo.pa_deg))
    t = np.linspace(0, 2 * np.pi, 37)
    major, minor = geo.semi_major_px, geo.semi_major_px * geo.axis_ratio
    x = 10.0 + major * np.cos(t) * ux - minor * np.sin(t) * uy
    y = 20.0 + major * np.cos(t) * uy + minor * np.sin(t) * ux
    u, v = to_disc(x, y)
    # Ferrers with n = 1 is 1 - m^2: zero on the outline, positive just inside, zero outside
    assert np.allclose(ferrers(u, v), 0.0, atol=1e-9)
    assert np.all(ferrers(*to_disc(10.0 + 0.98 * (x - 10.0), 20.0 + 0.98 * (y - 20.0))) > 0)
    # the tips are the outline's farthest points from the centre, at the reported ends
    assert math.isclose(math.hypot(geo.x2 - geo.x1, geo.y2 - geo.y1), geo.length_px, rel_tol=1e-9)
    tip_angle = math.degrees(math.atan2(geo.y2 - geo.y1, geo.x2 - geo.x1))
    turn = (tip_angle - geo.pa_deg) % 180.0  # the same direction: 0 or 180 apart, up to rounding
    assert min(turn, 180.0 - turn) < 1e-6
    assert 0.0 <= geo.pa_deg < 180.0
    assert geo.x1 <= geo.x2
    assert 0 < geo.axis_ratio <= 1


@given(bars)
@settings(max_examples=60, deadline=None)
def test_inclination_only_shortens_the_bar(bar):
    b = bar["a"] * bar["ratio"]
    geo = projected_bar(bar["a"], b, bar["phi"], bar["disc_pa"], bar["disc_q"], 0.0, 0.0)
    assert geo.length_px <= 2 * bar["a"] * (1 + 1e-9)
    assert geo.length_px >= 2 * bar["a"] * bar["disc_q"] * (1 - 1e-9)


@given(st.floats(2.0, 80.0), st.floats(0.1, 0.9), st.floats(0.0, 180.0), st.floats(0.0, 180.0))
@settings(max_examples=30, deadline=None)
def test_face_on_bar_keeps_its_length_angle_and_shape(a, ratio, phi, disc_pa):
    geo = projected_bar(a, a * ratio, phi, disc_pa, 1.0, 0.0, 0.0)
    assert math.isclose(geo.length_px, 2 * a, rel_tol=1e-9)
    assert math.isclose(geo.axis_ratio, ratio, rel_tol=1e-9)
    assert angle_diff(geo.pa_deg, phi + disc_pa) < 1e-6


def test_pa_convention_row_zero_on_top():
    """A bar from upper-left to lower-right (y grows downwards) has PA 45 degrees."""
    geo = projected_bar(10.0, 2.0, 45.0, 0.0, 1.0, 50.0, 50.0)
    assert math.isclose(geo.pa_deg, 45.0, abs_tol=1e-9)
    assert geo.y1 < geo.y2  # the left tip is the upper one


def test_r90_of_an_exponential_disc():
    """90 % of a face-on exponential disc's light lies inside 3.89 scale lengths."""
    from astropy.modeling.models import Sersic2D

    y, x = np.mgrid[0:401, 0:401].astype(float)
    h = 12.0
    disc = Sersic2D(1.0, 1.678347 * h, 1.0, 200.0, 200.0, 0.0, 0.0)(x, y)
    assert math.isclose(enclosed_light_radius(disc, 200.0, 200.0, 0.9), 3.8897 * h, rel_tol=0.01)


def test_sersic_total_flux_matches_a_pixel_sum():
    from astropy.modeling.models import Sersic2D

    y, x = np.mgrid[0:301, 0:301].astype(float)
    image = Sersic2D(2.0, 15.0, 1.5, 150.0, 150.0, 0.3, 0.4)(x, y)
    assert math.isclose(image.sum(), sersic_total_flux(2.0, 15.0, 1.5, 0.7), rel_tol=0.01)


def test_shipped_hoyle_quantiles_are_monotone_and_documented():
    table = load_quantile_table()
    assert len(table) == 101
    for column in ("length_scaled", "redshift", "r90_arcsec"):
        assert np.all(np.diff(np.asarray(table[column])) >= 0)
    assert 0.4 < float(np.interp(0.5, table["quantile"], table["length_scaled"])) < 0.5
    assert "Hoyle" in table.meta["source"]
    assert "L/(2 R90)" in table.meta["derivation"]
