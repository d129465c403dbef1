"""Pair measured values with reference values: read, select one method, join by key.

Why a separate step: the metrics only see two aligned arrays; everything that
decides *which* rows are compared (the join key, the method, the reference > 0
cut for barred galaxies, dropped NaNs, the size normalisation) happens here and
is counted in :class:`PairedSample`, so a report can say how many rows were
used and why the others were not.

Keys are compared as exact text. Integer keys such as SDSS ``objid`` (19 digits,
beyond float precision) come from :func:`galaxyscope.images.catalogue.read_catalogue`
as int64 or text (never through float) and are formatted from that; a
floating-point key column is refused when it could have lost digits.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.table import Table

from galaxyscope.errors import GalaxyscopeError, ImageReadError
from galaxyscope.images.catalogue import normalise_key, read_catalogue
from galaxyscope.images.readers import image_stem

DEFAULT_KEY = "filename"
METHOD_COLUMN = "method"
_FLOAT_EXACT_LIMIT = 2**53


@dataclass(frozen=True)
class PairedSample:
    """Aligned measured/reference values and how they were chosen.

    ``measured`` and ``reference`` are in the units of the reference (after a
    unit conversion when both columns carry convertible units) and, when
    ``normalised_by`` is set, divided by that size column. ``size`` is the raw
    size column (or None) aligned with them. Rows with any needed value not
    finite are already removed and counted in ``n_not_finite``.
    """

    keys: np.ndarray
    measured: np.ndarray
    reference: np.ndarray
    size: np.ndarray | None
    measured_column: str
    reference_column: str
    key: str
    method: str | None
    size_column: str | None
    normalised_by: str | None
    measured_unit: str | None
    reference_unit: str | None
    n_measured_rows: int
    n_unmatched: int
    n_nonpositive_reference: int
    n_not_finite: int
    n_matched_by_stem: int = 0
    where: str | None = None
    n_where_excluded: int = 0

    @property
    def n(self) -> int:
        return int(self.measured.size)


def read_table(path: str | Path) -> Table:
    """Read an ECSV, CSV or FITS table with id columns kept exact (int64 or text).

    Why a wrapper: the images package owns catalogue reading
    (:func:`galaxyscope.images.catalogue.read_catalogue`); this is the one call
    the evaluation makes, so both read catalogues the same way.
    """
    return read_catalogue(path)


def require_column(table: Table, column: str, path: str | Path, what: str = "column") -> None:
    """Raise a clear error naming the file, the column and the columns there are."""
    if column not in table.colnames:
        available = ", ".join(table.colnames) or "none"
        raise ImageReadError(Path(path), f"no {what} '{column}' (available: {available})")


def select_method(table: Table, method: str | None, path: str | Path) -> tuple[Table, str | None]:
    """Keep the rows of one method; with no method given the table must hold only one.

    Measured tables hold one row per image and method in a ``method`` column.
    Returns the selected rows and the method name (None when there is no
    method column and none was asked for).
    """
    if METHOD_COLUMN not in table.colnames:
        if method is not None:
            available = ", ".join(table.colnames) or "none"
            raise ImageReadError(
                Path(path), f"no column '{METHOD_COLUMN}' to select method '{method}' (available: {available})"
            )
        return table, None
    names = np.array([str(v).strip() for v in table[METHOD_COLUMN]])
    present = sorted(set(names.tolist()))
    if method is None:
        if len(present) > 1:
            raise GalaxyscopeError(
                f"{Path(path)}: holds several methods ({', '.join(present)}); choose one with --method"
            )
        return table, (present[0] if present else None)
    keep = names == method
    if not keep.any():
        raise GalaxyscopeError(
            f"{Path(path)}: no rows of method '{method}' (methods there: {', '.join(present) or 'none'})"
        )
    return table[keep], method


def key_strings(table: Table, key: str, path: str | Path) -> np.ndarray:
    """The key column as exact text: ints formatted from int64, text stripped.

    A float key column is accepted only when every value is a whole number
    below 2**53 (so it lost no digits); anything else is refused.
    """
    require_column(table, key, path, what="key column")
    col = table[key]
    data = np.ma.getdata(col)
    mask = np.ma.getmaskarray(col)
    kind = data.dtype.kind
    if kind in "iu":
        out = np.array([str(int(v)) for v in data], dtype=object)
    elif kind == "f":
        finite = np.isfinite(data) & ~mask
        vals = data[finite]
        if np.any(vals != np.round(vals)) or np.any(np.abs(vals) >= _FLOAT_EXACT_LIMIT):
            raise GalaxyscopeError(
                f"{Path(path)}: key column '{key}' is floating-point and cannot be joined exactly "
                "(store ids as integers or text)"
            )
        out = np.array([str(int(v)) if ok else "" for v, ok in zip(data, finite)], dtype=object)
    else:
        out = np.array([normalise_key(_text(v)) for v in data], dtype=object)
    out[mask] = ""
    return out


def match_keys(measured_keys: np.ndarray, reference_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Pair rows whose keys are equal; failing that, whose file stems are equal.

    Why the stem step: measured tables name files by their path under the image
    folder ('sdss/587722981747982465.jpg') while catalogues name them 'x.jpg'
    or by id alone. A stem matches only when it is unique on both sides, so an
    ambiguous name is left unmatched rather than guessed. Empty keys never
    match. Returns (measured indices, reference indices, number matched by stem).
    """
    lookup = {k: i for i, k in enumerate(reference_keys) if k}
    pairs = {i: lookup[k] for i, k in enumerate(measured_keys) if k and k in lookup}
    used = set(pairs.values())
    todo = [i for i, k in enumerate(measured_keys) if k and i not in pairs]
    n_by_stem = 0
    if todo:
        ref_stems = _unique_stems((i, k) for i, k in enumerate(reference_keys) if k and i not in used)
        m_stems = _unique_stems((i, measured_keys[i]) for i in todo)
        for stem, i in m_stems.items():
            j = ref_stems.get(stem)
            if j is not None:
                pairs[i] = j
                n_by_stem += 1
    m_idx = np.array(sorted(pairs), dtype=int)
    r_idx = np.array([pairs[i] for i in m_idx], dtype=int)
    return m_idx, r_idx, n_by_stem


