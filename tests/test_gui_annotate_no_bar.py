"""The window's "no bar" answer (issue 19): Shift+Enter, the Annotate dock's button and the menu entry write
an undoable no-bar label, delete your line there, show your answer, move on like Enter, and count as
answered for the blind-reveal rule."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402

from galaxyscope.gui.shortcuts import shortcut_help_html  # noqa: E402
from galaxyscope.images.identity import image_key  # noqa: E402
from galaxyscope.store import AnnotationStore  # noqa: E402
from tests.test_gui_annotate import (  # noqa: E402
    WAIT_MS,
    _private_settings,
    annotate_mode_on,
    draw,
    store_rows,
    wait_image,
    window,
)

__all__ = ["_private_settings", "window"]


def own_label(db, path, annotator="alice"):
    with AnnotationStore(db, readonly=True) as s:
        rec = s.find_image(image_key(path))
        return None if rec is None else s.bar_label(rec.id, annotator)


def shift_enter(qtbot, w) -> None:
    qtbot.keyClick(w.image_view.glw, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)


def test_shift_enter_says_no_bar_moves_on_and_undo_redo_write_through(window, qtbot, tmp_path):
    db = tmp_path / "ann.sqlite"
    w = window(db)
    first = tmp_path / "set" / "gal_00.png"
    action = w.actions_by_id["annotate_no_bar"]
    assert w.annotate.panel.no_bar.defaultAction() is action  # a button in the Annotate dock
    menu = [a for a in w.menuBar().actions() if a.text() == "&Annotate"][0].menu()
    assert action in menu.actions()  # and a menu entry
    assert "Shift+Return" in shortcut_help_html()
    shift_enter(qtbot, w)  # outside annotate mode: nothing happens
    assert w.current_entry == 0 and own_label(db, first) is None

    annotate_mode_on(qtbot, w)
    draw(qtbot, w, (10, 20), (36, 30))  # an unsaved drawing is dropped by the answer "no bar"
    with qtbot.waitSignal(w.annotate.written, timeout=WAIT_MS) as sig:
        shift_enter(qtbot, w)
    assert sig.args == ["do"]
    wait_image(qtbot, w, 1)  # moved on like Enter
    label = own_label(db, first)
    assert label is not None and not label.has_bar
    assert store_rows(db) == []  # the drawing was not saved
    assert "saved: no bar · alice · gal_00.png" in w.log.text()

    with qtbot.waitSignal(w.annotate.written, timeout=WAIT_MS) as sig:
        qtbot.keyClick(w.image_view.glw, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert sig.args == ["undo"]
    assert own_label(db, first) is None  # undo removed the label, at once
    wait_image(qtbot, w, 0)  # and shows the image it changed
    assert "<b>no bar</b>" not in w.annotate.panel.info.text()

    with qtbot.waitSignal(w.annotate.written, timeout=WAIT_MS) as sig:
        qtbot.keyClick(w.image_view.glw, Qt.Key.Key_Z,
                       Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert sig.args == ["redo"]
    assert not own_label(db, first).has_bar
    qtbot.waitUntil(lambda: "<b>no bar</b>" in w.annotate.panel.info.text(), timeout=WAIT_MS)
    assert "alice (you)" in w.annotate.panel.info.text()  # the dock shows your answer


def test_no_bar_deletes_your_line_and_counts_as_answered_for_the_reveal(window, qtbot, tmp_path):
    db = tmp_path / "ann.sqlite"
    w = window(db)
    first = tmp_path / "set" / "gal_00.png"
    annotate_mode_on(qtbot, w)
    qtbot.keyClick(w.image_view.glw, Qt.Key.Key_V)  # show the machine and others once answered
    assert w.state.annotate.blind
    draw(qtbot, w, (10, 20), (36, 30))
    assert w.annotate.save_draft()
    assert len(w.annotate.layer.own) == 1 and not w.state.annotate.blind
    qtbot.keyClick(w.image_view.glw, Qt.Key.Key_P)  # stays on the first image (nothing before it)
    w.annotate.panel.no_bar.click()  # the dock's button does the same as the key
    wait_image(qtbot, w, 1)
    assert [r.deleted for r in store_rows(db)] == [True]  # "no bar" deleted the line with it
    assert not own_label(db, first).has_bar
    assert w.state.annotate.blind  # the next image: not answered yet
    qtbot.keyClick(w.image_view.glw, Qt.Key.Key_P)
    wait_image(qtbot, w, 0)
    qtbot.waitUntil(lambda: not w.state.annotate.blind, timeout=WAIT_MS)  # "no bar" is an answer
    assert w.annotate.layer.own == []

    draw(qtbot, w, (12, 22), (34, 26))  # drawing a line afterwards makes it "bar" again
    assert w.annotate.save_draft()
    assert own_label(db, first).has_bar
    assert "<b>no bar</b>" not in w.annotate.panel.info.text()
