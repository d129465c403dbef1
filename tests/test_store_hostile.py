"""Issue 15: a database galaxyscope refuses gets one clear error and is never modified.

Before: schema_version 'abc' or NULL gave a traceback; a foreign database with a
schema_version table was switched to WAL (its bytes changed) and then opened or
refused half-way; a schema-2 file with a foreign `annotations` table made the
window exit.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path

import pytest

from galaxyscope.store import AnnotationStore
from galaxyscope.store.errors import NotADatabaseError, StoreError
from galaxyscope.store.models import Base


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make(path: Path, sql: str) -> Path:
    raw = sqlite3.connect(path)
    raw.executescript(sql)
    raw.commit()
    raw.close()
    return path


def galaxyscope_tables_sql(skip: str = "") -> str:
    """CREATE TABLE statements of the current schema (all but ``skip``), as SQLite would write them."""
    from sqlalchemy.schema import CreateTable
    from sqlalchemy.dialects import sqlite

    return ";\n".join(str(CreateTable(t).compile(dialect=sqlite.dialect()))
                      for t in Base.metadata.sorted_tables if t.name != skip) + ";"


def assert_refused_untouched(path: Path, *words: str) -> str:
    before = sha(path)
    files_before = sorted(os.listdir(path.parent))
    with pytest.raises(NotADatabaseError) as err:
        AnnotationStore(path)
    text = str(err.value)
    assert text.startswith(f"{path}: ")
    for w in words:
        assert w in text
    assert sha(path) == before, "a refused file was modified"
    assert sorted(os.listdir(path.parent)) == files_before  # no -wal / -shm left behind
    raw = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] != "wal"
    raw.close()
    return text


@pytest.mark.parametrize("value, shown", [("'abc'", "'abc'"), ("NULL", "NULL"), ("2.5", "2.5"), ("0", "version 0")])
def test_schema_version_that_is_not_a_version_number(tmp_path, value, shown):
    db = make(tmp_path / "odd.db", "CREATE TABLE schema_version (version, applied_utc);"
                                   f"INSERT INTO schema_version VALUES ({value}, NULL);")
    assert_refused_untouched(db, shown, "left untouched")


def test_foreign_database_with_a_schema_version_table_is_refused_unmodified(tmp_path):
    db = make(tmp_path / "shop.db", "CREATE TABLE schema_version (version INTEGER, applied_utc TEXT);"
                                    "INSERT INTO schema_version VALUES (2, 'x');"
                                    "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT);")
    assert_refused_untouched(db, "not a galaxyscope annotation database", "tables missing: annotation_history")
    # version 1 (which would be migrated) is refused the same way, before any ALTER TABLE
    raw = sqlite3.connect(db)
    raw.execute("UPDATE schema_version SET version = 1")
    raw.commit()
    raw.close()
    assert_refused_untouched(db, "not a galaxyscope annotation database")


def test_schema_2_file_with_a_foreign_annotations_table_is_refused_unmodified(tmp_path):
    db = make(tmp_path / "mixed.db", galaxyscope_tables_sql(skip="annotations")
              + "CREATE TABLE annotations (id INTEGER PRIMARY KEY, text TEXT);"
              + "INSERT INTO schema_version VALUES (2, '2024-01-01 00:00:00.000000');")
    text = assert_refused_untouched(db, "table 'annotations' is not galaxyscope's")
    assert "annotator_id" in text


def test_a_genuine_file_still_opens_and_migrates(tmp_path):
    db = tmp_path / "mine.db"
    AnnotationStore(db).close()
    with AnnotationStore(db) as store:
        assert store.schema_version == 4
    from test_store_open import make_v1

    old = tmp_path / "v1.db"
    make_v1(old)
    with AnnotationStore(old) as store:
        assert store.upgraded_from == 1


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes need a POSIX system")
def test_named_pipe_as_database_is_refused_unopened(tmp_path):
    pipe = tmp_path / "pipe.db"
    os.mkfifo(pipe)
    with pytest.raises(StoreError, match="named pipe"):
        AnnotationStore(pipe)


def test_window_shows_a_refused_database_and_keeps_running(tmp_path, monkeypatch):
    pytest.importorskip("PySide6")
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    from galaxyscope.gui.app import ensure_app
    from galaxyscope.gui.main_window import MainWindow
    from galaxyscope.gui.settings import Settings

    db = make(tmp_path / "mixed.db", galaxyscope_tables_sql(skip="annotations")
              + "CREATE TABLE annotations (id INTEGER PRIMARY KEY, text TEXT);"
              + "INSERT INTO schema_version VALUES (2, '2024-01-01 00:00:00.000000');")
    before = sha(db)
    ensure_app()
    window = MainWindow(model=None, settings=Settings(tmp_path / "s.ini"), disk_cache=None, db_path=str(db),
                        restore_state=False)
    try:
        assert window.annotate.store is None
        assert "table 'annotations' is not galaxyscope's" in (window.annotate.store_error or "")
        # a good database can still be opened in the same window afterwards
        assert window.annotate.open_database(tmp_path / "good.db")
        assert window.annotate.store is not None
    finally:
        window.close()
        if window.annotate.store is not None:
            window.annotate.store.close()
    assert sha(db) == before


def test_window_survives_a_database_that_fails_after_opening(tmp_path, monkeypatch):
    pytest.importorskip("PySide6")
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    from galaxyscope.gui.app import ensure_app
    from galaxyscope.gui.main_window import MainWindow
    from galaxyscope.gui.settings import Settings

    def broken_counts(self):
        raise StoreError(self.path, "database error (no such column: annotations.uid)")

    monkeypatch.setattr(AnnotationStore, "counts", broken_counts)
    ensure_app()
    window = MainWindow(model=None, settings=Settings(tmp_path / "s.ini"), disk_cache=None,
                        db_path=str(tmp_path / "x.db"), restore_state=False)
    try:
        assert window.annotate.store is None
        assert "no such column" in (window.annotate.store_error or "")
    finally:
        window.close()