def numeric_column(table: Table, column: str, path: str | Path) -> tuple[np.ndarray, u.UnitBase | None]:
    """A column as float with masked entries as NaN, and its unit (or None)."""
    require_column(table, column, path)
    col = table[column]
    if col.dtype.kind not in "iufb":
        raise GalaxyscopeError(f"{Path(path)}: column '{column}' is not numeric ({col.dtype})")
    values = np.ma.filled(np.ma.asarray(col, dtype=float), np.nan)
    unit = getattr(col, "unit", None)
    return np.asarray(values, dtype=float), (u.Unit(unit) if unit is not None else None)


def build_pairs(
    measured_path: str | Path,
    reference_path: str | Path,
    *,
    column: str,
    reference_column: str | None = None,
    key: str = DEFAULT_KEY,
    reference_key: str | None = None,
    method: str | None = None,
    normalise_by: str | None = None,
    size_column: str | None = None,
    positive_reference_only: bool = True,
    where: str | None = None,
) -> PairedSample:
    """Read both tables and return the aligned rows to compare.

    Steps, each counted: select ``method``; join the measured ``key`` column to
    the reference ``reference_key`` column (default: the same name) with
    :func:`match_keys` (a measured row without a reference row is unmatched); keep reference > 0 unless
    ``positive_reference_only`` is False (non-barred galaxies have no length);
    drop rows where a needed value is not finite; with ``normalise_by`` divide
    both sides by that reference column (rows with size <= 0 dropped).
    ``size_column`` (default: ``normalise_by``) feeds the size baseline.
    ``where`` keeps only pairs whose reference row passes that filter (the browser's
    syntax, e.g. ``bar_visibility >= 0.34``): a subset evaluated with its own baselines.
    """
    reference_column = reference_column or column
    reference_key = reference_key or key
    if normalise_by and size_column and size_column != normalise_by:
        raise GalaxyscopeError(
            f"the size column ('{size_column}') must be the --normalise-by column ('{normalise_by}') when normalising"
        )
    size_column = normalise_by or size_column
    measured_table = read_table(measured_path)
    reference_table = read_table(reference_path)
    require_column(measured_table, column, measured_path)
    require_column(reference_table, reference_column, reference_path)
    for extra in {normalise_by, size_column} - {None}:
        require_column(reference_table, extra, reference_path)
    measured_table, method = select_method(measured_table, method, measured_path)

    m_keys = key_strings(measured_table, key, measured_path)
    r_keys = key_strings(reference_table, reference_key, reference_path)
    _refuse_duplicates(m_keys, key, measured_path, hint=" (one row per image and method expected)")
    _refuse_duplicates(r_keys, reference_key, reference_path)

    m_idx, r_idx, n_by_stem = match_keys(m_keys, r_keys)
    n_where_excluded = 0
    if where and where.strip() and m_idx.size:
        passes = reference_rows_where(reference_table, where, reference_path, r_keys)[r_idx]
        n_where_excluded = int((~passes).sum())
        m_idx, r_idx = m_idx[passes], r_idx[passes]
        if m_idx.size == 0:
            raise GalaxyscopeError(f"--where {where!r}: none of the {n_where_excluded} matched rows of "
                                   f"{Path(reference_path)} passes")
    if m_idx.size == 0:
        on = f"'{key}'" if reference_key == key else f"'{key}' = '{reference_key}'"
        raise GalaxyscopeError(
            f"no measured row of {Path(measured_path)} matches {Path(reference_path)} on {on} "
            f"(e.g. measured {_examples(m_keys)} vs reference {_examples(r_keys)})"
        )

    measured, m_unit = numeric_column(measured_table, column, measured_path)
    reference, r_unit = numeric_column(reference_table, reference_column, reference_path)
    measured, reference = measured[m_idx], reference[r_idx]
    if m_unit is not None and r_unit is not None and m_unit != r_unit and m_unit.is_equivalent(r_unit):
        measured = (measured * m_unit).to_value(r_unit)
        m_unit = r_unit
    size = None
    if size_column is not None:
        size = numeric_column(reference_table, size_column, reference_path)[0][r_idx]
    sample = pair_arrays(
        measured,
        reference,
        size=size,
        normalise_by_size=normalise_by is not None,
        keys=m_keys[m_idx],
        positive_reference_only=positive_reference_only,
        measured_column=column,
        reference_column=reference_column,
        size_column=size_column,
    )
    return replace(
        sample,
        key=key if reference_key == key else f"{key}={reference_key}",
        method=method,
        measured_unit=None if normalise_by else _unit_text(m_unit),
        reference_unit=None if normalise_by else _unit_text(r_unit),
        n_measured_rows=len(measured_table),
        n_unmatched=int(len(measured_table) - m_idx.size - n_where_excluded),
        n_matched_by_stem=n_by_stem,
        where=where.strip() if where and where.strip() else None,
        n_where_excluded=n_where_excluded,
    )


