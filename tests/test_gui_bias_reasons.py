"""The Bias tab: one click opens a row, and the reasons are shown whole (issue 17, items 3 and 8)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from types import SimpleNamespace

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QStyleOptionViewItem  # noqa: E402

from tests.test_gui_window import (  # noqa: E402
    _private_settings_and_cache,
    _quiet_torch,
    make_window,
    tiny_model,
    wait_settled,
    write_set,
)

__all__ = ["_private_settings_and_cache", "_quiet_torch", "make_window"]

LONG_REASON = ("saliency peak on a bright compact source away from the galaxy centre (star or companion): "
               "0.62 of the top 5 % of the map lies outside the galaxy mask")


def _checked(key, reasons):
    from galaxyscope.gui.bias_view import CheckedImage

    flags = [SimpleNamespace(reason=r) for r in reasons]
    return CheckedImage(key, SimpleNamespace(verdict=SimpleNamespace(flagged=bool(flags), score=0.8, flags=flags)))


def test_reasons_are_shown_whole_and_lose_their_end_not_their_middle(qtbot):
    from galaxyscope.gui.bias_view import BIAS_COLUMNS, BiasPanel

    panel = BiasPanel()
    qtbot.addWidget(panel)
    panel.resize(700, 300)
    panel.show()
    panel.set_rows([_checked("a.png", [LONG_REASON]), _checked("b.png", [])])
    row = next(r for r in range(2) if panel.key_at(r) == "a.png")
    col = BIAS_COLUMNS.index("reasons")
    index = panel.table.model().index(row, col)
    option = QStyleOptionViewItem()
    panel.table.itemDelegateForColumn(col).initStyleOption(option, index)
    assert option.textElideMode == Qt.TextElideMode.ElideRight  # the key words at the start stay in view
    with qtbot.waitSignal(panel.file_activated, timeout=5000) as sig:
        rect = panel.table.visualRect(index)
        qtbot.mouseClick(panel.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert sig.args == ["a.png"]
    assert LONG_REASON in panel.detail.text() and panel.detail.wordWrap()


def test_one_click_on_a_bias_row_opens_its_image(make_window, qtbot, tmp_path):
    w = make_window(tiny_model())
    w.open_path(write_set(tmp_path / "set", n=2))
    wait_settled(qtbot, w, 0)
    panel = w.bias.panel
    w.browser.step(1)
    wait_settled(qtbot, w, 1)
    qtbot.waitUntil(lambda: panel.table.rowCount() == 2, timeout=30000)
    w.bottom_tabs.setCurrentWidget(panel)
    row = next(r for r in range(2) if panel.key_at(r) == "gal_00.png")
    rect = panel.table.visualItemRect(panel.table.item(row, 0))
    qtbot.mouseClick(panel.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    wait_settled(qtbot, w, 0)
    assert w.current_entry == 0
    assert "gal_00.png" in panel.detail.text()
