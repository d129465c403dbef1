"""Opening another set starts clean (issue 17, item 6): no channel choice, Bias rows or sky readout
carried over from the previous set."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from galaxyscope.gui.display import LUMINANCE, RGB  # noqa: E402
from tests.test_gui_bias_reasons import _checked  # noqa: E402
from tests.test_gui_window import (  # noqa: E402
    FITS,
    _private_settings_and_cache,
    _quiet_torch,
    make_window,
    wait_settled,
    write_set,
)

__all__ = ["_private_settings_and_cache", "_quiet_torch", "make_window"]


@pytest.mark.skipif(not FITS.exists(), reason="bundled FITS sample missing")
def test_a_colour_set_after_a_fits_one_is_colour_and_old_rows_and_readout_go(make_window, qtbot, tmp_path):
    w = make_window()
    assert w.open_path(FITS)
    wait_settled(qtbot, w, 0)
    assert w.state.display.channel == LUMINANCE and w.current_image.wcs is not None
    readout = w.image_view.readout_at(20.0, 20.0)
    w._cursor_moved(readout)
    assert readout is not None and readout.ra_deg is not None and "RA=" in w.readout_label.text()
    w.bias.checked["1_15_SDSS_gband.fits"] = _checked("1_15_SDSS_gband.fits", ["saliency on a star"])
    w.bias.panel.set_rows(list(w.bias.checked.values()))
    assert w.bias.panel.table.rowCount() == 1

    w.open_path(write_set(tmp_path / "jpegs", n=2))
    wait_settled(qtbot, w, 0)
    assert w.state.display.channel == RGB  # the FITS set's one-band choice is not carried over
    assert w.display_controls.channel.currentData() == RGB
    assert w.image_view.display.ndim == 3  # drawn in colour
    assert w.bias.panel.table.rowCount() == 0 and not w.bias.checked
    assert w.readout_label.text() == ""

    # within one set a choice made by hand is kept from image to image
    idx = w.display_controls.channel.findData(LUMINANCE)
    w.display_controls.channel.setCurrentIndex(idx)
    w.browser.step(1)
    wait_settled(qtbot, w, 1)
    assert w.state.display.channel == LUMINANCE
