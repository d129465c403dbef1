"""References in view (issue 17): a Hoyle 2011 length imported for an image's objid is drawn on the image as a
dashed circle of that diameter in the image's pixels (no invented orientation), labelled by source; an image
without a match shows none; drawing blind hides it, like the machine's line; View > Show published reference
lengths switches it."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

import astropy.cosmology.units as cu  # noqa: E402
import astropy.units as u  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402

from galaxyscope.measure.units import to_pixels  # noqa: E402
from galaxyscope.gui.reference_layer import ReferenceMark  # noqa: E402
from test_gui_annotate import SCALE, SIZE, WAIT_MS, Z, _private_settings, wait_image, window  # noqa: E402,F401
from test_gui_vetting_refs import fill  # noqa: E402


def shown_references(w) -> list:
    """The reference circles on screen: (items, label) pairs of the annotate layer that are visible."""
    return [(items, label) for items, label in w.annotate.layer.references
            if items.circle.scene() is not None and items.circle.isVisible()]


def key(qtbot, w, k, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    qtbot.keyClick(w.image_view.glw, k, modifier)


def test_hoyle_reference_is_a_circle_of_its_length_in_image_pixels(window, qtbot, tmp_path):
    db = tmp_path / "ann.sqlite"
    fill(db, tmp_path / "set")  # gal_00 is the galaxy with a Hoyle length (5 kpc/h)
    w = window(db)
    want = to_pixels(5.0 * u.kpc / cu.littleh, SCALE * u.arcsec / u.pix, Z).to_value(u.pix)
    qtbot.waitUntil(lambda: len(shown_references(w)) == 1, timeout=WAIT_MS)
    (items, label), = shown_references(w)
    assert items.diameter_px() == pytest.approx(want, rel=0.01)
    centre = items.circle.getData()
    assert (centre[0].max() + centre[0].min()) / 2 == pytest.approx(SIZE / 2, abs=0.01)  # image centre (scene)
    assert label.toPlainText().startswith("Hoyle 2011:") and f"{want:.0f} px" in label.toPlainText()
    assert label.isVisible()

    w.browser.select_entry(1)  # no objid match: no circle
    wait_image(qtbot, w, 1)
    qtbot.wait(20)
    assert shown_references(w) == [] and w.annotate.references == []

    w.browser.select_entry(0)
    wait_image(qtbot, w, 0)
    qtbot.waitUntil(lambda: len(shown_references(w)) == 1, timeout=WAIT_MS)
    w.actions_by_id["toggle_reference"].trigger()  # View menu: off
    assert not w.state.overlays.reference and shown_references(w) == []
    assert not w.overlay_toggles.boxes["reference"].isChecked()
    w.overlay_toggles.boxes["reference"].setChecked(True)  # the check box under the image: on again
    assert len(shown_references(w)) == 1


def test_blind_annotation_hides_the_reference_until_answered(window, qtbot, tmp_path):
    db = tmp_path / "ann.sqlite"
    fill(db, tmp_path / "set")
    w = window(db)
    qtbot.waitUntil(lambda: len(shown_references(w)) == 1, timeout=WAIT_MS)
    key(qtbot, w, Qt.Key.Key_D)  # annotate mode: blind on an image alice has not answered
    assert w.state.annotate.blind
    assert shown_references(w) == [] and len(w.annotate.references) == 1  # known, not shown

    key(qtbot, w, Qt.Key.Key_V)
    key(qtbot, w, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)  # "no bar", next image
    wait_image(qtbot, w, 1)
    assert shown_references(w) == []
    key(qtbot, w, Qt.Key.Key_P)  # back: answered here, V on -> shown for vetting
    wait_image(qtbot, w, 0)
    qtbot.waitUntil(lambda: not w.state.annotate.blind and len(shown_references(w)) == 1, timeout=WAIT_MS)

    key(qtbot, w, Qt.Key.Key_V)  # V off: blind again
    assert shown_references(w) == []
    key(qtbot, w, Qt.Key.Key_D)  # leaving annotate mode shows it
    assert len(shown_references(w)) == 1


def test_reference_labels_never_overlap_the_others(window, qtbot, tmp_path):
    db = tmp_path / "ann.sqlite"
    fill(db, tmp_path / "set")  # bob's line and the machine's on gal_00, plus the reference
    w = window(db)
    qtbot.waitUntil(lambda: len(shown_references(w)) == 1 and w.annotate.layer.machine is not None, timeout=WAIT_MS)
    layer = w.annotate.layer
    extra = ReferenceMark("hoyle2011", 21.0, 2.0, (23.5, 23.5))  # a second source at nearly the same size
    layer.set_references([*w.annotate.references, extra])
    rects = [layer.label_rect(label) for label in layer.labels()]
    assert len(rects) >= 3
    for i, a in enumerate(rects):
        for b in rects[i + 1:]:
            assert not a.intersects(b), (a, b)
