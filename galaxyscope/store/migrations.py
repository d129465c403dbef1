"""Schema versions and the explicit path from each old version to the current one.

Why not Alembic: one SQLite file per user, a handful of small steps, and the
steps must run inside the same transaction that checks the version (two
programs opening an old file at once must not both migrate it). Each step is a
plain function on an SQLAlchemy connection, tested by opening a hand-made file
of the old version.

Versions:
1. first release: images, annotators, annotations (+ history), reference and
   machine measurements, flags.
2. ``note`` (free text) on annotations and their history rows.
3. no new columns: image paths re-keyed to `images.identity.image_key` and duplicate
   image rows (one file under a relative and an absolute path) merged
   (`store.merge_images`).
4. new tables, existing rows untouched: ``bar_labels`` (+ ``bar_label_history``), an
   annotator's bar / no-bar answer per image, and ``model_versions``, models fine-tuned
   on the labels.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Connection, insert

from galaxyscope.store.engine import sqlite_uri
from galaxyscope.store.merge_images import merge_duplicate_images
from galaxyscope.store.errors import NotADatabaseError, SchemaTooNewError, StoreError
from galaxyscope.store.models import (
    SCHEMA_VERSION,
    Base,
    BarLabel,
    BarLabelHistory,
    ModelVersion,
    SchemaVersion,
    utc_now,
)


def _v1_to_v2(conn: Connection, path: Path) -> None:
    conn.exec_driver_sql("ALTER TABLE annotations ADD COLUMN note TEXT")
    conn.exec_driver_sql("ALTER TABLE annotation_history ADD COLUMN note TEXT")


def _v2_to_v3(conn: Connection, path: Path) -> None:
    merge_duplicate_images(conn, path)


def _v3_to_v4(conn: Connection, path: Path) -> None:
    Base.metadata.create_all(conn, tables=[BarLabel.__table__, BarLabelHistory.__table__,
                                           ModelVersion.__table__])


#: version a step produces -> the step (run in order, each in the opening transaction, given
#: the database file so a step can look beside it)
MIGRATIONS: dict[int, Callable[[Connection, Path], None]] = {2: _v1_to_v2, 3: _v2_to_v3, 4: _v3_to_v4}


#: columns each schema version added, so the columns a file of an older version must have
#: are the current ones minus those added later
ADDED_COLUMNS: dict[int, dict[str, set[str]]] = {2: {"annotations": {"note"}, "annotation_history": {"note"}}}
#: tables each schema version added, so a file of an older version is not expected to have them
ADDED_TABLES: dict[int, set[str]] = {4: {"bar_labels", "bar_label_history", "model_versions"}}

_LEFT_ALONE = "not opened; the file was left untouched"


def expected_columns(version: int) -> dict[str, set[str]]:
    """Table -> column names a galaxyscope file of schema ``version`` has."""
    columns = {t.name: {c.name for c in t.columns} for t in Base.metadata.sorted_tables}
    for later, added in ADDED_COLUMNS.items():
        if later > version:
            for table, names in added.items():
                columns[table] = columns[table] - names
    for later, tables in ADDED_TABLES.items():
        if later > version:
            for table in tables:
                columns.pop(table, None)
    return columns


Query = Callable[[str, tuple], list[tuple]]


def _read_schema(query: Query) -> tuple[dict[str, set[str]], list[object]]:
    """(table -> column names, raw schema_version values), by reading only."""
    tables = [r[0] for r in query("SELECT name FROM sqlite_master WHERE type='table'", ())
              if not str(r[0]).startswith("sqlite_")]
    columns = {str(t): {str(r[0]) for r in query("SELECT name FROM pragma_table_info(?)", (t,))}
               for t in tables}
    values = ([r[0] for r in query("SELECT version FROM schema_version", ())]
              if "schema_version" in columns else [])
    return columns, values


def _version_from_schema(path: Path, columns: dict[str, set[str]], values: list[object]) -> int | None:
    """The schema version of a file whose tables and schema_version rows are given; None: empty.

    Why so strict: a file is written to (WAL switch, migrations) only once it is known
    to be ours; anything else is refused here, while it has only been read.
    """
    tables = set(columns)
    if "schema_version" not in tables:
        if tables:
            shown = ", ".join(sorted(tables)[:6]) + (", ..." if len(tables) > 6 else "")
            raise NotADatabaseError(
                path, f"an SQLite database, but not a galaxyscope annotation database (tables: {shown})")
        return None
    if not values:
        raise NotADatabaseError(path, "the schema_version table is empty (damaged file?)")
    bad = [v for v in values if isinstance(v, bool) or not isinstance(v, int)]
    if bad:
        raise NotADatabaseError(
            path, f"the schema_version table holds {'NULL' if bad[0] is None else repr(bad[0])}, not a version number (a damaged file, or "
                  f"not a galaxyscope annotation database); {_LEFT_ALONE}")
    version = max(int(v) for v in values)  # type: ignore[arg-type]
    if version > SCHEMA_VERSION:
        return version  # a newer galaxyscope's tables are not ours to check
    if version < 1:
        raise NotADatabaseError(path, f"the schema_version table says version {version}, which no "
                                      f"galaxyscope wrote; {_LEFT_ALONE}")
    expected = expected_columns(version)
    missing = sorted(set(expected) - tables)
    if missing:
        shown = ", ".join(missing[:6]) + (", ..." if len(missing) > 6 else "")
        raise NotADatabaseError(
            path, f"has a schema_version table, but not a galaxyscope annotation database (tables "
                  f"missing: {shown}); {_LEFT_ALONE}")
    for table in sorted(expected):
        lacking = sorted(expected[table] - columns[table])
        if lacking:
            shown = ", ".join(lacking[:6]) + (", ..." if len(lacking) > 6 else "")
            raise NotADatabaseError(
                path, f"table {table!r} is not galaxyscope's (schema version {version} needs the columns "
                      f"{shown}); {_LEFT_ALONE}")
    return version


def peek_version(path: Path, *, busy_timeout_s: float) -> int | None:
    """The file's schema version read without writing anything (None for an empty file).

    Why before the engine: a file from a newer galaxyscope, or a database that is not
    ours, is refused before any PRAGMA (the WAL switch writes the file) or migration
    could touch it. Raises `SchemaTooNewError`, `NotADatabaseError`, or lets sqlite3
    errors through for the caller to translate.
    """
    conn = sqlite3.connect(sqlite_uri(path, "ro"), uri=True, timeout=busy_timeout_s)
    try:
        columns, values = _read_schema(lambda sql, params: conn.execute(sql, params).fetchall())
    finally:
        conn.close()
    version = _version_from_schema(path, columns, values)
    if version is not None and version > SCHEMA_VERSION:
        raise SchemaTooNewError(path, version, SCHEMA_VERSION)
    return version


def current_version(conn: Connection, path: Path) -> int | None:
    """The schema version seen inside an open transaction (None: no tables yet), checked
    the same way as `peek_version`."""
    columns, values = _read_schema(lambda sql, params: list(conn.exec_driver_sql(sql, params).fetchall()))
    return _version_from_schema(path, columns, values)


def upgrade(conn: Connection, path: Path, *, readonly: bool = False) -> tuple[int | None, int]:
    """Create the schema in an empty file, or run every step from the file's version up to
    `SCHEMA_VERSION`, in the caller's transaction. Returns (version found, version now)."""
    found = current_version(conn, path)
    if found is not None and found > SCHEMA_VERSION:
        raise SchemaTooNewError(path, found, SCHEMA_VERSION)
    if found == SCHEMA_VERSION:
        return found, found
    if readonly:
        if found is None:
            raise NotADatabaseError(path, "an empty file, not a galaxyscope annotation database")
        raise StoreError(path, f"the database has schema version {found} and needs upgrading to "
                               f"{SCHEMA_VERSION}, which it cannot be while opened read-only")
    if found is None:
        Base.metadata.create_all(conn)
        conn.execute(insert(SchemaVersion).values(version=SCHEMA_VERSION, applied_utc=utc_now()))
        return None, SCHEMA_VERSION
    for version in range(found + 1, SCHEMA_VERSION + 1):
        step = MIGRATIONS.get(version)
        if step is None:  # a gap in MIGRATIONS is a bug here, not the user's fault
            raise RuntimeError(f"no migration step to schema version {version}")
        step(conn, path)
        conn.execute(insert(SchemaVersion).values(version=version, applied_utc=utc_now()))
    return found, SCHEMA_VERSION
