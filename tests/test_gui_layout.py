"""Layout fixes from the walkthrough: numbers never cut off in the browser, labels kept in the image, B hides the whole bar."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402

from galaxyscope.gui.overlay_geometry import clamp_to_image, label_alignment  # noqa: E402
from test_gui_window import (  # noqa: E402,F401
    _private_settings_and_cache,
    _quiet_torch,
    make_window,
    tiny_model,
    wait_settled,
    write_set,
)


def test_label_alignment_keeps_labels_inside_the_image():
    shape = (100, 200)
    assert label_alignment((100.0, 50.0), shape) == (0.5, 1.0)  # centred, above: the usual place
    assert label_alignment((190.0, 50.0), shape)[0] == 1.0  # near the right edge: ends at its point
    assert label_alignment((5.0, 50.0), shape)[0] == 0.0
    assert label_alignment((100.0, 3.0), shape)[1] == 0.0  # near the top: hangs below
    assert clamp_to_image((-4.0, 130.0), shape) == (0.0, 100.0)
    assert label_alignment((1.0, 1.0), None) == (0.5, 1.0)


def test_browser_keeps_the_score_and_length_columns_in_view_when_narrow(make_window, qtbot, tmp_path):
    w = make_window()
    w.open_path(write_set(tmp_path / "set", n=2))
    wait_settled(qtbot, w, 0)
    for width in (280, 340, 600):
        w.browser_dock.setMinimumWidth(width)
        w.browser_dock.setMaximumWidth(width)
        qtbot.waitUntil(lambda: abs(w.browser.width() - width) < 40, timeout=5000)
        table = w.browser.table
        right = table.columnViewportPosition(2) + table.columnWidth(2)
        assert right <= table.viewport().width() + 1, (width, right, table.viewport().width())
        assert table.columnWidth(0) >= w.browser.thumb_size + 56


def test_hiding_the_bar_hides_its_width_box_and_label(make_window, qtbot, tmp_path):
    w = make_window(tiny_model())
    w.open_path(write_set(tmp_path / "set", n=2))
    wait_settled(qtbot, w, 0)
    ov = w.image_view.overlays
    assert ov.visible["width"] and ov.visible["label"]
    qtbot.keyClick(w.image_view, Qt.Key.Key_B)
    assert not any(i.isVisible() for name in ("bar", "width", "label") for i in ov.items_for(name))
    qtbot.keyClick(w.image_view, Qt.Key.Key_B)
    assert all(i.isVisible() for i in ov.items_for("width"))


def test_parameter_boxes_show_the_core_defaults_exactly(make_window):
    """The moments panel rounded stop_elongation 0.9189 to 0.92: the window measured with another
    value than `galaxyscope measure`."""
    from galaxyscope.measure.params import MomentsParams

    w = make_window()
    shown = w.bar_controls.params("moments")
    assert shown.stop_elongation == MomentsParams().stop_elongation
    assert shown == MomentsParams()
