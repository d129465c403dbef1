"""Annotate mode in the real window, offscreen with pytest-qt: draw with the mouse, save with Enter,
undo / redo into the database, drag an end, other annotators' colours, vetting, bad databases."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import math
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
from astropy.table import Table
from PIL import Image

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import QPointF, Qt  # noqa: E402

from galaxyscope.gui.annotate_logic import OWN_COLOUR, VETTING_COLUMNS  # noqa: E402
from galaxyscope.images.identity import image_key  # noqa: E402
from galaxyscope.gui.app import configure_pyqtgraph  # noqa: E402
from galaxyscope.gui.main_window import MainWindow  # noqa: E402
from galaxyscope.gui.settings import Settings  # noqa: E402
from galaxyscope.store import AnnotationStore, BarLine  # noqa: E402

WAIT_MS = 20000
SIZE = 48
SCALE = 0.25  # arcsec / pixel, from the catalogue's pixel_scale_arcsec column
Z = 0.05


@dataclass
class Machine:
    """What `add_machine_measurement` reads from a BarMeasurement."""

    length_px: float
    endpoints: tuple
    method: str = "paper"
    width_px: float = math.nan
    length_err_px: float = math.nan
    pa_deg: float = 0.0
    flags: tuple = ()
    params: dict | None = None


def write_set(root: Path, n: int = 3) -> Path:
    """n small barred-looking PNGs with a catalogue that knows pixel scale and redshift."""
    root.mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(float)
    c = (SIZE - 1) / 2
    rows = []
    for i in range(n):
        img = np.exp(-np.hypot(xx - c, yy - c) / 5) + 0.6 * np.exp(-0.5 * (((xx - c) / 9) ** 2 + ((yy - c) / 2) ** 2))
        img = np.clip(img * (0.8 + 0.05 * i), 0, 1)
        name = f"gal_{i:02d}.png"
        Image.fromarray((np.stack([img] * 3, axis=2) * 255).astype(np.uint8)).save(root / name)
        rows.append((name, 1, Z, SCALE))
    Table(rows=rows, names=("filename", "has_bar", "redshift", "pixel_scale_arcsec")).write(
        root / "catalog.ecsv", overwrite=True)
    return root


@pytest.fixture(autouse=True)
def _private_settings(tmp_path, monkeypatch):
    """Never touch the user's own settings, cache or annotation database."""
    monkeypatch.setenv("GALAXYSCOPE_SETTINGS", str(tmp_path / "default-settings.ini"))
    monkeypatch.setenv("GALAXYSCOPE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("GALAXYSCOPE_DB", str(tmp_path / "default.sqlite"))


@pytest.fixture
def window(qtbot, tmp_path):
    configure_pyqtgraph()
    made = []

    def make(db: Path | None = None, annotator: str | None = "alice", n: int = 3) -> MainWindow:
        w = MainWindow(settings=Settings(tmp_path / "settings.ini"), restore_state=False,
                       db_path=str(db) if db else None)
        qtbot.addWidget(w)
        w.resize(1200, 800)
        w.show()
        qtbot.waitExposed(w)
        if annotator:
            w.annotate.set_annotator(annotator)
        w.open_path(write_set(tmp_path / "set", n))
        wait_image(qtbot, w, 0)
        made.append(w)
        return w

    yield make
    for w in made:
        if w.isVisible():
            w.close()


def wait_image(qtbot, w: MainWindow, entry: int) -> None:
    qtbot.waitUntil(lambda: w.current_entry == entry and w.current_image is not None
                    and w.annotate.image is w.current_image, timeout=WAIT_MS)


def to_widget(w: MainWindow, x: float, y: float):
    """Image pixel (x, y) (origin at the centre of the top-left pixel) -> a point on the view's viewport."""
    view = w.image_view.view
    scene = view.mapViewToScene(QPointF(x + 0.5, y + 0.5))
    return w.image_view.glw.mapFromScene(scene)


def drag(qtbot, w: MainWindow, start, end, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    """Press at ``start``, move in steps, release at ``end`` (viewport points). The waits matter:
    pyqtgraph drops mouse moves that come less than 10 ms apart (its ``mouseRateLimit``)."""
    vp = w.image_view.glw.viewport()
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, modifier, start)
    for f in (0.3, 0.7, 1.0):
        qtbot.wait(12)
        qtbot.mouseMove(vp, start + (end - start) * f)
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, modifier, end)


