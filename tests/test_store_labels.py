"""Bar / no-bar labels beside drawn lines, model versions, and the version 3 -> 4 migration."""

from __future__ import annotations

import sqlite3

import pytest

from galaxyscope.store import AnnotationStore, BarLine, NotFoundError, StoreError
from galaxyscope.store.operations import AddAnnotation, MarkNoBar, UndoStack

NOW = "2026-01-01 00:00:00.000000"


@pytest.fixture
def store(tmp_path):
    with AnnotationStore(tmp_path / "labels.db") as st:
        yield st


@pytest.fixture
def image(store):
    return store.register_image("set/a.png", set_name="set")


def test_no_bar_is_a_label_of_its_own(store, image):
    rec = store.set_bar_label(image.id, "alice", False)
    assert rec.has_bar is False and rec.length is None and rec.source == "window"
    assert store.bar_label(image.id, "alice") == rec
    labels = store.image_labels()
    assert list(labels) == [image.id]
    (say,) = labels[image.id]
    assert say.annotator == "alice" and say.has_bar is False and say.lines == () and say.length_px is None
    assert store.counts().bar_labels == 1


def test_a_drawn_line_means_bar_and_turns_no_bar_into_bar(store, image):
    store.set_bar_label(image.id, "bob", False)
    store.add_annotation(image.id, "bob", BarLine(0, 0, 30, 40))
    now = store.bar_label(image.id, "bob")
    assert now.has_bar is True and now.revision == 2
    (say,) = store.image_labels()[image.id]
    assert say.has_bar and say.length_px == pytest.approx(50.0) and len(say.annotation_uids) == 1
    # a line without any label row is a bar too
    store.add_annotation(image.id, "carol", BarLine(0, 0, 6, 8), width_line=BarLine(3, 5, 4, 3))
    carol = [x for x in store.image_labels()[image.id] if x.annotator == "carol"][0]
    assert carol.has_bar and carol.label_uid is None and carol.lines[0][1] == BarLine(3, 5, 4, 3)


def test_no_bar_is_refused_beside_a_line_but_mark_no_bar_deletes_it_and_undo_restores(store, image):
    line = store.add_annotation(image.id, "alice", BarLine(1, 1, 21, 1))
    with pytest.raises(StoreError, match="mark_no_bar"):
        store.set_bar_label(image.id, "alice", False)
    done = store.mark_no_bar(image.id, "alice")
    assert done.previous is None and done.deleted_annotation_ids == (line.id,)
    assert store.get_annotation(line.id).deleted
    assert store.image_labels()[image.id][0].has_bar is False
    assert store.undo_no_bar(done) is None  # there was no label before
    assert not store.get_annotation(line.id).deleted
    assert store.bar_label(image.id, "alice") is None
    (say,) = store.image_labels()[image.id]
    assert say.has_bar and say.length_px == pytest.approx(20.0)


def test_undo_stack_no_bar_after_add_bar(store, image):
    stack = UndoStack(store)
    stack.push(AddAnnotation(image.id, "dora", BarLine(0, 0, 10, 0)))
    label = stack.push(MarkNoBar(image.id, "dora"))
    assert label.has_bar is False and store.annotations_for_image(image.id) == []
    stack.undo()
    assert len(store.annotations_for_image(image.id)) == 1 and store.bar_label(image.id, "dora") is None
    stack.redo()
    assert store.bar_label(image.id, "dora").has_bar is False
    assert store.annotations_for_image(image.id) == []


def test_label_history_and_clear(store, image):
    store.set_bar_label(image.id, "erin", True, length_px=12.5, source="import:x.csv")
    same = store.set_bar_label(image.id, "erin", True, length_px=12.5, source="import:x.csv")
    assert same.revision == 1  # nothing changed, no new revision
    changed = store.set_bar_label(image.id, "erin", False)
    assert changed.revision == 2 and changed.length is None
    with store.reading() as s:
        n_history = s.connection().exec_driver_sql("SELECT count(*) FROM bar_label_history").scalar()
    assert n_history == 1
    assert store.clear_bar_label(image.id, "erin").has_bar is False
    assert store.bar_label(image.id, "erin") is None and store.clear_bar_label(image.id, "erin") is None
    assert len(store.bar_labels(include_deleted=True)) == 1 and store.bar_labels() == []
    with pytest.raises(ValueError, match="needs has_bar"):
        store.set_bar_label(image.id, "erin", False, length_px=3.0)


