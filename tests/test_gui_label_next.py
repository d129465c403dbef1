"""The browser's label-next column (issue 19): filled from Measure all and the database's labels, a labelled
image drops out of the ranking, Navigate > Sort: label next first puts the top one first, and the column is
hidden while drawing blind (its reasons quote P(bar))."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402

from galaxyscope.gui.browser import MEASURE_COLUMNS  # noqa: E402
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


def test_label_next_column_ranks_unlabelled_images_and_hides_while_blind(make_window, qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("GALAXYSCOPE_DB", str(tmp_path / "default.sqlite"))
    root = write_set(tmp_path / "set", n=4)
    w = make_window(tiny_model(), db_path=str(tmp_path / "ann.sqlite"))
    w.annotate.set_annotator("alice")
    assert w.open_path(root)
    wait_settled(qtbot, w, 0)
    model = w.browser.model
    assert "label_next" in MEASURE_COLUMNS and np.isnan(model.measures["label_next"]).all()
    with qtbot.waitSignal(w.batch_finished, timeout=WAIT_MS):
        w.batch_measure()
    values = model.measures["label_next"]
    assert np.isfinite(values).all() and ((values >= 0) & (values <= 1)).all()
    col = model.columns.index("label_next")
    assert model.data(model.index(0, col), Qt.ItemDataRole.ToolTipRole)  # why, in words

    w.actions_by_id["sort_label_next"].trigger()
    order = [model.entry_at(r) for r in range(model.rowCount())]
    assert [values[e] for e in order] == sorted(values, reverse=True)
    assert w.current_entry == order[0]
    wait_settled(qtbot, w, order[0])

    qtbot.keyClick(w.image_view.glw, Qt.Key.Key_D)
    assert w.browser.table.isColumnHidden(col)  # blind: no priority (it quotes P(bar))
    first = w.current_entry
    qtbot.keyClick(w.image_view.glw, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)  # "no bar", next
    qtbot.waitUntil(lambda: w.current_entry == order[1], timeout=WAIT_MS)  # the next in the label-next order
    assert np.isnan(model.measures["label_next"][first])  # labelled: out of the queue
    assert np.isfinite(model.measures["label_next"][order[1]])
    w.actions_by_id["sort_label_next"].trigger()  # not while drawing blind
    assert "blind" in w.statusBar().currentMessage()
    qtbot.keyClick(w.image_view.glw, Qt.Key.Key_D)
    assert not w.browser.table.isColumnHidden(col)