def reference_rows_where(table: Table, where: str, path: str | Path, keys: np.ndarray) -> np.ndarray:
    """Boolean mask of the reference rows passing ``where`` (errors name the file and the filter)."""
    from galaxyscope.images.row_filter import FilterError, filter_mask

    try:
        # Column.data is an ndarray, MaskedColumn.data a MaskedArray: both what filter_mask reads
        return filter_mask(where, [str(k) for k in keys], lambda name: table[name].data, table.colnames)
    except FilterError as exc:
        raise GalaxyscopeError(f"--where {where!r} on {Path(path)}: {exc}") from None


def pair_arrays(
    measured: np.ndarray,
    reference: np.ndarray,
    *,
    size: np.ndarray | None = None,
    normalise_by_size: bool = False,
    keys: np.ndarray | None = None,
    positive_reference_only: bool = True,
    measured_column: str = "measured",
    reference_column: str = "reference",
    size_column: str | None = "size",
) -> PairedSample:
    """Arrays already aligned row by row → a :class:`PairedSample`, with the same cuts as files.

    Why public: the GUI and notebooks hold values in memory; they get the same
    reference > 0 cut, the same NaN dropping (counted) and the same size
    normalisation as ``galaxyscope evaluate``.
    """
    measured = np.ma.filled(np.ma.asarray(measured, dtype=float), np.nan).ravel()
    reference = np.ma.filled(np.ma.asarray(reference, dtype=float), np.nan).ravel()
    n_rows = measured.size
    if reference.size != n_rows:
        raise ValueError(f"measured and reference differ in length ({n_rows} vs {reference.size})")
    if size is not None:
        size = np.ma.filled(np.ma.asarray(size, dtype=float), np.nan).ravel()
        if size.size != n_rows:
            raise ValueError(f"size and reference differ in length ({size.size} vs {n_rows})")
    elif normalise_by_size:
        raise ValueError("normalise_by_size needs a size column")
    keys = np.asarray(keys, dtype=object) if keys is not None else np.arange(n_rows).astype(str).astype(object)

    keep_positive = np.ones(n_rows, dtype=bool)
    if positive_reference_only:
        with np.errstate(invalid="ignore"):
            keep_positive = ~(reference <= 0)  # NaN stays here and is counted as not finite
    finite = np.isfinite(measured) & np.isfinite(reference)
    if size is not None:
        finite &= np.isfinite(size)
        if normalise_by_size:
            with np.errstate(invalid="ignore"):
                finite &= size > 0
    keep = keep_positive & finite
    measured, reference, keys = measured[keep], reference[keep], keys[keep]
    if size is not None:
        size = size[keep]
        if normalise_by_size:
            measured, reference = normalise(measured, reference, size)
    return PairedSample(
        keys=keys,
        measured=measured,
        reference=reference,
        size=size,
        measured_column=measured_column,
        reference_column=reference_column,
        key="row",
        method=None,
        size_column=size_column if size is not None else None,
        normalised_by=size_column if normalise_by_size else None,
        measured_unit=None,
        reference_unit=None,
        n_measured_rows=n_rows,
        n_unmatched=0,
        n_nonpositive_reference=int((~keep_positive).sum()),
        n_not_finite=int((keep_positive & ~finite).sum()),
    )