def test_model_versions_are_recorded_and_found(store):
    a = store.add_model_version("m1.safetensors", sha256="ab" * 32, base_sha256="cd" * 32,
                                annotations={"train": ["u1"], "test": ["u2"]},
                                metrics={"auc": {"base": 0.6, "tuned": 0.8}}, n_train=1, n_test=1)
    b = store.add_model_version("m2.safetensors", sha256="ef" * 32, base_sha256="cd" * 32, name="second")
    assert a.name == "v1" and a.path.endswith("/m1.safetensors") and a.metrics["auc"]["tuned"] == 0.8
    assert [v.id for v in store.model_versions()] == [a.id, b.id]
    assert store.model_version("second") == b and store.model_version("abababab") == a
    assert store.model_version(a.id) == a and store.model_versions(base_sha256="00" * 32) == []
    with pytest.raises(NotFoundError):
        store.model_version("nope")


def make_v3(db):
    """A version-3 file (no label or version tables) holding one image, annotator and line."""
    AnnotationStore(db).close()
    raw = sqlite3.connect(db)
    for table in ("bar_label_history", "bar_labels", "model_versions"):
        raw.execute(f"DROP TABLE {table}")
    raw.execute("DELETE FROM schema_version WHERE version >= 4")
    raw.execute("INSERT OR IGNORE INTO schema_version VALUES (3, ?)", (NOW,))
    raw.execute("INSERT INTO images (id, path, created_utc) VALUES (1, '/data/a.png', ?)", (NOW,))
    raw.execute("INSERT INTO annotators (id, name, created_utc) VALUES (1, 'alice', ?)", (NOW,))
    raw.execute("INSERT INTO annotations (id, uid, image_id, annotator_id, created_utc, revision, x1, y1, x2, y2,"
                " length_px, deleted, updated_utc) VALUES (1, 'u1', 1, 1, ?, 1, 0, 0, 3, 4, 5, 0, ?)", (NOW, NOW))
    raw.commit()
    raw.close()


def test_version_3_file_gains_the_tables_and_keeps_its_data(tmp_path):
    db = tmp_path / "v3.db"
    make_v3(db)
    with AnnotationStore(db) as store:
        assert store.upgraded_from == 3 and store.schema_version == 4
        assert store.get_annotation(1).length_px == 5.0
        assert store.image_labels()[1][0].has_bar  # the old line counts as a bar
        store.mark_no_bar(1, "alice")
        assert store.model_versions() == []
    fresh = tmp_path / "fresh.db"
    AnnotationStore(fresh).close()

    def tables(path):
        raw = sqlite3.connect(path)
        out = {r[0]: sorted(c[1] for c in raw.execute(f"PRAGMA table_info({r[0]})"))
               for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        raw.close()
        return out

    assert tables(db) == tables(fresh)


@pytest.mark.parametrize("suffix", [".ecsv", ".csv", ".fits"])
def test_labels_round_trip_through_export_and_merge_by_image_and_annotator(tmp_path, suffix):
    from galaxyscope.store.table_io import export_annotations, import_generic

    src = tmp_path / "src.db"
    with AnnotationStore(src) as store:
        a = store.register_image("/data/a.png", set_name="set")
        b = store.register_image("/data/b.png", set_name="set")
        store.set_bar_label(a.id, "alice", False, note="round")
        store.set_bar_label(b.id, "alice", True, length_px=17.5)
        store.add_annotation(b.id, "bob", BarLine(0, 0, 3, 4))
        report = export_annotations(store, tmp_path / f"out{suffix}")
    assert (report.n_annotations, report.n_labels) == (1, 2)
    dst = tmp_path / "dst.db"
    with AnnotationStore(dst) as store:
        first = import_generic(store, tmp_path / f"out{suffix}")
        assert (first.added, first.labels_added) == (1, 2)
        labels = {(x.image_path, x.annotator): x for x in store.bar_labels()}
        assert labels[("/data/a.png", "alice")].has_bar is False and labels[("/data/a.png", "alice")].note == "round"
        assert labels[("/data/b.png", "alice")].length.value == pytest.approx(17.5)
        again = import_generic(store, tmp_path / f"out{suffix}")
        assert again.labels_skipped == 2 and again.labels_added == 0
    # a line drawn later at the source turns the "no bar" here into "bar" (the line itself says so)
    with AnnotationStore(src) as store:
        store.add_annotation(store.find_image("/data/a.png").id, "alice", BarLine(1, 1, 9, 1))
        export_annotations(store, tmp_path / f"newer{suffix}")
    with AnnotationStore(dst) as store:
        newer = import_generic(store, tmp_path / f"newer{suffix}")
        assert newer.added == 1 and newer.labels_updated + newer.labels_skipped == 2
        assert store.bar_label(store.find_image("/data/a.png").id, "alice").has_bar is True
