"""Read galaxy catalogues and attach their rows to image files.

Why this module exists: catalogues carry the science (SDSS objids, Petrosian
radii, human bar lengths) and image sets need it joined to each file. SDSS
objids are 18-19 digit integers; a float64 keeps only ~16 digits, so an id
read through float silently names a different galaxy. Every reader here keeps
ID columns as int64 or text.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from astropy.table import MaskedColumn, Table, join, unique

from galaxyscope.errors import ImageReadError
from galaxyscope.images.readers import image_stem, image_suffix

#: column names (lower case) that hold identifiers and must never pass through float
ID_COLUMN_NAMES: frozenset[str] = frozenset(
    {
        "objid", "dr7objid", "dr8objid", "dr12objid", "dr16objid", "sdss_objid", "specobjid",
        "id", "objectid", "object_id", "galaxy_id", "asset_id", "thingid", "targetid",
        "iauname", "sdss_id", "gz2_id", "subject_id",
    }
)
#: name of the column an id-like column is recognised by when not in ID_COLUMN_NAMES
_ID_SUFFIXES = ("objid", "_id")
#: integers above this lose digits as float64
FLOAT_EXACT_LIMIT = 2**53

TEXT_SUFFIXES = (".csv", ".ecsv", ".txt", ".dat", ".tsv", ".tab")
TABLE_SUFFIXES = TEXT_SUFFIXES + (".fits", ".fit", ".fts", ".fits.gz")

_INT_TEXT = re.compile(r"^[+-]?\d+$")


def is_id_column_name(name: str) -> bool:
    """True for names like objid, dr7objid, specobjid, id, asset_id (case-insensitive)."""
    low = name.strip().lower()
    return low in ID_COLUMN_NAMES or low.endswith(_ID_SUFFIXES)


def find_id_column(table: Table) -> str | None:
    """The table's id column: the first whose name is in `ID_COLUMN_NAMES`, in that set's
    usual priority (objid, dr7objid, ... id), else the first id-like name, else None."""
    by_lower = {c.lower(): c for c in table.colnames}
    for name in ("objid", "dr7objid", "dr8objid", "dr12objid", "sdss_objid", "specobjid",
                 "objectid", "object_id", "galaxy_id", "asset_id", "iauname", "id"):
        if name in by_lower:
            return by_lower[name]
    for c in table.colnames:
        if is_id_column_name(c):
            return c
    return None


def read_catalogue(path: str | Path, *, format: str | None = None) -> Table:
    """Read a .ecsv / .csv / .txt / .fits table, keeping ID columns exact.

    Why: astropy's text readers guess types per column; an objid column with one
    'nan' or an integer above int64 turns into float and loses digits. Here id
    columns (by name, or any integer column above 2**53) are re-read from the
    text and kept as int64 when every value fits, else as text.
    Raises `ImageReadError` (path + reason) for missing or unreadable files.
    """
    from galaxyscope.safe_files import not_regular_reason

    path = Path(path)
    problem = not_regular_reason(path)
    if problem is not None:
        raise ImageReadError(path, problem)
    if path.stat().st_size == 0:
        raise ImageReadError(path, "empty file")
    suffix = _table_suffix(path)
    fmt = format or _astropy_format(suffix)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # unit strings like 'J2000.0', fast-reader notes
            if fmt == "fits":
                table = Table.read(path, format="fits", unit_parse_strict="silent")
            elif fmt is None:
                table = Table.read(path, format="ascii")  # astropy guesses the dialect
            else:
                table = Table.read(path, format=fmt)
    except ImageReadError:
        raise
    except Exception as exc:  # astropy raises InconsistentTableError, ValueError, OSError, ...
        msg = " ".join(str(exc).split())[:300] or type(exc).__name__
        raise ImageReadError(path, f"cannot read catalogue ({msg})") from None
    if fmt not in ("fits", "ascii.ecsv"):
        _restore_id_columns(path, fmt, table)
    return table


def _table_suffix(path: Path) -> str:
    name = path.name.lower()
    for suffix in sorted(TABLE_SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            return suffix
    return path.suffix.lower()


def _astropy_format(suffix: str) -> str | None:
    if suffix in (".fits", ".fit", ".fts", ".fits.gz"):
        return "fits"
    if suffix == ".ecsv":
        return "ascii.ecsv"
    if suffix == ".csv":
        return "ascii.csv"
    if suffix == ".tsv":
        return "ascii.tab"
    return None


def _needs_text(col: Any, name: str) -> bool:
    """Column that may have lost (or may lose) id digits: id-named, or big integral floats."""
    if is_id_column_name(name):
        return col.dtype.kind != "U" and col.dtype.kind != "S"
    if col.dtype.kind == "f":
        vals = np.asarray(col.filled(np.nan) if hasattr(col, "filled") else col, dtype=float)
        vals = vals[np.isfinite(vals)]
        return bool(vals.size) and bool(np.all(vals == np.round(vals))) and float(
            np.max(np.abs(vals))) > FLOAT_EXACT_LIMIT
    return False


def _restore_id_columns(path: Path, fmt: str | None, table: Table) -> None:
    """Replace id-like columns by their exact text (as int64 when every value fits)."""
    from astropy.io.ascii import convert_numpy

    names = [c for c in table.colnames if _needs_text(table[c], c)]
    if not names:
        return
    kwargs: dict[str, Any] = {"include_names": names,
                              "converters": {c: [convert_numpy(str)] for c in names}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        text = Table.read(path, format=fmt or "ascii", **kwargs)
    for name in names:
        if name in text.colnames:
            table[name] = _text_to_id(text[name])


def _text_to_id(col: Any) -> Any:
    """Text column -> int64 column when every value is a plain integer that fits, else text."""
    mask = np.asarray(getattr(col, "mask", np.zeros(len(col), bool)), dtype=bool)
    values = [str(v).strip() for v, m in zip(col, mask) if not m]
    plain = all(_INT_TEXT.match(v) and not (len(v.lstrip("+-")) > 1 and v.lstrip("+-")[0] == "0")
                for v in values)
    if plain:
        ints = [int(v) for v in values]
        if all(-(2**63) <= i < 2**63 for i in ints):
            data = np.zeros(len(col), dtype=np.int64)
            data[~mask] = np.array(ints, dtype=np.int64)
            return MaskedColumn(data, mask=mask) if mask.any() else data
    strings = np.array([str(v).strip() if not m else "" for v, m in zip(col, mask)], dtype=str)
    return MaskedColumn(strings, mask=mask) if mask.any() else strings


# --------------------------------------------------------------------------- joining


def normalise_key(value: Any) -> str:
    """A file name as written in a catalogue -> relative posix form ('./a\\b.jpg' -> 'a/b.jpg')."""
    text = str(value).strip().replace("\\", "/")
    while text.startswith("./"):
        text = text[2:]
    return text


def row_dict(table: Table, index: int) -> dict[str, Any]:
    """Row ``index`` as column -> plain Python value (masked -> None; ints stay exact)."""
    if index < 0:
        return {}
    out: dict[str, Any] = {}
    for name in table.colnames:
        col = table[name]
        if getattr(col, "mask", None) is not None and bool(np.ma.getmaskarray(col)[index]):
            out[name] = None
            continue
        value = col[index]
        if isinstance(value, np.generic):
            value = value.item()
        elif isinstance(value, np.ndarray):
            value = value.tolist()
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        out[name] = value
    return out


def match_rows(
    keys: Sequence[str],
    catalogue: Table,
    *,
    file_column: str | None = "filename",
    id_column: str | None = None,
) -> np.ndarray:
    """For each file key (path relative to the image root), the catalogue row that describes it.

    Why: the one place where files meet catalogue rows, via `astropy.table.join`.
    With ``file_column`` in the catalogue, a file matches by its relative path,
    and failing that by its stem ('sdss/x.jpg' matches 'x.jpg' or 'x'). With
    ``id_column``, a file matches when its stem equals the id as text
    (e.g. '587722981747982465.jpg'). Returns int64 row indices, -1 where no
    row matches; the first of duplicate rows wins.
    """
    n = len(keys)
    result = np.full(n, -1, dtype=np.int64)
    if n == 0 or len(catalogue) == 0:
        return result
    if file_column and file_column in catalogue.colnames:
        cat_col = catalogue[file_column]
        cat_keys = [normalise_key(v) for v in cat_col.astype(str)]
        cat_ok = ~np.ma.getmaskarray(cat_col)
        file_keys = [normalise_key(k) for k in keys]
        _join_into(result, file_keys, cat_keys, cat_ok)
        todo = result < 0
        if todo.any():
            stems = [image_stem(Path(k).name) for k in file_keys]
            cat_stems = [image_stem(Path(k).name) for k in cat_keys]
            _join_into(result, stems, cat_stems, cat_ok, only=todo)
        return result
    if id_column:
        if id_column not in catalogue.colnames:
            raise KeyError(f"catalogue has no id column {id_column!r}; columns: {', '.join(catalogue.colnames)}")
        col = catalogue[id_column]
        ids = [str(v).strip() for v in col.tolist()]
        ok = ~np.ma.getmaskarray(col)
        stems = [image_stem(Path(normalise_key(k)).name) for k in keys]
        _join_into(result, stems, ids, ok)
        return result
    raise KeyError(
        f"catalogue has no file column {file_column!r} and no id column was given; "
        f"columns: {', '.join(catalogue.colnames)}"
    )


def _join_into(
    result: np.ndarray,
    file_keys: Sequence[str],
    cat_keys: Sequence[str],
    cat_ok: np.ndarray,
    *,
    only: np.ndarray | None = None,
) -> None:
    files = Table({"_key": np.array(file_keys, dtype=str), "_file": np.arange(len(file_keys))})
    if only is not None:
        files = files[only]
    cat = Table({"_key": np.array(cat_keys, dtype=str), "_row": np.arange(len(cat_keys))})[cat_ok]
    if len(files) == 0 or len(cat) == 0:
        return
    cat = unique(cat, keys="_key", keep="first")
    joined = join(files, cat, keys="_key", join_type="inner")
    result[np.asarray(joined["_file"])] = np.asarray(joined["_row"])


def join_catalogue(
    keys: Sequence[str],
    catalogue: Table,
    *,
    file_column: str | None = "filename",
    id_column: str | None = None,
    key_column: str = "key",
) -> Table:
    """A table with one row per file key, in the keys' order, carrying its catalogue row.

    Why: the tabular view of `match_rows` (e.g. to save or inspect which files
    had no row). Columns: ``key_column`` (the file key), ``matched`` (bool) and
    every catalogue column, masked where a file has no row.
    """
    index = match_rows(keys, catalogue, file_column=file_column, id_column=id_column)
    matched = index >= 0
    rows = catalogue[np.where(matched, index, 0)] if len(catalogue) else catalogue.copy()
    out = Table(masked=True)
    out[key_column] = np.array([str(k) for k in keys], dtype=str)
    out["matched"] = matched
    for name in catalogue.colnames:
        if name in out.colnames:
            continue
        col = rows[name] if len(catalogue) else np.zeros(len(keys))
        mask = ~matched
        if hasattr(col, "mask"):
            mask = mask | np.ma.getmaskarray(col)
        out[name] = MaskedColumn(np.asarray(col), mask=mask, unit=getattr(col, "unit", None))
    return out


def is_catalogue_file(path: str | Path) -> bool:
    """True for names that read as a catalogue (.csv/.ecsv/.txt/...), or FITS holding a table
    and no image. Reads at most the FITS headers."""
    path = Path(path)
    suffix = _table_suffix(path)
    if suffix in TEXT_SUFFIXES:
        return True
    if image_suffix(path) and suffix in (".fits", ".fit", ".fts", ".fits.gz"):
        return _fits_is_table(path)
    return False


def _fits_is_table(path: Path) -> bool:
    """True when the FITS file holds a table and no image (its structure checked first:
    astropy's own walk can loop forever on a negative NAXISn; nothing but a regular
    file is opened)."""
    from galaxyscope.images.fits_scan import scan_fits
    from galaxyscope.safe_files import is_regular_file

    if not is_regular_file(path):
        return False
    try:
        layout = scan_fits(path, stop_at_image=True)
    except ImageReadError:
        return False
    return layout.image_index is None and layout.has_table
