"""After every modal dialog the keyboard is back on the image view (issue 17, item 7): N steps on
at once, without clicking the window first."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import QTimer, Qt  # noqa: E402
from PySide6.QtWidgets import QApplication, QDialog, QFileDialog, QInputDialog, QMessageBox  # noqa: E402

from galaxyscope.gui import annotate as annotate_module  # noqa: E402
from galaxyscope.gui import window_actions  # noqa: E402
from tests.test_gui_window import (  # noqa: E402
    _private_settings_and_cache,
    _quiet_torch,
    make_window,
    wait_settled,
    write_set,
)

__all__ = ["_private_settings_and_cache", "_quiet_torch", "make_window"]


def a_real_modal_dialog(parent) -> None:
    """What the Qt dialogs do to focus: a modal window takes it, and gives it back when closed."""
    dialog = QDialog(parent)
    QTimer.singleShot(30, dialog.accept)
    dialog.exec()


def focus_elsewhere(w) -> None:
    """Where focus often is when a dialog opens: in the browser's filter box (Ctrl+F, then Ctrl+O)."""
    w.browser.filter_edit.setFocus()
    QApplication.processEvents()


def press_n_steps(qtbot, w, entry: int) -> None:
    try:  # activation reaches the window through the event loop
        qtbot.waitUntil(lambda: QApplication.focusWidget() is w.image_view.glw, timeout=2000)
    except AssertionError:
        raise AssertionError(f"keyboard focus is on {QApplication.focusWidget()!r}, not on the image") from None
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_N)
    wait_settled(qtbot, w, entry)


def test_keys_work_after_open_folder_about_and_annotator_dialogs(make_window, qtbot, tmp_path, monkeypatch):
    w = make_window()
    qtbot.waitExposed(w)
    folder = write_set(tmp_path / "set", n=4)

    def fake_folder_dialog(parent, *a, **k):
        a_real_modal_dialog(parent)
        return str(folder)

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(fake_folder_dialog))
    monkeypatch.setattr(QMessageBox, "about", staticmethod(lambda parent, *a: a_real_modal_dialog(parent)))
    monkeypatch.setattr(QInputDialog, "getText",
                        staticmethod(lambda parent, *a, **k: (a_real_modal_dialog(parent), ("carol", True))[1]))
    assert window_actions.QFileDialog is QFileDialog and annotate_module.QInputDialog is QInputDialog

    focus_elsewhere(w)
    w.actions_by_id["open_folder"].trigger()
    qtbot.waitUntil(lambda: w.image_set is not None, timeout=30000)
    wait_settled(qtbot, w, 0)
    press_n_steps(qtbot, w, 1)

    focus_elsewhere(w)
    w.actions_by_id["about"].trigger()
    press_n_steps(qtbot, w, 2)

    focus_elsewhere(w)
    w.actions_by_id["annotator"].trigger()
    assert w.annotate.annotator == "carol"
    press_n_steps(qtbot, w, 3)
