"""Blind annotation beyond the image (issue 19 review): in annotate mode the Measurements table, the
Agreement & vetting tab and the Bias tab hide the machine's numbers, and the Controls dock's score and bar result stay
hidden on an image until the annotator has answered there (and V is on)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402

from galaxyscope.store import BarLine  # noqa: E402
from tests.test_gui_annotate_blind import seed_db  # noqa: E402
from tests.test_gui_window import (  # noqa: E402
    WAIT_MS,
    _private_settings_and_cache,
    _quiet_torch,
    make_window,
    tiny_model,
    wait_settled,
    write_set,
)

__all__ = ["_private_settings_and_cache", "_quiet_torch", "make_window"]


@pytest.fixture(autouse=True)
def _private_database(tmp_path, monkeypatch):
    monkeypatch.setenv("GALAXYSCOPE_DB", str(tmp_path / "default.sqlite"))


def key(qtbot, w, k, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    qtbot.keyClick(w.image_view.glw, k, modifier)


def machine_views_shown(w) -> dict[str, bool]:
    """Whether each view that shows the machine's numbers shows them (not hidden in its tab or dock, whichever
    tab is in front)."""
    return {
        "measurements": not w.measurements.table.isHidden() and not w.measurements.summary.isHidden(),
        "vetting": not w.annotate.vetting.split.isHidden() and not w.annotate.vetting.summary.isHidden(),
        "bar result": not w.bar_controls.result.isHidden(),
        "score": not w.saliency_controls.score.isHidden(),
    }


def test_measurements_vetting_and_controls_hide_the_machine_while_blind(make_window, qtbot, tmp_path):
    root = write_set(tmp_path / "set", n=3)
    db = tmp_path / "ann.sqlite"
    seed_db(db, root, {"bob": BarLine(10, 20, 36, 28)})
    w = make_window(tiny_model(), db_path=str(db))
    w.annotate.set_annotator("alice")
    assert w.open_path(root)
    wait_settled(qtbot, w, 0)
    with qtbot.waitSignal(w.batch_finished, timeout=WAIT_MS):
        w.batch_measure()
    assert w.measurements.model.rowCount() > 0
    w.bottom_tabs.setCurrentWidget(w.annotate.vetting)
    qtbot.waitUntil(lambda: w.annotate.vetting.table.rowCount() == 1, timeout=WAIT_MS)
    assert "px" in w.bar_controls.result.text() and "P(" in w.saliency_controls.score.text()
    assert w.image_view.readout_at(24, 24).saliency is not None  # the cursor readout quotes the map
    assert all(machine_views_shown(w).values()), machine_views_shown(w)

    key(qtbot, w, Qt.Key.Key_D)  # annotate mode: blind
    qtbot.wait(10)
    assert not any(machine_views_shown(w).values()), machine_views_shown(w)
    assert w.image_view.readout_at(24, 24).saliency is None  # ... but not while blind
    assert not w.annotate.vetting.blind_note.isHidden() and not w.measurements.blind_note.isHidden()
    assert not w.bar_controls.blind_note.isHidden()

    key(qtbot, w, Qt.Key.Key_V)
    key(qtbot, w, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)  # answer "no bar", next image
    qtbot.waitUntil(lambda: w.current_entry == 1, timeout=WAIT_MS)
    key(qtbot, w, Qt.Key.Key_P)
    wait_settled(qtbot, w, 0)
    qtbot.waitUntil(lambda: not w.state.annotate.blind, timeout=WAIT_MS)
    qtbot.wait(10)
    shown = machine_views_shown(w)  # answered here, V on: this image's numbers; the set's stay hidden
    assert shown == {"measurements": False, "vetting": False, "bar result": True, "score": True}, shown

    key(qtbot, w, Qt.Key.Key_D)  # leaving annotate mode shows everything again
    assert all(machine_views_shown(w).values()), machine_views_shown(w)
    assert w.measurements.blind_note.isHidden() and w.annotate.vetting.blind_note.isHidden()


def test_bias_tab_and_galaxy_mask_hidden_while_drawing_blind(make_window, qtbot, tmp_path):
    """The Bias tab lists the machine's saliency checks: a note replaces it for all of annotate mode (as the
    vetting tab); its galaxy-mask outline on the image follows the image's blind state (as the overlays)."""
    root = write_set(tmp_path / "set", n=3)
    db = tmp_path / "ann.sqlite"
    seed_db(db, root, {"bob": BarLine(10, 20, 36, 28)})
    w = make_window(tiny_model(), db_path=str(db))
    w.annotate.set_annotator("alice")
    assert w.open_path(root)
    wait_settled(qtbot, w, 0)
    bias = w.bias
    w.bottom_tabs.setCurrentWidget(bias.panel)
    qtbot.waitUntil(lambda: bias.current is not None and bias.panel.table.rowCount() == 1, timeout=WAIT_MS)
    bias.panel.show_mask.setChecked(True)
    assert bias.outline_shown() and not bias.panel.body.isHidden() and bias.panel.blind_note.isHidden()

    key(qtbot, w, Qt.Key.Key_D)  # annotate mode: blind
    qtbot.wait(10)
    assert bias.panel.body.isHidden() and not bias.panel.blind_note.isHidden()
    assert not bias.panel.table.isVisibleTo(bias.panel)
    assert not bias.outline_shown()

    key(qtbot, w, Qt.Key.Key_V)
    key(qtbot, w, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)  # answer "no bar", next image
    qtbot.waitUntil(lambda: w.current_entry == 1, timeout=WAIT_MS)
    key(qtbot, w, Qt.Key.Key_P)
    wait_settled(qtbot, w, 0)
    qtbot.waitUntil(lambda: not w.state.annotate.blind, timeout=WAIT_MS)
    # answered here, V on: this image's outline shows again; the tab (the set's checks) stays a note
    qtbot.waitUntil(lambda: bias.current is not None and bias.outline_shown(), timeout=WAIT_MS)
    assert bias.panel.body.isHidden() and not bias.panel.blind_note.isHidden()

    key(qtbot, w, Qt.Key.Key_V)  # V off: blind again on this image
    assert not bias.outline_shown()
    key(qtbot, w, Qt.Key.Key_D)  # leaving annotate mode shows everything again
    assert bias.outline_shown() and not bias.panel.body.isHidden() and bias.panel.blind_note.isHidden()
