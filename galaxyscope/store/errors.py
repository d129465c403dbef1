"""Errors the annotation store raises on purpose, each naming the database file.

Why separate types: the GUI answers a read-only or locked database differently
(offer to open a copy, offer to retry) from a file that is not a database at all;
all of them are `GalaxyscopeError`, so the CLI prints one line and exits 2.
"""

from __future__ import annotations

from pathlib import Path

from galaxyscope.errors import GalaxyscopeError


class StoreError(GalaxyscopeError):
    """A database problem; ``str`` is ``"path: reason"``."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class NotADatabaseError(StoreError):
    """The file is not SQLite, or is SQLite but not a galaxyscope annotation database."""


class SchemaTooNewError(StoreError):
    """The database was written by a newer galaxyscope (higher schema version)."""

    def __init__(self, path: str | Path, found: int, supported: int) -> None:
        self.found = found
        self.supported = supported
        super().__init__(
            path,
            f"database schema version {found} is newer than this galaxyscope supports "
            f"(version {supported}); upgrade galaxyscope to open it (the file was left untouched)",
        )


class DatabaseReadOnlyError(StoreError):
    """The database (or its folder, which SQLite's WAL files need) cannot be written."""


class DatabaseLockedError(StoreError):
    """Another program held the write lock for longer than the busy timeout."""


class ImageChangedError(StoreError):
    """An image path is registered with a different content hash (the file changed)."""


class NotFoundError(StoreError):
    """An id (annotation, image, annotator) that the database does not hold."""
