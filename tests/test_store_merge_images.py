"""Schema step 3 merges image rows that name one file under two path forms, losing nothing."""

from __future__ import annotations

import hashlib
import sqlite3

from galaxyscope.images.identity import image_key
from galaxyscope.store import AnnotationStore

NOW = "2026-01-01 00:00:00.000000"


def make_v2_with_duplicates(db, folder):
    """A version-2 file as scan-bias --db (relative path) and the window (absolute) wrote it."""
    png = folder / "set" / "a.png"
    png.parent.mkdir(parents=True)
    png.write_bytes(b"\x89PNG not really, but bytes to hash")
    digest = hashlib.sha256(png.read_bytes()).hexdigest()
    AnnotationStore(db).close()  # the current schema, less what version 4 added: version 2's tables
    raw = sqlite3.connect(db)
    for table in ("bar_label_history", "bar_labels", "model_versions"):
        raw.execute(f"DROP TABLE {table}")
    raw.execute("DELETE FROM schema_version WHERE version >= 3")
    raw.execute("INSERT OR IGNORE INTO schema_version VALUES (2, ?)", (NOW,))
    raw.execute("INSERT INTO images (id, path, sha256, set_name, objid_int, created_utc) VALUES "
                "(1, ?, ?, 'set', NULL, ?)", (png.as_posix(), digest, NOW))
    raw.execute("INSERT INTO images (id, path, sha256, set_name, objid_int, redshift, created_utc) VALUES "
                "(2, 'set/a.png', ?, 'set', 587722981747982465, 0.05, ?)", (digest, NOW))
    raw.execute("INSERT INTO images (id, path, created_utc) VALUES (3, 'elsewhere/b.png', ?)", (NOW,))
    raw.execute("INSERT INTO annotators (id, name, created_utc) VALUES (1, 'alice', ?)", (NOW,))
    raw.execute("INSERT INTO annotations (id, uid, image_id, annotator_id, created_utc, revision, x1, y1, x2, y2,"
                " length_px, deleted, updated_utc) VALUES (1, 'u1', 1, 1, ?, 1, 0, 0, 3, 4, 5, 0, ?)", (NOW, NOW))
    raw.execute("INSERT INTO flags (image_id, kind, reason, score, numbers_json, created_utc) VALUES "
                "(2, 'off_galaxy', 'saliency off the galaxy', 0.9, '{}', ?)", (NOW,))
    raw.execute("INSERT INTO machine_measurements (image_id, method, parameters_json, length_px, flags_json,"
                " created_utc) VALUES (2, 'moments', '{}', 12.0, '[]', ?)", (NOW,))
    raw.commit()
    raw.close()
    return png


def test_duplicates_merge_into_one_row_keeping_annotations_flags_and_metadata(tmp_path):
    db = tmp_path / "bars.db"
    png = make_v2_with_duplicates(db, tmp_path)
    with AnnotationStore(db) as store:
        assert store.upgraded_from == 2 and store.schema_version == 4
        images = store.images()
        assert [i.path for i in images] == [image_key(png), "elsewhere/b.png"]  # b: nothing to match, kept
        merged = images[0]
        assert merged.id == 1 and merged.objid == 587722981747982465 and merged.redshift == 0.05
        assert len(store.annotations_for_image(1)) == 1
        assert [f.kind for f in store.flags(image_id=1)] == ["off_galaxy"]
        assert len(store.machine_measurements(image_id=1)) == 1
        assert store.counts().flags == 1 and store.counts().annotations == 1
        # and from now on every path form finds that row
        assert store.find_image(png).id == store.register_image(str(png)).id == 1
    raw = sqlite3.connect(db)
    assert raw.execute("PRAGMA foreign_key_check").fetchall() == []
    raw.close()


def test_a_relative_row_matches_the_file_beside_the_database(tmp_path):
    db = tmp_path / "bars.db"
    png = make_v2_with_duplicates(db, tmp_path)
    raw = sqlite3.connect(db)
    raw.execute("DELETE FROM annotations")
    raw.execute("DELETE FROM images WHERE id = 1")  # only the relative row is left
    raw.commit()
    raw.close()
    with AnnotationStore(db) as store:
        assert store.get_image(2).path == image_key(png)  # set/a.png beside bars.db, same hash
        assert len(store.flags(image_id=2)) == 1
