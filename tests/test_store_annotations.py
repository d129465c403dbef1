"""The annotation store: saving, edit history, soft delete and undo, objids, rollback."""

from __future__ import annotations

import math
import sqlite3

import astropy.units as u
import numpy as np
import pytest

from galaxyscope.store import (
    AnnotationStore,
    BarLine,
    ImageChangedError,
    NotFoundError,
    ReferenceRow,
    StoreError,
    split_objid,
)
from galaxyscope.store.models import Annotation
from galaxyscope.store.operations import AddAnnotation, DeleteAnnotation, EditAnnotation, UndoStack

BIG_OBJID = 587722981747982465  # 18 digits: float64 would turn it into ...464


@pytest.fixture
def store(tmp_path):
    with AnnotationStore(tmp_path / "ann.db") as st:
        yield st


@pytest.fixture
def image(store):
    return store.register_image("gz/587722981747982465.jpg", objid=BIG_OBJID, set_name="gz2",
                                pixel_scale=0.396 * u.arcsec / u.pix)


def test_new_database_has_wal_foreign_keys_full_sync_and_busy_timeout(store):
    raw = sqlite3.connect(store.path)
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    raw.close()
    with store.reading() as s:
        conn = s.connection()
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10000
    assert store.schema_version == 4 and store.upgraded_from is None
    assert store.integrity_check() == "ok"


def test_add_annotation_fills_lengths_and_is_committed_at_once(store, image):
    rec = store.add_annotation(image.id, "alice", BarLine(10.0, 20.0, 40.0, 60.0),
                               width_line=BarLine(20, 45, 30, 35))
    assert rec.length.unit == u.pix and rec.length.value == pytest.approx(50.0)
    assert rec.length_arcsec.to_value(u.arcsec) == pytest.approx(50.0 * 0.396)
    assert rec.length_kpc is None  # no redshift known
    assert rec.width.to_value(u.pix) == pytest.approx(math.hypot(10, 10))
    assert rec.created.tzinfo is not None and rec.created == rec.updated
    # visible from a separate, raw connection: committed before the call returned
    raw = sqlite3.connect(store.path)
    row = raw.execute("SELECT x1, y1, x2, y2, length_px FROM annotations WHERE id=?", (rec.id,)).fetchone()
    raw.close()
    assert row == (10.0, 20.0, 40.0, 60.0, pytest.approx(50.0))


def test_kpc_length_with_redshift(store):
    img = store.register_image("z.jpg", pixel_scale=1.0 * u.arcsec / u.pix, redshift=0.05)
    rec = store.add_annotation(img.id, "alice", BarLine(0, 0, 10, 0))
    from astropy.cosmology import Planck18

    expected = (10 * u.arcsec * Planck18.kpc_proper_per_arcmin(0.05)).to(u.kpc)
    assert rec.length_kpc.to_value(u.kpc) == pytest.approx(expected.value, rel=1e-9)


def test_update_twice_writes_two_history_rows_with_the_old_values(store, image):
    rec = store.add_annotation(image.id, "alice", BarLine(0, 0, 10, 0))
    store.update_annotation(rec.id, bar=BarLine(0, 0, 20, 0))
    now = store.update_annotation(rec.id, bar=BarLine(1, 1, 31, 1), note="second try")
    hist = store.history(rec.id)
    assert [h.action for h in hist] == ["update", "update"]
    assert [h.revision for h in hist] == [1, 2]
    assert [h.bar for h in hist] == [BarLine(0, 0, 10, 0), BarLine(0, 0, 20, 0)]
    assert [h.length.to_value(u.pix) for h in hist] == pytest.approx([10.0, 20.0])
    assert hist[0].note is None
    assert now.revision == 3 and now.bar == BarLine(1, 1, 31, 1) and now.note == "second try"
    assert now.updated > now.created
    # an update that changes nothing writes nothing
    same = store.update_annotation(rec.id, bar=BarLine(1, 1, 31, 1))
    assert same.revision == 3 and len(store.history(rec.id)) == 2


def test_width_line_kept_unless_removed(store, image):
    rec = store.add_annotation(image.id, "alice", BarLine(0, 0, 10, 0), width_line=BarLine(5, -2, 5, 2))
    moved = store.update_annotation(rec.id, bar=BarLine(0, 0, 12, 0))
    assert moved.width_line == BarLine(5, -2, 5, 2)
    gone = store.update_annotation(rec.id, width_line=None)
    assert gone.width_line is None and gone.width is None


