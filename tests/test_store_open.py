"""Opening databases: migrations from version 1, refusing newer files, read-only, locked,
not-SQLite and foreign files, each with a clear message naming the file."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import tempfile
from pathlib import Path

import pytest

from galaxyscope.store import (
    SCHEMA_VERSION,
    AnnotationStore,
    BarLine,
    DatabaseLockedError,
    DatabaseReadOnlyError,
    NotADatabaseError,
    SchemaTooNewError,
    StoreError,
)
from galaxyscope.images.identity import image_key
from galaxyscope.store.engine import make_engine, translated_errors

# Schema version 1 exactly as the first release created it (no `note` columns).
V1_DDL = """
CREATE TABLE annotators (id INTEGER NOT NULL, name TEXT NOT NULL, created_utc DATETIME NOT NULL,
    PRIMARY KEY (id), UNIQUE (name));
CREATE TABLE images (id INTEGER NOT NULL, path TEXT NOT NULL, sha256 VARCHAR(64), set_name TEXT,
    objid_int BIGINT, objid_text TEXT, pixel_scale_arcsec FLOAT, redshift FLOAT,
    created_utc DATETIME NOT NULL, PRIMARY KEY (id),
    CONSTRAINT ck_images_one_objid CHECK (objid_int IS NULL OR objid_text IS NULL), UNIQUE (path));
CREATE INDEX ix_images_objid_int ON images (objid_int);
CREATE INDEX ix_images_objid_text ON images (objid_text);
CREATE INDEX ix_images_set_name ON images (set_name);
CREATE INDEX ix_images_sha256 ON images (sha256);
CREATE TABLE reference_measurements (id INTEGER NOT NULL, source TEXT NOT NULL, objid_int BIGINT,
    objid_text TEXT, ra_deg FLOAT, dec_deg FLOAT, unit TEXT NOT NULL, length FLOAT,
    length_err FLOAT, width FLOAT, width_err FLOAT, length_scaled FLOAT, n_measurements INTEGER,
    extra_json TEXT, imported_utc DATETIME NOT NULL, PRIMARY KEY (id),
    CONSTRAINT ck_refs_one_objid CHECK (objid_int IS NULL OR objid_text IS NULL));
CREATE INDEX ix_reference_measurements_objid_int ON reference_measurements (objid_int);
CREATE INDEX ix_reference_measurements_objid_text ON reference_measurements (objid_text);
CREATE INDEX ix_reference_measurements_source ON reference_measurements (source);
CREATE UNIQUE INDEX uq_refs_source_objid_int ON reference_measurements (source, objid_int)
    WHERE objid_int IS NOT NULL;
CREATE UNIQUE INDEX uq_refs_source_objid_text ON reference_measurements (source, objid_text)
    WHERE objid_text IS NOT NULL;
CREATE TABLE schema_version (version INTEGER NOT NULL, applied_utc DATETIME NOT NULL,
    PRIMARY KEY (version));
CREATE TABLE annotations (id INTEGER NOT NULL, uid VARCHAR(36) NOT NULL, image_id INTEGER NOT NULL,
    annotator_id INTEGER NOT NULL, created_utc DATETIME NOT NULL, revision INTEGER NOT NULL,
    x1 FLOAT NOT NULL, y1 FLOAT NOT NULL, x2 FLOAT NOT NULL, y2 FLOAT NOT NULL, wx1 FLOAT,
    wy1 FLOAT, wx2 FLOAT, wy2 FLOAT, length_px FLOAT NOT NULL, width_px FLOAT,
    length_arcsec FLOAT, length_kpc FLOAT, deleted BOOLEAN NOT NULL, updated_utc DATETIME NOT NULL,
    PRIMARY KEY (id), UNIQUE (uid),
    FOREIGN KEY(image_id) REFERENCES images (id) ON DELETE RESTRICT,
    FOREIGN KEY(annotator_id) REFERENCES annotators (id) ON DELETE RESTRICT);
CREATE INDEX ix_annotations_annotator_id ON annotations (annotator_id);
CREATE INDEX ix_annotations_image_annotator ON annotations (image_id, annotator_id);
CREATE INDEX ix_annotations_image_id ON annotations (image_id);
CREATE TABLE flags (id INTEGER NOT NULL, image_id INTEGER NOT NULL, kind TEXT NOT NULL,
    reason TEXT NOT NULL, score FLOAT, numbers_json TEXT NOT NULL, created_utc DATETIME NOT NULL,
    PRIMARY KEY (id), FOREIGN KEY(image_id) REFERENCES images (id) ON DELETE RESTRICT);
