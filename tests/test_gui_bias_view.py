"""The Bias tab in the real main window (offscreen): each saliency map shown is checked, listed
by score, a click opens the image, and the galaxy mask outline follows a check box."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from tests.test_gui_window import (  # noqa: E402  (same tiny model, tiny set and window fixtures)
    _private_settings_and_cache,
    _quiet_torch,
    make_window,
    tiny_model,
    wait_settled,
    write_set,
)

__all__ = ["_private_settings_and_cache", "_quiet_torch", "make_window"]


def test_bias_tab_lists_checked_images_and_opens_them(make_window, qtbot, tmp_path):
    w = make_window(tiny_model())
    w.open_path(write_set(tmp_path / "set", n=3))
    wait_settled(qtbot, w, 0)
    panel = w.bias.panel
    assert w.bottom_tabs.indexOf(panel) >= 0 and w.bottom_tabs.tabText(w.bottom_tabs.indexOf(panel)) == "Bias"
    qtbot.waitUntil(lambda: panel.table.rowCount() == 1, timeout=30000)
    assert panel.key_at(0) == "gal_00.png"
    score = float(panel.table.item(0, 2).text())
    assert score >= 0 and score == pytest.approx(w.bias.checked["gal_00.png"].check.verdict.score, abs=0.01)
    assert panel.table.item(0, 1).text() in ("yes", "no")

    w.browser.step(1)
    wait_settled(qtbot, w, 1)
    qtbot.waitUntil(lambda: panel.table.rowCount() == 2, timeout=30000)
    scores = [float(panel.table.item(r, 2).text()) for r in range(2)]
    assert scores == sorted(scores, reverse=True)  # worst first
    assert {panel.key_at(r) for r in range(2)} == {"gal_00.png", "gal_01.png"}

    row = next(r for r in range(2) if panel.key_at(r) == "gal_00.png")
    panel.table.clicked.emit(panel.table.model().index(row, 0))  # one click opens (issue 17)
    wait_settled(qtbot, w, 0)
    assert w.current_entry == 0


def test_galaxy_mask_outline_follows_the_check_box(make_window, qtbot, tmp_path):
    w = make_window(tiny_model())
    w.open_path(write_set(tmp_path / "set", n=2))
    wait_settled(qtbot, w, 0)
    bias = w.bias
    qtbot.waitUntil(lambda: bias.current is not None, timeout=30000)
    assert bias.outline_item.getViewBox() is w.image_view.view
    assert not bias.outline_shown()  # off until asked for
    assert bias.current.check.masks.galaxy.any()
    bias.panel.show_mask.setChecked(True)
    assert bias.outline_shown()
    xs, ys = bias.outline_item.getData()
    w_px = bias.current.check.masks.galaxy.shape[1]
    finite = xs[np.isfinite(xs)]
    assert 0 <= finite.min() and finite.max() <= w_px  # drawn on the image, in its pixel frame
    bias.panel.show_mask.setChecked(False)
    assert not bias.outline_shown()
    bias.panel.show_mask.setChecked(True)
    w.browser.step(1)  # another image: no outline until its own check is in
    qtbot.waitUntil(lambda: w.current_entry == 1, timeout=30000)
    wait_settled(qtbot, w, 1)
    qtbot.waitUntil(lambda: bias.current is not None and bias.outline_shown(), timeout=30000)
    assert bias.current.key == "gal_01.png"


def test_bias_table_shows_whole_file_names_on_one_line(qtbot):
    from types import SimpleNamespace

    from galaxyscope.gui.bias_view import BiasPanel, CheckedImage

    panel = BiasPanel()
    qtbot.addWidget(panel)
    panel.resize(1400, 300)
    panel.show()
    long_key = "sdss/sloan-2_a-0_0_and_a_long_survey_name.jpg"
    verdict = SimpleNamespace(flagged=True, score=0.9, flags=[SimpleNamespace(reason="saliency on a star")])
    panel.set_rows([CheckedImage(long_key, SimpleNamespace(verdict=verdict)),
                    CheckedImage("b.png", SimpleNamespace(verdict=SimpleNamespace(flagged=False, score=0.1, flags=[])))])
    text_width = panel.table.fontMetrics().horizontalAdvance(long_key)
    assert panel.table.columnWidth(0) >= text_width
    assert not panel.table.wordWrap()
    row = next(r for r in range(2) if panel.key_at(r) == long_key)
    assert panel.table.item(row, 0).toolTip() == long_key
    assert panel.table.item(row, 3).toolTip() == "saliency on a star"
