"""The Bias tab takes whole-set verdicts (issue 21): Measure all (Ctrl+B) is followed by a bias scan of the
set listed with full reasons and the set's notes; flags stored by `scan-bias --db` are listed too."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

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
WAIT_MS = 120_000


def test_measure_all_fills_the_bias_tab_with_the_whole_set(make_window, qtbot, tmp_path):
    w = make_window(tiny_model(), samples=2)
    w.open_path(write_set(tmp_path / "set", n=4))
    wait_settled(qtbot, w, 0)
    with qtbot.waitSignal(w.batch_finished, timeout=WAIT_MS) as done:
        w.batch_measure()
    assert done.args == ["succeeded"]
    bias = w.bias
    qtbot.waitUntil(lambda: bias.last_report is not None, timeout=WAIT_MS)
    panel = bias.panel
    assert panel.table.rowCount() == 4
    assert {panel.key_at(r) for r in range(4)} == {f"gal_{i:02d}.png" for i in range(4)}
    # no reference scanned for this model yet: the set's own spread, and the notes say so
    notes = panel.notes.text()
    assert "thresholds (scan)" in notes and "no clean reference has been scanned" in notes
    assert bias.thresholds is bias.last_report.thresholds  # the maps shown next are judged the same way
    assert "Measure all" in panel.summary.text()


def test_show_report_lists_full_reasons_and_stored_flags_load(make_window, qtbot, tmp_path):
    from galaxyscope.bias.calibrate import Calibration
    from galaxyscope.bias.flags import FlagThresholds
    from galaxyscope.bias.scan import scan_dataset
    from galaxyscope.bias.store_flags import store_flags
    from galaxyscope.images.imageset import ImageSet
    from galaxyscope.store import AnnotationStore

    root = write_set(tmp_path / "set", n=3)
    model = tiny_model()
    w = make_window(model, samples=2)
    w.open_path(root)
    wait_settled(qtbot, w, 0)
    report = scan_dataset(w.image_set, model, n_samples=2, keep_worst=0,
                          calibration=Calibration(mode="fixed", fixed=FlagThresholds(outside_share=0.01)))
    flagged = [r for r in report.rows if r.flagged]
    assert flagged  # a 1 % outside-share threshold flags a random net's diffuse maps
    w.bias.show_report(report, w.image_set)
    panel = w.bias.panel
    assert panel.table.rowCount() == 3
    key = flagged[0].filename
    row = next(r for r in range(3) if panel.key_at(r) == key)
    panel.table.clicked.emit(panel.table.model().index(row, 0))
    for reason in flagged[0].reasons:  # every reason, whole
        assert reason.split(" (")[0] in panel.detail.text()
    # what scan-bias --db stored comes back in a fresh window
    with AnnotationStore(tmp_path / "a.db") as store:
        store_flags(report, ImageSet.open(str(root)), store, set_name="set")
    w.bias.set_changed()
    assert panel.table.rowCount() == 0
    assert w.bias.load_stored_flags(str(tmp_path / "a.db")) == len(flagged)
    assert {panel.key_at(r) for r in range(panel.table.rowCount())} == {r.filename for r in flagged}
    assert all(c.source == "database" for c in w.bias.checked.values())
    assert w.bias.load_stored_flags(str(tmp_path / "missing" / "x.db")) == 0  # reported, not raised
