"""Blind annotation (issue 17, item 1), in the real window offscreen: in annotate mode the machine's line,
the saliency and other people's lines stay hidden until the annotator has saved this image; V shows them
afterwards; one machine line in one colour, labelled by method; labels never overlap."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import itertools
from pathlib import Path

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402

from galaxyscope.gui.annotate_logic import MACHINE_COLOUR, stack_labels  # noqa: E402
from galaxyscope.gui.session_state import SessionState  # noqa: E402
from galaxyscope.gui.settings import Settings  # noqa: E402
from galaxyscope.images.identity import image_key  # noqa: E402
from galaxyscope.store import AnnotationStore, BarLine  # noqa: E402
from tests.test_gui_annotate import Machine, draw, wait_image  # noqa: E402
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
    """Annotate mode without --db opens $GALAXYSCOPE_DB: never the user's own file."""
    monkeypatch.setenv("GALAXYSCOPE_DB", str(tmp_path / "default.sqlite"))


def seed_db(db: Path, root: Path, people: dict[str, BarLine], machine: bool = True) -> None:
    """Lines by ``people`` (and a stored machine bar) on the set's first image."""
    with AnnotationStore(db) as s:
        image = s.register_image(image_key(root / "gal_00.png"))
        for name, line in people.items():
            s.add_annotation(image.id, name, line)
        if machine:
            s.add_machine_measurement(image.id, Machine(24.0, ((12.0, 23.0), (36.0, 23.0))))


def shown(w, name: str) -> bool:
    return w.image_view.overlays.is_shown(name)


def results_hidden(w, name: str) -> bool:
    return w.browser.table.isColumnHidden(w.browser.model.columns.index(name))


def key(qtbot, w, k) -> None:
    qtbot.keyClick(w.image_view.glw, k)


def test_annotate_mode_is_blind_until_saved_then_v_reveals_one_machine_line(make_window, qtbot, tmp_path):
    root = write_set(tmp_path / "set", n=3)
    db = tmp_path / "ann.sqlite"
    seed_db(db, root, {"bob": BarLine(10, 20, 36, 28)})
    w = make_window(tiny_model(), db_path=str(db))
    w.annotate.set_annotator("alice")
    assert w.open_path(root)
    wait_settled(qtbot, w, 0)
    qtbot.waitUntil(lambda: w.annotate.image is w.current_image, timeout=WAIT_MS)
    layer = w.annotate.layer
    # browsing, not annotating: everything is drawn, the machine's line once (the live fit)
    assert shown(w, "saliency") and shown(w, "bar")
    assert set(layer.other_colours()) == {"bob"}
    assert layer.machine is None  # the stored machine bar is not drawn beside the live one
    key(qtbot, w, Qt.Key.Key_O)  # the user switches the mask outline off before annotating
    assert not w.state.overlays.mask

    key(qtbot, w, Qt.Key.Key_D)
    assert w.annotate.active and w.state.annotate.blind
    for name in ("saliency", "bar", "mask", "width", "label"):
        assert not shown(w, name), name
    assert layer.other_colours() == {} and layer.machine is None
    info = w.annotate.panel.info.text()
    assert "bob" not in info and "machine" not in info.split("<small>")[0]
    assert w.state.overlays.saliency and w.state.overlays.bar  # the switches themselves are untouched
    assert "P(" not in w.image_view.title.text()  # nor the machine's score
    assert all(results_hidden(w, name) for name in ("score", "paper_px", "moments_px", "flags"))

    key(qtbot, w, Qt.Key.Key_V)  # V before saving: still blind, and says why
    assert w.state.annotate.reveal and w.state.annotate.blind and not shown(w, "saliency")
    assert "once you have answered" in w.statusBar().currentMessage()

    draw(qtbot, w, (12, 24), (34, 24))
    assert w.annotate.draft is not None and not shown(w, "bar")  # drawing does not reveal
    key(qtbot, w, Qt.Key.Key_Return)  # saves and moves on: the next image is blind again
    wait_image(qtbot, w, 1)
    wait_settled(qtbot, w, 1)
    assert w.state.annotate.blind and not shown(w, "saliency") and not shown(w, "bar")

    key(qtbot, w, Qt.Key.Key_P)  # back to the image alice saved: revealed (V is on)
    wait_image(qtbot, w, 0)
    wait_settled(qtbot, w, 0)
    qtbot.waitUntil(lambda: not w.state.annotate.blind, timeout=WAIT_MS)
    assert shown(w, "saliency") and shown(w, "bar") and not shown(w, "mask")
    assert set(layer.other_colours()) == {"bob"}
    # one machine line: the live fit, in the machine's colour even when flagged, labelled by method
    assert layer.machine is None and "P(" in w.image_view.title.text()
    pen = w.image_view.overlays.bar_item.opts["pen"].color()
    assert (pen.red(), pen.green(), pen.blue()) == MACHINE_COLOUR
    assert w.image_view.overlays.label_item.toPlainText().startswith(f"machine ({w.state.bars.method})")

    key(qtbot, w, Qt.Key.Key_V)  # V off: hidden again
    assert w.state.annotate.blind and not shown(w, "saliency") and layer.other_colours() == {}
    key(qtbot, w, Qt.Key.Key_D)  # leaving annotate mode: the overlays as they were switched
    assert not w.annotate.active
    assert shown(w, "saliency") and shown(w, "bar") and not shown(w, "mask")
    assert not w.image_view.overlays.label_item.toPlainText().startswith("machine (")
    assert set(layer.other_colours()) == {"bob"}
    assert not any(results_hidden(w, name) for name in ("score", "paper_px", "moments_px", "flags"))