def normalise(measured: np.ndarray, reference: np.ndarray, size: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Divide both sides by the same size: what is left is what size does not explain."""
    s = np.asarray(size, dtype=float)
    return np.asarray(measured, dtype=float) / s, np.asarray(reference, dtype=float) / s


# --------------------------------------------------------------------------- internals


def _text(value: object) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    return str(value).strip()


def _unique_stems(items) -> dict[str, int]:
    """stem → index for stems that occur once."""
    seen: dict[str, int] = {}
    repeated: set[str] = set()
    for i, k in items:
        stem = image_stem(Path(k).name)
        if stem in seen:
            repeated.add(stem)
        seen[stem] = i
    return {s: i for s, i in seen.items() if s not in repeated}


def _unit_text(unit: u.UnitBase | None) -> str | None:
    return None if unit is None or unit == u.dimensionless_unscaled else unit.to_string()


def _refuse_duplicates(keys: np.ndarray, key: str, path: str | Path, hint: str = "") -> None:
    values, counts = np.unique(keys[keys != ""].astype(str), return_counts=True)
    dup = values[counts > 1]
    if dup.size:
        shown = ", ".join(dup[:3].tolist()) + (" ..." if dup.size > 3 else "")
        raise GalaxyscopeError(f"{Path(path)}: key '{key}' repeats ({shown}){hint}")


def _examples(keys: np.ndarray, k: int = 2) -> str:
    shown = [repr(s) for s in keys[:k].tolist()]
    return "[" + ", ".join(shown) + ("]" if len(keys) <= k else ", ...]") if shown else "[]"


__all__ = [
    "DEFAULT_KEY",
    "METHOD_COLUMN",
    "PairedSample",
    "build_pairs",
    "key_strings",
    "match_keys",
    "normalise",
    "pair_arrays",
    "numeric_column",
    "read_table",
    "require_column",
    "select_method",
]