CREATE INDEX ix_flags_image_id ON flags (image_id);
CREATE INDEX ix_flags_kind ON flags (kind);
CREATE TABLE machine_measurements (id INTEGER NOT NULL, image_id INTEGER NOT NULL,
    method TEXT NOT NULL, parameters_json TEXT NOT NULL, model_hash TEXT, length_px FLOAT,
    width_px FLOAT, length_err_px FLOAT, pa_deg FLOAT, x1 FLOAT, y1 FLOAT, x2 FLOAT, y2 FLOAT,
    length_arcsec FLOAT, length_kpc FLOAT, flags_json TEXT NOT NULL, created_utc DATETIME NOT NULL,
    PRIMARY KEY (id), FOREIGN KEY(image_id) REFERENCES images (id) ON DELETE RESTRICT);
CREATE INDEX ix_machine_measurements_image_id ON machine_measurements (image_id);
CREATE INDEX ix_machine_measurements_method ON machine_measurements (method);
CREATE INDEX ix_machine_measurements_model_hash ON machine_measurements (model_hash);
CREATE TABLE annotation_history (id INTEGER NOT NULL, annotation_id INTEGER NOT NULL,
    action VARCHAR(16) NOT NULL, recorded_utc DATETIME NOT NULL, revision INTEGER NOT NULL,
    x1 FLOAT NOT NULL, y1 FLOAT NOT NULL, x2 FLOAT NOT NULL, y2 FLOAT NOT NULL, wx1 FLOAT,
    wy1 FLOAT, wx2 FLOAT, wy2 FLOAT, length_px FLOAT NOT NULL, width_px FLOAT,
    length_arcsec FLOAT, length_kpc FLOAT, deleted BOOLEAN NOT NULL, updated_utc DATETIME NOT NULL,
    PRIMARY KEY (id), FOREIGN KEY(annotation_id) REFERENCES annotations (id) ON DELETE RESTRICT);
CREATE INDEX ix_annotation_history_annotation_id ON annotation_history (annotation_id);
INSERT INTO schema_version VALUES (1, '2024-01-01 00:00:00.000000');
INSERT INTO images (id, path, objid_int, created_utc) VALUES
    (1, 'gz/a.jpg', 587722981747982465, '2024-01-01 00:00:00.000000');
INSERT INTO annotators (id, name, created_utc) VALUES (1, 'alice', '2024-01-01 00:00:00.000000');
INSERT INTO annotations (id, uid, image_id, annotator_id, created_utc, revision, x1, y1, x2, y2,
    length_px, deleted, updated_utc) VALUES (1, '00000000-0000-0000-0000-000000000001', 1, 1,
    '2024-01-01 00:00:00.000000', 2, 0, 0, 30, 40, 50, 0, '2024-01-02 00:00:00.000000');
INSERT INTO annotation_history (annotation_id, action, recorded_utc, revision, x1, y1, x2, y2,
    length_px, deleted, updated_utc) VALUES (1, 'update', '2024-01-02 00:00:00.000000', 1,
    0, 0, 3, 4, 5, 0, '2024-01-01 00:00:00.000000');
