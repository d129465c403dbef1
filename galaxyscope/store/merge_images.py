"""Schema step 3: one image row per file, whatever path form earlier versions stored.

Why: before version 3, ``scan-bias --db`` stored the path as typed (``sample/a.png``)
and the window stored it absolute, so one galaxy had two rows and its bias flags did
not sit next to its annotations. Now every key is `images.identity.image_key`; this
step re-keys old rows and merges the duplicates, moving every annotation, machine
measurement and flag onto the surviving row, so nothing is lost.

A relative key is matched to an absolute one when the absolute path ends with it and
the content hashes agree (or one is unknown), else to the file of that name beside
the database if its hash agrees; a relative key that matches nothing is left as it
was (where the command that wrote it was started is not recorded anywhere).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from sqlalchemy import Connection

from galaxyscope.images.identity import image_key

#: tables whose rows belong to an image (column image_id)
IMAGE_CHILDREN = ("annotations", "machine_measurements", "flags")
#: columns a surviving row takes from a merged one where its own is NULL
FILLED = ("sha256", "set_name", "pixel_scale_arcsec", "redshift")


@dataclass
class _Row:
    id: int
    path: str
    sha256: str | None
    set_name: str | None
    objid_int: int | None
    objid_text: str | None
    pixel_scale_arcsec: float | None
    redshift: float | None


def _same_content(a: str | None, b: str | None) -> bool:
    return a is None or b is None or a == b


def _file_sha256(path: Path) -> str | None:
    try:
        if not path.is_file():
            return None
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        return h.hexdigest()
    except OSError:
        return None


def canonical_keys(rows: list[_Row], database: Path | None) -> dict[int, str]:
    """image id -> the key it should have (see the module docstring for relative keys)."""
    keys: dict[int, str] = {}
    absolute = [r for r in rows if os.path.isabs(r.path)]
    for r in absolute:
        keys[r.id] = image_key(r.path)
    for r in rows:
        if r.id in keys:
            continue
        rel = PurePosixPath(os.path.normpath(r.path).replace(os.sep, "/")).as_posix()
        suffix = "/" + rel
        matches = {keys[a.id] for a in absolute
                   if keys[a.id].endswith(suffix) and _same_content(a.sha256, r.sha256)}
        if len(matches) == 1:
            keys[r.id] = matches.pop()
            continue
        if not matches and database is not None and r.sha256:
            beside = database.parent / rel
            if _file_sha256(beside) == r.sha256:
                keys[r.id] = image_key(beside)
                continue
        keys[r.id] = r.path
    return keys


def merge_duplicate_images(conn: Connection, database: Path | None) -> dict[str, int]:
    """Re-key every image row and merge rows naming one file; returns counts for the tests/log."""
    rows = [_Row(*r) for r in conn.exec_driver_sql(
        "SELECT id, path, sha256, set_name, objid_int, objid_text, pixel_scale_arcsec, redshift "
        "FROM images ORDER BY id").fetchall()]
    keys = canonical_keys(rows, database)
    groups: dict[str, list[_Row]] = {}
    for r in rows:
        groups.setdefault(keys[r.id], []).append(r)
    merged = rekeyed = 0
    for key, group in groups.items():
        keep, others = group[0], group[1:]  # the oldest row keeps its id
        for other in others:
            for table in IMAGE_CHILDREN:
                conn.exec_driver_sql(f"UPDATE {table} SET image_id = ? WHERE image_id = ?", (keep.id, other.id))
            for col in FILLED:
                if getattr(keep, col) is None and getattr(other, col) is not None:
                    setattr(keep, col, getattr(other, col))
            if keep.objid_int is None and keep.objid_text is None:
                keep.objid_int, keep.objid_text = other.objid_int, other.objid_text
            conn.exec_driver_sql("DELETE FROM images WHERE id = ?", (other.id,))
            merged += 1
        if others or keep.path != key:
            rekeyed += keep.path != key
            conn.exec_driver_sql(
                "UPDATE images SET path = ?, sha256 = ?, set_name = ?, objid_int = ?, objid_text = ?, "
                "pixel_scale_arcsec = ?, redshift = ? WHERE id = ?",
                (key, keep.sha256, keep.set_name, keep.objid_int, keep.objid_text,
                 keep.pixel_scale_arcsec, keep.redshift, keep.id))
    return {"merged": merged, "rekeyed": rekeyed}
