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
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Connection, insert, text

from galaxyscope.store.engine import sqlite_uri
from galaxyscope.store.errors import NotADatabaseError, SchemaTooNewError, StoreError
from galaxyscope.store.models import SCHEMA_VERSION, Base, SchemaVersion, utc_now


def _v1_to_v2(conn: Connection) -> None:
    conn.exec_driver_sql("ALTER TABLE annotations ADD COLUMN note TEXT")
    conn.exec_driver_sql("ALTER TABLE annotation_history ADD COLUMN note TEXT")


#: version a step produces -> the step (run in order, each in the opening transaction)
MIGRATIONS: dict[int, Callable[[Connection], None]] = {2: _v1_to_v2}


def _version_from_tables(path: Path, tables: set[str], versions: list[int]) -> int | None:
    """The schema version given the table names and schema_version rows; None: empty file."""
    tables = {t for t in tables if not t.startswith("sqlite_")}
    if "schema_version" in tables:
        if not versions:
            raise NotADatabaseError(path, "the schema_version table is empty (damaged file?)")
        return max(versions)
    if tables:
        shown = ", ".join(sorted(tables)[:6]) + (", ..." if len(tables) > 6 else "")
        raise NotADatabaseError(
            path, f"an SQLite database, but not a galaxyscope annotation database (tables: {shown})")
    return None


def peek_version(path: Path, *, busy_timeout_s: float) -> int | None:
    """The file's schema version read without writing anything (None for an empty file).

    Why before the engine: a file from a newer galaxyscope is refused before any
    PRAGMA or migration could touch it. Raises `SchemaTooNewError`,
    `NotADatabaseError`, or lets sqlite3 errors through for the caller to translate.
    """
    conn = sqlite3.connect(sqlite_uri(path, "ro"), uri=True, timeout=busy_timeout_s)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        versions = ([int(r[0]) for r in conn.execute("SELECT version FROM schema_version")]
                    if "schema_version" in tables else [])
    finally:
        conn.close()
    version = _version_from_tables(path, tables, versions)
    if version is not None and version > SCHEMA_VERSION:
        raise SchemaTooNewError(path, version, SCHEMA_VERSION)
    return version


def current_version(conn: Connection, path: Path) -> int | None:
    """The schema version seen inside an open transaction (None: no tables yet)."""
    tables = {r[0] for r in conn.exec_driver_sql(
        "SELECT name FROM sqlite_master WHERE type='table'")}
    versions = ([int(r[0]) for r in conn.execute(text("SELECT version FROM schema_version"))]
                if "schema_version" in tables else [])
    return _version_from_tables(path, tables, versions)


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
        step(conn)
        conn.execute(insert(SchemaVersion).values(version=version, applied_utc=utc_now()))
    return found, SCHEMA_VERSION