def test_soft_delete_and_restore(store, image):
    rec = store.add_annotation(image.id, "alice", BarLine(0, 0, 10, 0))
    store.delete_annotation(rec.id)
    assert store.annotations_for_image(image.id) == []
    kept = store.annotations_for_image(image.id, include_deleted=True)
    assert [a.id for a in kept] == [rec.id] and kept[0].deleted
    with pytest.raises(StoreError, match="restore it first"):
        store.update_annotation(rec.id, bar=BarLine(0, 0, 1, 0))
    back = store.restore_annotation(rec.id)
    assert not back.deleted and back.bar == rec.bar
    assert [h.action for h in store.history(rec.id)] == ["delete", "restore"]
    assert store.counts().annotations == 1


def test_undo_stack_writes_through(store, image):
    stack = UndoStack(store)
    add = AddAnnotation(image.id, "alice", BarLine(0, 0, 10, 0))
    rec = stack.push(add)
    stack.push(EditAnnotation(rec.id, bar=BarLine(0, 0, 15, 0)))
    assert store.get_annotation(rec.id).length_px == pytest.approx(15)
    stack.undo()  # edit undone, in the database
    assert store.get_annotation(rec.id).bar == BarLine(0, 0, 10, 0)
    stack.undo()  # add undone: soft-deleted
    assert store.annotations_for_image(image.id) == []
    assert not stack.can_undo and stack.undo() is None
    stack.redo()  # same row comes back, not a new one
    assert [a.id for a in store.annotations_for_image(image.id)] == [rec.id]
    stack.redo()
    assert store.get_annotation(rec.id).length_px == pytest.approx(15)
    stack.push(DeleteAnnotation(rec.id))
    assert not stack.can_redo
    stack.undo()
    assert not store.get_annotation(rec.id).deleted
    # nothing was lost on the way: every step left its previous version
    assert [h.action for h in store.history(rec.id)] == [
        "update", "update", "delete", "restore", "update", "delete", "restore"]


def test_annotators_and_listing_per_annotator(store, image):
    store.add_annotation(image.id, " alice ", BarLine(0, 0, 10, 0))
    store.add_annotation(image.id, "bob", BarLine(0, 0, 12, 0))
    assert [a.name for a in store.annotators()] == ["alice", "bob"]
    assert [a.annotator for a in store.annotations_for_image(image.id, annotator="bob")] == ["bob"]
    bob = store.annotator("bob")
    assert len(store.annotations_for_image(image.id, annotator=bob.id)) == 1
    assert store.annotator("bob").id == bob.id  # get, not a second row
    with pytest.raises(ValueError):
        store.annotator("   ")


def test_objids_stay_exact(store):
    assert split_objid(BIG_OBJID) == (BIG_OBJID, None)
    assert split_objid(np.int64(BIG_OBJID)) == (BIG_OBJID, None)
    assert split_objid("587722981747982465") == (BIG_OBJID, None)
    assert split_objid("0123") == (None, "0123")
    assert split_objid("J1234+5678") == (None, "J1234+5678")
    assert split_objid(str(2**64)) == (None, str(2**64))
    with pytest.raises(TypeError):
        split_objid(5.877229817479825e17)
    img = store.register_image("a.jpg", objid=np.int64(BIG_OBJID))
    assert store.get_image(img.id).objid == BIG_OBJID
    raw = sqlite3.connect(store.path)
    assert raw.execute("SELECT typeof(objid_int), objid_int FROM images").fetchone() == ("integer", BIG_OBJID)
    raw.close()
    txt = store.register_image("b.jpg", objid="0123")
    assert store.get_image(txt.id).objid == "0123"


def test_register_image_refuses_conflicts(store, tmp_path):
    f = tmp_path / "img.jpg"
    f.write_bytes(b"first version")
    img = store.register_image_file(f)
    assert len(img.sha256) == 64
    assert store.register_image_file(f).id == img.id  # same content: same row
    f.write_bytes(b"changed")
    with pytest.raises(ImageChangedError, match="changed since it was registered"):
        store.register_image_file(f)
    store.register_image("c.jpg", objid=1)
    with pytest.raises(StoreError, match="objid"):
        store.register_image("c.jpg", objid=2)
    # filling in what was unknown is fine, and the set name may change
    again = store.register_image("c.jpg", pixel_scale=0.5 * u.arcsec / u.pix, set_name="new")
    assert again.pixel_scale.to_value(u.arcsec / u.pix) == 0.5 and again.set_name == "new"