def draw(qtbot, w: MainWindow, start: tuple[float, float], end: tuple[float, float],
         modifier=Qt.KeyboardModifier.NoModifier) -> None:
    """Drag from image pixel ``start`` to ``end``, mapped after pending layout changes settle."""
    qtbot.wait(20)
    drag(qtbot, w, to_widget(w, *start), to_widget(w, *end), modifier)


def store_rows(db: Path):
    with AnnotationStore(db, readonly=True) as s:
        return s.all_annotations(include_deleted=True)


def annotate_mode_on(qtbot, w: MainWindow) -> None:
    qtbot.keyClick(w.image_view.glw, Qt.Key.Key_D)
    assert w.annotate.active and w.annotate.actions["annotate_mode"].isChecked()
    qtbot.wait(20)  # the Annotate dock comes to the front, and the view may change size


# ---------------------------------------------------------------- draw, save, undo, redo


def test_draw_with_the_mouse_enter_saves_then_undo_and_redo(window, qtbot, tmp_path):
    db = tmp_path / "ann.sqlite"
    w = window(db)
    annotate_mode_on(qtbot, w)
    draw(qtbot, w, (10, 20), (36, 30))
    draft = w.annotate.draft
    assert draft is not None and draft.bar is not None and draft.width is None
    assert store_rows(db) == []  # nothing is written before Enter
    qtbot.keyClick(w.image_view.glw, Qt.Key.Key_Return)
    wait_image(qtbot, w, 1)  # Enter moved on to the next galaxy

    rows = store_rows(db)
    assert len(rows) == 1
    rec = rows[0]
    assert rec.annotator == "alice" and not rec.deleted
    assert rec.image_path == image_key(tmp_path / "set" / "gal_00.png")
    assert (rec.bar.x1, rec.bar.y1) == pytest.approx((10, 20), abs=0.25)
    assert (rec.bar.x2, rec.bar.y2) == pytest.approx((36, 30), abs=0.25)
    assert rec.length_px == pytest.approx(math.hypot(26, 10), abs=0.3)
    # the catalogue gave pixel scale and redshift, so the store kept arcsec and kpc
    assert rec.length_arcsec.to_value(u.arcsec) == pytest.approx(rec.length_px * SCALE)
    assert rec.length_kpc is not None and rec.length_kpc.to_value(u.kpc) > 0

    with qtbot.waitSignal(w.annotate.written, timeout=WAIT_MS) as sig:
        qtbot.keyClick(w.image_view.glw, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert sig.args == ["undo"]
    assert store_rows(db)[0].deleted  # soft-deleted, written at once
    wait_image(qtbot, w, 0)  # undo shows the image it changed
    assert w.annotate.layer.own == []

    with qtbot.waitSignal(w.annotate.written, timeout=WAIT_MS) as sig:
        qtbot.keyClick(w.image_view.glw, Qt.Key.Key_Z,
                       Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert sig.args == ["redo"]
    back = store_rows(db)
    assert len(back) == 1 and back[0].id == rec.id and not back[0].deleted  # the same row, restored
    qtbot.waitUntil(lambda: len(w.annotate.layer.own) == 1, timeout=WAIT_MS)
    with AnnotationStore(db, readonly=True) as s:
        assert [h.action for h in s.history(rec.id)] == ["delete", "restore"]


def test_width_line_with_shift_drag_and_lengths_in_the_panel(window, qtbot, tmp_path):
    db = tmp_path / "ann.sqlite"
    w = window(db)
    annotate_mode_on(qtbot, w)
    draw(qtbot, w, (23.5, 23.5), (30, 23.5), Qt.KeyboardModifier.ShiftModifier)
    assert w.annotate.draft is None  # a width before any bar is refused, with a reason
    assert "draw the bar first" in w.statusBar().currentMessage()
    draw(qtbot, w, (10, 23.5), (37, 23.5))
    draw(qtbot, w, (23.5, 20), (23.5, 27), Qt.KeyboardModifier.ShiftModifier)
    assert w.annotate.draft.width is not None
    assert "″" in w.annotate.panel.info.text() and "kpc" in w.annotate.panel.info.text()
    assert w.annotate.save_draft()
    rec = store_rows(db)[0]
    assert rec.width_line is not None and rec.width.to_value(u.pix) == pytest.approx(7, abs=0.3)
    assert rec.length_px == pytest.approx(27, abs=0.3)


def test_dragging_an_end_of_a_saved_bar_updates_the_row_and_keeps_history(window, qtbot, tmp_path):
    db = tmp_path / "ann.sqlite"
    path = write_set(tmp_path / "set") / "gal_00.png"
    with AnnotationStore(db) as s:
        image = s.register_image(image_key(path))
        rec = s.add_annotation(image.id, "alice", BarLine(12, 24, 34, 24))
    w = window(db)
    annotate_mode_on(qtbot, w)
    assert len(w.annotate.layer.own) == 1
    handle = w.annotate.layer.own[0].bar.getHandles()[1]
    assert handle.pos() == QPointF(34.5, 24.5)  # image pixel (34, 24) is at 34.5, 24.5 in the view
    with qtbot.waitSignal(w.annotate.written, timeout=WAIT_MS):
        draw(qtbot, w, (34, 24), (40, 30))  # grab the right-hand end and pull it
    with AnnotationStore(db, readonly=True) as s:
        now = s.get_annotation(rec.id)
        history = s.history(rec.id)
    assert (now.bar.x1, now.bar.y1) == pytest.approx((12, 24), abs=1e-6)  # the other end stays
    assert (now.bar.x2, now.bar.y2) == pytest.approx((40, 30), abs=0.25)
    assert now.revision == 2
    assert [h.action for h in history] == ["update"]
    assert (history[0].bar.x2, history[0].bar.y2) == (34, 24)  # the old version is kept
    with qtbot.waitSignal(w.annotate.written, timeout=WAIT_MS):
        w.annotate.actions["annotate_undo"].trigger()
    with AnnotationStore(db, readonly=True) as s:
        assert s.get_annotation(rec.id).bar == BarLine(12, 24, 34, 24)
        assert len(s.history(rec.id)) == 2


def test_other_annotators_and_the_machine_in_their_own_colours(window, qtbot, tmp_path):
    db = tmp_path / "ann.sqlite"
    path = write_set(tmp_path / "set") / "gal_00.png"
    with AnnotationStore(db) as s:
        image = s.register_image(image_key(path))
        s.add_annotation(image.id, "bob", BarLine(10, 20, 36, 28))
        s.add_annotation(image.id, "carol", BarLine(11, 25, 35, 21), width_line=BarLine(23, 19, 23, 27))
        s.add_annotation(image.id, "alice", BarLine(12, 24, 34, 24))
        s.add_machine_measurement(image.id, Machine(24.0, ((12.0, 23.0), (36.0, 23.0))))
    w = window(db)
    layer = w.annotate.layer
    colours = layer.other_colours()
    assert set(colours) == {"bob", "carol"}
    assert colours["bob"] != colours["carol"]
    assert OWN_COLOUR not in colours.values()
    own_pen = layer.own[0].bar.pen.color()
    assert (own_pen.red(), own_pen.green(), own_pen.blue()) == OWN_COLOUR
    assert layer.machine is not None
    info = w.annotate.panel.info.text()
    assert "bob" in info and "carol" in info and "machine (paper)" in info and "3 annotators" in info
    # other people's lines are not draggable; yours are only in annotate mode
    assert not layer.own[0].bar.acceptedMouseButtons() & Qt.MouseButton.LeftButton
    annotate_mode_on(qtbot, w)
    assert layer.own[0].bar.acceptedMouseButtons() & Qt.MouseButton.LeftButton
    w.annotate.panel.show_others.setChecked(False)  # draw blind
    assert layer.other_colours() == {} and layer.machine is None and len(layer.own) == 1


# ---------------------------------------------------------------- vetting


def test_vetting_list_is_sorted_by_disagreement_and_opens_the_image(window, qtbot, tmp_path):
    db = tmp_path / "ann.sqlite"
    root = write_set(tmp_path / "set", n=3)
    machine = {0: 22.0, 1: 40.0, 2: 31.0}  # against a human 20 / 20 / 30: +10 %, +100 %, +3 %
    with AnnotationStore(db) as s:
        for i, human in enumerate((20.0, 20.0, 30.0)):
            image = s.register_image(image_key(root / f"gal_{i:02d}.png"), set_name="set")
            s.add_annotation(image.id, "bob", BarLine(10, 24, 10 + human - 1, 24))
            s.add_annotation(image.id, "carol", BarLine(10, 24, 10 + human + 1, 24))
            s.add_machine_measurement(image.id, Machine(machine[i], ((10.0, 22.0), (10.0 + machine[i], 22.0))))
    w = window(db)
    w.bottom_tabs.setCurrentWidget(w.annotate.vetting)  # showing the tab computes it
    panel = w.annotate.vetting
    qtbot.waitUntil(lambda: panel.table.rowCount() == 3, timeout=WAIT_MS)
    names = [panel.table.item(r, 0).text() for r in range(3)]
    assert names == ["gal_01.png", "gal_00.png", "gal_02.png"]
    assert "+100 %" in panel.table.item(0, VETTING_COLUMNS.index("machine − human")).text()
    assert len(panel.points.data) == 3
    assert "Hoyle" in panel.summary.text() and "between annotators" in panel.summary.text()
    assert panel.agreement.n_images == 3 and panel.agreement.rms_relative_scatter > 0

    panel.table.setFocus()
    panel.table.setCurrentCell(2, 0)
    qtbot.keyClick(panel.table, Qt.Key.Key_Return)  # Enter opens the image
    wait_image(qtbot, w, 2)
    layer = w.annotate.layer
    qtbot.waitUntil(lambda: layer.machine is not None and len(layer.others) == 2, timeout=WAIT_MS)
    assert w.annotate.draft is None
    # a click on a point in the scatter plot opens that image too
    with qtbot.waitSignal(panel.image_activated, timeout=WAIT_MS) as sig:
        panel._point_clicked(panel.points, [panel.points.points()[0]])
    assert sig.args == [panel.points.points()[0].data()]


# ---------------------------------------------------------------- problems become messages


def test_newer_database_is_refused_with_a_message_and_nothing_is_lost(window, qtbot, tmp_path):
    db = tmp_path / "future.sqlite"
    AnnotationStore(db).close()
    raw = sqlite3.connect(db)
    raw.execute("INSERT INTO schema_version VALUES (99, '2040-01-01 00:00:00.000000')")
    raw.commit()
    raw.close()
    w = window(db)  # --db on a file from the future
    assert w.annotate.store is None
    assert any("newer" in e for e in w.log.errors())
    assert "newer" in w.annotate.panel.database.text()
    annotate_mode_on(qtbot, w)
    assert w.annotate.store is None  # no other file is quietly opened in its place
    draw(qtbot, w, (10, 20), (36, 30))
    qtbot.keyClick(w.image_view.glw, Qt.Key.Key_Return)
    assert "no annotation database open" in w.statusBar().currentMessage()
    assert w.current_entry == 0 and w.annotate.layer.draft_bar is not None  # the drawing stays
    assert w.annotate.open_database(tmp_path / "good.sqlite")  # File > Open database… then saves it
    qtbot.keyClick(w.image_view.glw, Qt.Key.Key_Return)
    wait_image(qtbot, w, 1)
    assert len(store_rows(tmp_path / "good.sqlite")) == 1


def test_read_only_database_shows_lines_and_refuses_to_save(window, qtbot, tmp_path, monkeypatch):
    db = tmp_path / "shared.sqlite"
    path = write_set(tmp_path / "set") / "gal_00.png"
    with AnnotationStore(db) as s:
        s.add_annotation(s.register_image(image_key(path)).id, "bob", BarLine(10, 20, 36, 28))
    real_access = os.access

    def no_write(p, mode, *a, **k):  # what a file we may not write looks like (root ignores chmod)
        if mode == os.W_OK and os.fspath(p) == os.fspath(db):
            return False
        return real_access(p, mode, *a, **k)

    monkeypatch.setattr(os, "access", no_write)
    w = window(db)
    assert w.annotate.store is not None and w.annotate.store.readonly
    assert any("read-only" in t for lvl, t in w.log.entries if lvl == "warning")
    assert set(w.annotate.layer.other_colours()) == {"bob"}
    annotate_mode_on(qtbot, w)
    draw(qtbot, w, (10, 20), (36, 30))
    qtbot.keyClick(w.image_view.glw, Qt.Key.Key_Return)
    assert "read-only" in w.statusBar().currentMessage()
    assert any("not saved" in e for e in w.log.errors())
    assert w.current_entry == 0 and w.annotate.draft is not None  # nothing lost, still on screen
    assert w.annotate.undo_stack.count() == 0
    assert len(store_rows(db)) == 1


def test_enter_in_the_filter_box_filters_and_leaving_an_image_saves_the_drawing(window, qtbot, tmp_path):
    db = tmp_path / "ann.sqlite"
    w = window(db)
    annotate_mode_on(qtbot, w)
    draw(qtbot, w, (10, 20), (36, 30))
    w.browser.filter_edit.setFocus()
    qtbot.keyClicks(w.browser.filter_edit, "gal_00")
    qtbot.keyClick(w.browser.filter_edit, Qt.Key.Key_Return)
    assert w.browser.model.rowCount() == 1  # Enter filtered; it did not save-and-move
    assert w.current_entry == 0 and store_rows(db) == [] and w.annotate.draft is not None
    w.browser.filter_edit.clear()
    w.browser.select_entry(2)  # leaving the image with a drawing on it saves the drawing
    wait_image(qtbot, w, 2)
    rows = store_rows(db)
    assert len(rows) == 1 and rows[0].image_path.endswith("gal_00.png")
    assert any("saved the drawing you left on" in t for _, t in w.log.entries)
    # Delete discards a drawing; with none, it deletes your bar (undoable)
    w.browser.select_entry(0)
    wait_image(qtbot, w, 0)
    w.image_view.glw.setFocus()
    draw(qtbot, w, (5, 5), (20, 5))
    qtbot.keyClick(w.image_view.glw, Qt.Key.Key_Delete)
    assert w.annotate.draft is None and len(store_rows(db)) == 1 and not store_rows(db)[0].deleted
    with qtbot.waitSignal(w.annotate.written, timeout=WAIT_MS):
        qtbot.keyClick(w.image_view.glw, Qt.Key.Key_Delete)
    assert store_rows(db)[0].deleted


def test_the_name_is_asked_once_and_remembered(window, qtbot, tmp_path, monkeypatch):
    from galaxyscope.gui import annotate

    asked = []

    def fake_dialog(*args, **kwargs):
        asked.append(args[1])
        return "  dora ", True

    monkeypatch.setattr(annotate.QInputDialog, "getText", staticmethod(fake_dialog))
    w = window(tmp_path / "ann.sqlite", annotator=None)
    assert w.annotate.annotator == ""
    annotate_mode_on(qtbot, w)
    qtbot.keyClick(w.image_view.glw, Qt.Key.Key_D)  # off
    assert not w.annotate.active
    annotate_mode_on(qtbot, w)
    assert len(asked) == 1 and w.annotate.annotator == "dora"
    w.close()
    again = MainWindow(settings=Settings(tmp_path / "settings.ini"), restore_state=False)
    qtbot.addWidget(again)
    assert again.annotate.annotator == "dora"  # remembered in the settings file
    assert again.annotate.set_active(True) and len(asked) == 1
    assert again.annotate.store is not None
    assert again.annotate.store.path == tmp_path / "ann.sqlite"  # and so is the database
    again.close()
