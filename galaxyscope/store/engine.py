"""Opening an SQLite annotation database safely: checks, PRAGMAs, error messages.

Why each setting (set on every new connection by an SQLAlchemy ``connect`` event):

- ``journal_mode=WAL``: readers never block the writer and the writer never blocks
  readers, so the GUI can browse while a batch job writes; a commit is one append
  to the -wal file, and a crash mid-write leaves the last committed state.
- ``synchronous=FULL``: with WAL, NORMAL is already safe against a crash of the
  program (SIGKILL) but a power cut or OS crash can lose the last commits, because
  the WAL is only synced at checkpoints. People's hand-drawn work must survive
  that too, and one fsync per saved annotation (a few a minute) costs nothing a
  person notices, so FULL: every commit is on disk before `add_annotation` returns.
- ``foreign_keys=ON``: SQLite ignores foreign keys unless told, per connection.
- ``busy_timeout``: a second writer (another annotator's process) waits up to this
  long for the lock instead of failing at once.
- SQLAlchemy emits BEGIN itself (the sqlite3 module's own transaction handling is
  off), so DDL in migrations is transactional, and write transactions start with
  ``BEGIN IMMEDIATE``: they take the write lock up front, where the busy timeout
  applies, instead of failing with SQLITE_BUSY half-way when a read turns into a write.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.pool import QueuePool

from galaxyscope.safe_files import not_regular_reason
from galaxyscope.store.errors import (
    DatabaseLockedError,
    DatabaseReadOnlyError,
    NotADatabaseError,
    StoreError,
)

DEFAULT_BUSY_TIMEOUT_S = 10.0
SQLITE_MAGIC = b"SQLite format 3\x00"
#: execution option that makes a transaction start with BEGIN IMMEDIATE
IMMEDIATE = "galaxyscope_begin_immediate"


def sqlite_uri(path: Path, mode: str) -> str:
    """``file:`` URI for sqlite3 (any character in the path is safe).

    Read-only in a folder we cannot write (a DVD, a shared archive): SQLite cannot
    create the -shm file WAL readers need, so the file is opened ``immutable``
    instead, which is safe exactly when no -wal file exists (every commit is then
    in the main file, and nobody can be writing there).
    """
    uri = f"file:{quote(path.absolute().as_posix())}?mode={mode}"
    folder = path.absolute().parent
    if (mode == "ro" and folder.is_dir() and not os.access(folder, os.W_OK)
            and not Path(f"{path}-wal").exists()):
        uri += "&immutable=1"
    return uri


def check_file(path: Path, *, readonly: bool) -> bool:
    """Look before opening: raise a clear `StoreError` for a folder, a non-SQLite file,
    a missing file opened read-only or a place we cannot write; True if the file exists."""
    if path.is_dir():
        raise NotADatabaseError(path, "is a folder, not a database file")
    exists = path.exists()
    if not exists:
        if readonly:
            raise StoreError(path, "no such database file")
        folder = path.absolute().parent
        if not folder.is_dir():
            raise StoreError(path, f"cannot create the database: folder {folder} does not exist")
        if not os.access(folder, os.W_OK):
            raise DatabaseReadOnlyError(
                path, f"cannot create the database: folder {folder} is not writable")
        return False
    problem = not_regular_reason(path)
    if problem is not None:  # a named pipe would block open() forever
        raise NotADatabaseError(path, problem)
    try:
        with open(path, "rb") as fh:
            head = fh.read(len(SQLITE_MAGIC))
    except PermissionError:
        raise StoreError(path, "cannot read the database file (permission denied)") from None
    except OSError as err:
        raise StoreError(path, f"cannot read the database file ({err.strerror or err})") from None
    if head and head != SQLITE_MAGIC:  # an empty file is a new, empty database
        raise NotADatabaseError(
            path, "not an SQLite database (the file does not start with 'SQLite format 3')")
    if not readonly:
        if not os.access(path, os.W_OK):
            raise DatabaseReadOnlyError(
                path, "the database file is read-only; make it writable, or open it read-only "
                      "(e.g. to export)")
        if not os.access(path.absolute().parent, os.W_OK):
            raise DatabaseReadOnlyError(
                path, f"the folder {path.absolute().parent} is not writable, and SQLite needs to "
                      "create its -wal and -shm files there; move the database or open it read-only")
    return True


def switch_to_wal(cur: sqlite3.Cursor, busy_timeout_s: float) -> str:
    """``PRAGMA journal_mode = WAL``, retried while another connection holds the lock.

    Two programs opening a new database at once both try to switch it to WAL; the one
    that loses can get SQLITE_BUSY at once, without SQLite calling its busy handler
    (SQLite refuses to wait when waiting could deadlock). So the wait the busy timeout
    promises is done here, with short sleeps, until the switch succeeds or time is up.
    """
    deadline = time.monotonic() + busy_timeout_s
    pause = 0.005
    while True:
        try:
            return str(cur.execute("PRAGMA journal_mode = WAL").fetchone()[0])
        except sqlite3.OperationalError as err:
            low = str(err).lower()
            if ("locked" not in low and "busy" not in low) or time.monotonic() >= deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.1)


def make_engine(path: Path, *, readonly: bool = False,
                busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S) -> Engine:
    """An SQLAlchemy engine on ``path`` with WAL, FULL sync, foreign keys and a busy timeout
    (read-only: ``mode=ro``, and no PRAGMA that writes)."""
    path = Path(path)
    mode = "ro" if readonly else "rwc"

    def connect() -> sqlite3.Connection:
        return sqlite3.connect(sqlite_uri(path, mode), uri=True, timeout=busy_timeout_s,
                               check_same_thread=False)

    engine = create_engine("sqlite+pysqlite://", creator=connect, poolclass=QueuePool,
                           pool_size=2, max_overflow=8)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN (see _on_begin)
        cur = dbapi_connection.cursor()
        try:
            cur.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
            cur.execute("PRAGMA foreign_keys = ON")
            if not readonly:
                mode_now = switch_to_wal(cur, busy_timeout_s)
                if str(mode_now).lower() != "wal":
                    raise sqlite3.OperationalError(f"cannot switch to WAL (journal mode {mode_now})")
                cur.execute("PRAGMA synchronous = FULL")
        finally:
            cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get(IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate and not readonly else "BEGIN")

    return engine


def describe_sqlite_error(path: Path, err: BaseException, *, busy_timeout_s: float,
                          readonly: bool) -> StoreError:
    """Turn an sqlite3 / SQLAlchemy error into the `StoreError` a person can act on."""
    orig = getattr(err, "orig", None) or err
    text = " ".join(str(orig).split())
    low = text.lower()
    if "locked" in low or "busy" in low:
        return DatabaseLockedError(
            path, f"the database is locked by another program (waited {busy_timeout_s:g} s); "
                  "close it there or try again")
    if "readonly" in low or "read-only" in low or "read only" in low:
        if readonly:
            return DatabaseReadOnlyError(path, "the database was opened read-only; this needs writing")
        return DatabaseReadOnlyError(
            path, "the database cannot be written (read-only file, folder or disk)")
    if "not a database" in low or "malformed" in low or "encrypted" in low:
        return NotADatabaseError(path, f"not a usable SQLite database ({text})")
    if "unable to open" in low:
        return StoreError(path, "cannot open the database file (missing folder or no permission)")
    if "disk is full" in low or "disk i/o" in low:
        return StoreError(path, f"the disk failed or is full ({text}); nothing of this save was written")
    if isinstance(err, exc.IntegrityError) or isinstance(orig, sqlite3.IntegrityError):
        return StoreError(path, f"the database refused the change ({text}); nothing was written")
    return StoreError(path, f"database error ({text})")


@contextlib.contextmanager
def translated_errors(path: Path, *, busy_timeout_s: float, readonly: bool) -> Iterator[None]:
    """Re-raise database errors as `StoreError` subclasses naming ``path``."""
    try:
        yield
    except StoreError:
        raise
    except (exc.DBAPIError, sqlite3.Error) as err:
        raise describe_sqlite_error(path, err, busy_timeout_s=busy_timeout_s,
                                    readonly=readonly) from err