"""


def permissions_ignored() -> bool:
    """True when file permissions do not stop this process (root with CAP_DAC_OVERRIDE)."""
    with tempfile.TemporaryDirectory() as tmp:
        probe = Path(tmp) / "probe"
        probe.write_text("x")
        probe.chmod(0o444)
        try:
            with open(probe, "w"):
                return True
        except PermissionError:
            return False


def make_v1(path):
    raw = sqlite3.connect(path)
    raw.executescript(V1_DDL)
    raw.commit()
    raw.close()


def schema_of(path):
    """table -> [(column, type, notnull)], and the set of index names."""
    raw = sqlite3.connect(path)
    tables = [r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
    cols = {t: sorted((r[1], r[2], r[3]) for r in raw.execute(f"PRAGMA table_info({t})")) for t in tables}
    idx = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='index' AND sql IS NOT NULL")}
    raw.close()
    return cols, idx


def sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_v1_file_is_migrated_to_current(tmp_path):
    old = tmp_path / "v1.db"
    make_v1(old)
    with AnnotationStore(old) as store:
        assert store.upgraded_from == 1 and store.schema_version == SCHEMA_VERSION == 4
        ann = store.get_annotation(1)
        assert ann.bar == BarLine(0, 0, 30, 40) and ann.note is None and ann.revision == 2
        assert ann.image_path == "gz/a.jpg" and store.get_image(1).objid == 587722981747982465
        assert store.history(1)[0].length.value == 5.0  # v1 history kept
        changed = store.update_annotation(1, note="added in v2")
        assert changed.note == "added in v2" and len(store.history(1)) == 2
    raw = sqlite3.connect(old)
    assert [r[0] for r in raw.execute("SELECT version FROM schema_version ORDER BY version")] == [1, 2, 3, 4]
    assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    raw.close()
    # the migrated file has exactly the schema of a new one
    fresh = tmp_path / "fresh.db"
    AnnotationStore(fresh).close()
    assert schema_of(old) == schema_of(fresh)
    # opening again changes nothing
    with AnnotationStore(old) as store:
        assert store.upgraded_from is None


def test_v1_file_locked_by_another_program(tmp_path):
    old = tmp_path / "v1.db"
    make_v1(old)
    holder = sqlite3.connect(old, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(DatabaseLockedError, match="locked"):
            AnnotationStore(old, busy_timeout_s=0.2)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    with AnnotationStore(old) as store:
        assert store.upgraded_from == 1


def test_v1_file_read_only_cannot_be_upgraded(tmp_path):
    old = tmp_path / "v1.db"
    make_v1(old)
    with pytest.raises(StoreError, match="version 1 and needs upgrading to 4"):
        AnnotationStore(old, readonly=True)


def test_newer_version_is_refused_and_left_untouched(tmp_path):
    db = tmp_path / "new.db"
    AnnotationStore(db).close()
    raw = sqlite3.connect(db)
    raw.execute("INSERT INTO schema_version VALUES (7, '2030-01-01 00:00:00.000000')")
    raw.commit()
    raw.close()
    before = sha(db)
    with pytest.raises(SchemaTooNewError) as err:
        AnnotationStore(db)
    msg = str(err.value)
    assert str(db) in msg and "version 7" in msg and "version 4" in msg and "upgrade galaxyscope" in msg
    assert err.value.found == 7 and err.value.supported == 4
    assert sha(db) == before


def test_not_sqlite_file(tmp_path):
    bad = tmp_path / "notes.db"
    bad.write_text("objid,length\n1,2\n")
    with pytest.raises(NotADatabaseError, match="not an SQLite database") as err:
        AnnotationStore(bad)
    assert str(bad) in str(err.value)
    assert bad.read_text() == "objid,length\n1,2\n"
    with pytest.raises(NotADatabaseError, match="is a folder"):
        AnnotationStore(tmp_path)


def test_damaged_sqlite_file(tmp_path):
    bad = tmp_path / "damaged.db"
    bad.write_bytes(b"SQLite format 3\x00" + bytes(range(256)) * 8)
    with pytest.raises(NotADatabaseError) as err:
        AnnotationStore(bad)
    assert str(bad) in str(err.value)


def test_other_programs_sqlite_database(tmp_path):
    other = tmp_path / "other.sqlite"
    raw = sqlite3.connect(other)
    raw.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY, name TEXT)")
    raw.commit()
    raw.close()
    with pytest.raises(NotADatabaseError, match=r"not a galaxyscope annotation database \(tables: photos\)"):
        AnnotationStore(other)


def test_read_only_open_reads_but_refuses_writes(tmp_path):
    db = tmp_path / "a.db"
    with AnnotationStore(db) as store:
        img = store.register_image("a.jpg")
        store.add_annotation(img.id, "alice", BarLine(0, 0, 5, 0))
    with AnnotationStore(db, readonly=True) as ro:
        assert len(ro.all_annotations()) == 1
        with pytest.raises(DatabaseReadOnlyError, match="opened read-only") as err:
            ro.add_annotation(img.id, "bob", BarLine(0, 0, 6, 0))
        assert str(db) in str(err.value)


def test_sqlite_read_only_error_is_translated(tmp_path):
    """SQLite's own 'attempt to write a readonly database' becomes DatabaseReadOnlyError."""
    db = tmp_path / "a.db"
    AnnotationStore(db).close()
    engine = make_engine(db, readonly=True)
    try:
        with pytest.raises(DatabaseReadOnlyError, match="read-only") as err:
            with translated_errors(db, busy_timeout_s=1, readonly=False), engine.begin() as conn:
                conn.exec_driver_sql("INSERT INTO annotators (name, created_utc) VALUES ('x', '2024-01-01')")
        assert str(db) in str(err.value)
    finally:
        engine.dispose()


