"""The bar's PA on the sky (east of north) through a WCS, and the 1-based readout."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.wcs import WCS

from galaxyscope.measure.orientation import describe_pa, sky_position_angle


def tan_wcs(cdelt_x: float = -0.0001, rotation_deg: float = 0.0) -> WCS:
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crval = [150.0, 2.0]
    w.wcs.crpix = [50.0, 50.0]
    th = np.radians(rotation_deg)
    scale = np.diag([cdelt_x, 0.0001])
    w.wcs.cd = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]]) @ scale
    return w


def test_north_up_east_left_image():
    w = tan_wcs()  # RA grows to -x (east left), Dec grows with +y (north up in FITS rows)
    assert sky_position_angle(((40.0, 50.0), (40.0, 60.0)), w) == pytest.approx(0.0, abs=1e-3)  # along +y: north
    assert sky_position_angle(((40.0, 50.0), (30.0, 50.0)), w) == pytest.approx(90.0, abs=1e-3)  # -x: east
    # a bar has no head: both directions give the same PA
    assert sky_position_angle(((30.0, 50.0), (40.0, 50.0)), w) == pytest.approx(90.0, abs=1e-3)
    assert sky_position_angle(((40.0, 40.0), (50.0, 50.0)), w) == pytest.approx(135.0, abs=1e-3)


def test_flipped_and_rotated_images_change_the_image_angle_not_the_sky_angle():
    plain, flipped = tan_wcs(), tan_wcs(cdelt_x=+0.0001)  # east right (a mirrored image)
    # the same bar on the sky: pointing to the north-east; in the mirrored image it points the other way in x
    assert sky_position_angle(((50, 50), (40, 60)), plain) == pytest.approx(45.0, abs=0.01)
    assert sky_position_angle(((50, 50), (60, 60)), flipped) == pytest.approx(45.0, abs=0.01)
    rotated = tan_wcs(rotation_deg=30.0)
    pa = sky_position_angle(((50, 50), (50, 60)), rotated)
    assert pa == pytest.approx(30.0, abs=0.05) or pa == pytest.approx(150.0, abs=0.05)


def test_no_wcs_or_no_bar_gives_no_sky_angle_and_says_from_plus_x():
    assert sky_position_angle(((0, 0), (1, 1)), None) is None
    assert sky_position_angle(None, tan_wcs()) is None
    assert sky_position_angle(((5, 5), (5, 5)), tan_wcs()) is None
    assert describe_pa(35.24, None) == "PA 35.2° from +x"
    assert describe_pa(35.24, 120.0) == "PA 120.0° E of N"
