"""Vetting view: a published reference length (Hoyle 2011) beside people and the machine; one click opens a row."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

import astropy.units as u  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402

from galaxyscope.gui.annotate_logic import VETTING_COLUMNS  # noqa: E402
from galaxyscope.images.identity import image_key  # noqa: E402
from galaxyscope.measure.units import to_pixels  # noqa: E402
from galaxyscope.store import AnnotationStore, BarLine, ReferenceRow  # noqa: E402
from galaxyscope.store.agreement import vetting_list  # noqa: E402
from test_gui_annotate import SCALE, WAIT_MS, Z, Machine, _private_settings, wait_image, window, write_set  # noqa: E402,F401

OBJID = 587722981747982465


def fill(db, root):
    """Three annotated and measured images; the first is a galaxy with a Hoyle 2011 length."""
    with AnnotationStore(db) as s:
        for i, (human, machine) in enumerate(((20.0, 22.0), (20.0, 40.0), (30.0, 31.0))):
            image = s.register_image(image_key(root / f"gal_{i:02d}.png"), set_name="set",
                                     objid=OBJID if i == 0 else None, pixel_scale=SCALE * u.arcsec / u.pix,
                                     redshift=Z)
            s.add_annotation(image.id, "bob", BarLine(10, 24, 10 + human, 24))
            s.add_machine_measurement(image.id, Machine(machine, ((10.0, 22.0), (10.0 + machine, 22.0))))
        s.add_references([ReferenceRow(source="hoyle2011", objid=OBJID, unit="kpc / littleh", length=5.0)])


def test_reference_length_in_pixels_of_the_image(tmp_path):
    root = write_set(tmp_path / "set")
    fill(tmp_path / "ann.sqlite", root)
    with AnnotationStore(tmp_path / "ann.sqlite") as s:
        rows = {r.image_path.rsplit("/", 1)[-1]: r for r in vetting_list(s)}
    import astropy.cosmology.units as cu

    want = to_pixels(5.0 * u.kpc / cu.littleh, SCALE * u.arcsec / u.pix, Z)
    assert rows["gal_00.png"].reference_source == "hoyle2011"
    assert rows["gal_00.png"].reference_length.to_value(u.pix) == pytest.approx(want.value)
    assert 5 < want.value < 60  # ~5 kpc/h at z = 0.05 and 0.25"/px: tens of pixels, not thousands
    assert rows["gal_01.png"].reference_length is None and rows["gal_01.png"].reference_source == ""


def test_vetting_table_and_plot_show_the_reference_and_one_click_opens(window, qtbot, tmp_path):
    db = tmp_path / "ann.sqlite"
    fill(db, write_set(tmp_path / "set"))
    w = window(db)
    w.bottom_tabs.setCurrentWidget(w.annotate.vetting)
    panel = w.annotate.vetting
    qtbot.waitUntil(lambda: panel.table.rowCount() == 3, timeout=WAIT_MS)
    col = VETTING_COLUMNS.index("reference px")
    texts = {panel.table.item(r, 0).text(): panel.table.item(r, col).text() for r in range(3)}
    assert "hoyle2011" in texts["gal_00.png"] and texts["gal_01.png"] == ""
    assert len(panel.reference_points.data) == 1 and len(panel.points.data) == 3
    # one click on a row opens its image (not only selects it)
    row = next(r for r in range(3) if panel.table.item(r, 0).text() == "gal_02.png")
    rect = panel.table.visualItemRect(panel.table.item(row, 0))
    with qtbot.waitSignal(panel.image_activated, timeout=WAIT_MS) as sig:
        qtbot.mouseClick(panel.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert sig.args == [panel.image_id_at(row)]
    wait_image(qtbot, w, 2)