def test_unwritable_file_or_folder_gives_a_message(tmp_path, monkeypatch):
    db = tmp_path / "a.db"
    AnnotationStore(db).close()
    real_access = os.access

    def no_write(path, mode, *a, **k):
        if mode == os.W_OK and os.fspath(path) == os.fspath(db):
            return False
        return real_access(path, mode, *a, **k)

    monkeypatch.setattr(os, "access", no_write)
    with pytest.raises(DatabaseReadOnlyError, match="read-only") as err:
        AnnotationStore(db)
    assert str(db) in str(err.value)
    AnnotationStore(db, readonly=True).close()  # reading is still fine

    def no_folder_write(path, mode, *a, **k):
        if mode == os.W_OK and os.fspath(path) == os.fspath(tmp_path):
            return False
        return real_access(path, mode, *a, **k)

    monkeypatch.setattr(os, "access", no_folder_write)
    with pytest.raises(DatabaseReadOnlyError, match="-wal and -shm"):
        AnnotationStore(db)
    with pytest.raises(DatabaseReadOnlyError, match="cannot create the database"):
        AnnotationStore(tmp_path / "new.db")


@pytest.mark.skipif(permissions_ignored(),
                    reason="this user writes read-only files anyway (root); the os.access test covers the message")
def test_chmod_read_only_file(tmp_path):
    db = tmp_path / "a.db"
    AnnotationStore(db).close()
    db.chmod(0o444)
    try:
        with pytest.raises(DatabaseReadOnlyError):
            AnnotationStore(db)
    finally:
        db.chmod(0o644)


@pytest.mark.skipif(permissions_ignored(), reason="this user (root) writes into read-only folders anyway")
def test_read_only_folder_still_exports(tmp_path):
    folder = tmp_path / "archive"
    folder.mkdir()
    db = folder / "a.db"
    with AnnotationStore(db) as store:
        store.add_annotation(store.register_image("a.jpg").id, "alice", BarLine(0, 0, 3, 4))
    folder.chmod(0o555)
    try:
        with pytest.raises(DatabaseReadOnlyError, match="not writable"):
            AnnotationStore(db)
        with AnnotationStore(db, readonly=True) as ro:
            assert ro.all_annotations()[0].length_px == 5.0
    finally:
        folder.chmod(0o755)


def test_odd_characters_in_the_database_path(tmp_path):
    folder = tmp_path / "my data #1"
    folder.mkdir()
    db = folder / "bars?100%.db"
    with AnnotationStore(db) as store:
        store.register_image("a.jpg")
    assert db.is_file() and not (folder / "bars").exists()
    with AnnotationStore(db, readonly=True) as store:
        assert store.images()[0].path == image_key("a.jpg")


def test_locked_database_gives_a_message_not_a_crash(tmp_path):
    db = tmp_path / "a.db"
    store = AnnotationStore(db, busy_timeout_s=0.2)
    img = store.register_image("a.jpg")
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another program holds the write lock
    try:
        with pytest.raises(DatabaseLockedError, match="locked by another program") as err:
            store.add_annotation(img.id, "alice", BarLine(0, 0, 5, 0))
        assert str(db) in str(err.value) and "0.2 s" in str(err.value)
        assert store.all_annotations() == []  # reading still works during the lock (WAL)
        with AnnotationStore(db, busy_timeout_s=0.2) as second:  # opening needs no write lock
            assert second.get_image(img.id).path == image_key("a.jpg")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    store.add_annotation(img.id, "alice", BarLine(0, 0, 5, 0))  # lock gone: saves again
    assert len(store.all_annotations()) == 1
    store.close()


def test_missing_database_read_only(tmp_path):
    with pytest.raises(StoreError, match="no such database file"):
        AnnotationStore(tmp_path / "nope.db", readonly=True)
    assert not (tmp_path / "nope.db").exists()


def test_empty_file_becomes_a_new_database(tmp_path):
    db = tmp_path / "empty.db"
    db.touch()
    with AnnotationStore(db) as store:
        assert store.schema_version == SCHEMA_VERSION and store.counts().images == 0


def test_programs_creating_one_new_database_at_once_all_open_it(tmp_path):
    """Several programs opening the same new file at once all get WAL and open it:
    SQLite answers the losers of the WAL switch with SQLITE_BUSY without waiting, so
    the busy timeout must be honoured by a retry (CI once failed on exactly this)."""
    import threading

    for k in range(40):
        path = tmp_path / f"race{k}.db"
        errors: list[BaseException] = []
        start = threading.Barrier(4)

        def open_it() -> None:
            engine = make_engine(path, busy_timeout_s=5.0)
            start.wait()
            try:
                with engine.connect() as conn:
                    mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
                    assert str(mode).lower() == "wal"
            except BaseException as err:  # noqa: BLE001 - collected and asserted below
                errors.append(err)
            finally:
                engine.dispose()

        threads = [threading.Thread(target=open_it) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, f"round {k}: {errors[0]!r}"