def test_reveal_is_remembered_and_annotate_mode_is_not(make_window, qtbot, tmp_path):
    w = make_window(settings_name="remember.ini")
    w.annotate.set_annotator("alice")
    assert w.open_path(write_set(tmp_path / "set", n=2))
    wait_settled(qtbot, w, 0)
    action = w.actions_by_id["annotate_reveal"]
    assert action.isCheckable() and not action.isChecked() and action.shortcut().toString() == "V"
    assert w.annotate.panel.reveal.defaultAction() is action  # a button in the Annotate dock too
    key(qtbot, w, Qt.Key.Key_D)
    key(qtbot, w, Qt.Key.Key_V)
    assert w.state.annotate.reveal and w.state.annotate.active
    w.close()
    state = Settings(tmp_path / "remember.ini").load_session()
    assert state.annotate.reveal and not state.annotate.active
    again = make_window(settings_name="remember.ini")
    assert again.actions_by_id["annotate_reveal"].isChecked() and not again.annotate.active
    assert SessionState.from_dict({"annotate/reveal": "false"}).annotate.reveal is False


def test_without_a_model_the_stored_machine_line_is_the_one_machine_line(make_window, qtbot, tmp_path):
    root = write_set(tmp_path / "set", n=2)
    db = tmp_path / "ann.sqlite"
    seed_db(db, root, {"alice": BarLine(12, 24, 34, 24)})
    w = make_window(db_path=str(db))
    w.annotate.set_annotator("alice")
    assert w.open_path(root)
    wait_settled(qtbot, w, 0)
    layer = w.annotate.layer
    qtbot.waitUntil(lambda: layer.machine is not None, timeout=WAIT_MS)
    pen = layer.machine[0].opts["pen"].color()
    assert (pen.red(), pen.green(), pen.blue()) == MACHINE_COLOUR
    assert layer.machine[1].toPlainText().startswith("machine (paper)")
    key(qtbot, w, Qt.Key.Key_D)  # alice saved here, V is off: hidden
    assert layer.machine is None
    key(qtbot, w, Qt.Key.Key_V)
    assert layer.machine is not None


def test_labels_of_nearly_identical_lines_never_overlap(make_window, qtbot, tmp_path):
    root = write_set(tmp_path / "set", n=2)
    db = tmp_path / "ann.sqlite"
    people = {name: BarLine(10, 24 + 0.3 * i, 36, 24 - 0.2 * i) for i, name in enumerate(("bob", "carol", "dave"))}
    people["alice"] = BarLine(11, 24, 36, 24.5)
    seed_db(db, root, people)
    w = make_window(db_path=str(db))
    w.annotate.set_annotator("alice")
    assert w.open_path(root)
    wait_settled(qtbot, w, 0)
    layer = w.annotate.layer
    qtbot.waitUntil(lambda: len(layer.others) == 3 and layer.machine is not None, timeout=WAIT_MS)

    def no_overlap() -> bool:
        rects = [layer.label_rect(label) for label in layer.labels()]
        assert len(rects) == 5  # alice, bob, carol, dave, the machine
        return not any(a.intersects(b) for a, b in itertools.combinations(rects, 2))

    assert no_overlap()
    w.image_view.view.scaleBy((0.5, 0.5))  # zooming in spreads the lines' ends, labels keep their size
    qtbot.wait(10)
    assert no_overlap()
    w.image_view.view.scaleBy((6.0, 6.0))  # zoomed far out every end is in one spot: still readable
    qtbot.wait(10)
    assert no_overlap()


def test_stack_labels_moves_only_what_overlaps():
    rects = [(0, 0, 50, 10), (10, 5, 50, 10), (200, 0, 50, 10), (5, 8, 20, 10)]
    tops = stack_labels(rects, fixed=[(0, 30, 100, 10)], gap=2)
    assert tops[0] == 0 and tops[2] == 0  # nothing in their way
    assert tops[1] == 12  # under the first
    assert tops[3] == 42  # under the second, then under the fixed one
    placed = [(r[0], t, r[2], r[3]) for r, t in zip(rects, tops)]
    for a, b in itertools.combinations(placed + [(0, 30, 100, 10)], 2):
        assert not (a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3])
