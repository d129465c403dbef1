"""Sorting and filtering catalogue rows with numpy: the browser's filter box and `evaluate --where`.

Why not QSortFilterProxyModel: it calls back into Python for every comparison,
which stalls on 100k rows. Here a sort is one argsort and a filter one vectorised
comparison per clause, over whole columns.

Filter syntax (clauses joined by ``and`` or ``&``):
  ``has_bar == 1``, ``survey = sdss``, ``paper_px > 40``, ``flags ~ edge`` (contains),
  ``flags !~ edge`` (does not contain); any other text matches file names (case-insensitive).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np


class FilterError(ValueError):
    """A filter the browser cannot apply (unknown column, bad number); the message says which."""


_CLAUSE = re.compile(r"^\s*([A-Za-z_][\w.\-]*)\s*(==|!=|>=|<=|!~|>|<|=|~)\s*(.*?)\s*$")
_SPLIT = re.compile(r"\s+and\s+|\s*&\s*", flags=re.IGNORECASE)


def as_plain(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(data, missing) of a column: masked entries, None and NaN count as missing."""
    arr = values
    missing = np.ma.getmaskarray(arr).copy() if isinstance(arr, np.ma.MaskedArray) else np.zeros(len(arr), bool)
    data = np.ma.getdata(arr)
    if data.dtype.kind == "f":
        missing |= ~np.isfinite(data)
    elif data.dtype.kind == "O":
        missing |= np.array([v is None or (isinstance(v, float) and v != v) for v in data], bool)
    return data, missing


def is_numeric(values: np.ndarray) -> bool:
    """True for int, unsigned, float and bool columns."""
    return np.ma.getdata(values).dtype.kind in "iufb"


def sort_order(values: np.ndarray, rows: np.ndarray, descending: bool = False) -> np.ndarray:
    """``rows`` (entry indices) reordered by ``values[rows]``; missing values always last; stable."""
    rows = np.asarray(rows, dtype=np.int64)
    data, missing = as_plain(values)
    sub, sub_missing = data[rows], missing[rows]
    present = rows[~sub_missing]
    keys = sub[~sub_missing]
    if keys.dtype.kind == "O":
        keys = np.array([str(k) for k in keys])
    elif keys.dtype.kind in "SU":
        keys = np.char.lower(keys.astype(str))
    order = np.argsort(keys, kind="stable")
    if descending:
        # reverse while keeping ties in their original order
        order = order[::-1]
        if keys.size:
            sorted_keys = keys[order]
            breaks = np.flatnonzero(sorted_keys[1:] != sorted_keys[:-1]) + 1
            order = np.concatenate([grp[::-1] for grp in np.split(order, breaks)])
    return np.concatenate([present[order], rows[sub_missing]])


def _compare(values: np.ndarray, op: str, text: str, name: str) -> np.ndarray:
    data, missing = as_plain(values)
    if op in ("~", "!~"):
        strings = np.char.lower(np.array([str(v) for v in data]) if data.dtype.kind == "O"
                                else data.astype(str))
        hit = np.char.find(strings, text.lower()) >= 0
        hit &= ~missing
        return hit if op == "~" else ~hit
    if op == "=":
        op = "=="
    if is_numeric(values):
        try:
            number = float(text)
        except ValueError:
            if data.dtype.kind == "b" and text.lower() in ("true", "false"):
                number = float(text.lower() == "true")
            else:
                raise FilterError(f"column {name!r} holds numbers; {text!r} is not one") from None
        with np.errstate(invalid="ignore"):
            d = data.astype(np.float64)
            result = {"==": d == number, "!=": d != number, ">": d > number, "<": d < number,
                      ">=": d >= number, "<=": d <= number}[op]
    else:
        strings = np.array([str(v) for v in data]) if data.dtype.kind == "O" else data.astype(str)
        if op in ("==", "!="):
            eq = np.char.lower(strings) == text.lower()
            result = eq if op == "==" else ~eq
        else:
            result = {">": strings > text, "<": strings < text, ">=": strings >= text,
                      "<=": strings <= text}[op]
    if op == "!=":
        return result | missing
    return result & ~missing


def filter_mask(text: str, keys: Sequence[str], column: Callable[[str], np.ndarray],
                columns: Sequence[str]) -> np.ndarray:
    """Which entries pass the filter ``text`` (see the module docstring for the syntax).

    keys: each entry's file name; column(name) gives a column aligned with keys;
    columns: the names that may be used. Raises FilterError for an unknown column
    or a non-number compared with a numeric column.
    """
    n = len(keys)
    keep = np.ones(n, dtype=bool)
    text = (text or "").strip()
    if not text:
        return keep
    lower_names = {c.lower(): c for c in columns}
    key_array: np.ndarray | None = None
    for clause in _SPLIT.split(text):
        if not clause.strip():
            continue
        m = _CLAUSE.match(clause)
        if m:
            if m.group(1).lower() not in lower_names:
                raise FilterError(f"no column {m.group(1)!r}; columns: {', '.join(columns)}")
            name = lower_names[m.group(1).lower()]
            keep &= _compare(column(name), m.group(2), m.group(3), name)
        elif n:
            if key_array is None:
                key_array = np.char.lower(np.asarray(list(keys), dtype=str))
            keep &= np.char.find(key_array, clause.strip().lower()) >= 0
    return keep