def test_failed_transaction_leaves_nothing(store, image):
    before = store.counts()
    with pytest.raises(RuntimeError):
        with store.transaction() as s:
            store._annotator(s, "ghost")
            s.add(Annotation(uid="x" * 36, image_id=image.id, annotator_id=1, x1=0, y1=0, x2=1,
                             y2=0, length_px=1.0))
            s.flush()
            raise RuntimeError("power cut")
    assert store.counts() == before
    assert store.annotators() == []


def test_foreign_keys_are_enforced(store):
    with pytest.raises(NotFoundError):
        store.add_annotation(999, "alice", BarLine(0, 0, 1, 0))
    with pytest.raises(StoreError, match="refused"):
        with store.transaction() as s:
            s.add(Annotation(uid="y" * 36, image_id=999, annotator_id=999, x1=0, y1=0, x2=1, y2=0,
                             length_px=1.0))
    assert store.counts().annotations == 0


def test_machine_measurements_flags_and_references(store, image):
    from galaxyscope.measure.params import PaperParams
    from galaxyscope.measure.result import BarMeasurement

    meas = BarMeasurement(length_px=22.5, width_px=4.0, pa_deg=30.0, endpoints=((1.0, 2.0), (20.0, 14.0)),
                          mask=np.zeros((4, 4), bool), method="paper", flags=("fragmented",),
                          params=PaperParams(), length_err_px=float("nan"))
    m = store.add_machine_measurement(image.id, meas, model_hash="abc123")
    assert m.length.to_value(u.pix) == 22.5 and m.length_err is None
    assert m.bar == BarLine(1, 2, 20, 14) and m.flags == ("fragmented",)
    assert m.length_arcsec.to_value(u.arcsec) == pytest.approx(22.5 * 0.396)
    assert m.parameters["t_start"] == 0.5 and m.parameters["stop_pearson"] == PaperParams().stop_pearson
    assert store.machine_measurements(model_hash="abc123")[0].id == m.id
    f = store.add_flag(image.id, "off_centre", "saliency peak 30 px from the centre", score=0.8,
                       numbers={"distance_px": np.float32(30.0), "nan": float("nan")})
    assert f.numbers == {"distance_px": 30.0, "nan": None}
    assert store.flags(kind="off_centre")[0].reason.startswith("saliency")
    store.add_references([ReferenceRow("hoyle2011", str(BIG_OBJID), "kpc / littleh", length=5.84,
                                       n_measurements=3)])
    refs = store.references_for_image(image.id)
    assert len(refs) == 1 and refs[0].objid == BIG_OBJID
    from astropy.cosmology import units as cu

    kpc = refs[0].length.to(u.kpc, cu.with_H0(70 * u.km / u.s / u.Mpc))
    assert kpc.value == pytest.approx(5.84 / 0.7)
    assert store.add_references([ReferenceRow("hoyle2011", BIG_OBJID, "kpc / littleh", length=6.0)]) == (0, 1)
    assert store.references(source="hoyle2011")[0].length.value == 6.0


def test_register_galaxy_image_takes_path_scale_objid_and_redshift(store, tmp_path):
    from galaxyscope.images.galaxy_image import GalaxyImage

    f = tmp_path / "587722981747982465.fits"
    f.write_bytes(b"pretend pixels")
    gimg = GalaxyImage(pixels=np.zeros((4, 4), np.float32), id="587722981747982465", path=f,
                       pixel_scale=0.396 * u.arcsec / u.pix,
                       meta={"objID": np.int64(BIG_OBJID), "z": np.float64(0.05)})
    rec = store.register_galaxy_image(gimg, set_name="sdss")
    assert rec.objid == BIG_OBJID and rec.redshift == 0.05 and rec.set_name == "sdss"
    assert rec.pixel_scale.to_value(u.arcsec / u.pix) == pytest.approx(0.396)
    assert rec.path == f.as_posix() and rec.sha256 is not None
    assert store.register_galaxy_image(gimg).id == rec.id
