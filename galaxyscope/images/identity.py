"""Which galaxy an image shows and how the database names its file: one answer for every caller.

Why one module: the window, ``galaxyscope measure``, ``scan-bias --db`` and the store
each used to read the objid and redshift from a catalogue row and to name the file
in their own way; the same PNG then became two database rows (relative and absolute
path) and a catalogue column ``z`` gave kpc in the window but NaN in the batch table.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np

#: catalogue columns naming the galaxy (SDSS object ids first), matched case-insensitively
OBJID_COLUMNS: tuple[str, ...] = ("objid", "dr7objid", "dr8objid", "dr12objid", "dr16objid", "sdss_objid")
#: catalogue columns holding a redshift, in priority order, matched case-insensitively
REDSHIFT_COLUMNS: tuple[str, ...] = ("redshift", "z", "zspec", "z_spec", "specz", "z_helio")


def image_key(path: str | os.PathLike[str]) -> str:
    """How the database names an image file: its absolute, normalised posix path.

    Why absolute: the database outlives the folder a command was started in, so
    ``sample/a.png`` typed in one shell and ``/home/me/sample/a.png`` reached by the
    window must be one row. Symbolic links are not followed (a link is where the user
    keeps the file; following it would move the key when the link target moves).
    """
    return Path(os.path.normpath(os.path.abspath(os.fspath(path)))).as_posix()


def _values(meta: Mapping[str, Any] | None, names: tuple[str, ...]) -> list[Any]:
    """The non-None values of ``names`` in ``meta`` (keys matched case-insensitively), in ``names`` order."""
    if not meta:
        return []
    by_lower: dict[str, Any] = {}
    for k, v in meta.items():
        by_lower.setdefault(str(k).lower(), v)
    return [by_lower[n] for n in names if by_lower.get(n) is not None]


def objid_of(meta: Mapping[str, Any] | None) -> int | str | None:
    """The galaxy's catalogue id (an int, or text for ids that are not plain integers), or None.

    A float or masked value is left out rather than guessed: a float64 keeps only about
    16 digits, and an SDSS objid read through it names another galaxy.
    """
    for v in _values(meta, OBJID_COLUMNS):
        if isinstance(v, (bool, np.bool_)) or np.ma.is_masked(v):
            continue
        if isinstance(v, (int, np.integer)):
            return int(v)
        if isinstance(v, (bytes, np.bytes_)):
            v = bytes(v).decode("utf-8", "replace")
        if isinstance(v, str) and v.strip():
            return v.strip()
    return None


def redshift_of(meta: Mapping[str, Any] | None) -> float | None:
    """The galaxy's redshift from its catalogue row (first usable of `REDSHIFT_COLUMNS`), or None.

    Only finite values above zero count: 0, negative or NaN redshifts (a catalogue's
    "unknown") would give a meaningless or infinite kpc scale.
    """
    for v in _values(meta, REDSHIFT_COLUMNS):
        if np.ma.is_masked(v) or isinstance(v, (bool, np.bool_)):
            continue
        try:
            z = float(v)
        except (TypeError, ValueError):
            continue
        if math.isfinite(z) and z > 0:
            return z
    return None


@dataclass(frozen=True)
class ImageIdentity:
    """What the store, the tables and the window need to know about which galaxy a file shows."""

    key: str | None  # `image_key` of its file; None for an image not read from a file
    objid: int | str | None
    redshift: float | None
    pixel_scale: u.Quantity | None  # arcsec / pixel


def identity_of(image: Any) -> ImageIdentity:
    """The identity of a `GalaxyImage` (its path, catalogue row ``meta`` and pixel scale)."""
    path = getattr(image, "path", None)
    meta = getattr(image, "meta", None)
    return ImageIdentity(key=None if path is None else image_key(path), objid=objid_of(meta),
                         redshift=redshift_of(meta), pixel_scale=getattr(image, "pixel_scale", None))
