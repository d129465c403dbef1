"""The rules behind annotate mode without a window: coordinates, colours, what Enter saves, the
undo commands' failure handling, the machine-bar bookkeeping and the agreement wording."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import math
from dataclasses import dataclass

import astropy.units as u
import pytest

pytest.importorskip("PySide6")

from galaxyscope.gui.annotate_logic import (  # noqa: E402
    MACHINE_COLOUR,
    OWN_COLOUR,
    Draft,
    NothingToSave,
    annotator_colour,
    image_agreement_text,
    image_to_scene,
    is_a_line,
    latest_machine,
    lengths_text,
    line_from_scene,
    line_to_scene,
    machine_is_new,
    own_annotation,
    plan_save,
    scatter_summary,
    set_agreement_text,
)
from galaxyscope.store import UNSET, AnnotationStore, BarLine  # noqa: E402
from galaxyscope.store.agreement import image_agreement, set_agreement, vetting_list  # noqa: E402
from galaxyscope.store.operations import AddAnnotation, EditAnnotation  # noqa: E402


@dataclass
class Fit:
    """The attributes of a BarMeasurement that the machine bookkeeping reads."""

    length_px: float
    endpoints: tuple | None
    method: str = "paper"
    ok: bool = True
    width_px: float = math.nan
    length_err_px: float = math.nan
    pa_deg: float = 0.0
    flags: tuple = ()
    params: dict | None = None


def test_view_and_image_coordinates_are_half_a_pixel_apart():
    # pyqtgraph puts pixel (0, 0)'s corner at 0, 0; the store counts from the pixel's centre
    assert image_to_scene(0, 0) == (0.5, 0.5)
    line = line_from_scene((10.5, 20.5), (36.5, 30.5))
    assert line == BarLine(10, 20, 36, 30)
    assert line_to_scene(line) == ((10.5, 20.5), (36.5, 30.5))
    assert not is_a_line(line_from_scene((3.0, 3.0), (3.4, 3.5)))  # a click, not a line
    assert is_a_line(line) and not is_a_line(None)


def test_colours_are_stable_per_annotator_and_never_gold_or_cyan():
    assert annotator_colour(7, own=True) == OWN_COLOUR
    others = [annotator_colour(i, own=False) for i in range(1, 7)]
    assert len(set(others)) == 6  # six people in six colours
    assert OWN_COLOUR not in others and MACHINE_COLOUR not in others
    assert annotator_colour(3, own=False) == annotator_colour(3, own=False)


def test_what_enter_saves(tmp_path):
    bar, width = BarLine(0, 0, 10, 0), BarLine(5, -2, 5, 2)
    assert plan_save(1, "alice", None, None) is None
    assert plan_save(1, "alice", Draft("a.png"), None) is None
    with pytest.raises(NothingToSave, match="bar first"):
        plan_save(1, "alice", Draft("a.png", width=width), None)
    add = plan_save(1, "alice", Draft("a.png", bar=bar, width=width), None)
    assert isinstance(add, AddAnnotation) and add.bar == bar and add.width_line == width
    with AnnotationStore(tmp_path / "a.db") as store:
        image = store.register_image("a.png")
        add.image_id = image.id
        first = add.redo(store)
        # a second drawing by the same person replaces theirs (a new revision; history keeps the old)
        redraw = plan_save(image.id, "alice", Draft("a.png", bar=BarLine(0, 0, 12, 0)), first)
        assert isinstance(redraw, EditAnnotation) and redraw.width_line is UNSET
        rec = redraw.redo(store)
        assert rec.id == first.id and rec.length_px == 12 and rec.width_line == width
        only_width = plan_save(image.id, "alice", Draft("a.png", width=BarLine(6, -3, 6, 3)), rec)
        rec = only_width.redo(store)
        assert rec.bar == BarLine(0, 0, 12, 0) and rec.width.to_value(u.pix) == 6
        assert [h.revision for h in store.history(first.id)] == [1, 2]
        store.add_annotation(image.id, "bob", bar)
        records = store.annotations_for_image(image.id)
        assert own_annotation(records, "alice").id == first.id
        assert own_annotation(records, " bob ").annotator == "bob"
        assert own_annotation(records, "carol") is None and own_annotation(records, "") is None


def test_store_command_drops_a_step_that_cannot_be_undone(qapp, tmp_path):
    from PySide6.QtGui import QUndoStack

    from galaxyscope.gui.annotate_commands import StoreCommand

    db = tmp_path / "a.db"
    store = AnnotationStore(db)
    image = store.register_image("a.png")
    done, failed = [], []
    stack = QUndoStack()
    cmd = StoreCommand(AddAnnotation(image.id, "alice", BarLine(0, 0, 3, 4)), store, "a.png",
                       lambda c, r, a: done.append((a, r.deleted)), lambda c, e: failed.append(str(e)))
    cmd.run_first()
    stack.push(cmd)
    assert done == [("do", False)] and stack.count() == 1
    stack.undo()
    stack.redo()
    assert done[1:] == [("undo", True), ("redo", False)]
    ro = AnnotationStore(db, readonly=True)
    cmd.store = ro  # the file became read-only under us
    stack.undo()
    assert failed and "read-only" in failed[0]
    assert stack.count() == 0  # the stack no longer claims a state the database lacks
    assert not store.get_annotation(cmd.annotation_id).deleted
    ro.close()
    store.close()


def test_machine_bar_is_stored_only_when_new(tmp_path):
    fit = Fit(20.0, ((10.0, 5.0), (30.0, 5.0)))
    assert machine_is_new(fit, "abc", [])
    assert not machine_is_new(Fit(math.nan, None, ok=False), "abc", [])
    with AnnotationStore(tmp_path / "a.db") as store:
        image = store.register_image("a.png")
        store.add_machine_measurement(image.id, fit, model_hash="abc")
        stored = store.machine_measurements(image_id=image.id)
        assert not machine_is_new(fit, "abc", stored)  # the same fit again: nothing new
        assert machine_is_new(fit, "other-model", stored)
        assert machine_is_new(Fit(21.0, ((10.0, 5.0), (31.0, 5.0))), "abc", stored)
        store.add_machine_measurement(image.id, Fit(math.nan, None, ok=False))
        latest = latest_machine(store.machine_measurements(image_id=image.id))
        assert latest.length_px == 20.0  # the newest one with a line to draw


def test_the_gates_no_bar_is_stored_once_so_vetting_lists_the_image(tmp_path):
    no_bar = Fit(math.nan, None, method="moments", ok=False, flags=("no_bar",))
    assert machine_is_new(no_bar, "abc", [])
    with AnnotationStore(tmp_path / "a.db") as store:
        image = store.register_image("a.png")
        store.add_annotation(image.id, "bob", BarLine(10, 5, 30, 5))
        store.add_machine_measurement(image.id, no_bar, model_hash="abc")
        stored = store.machine_measurements(image_id=image.id)
        assert not machine_is_new(no_bar, "abc", stored) and machine_is_new(no_bar, "other", stored)
        assert latest_machine(stored) is None  # nothing to draw
        rows = vetting_list(store)
        assert len(rows) == 1 and rows[0].disagreement == math.inf  # first in the list: "machine found none"


def test_lengths_and_agreement_in_words(tmp_path):
    assert lengths_text(40.0, None, None) == "40.0 px"
    assert lengths_text(40.0, 0.25 * u.arcsec / u.pix, None) == "40.0 px · 10.00″"
    text = lengths_text(40.0, 0.25 * u.arcsec / u.pix, 0.05)
    assert text.startswith("40.0 px · 10.00″ · ") and text.endswith(" kpc")
    with AnnotationStore(tmp_path / "a.db") as store:
        a = store.register_image("a.png", set_name="s")
        b = store.register_image("b.png", set_name="s")
        assert image_agreement_text(image_agreement(store, a.id)) == "nobody has drawn this bar yet"
        store.add_annotation(a.id, "alice", BarLine(0, 0, 10, 0))
        assert image_agreement_text(image_agreement(store, a.id)) == "1 annotator: 10.0 px"
        store.add_annotation(a.id, "bob", BarLine(0, 0, 12, 0))
        two = image_agreement_text(image_agreement(store, a.id))
        assert two.startswith("2 annotators: 11.0 ± 1.4 px, relative scatter 12.9 %") and "Hoyle" in two
        store.add_annotation(b.id, "alice", BarLine(0, 0, 20, 0))
        store.add_annotation(b.id, "alice", BarLine(0, 0, 21, 0))
        words = set_agreement_text(set_agreement(store, "s"))
        assert "set s: 2 annotators" in words and "12.9 % RMS" in words and "1 images" in words
        assert "one person repeating 3.4 %" in words and "~3 % repeating, <20 % between" in words
        for image, length in ((a, 22.0), (b, 20.5)):
            store.add_machine_measurement(image.id, Fit(length, ((0.0, 1.0), (length, 1.0))))
        rows = vetting_list(store, set_name="s")
        assert "2 images with human and machine lengths" == scatter_summary(rows)
