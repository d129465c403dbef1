"""`ImageSet`: a folder or catalogue of galaxy images, listed lazily.

Why: datasets run to 100k+ files. Opening a set only lists names (and reads the
catalogue); each image is read when asked for, and a bad file becomes an
`ImageReadError` recorded in ``failures`` so batch work goes on.
"""

from __future__ import annotations

import math
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np
from astropy.table import Table

from galaxyscope.errors import CancelledError, ImageReadError
from galaxyscope.images.catalogue import (
    find_id_column,
    is_catalogue_file,
    match_rows,
    normalise_key,
    read_catalogue,
    row_dict,
)
from galaxyscope.images.galaxy_image import GalaxyImage
from galaxyscope.images.guarded_read import ReadLimits, guarded_read
from galaxyscope.images.readers import IMAGE_SUFFIXES, image_suffix, is_image_file, read_image

#: catalogue names looked for inside a folder, first found wins
FOLDER_CATALOGUES: tuple[str, ...] = ("catalog.ecsv", "catalog.csv")
#: catalogue column used for the pixel scale when present and none is named
AUTO_PIXEL_SCALE_COLUMN = "pixel_scale_arcsec"
MISSING_FILE_REASON = "file named in catalogue not found"
OUTSIDE_REASON = "file name leaves the dataset folder; only files inside it are read"
#: failures kept one by one per reason; beyond that they are only counted (a catalogue
#: naming a million missing files must not cost a million error objects and lines)
MAX_KEPT_PER_REASON = 1000

PixelScaleFormula = tuple[str, float] | Callable[[dict[str, Any]], Any]


@dataclass
class ImageEntry:
    """One image of a set: where it is, its key, and its catalogue row.

    key: the file name relative to the set's root, posix style (as a catalogue
        writes it). row_index: the catalogue row (-1: none). ``row`` is built on
        access so a 300k-row catalogue does not become 300k dicts at open time.
    """

    path: Path
    key: str
    row_index: int = -1
    catalogue: Table | None = field(default=None, repr=False, compare=False)

    @property
    def row(self) -> dict[str, Any]:
        """The joined catalogue row, column -> value (ids exact); {} when there is none."""
        if self.catalogue is None or self.row_index < 0:
            return {}
        return row_dict(self.catalogue, self.row_index)


class ImageSet:
    """Images under a folder or named by a catalogue; nothing is read until asked for."""

    def __init__(
        self,
        root: Path,
        entries: list[ImageEntry],
        *,
        catalogue: Table | None = None,
        failures: list[ImageReadError] | None = None,
        id_column: str | None = None,
        pixel_scale_column: str | None = None,
        pixel_scale_formula: PixelScaleFormula | None = None,
        default_pixel_scale: float | u.Quantity | None = None,
    ) -> None:
        self.root = Path(root)
        self.entries = entries
        self.catalogue = catalogue
        self.failures: list[ImageReadError] = list(failures or [])
        self.id_column = id_column
        self.pixel_scale_column = pixel_scale_column
        self.pixel_scale_formula = pixel_scale_formula
        self.default_pixel_scale = _as_scale(default_pixel_scale)
        self._failed_paths: set[Path] = {f.path for f in self.failures}
        #: reason -> how many catalogue rows failed for it at open time (``failures`` keeps
        #: at most `MAX_KEPT_PER_REASON` of each, plus one line counting the rest)
        self.failure_counts: dict[str, int] = {}
        for f in self.failures:
            self.failure_counts[f.reason] = self.failure_counts.get(f.reason, 0) + 1
        #: things worth saying about the set that are not a failed file (bad pixel scales, ...)
        self.warnings: list[str] = []

    # ------------------------------------------------------------------ opening

    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        catalogue: str | Path | Table | None = None,
        file_column: str = "filename",
        id_column: str | None = None,
        pixel_scale_column: str | None = None,
        pixel_scale_formula: PixelScaleFormula | None = None,
        default_pixel_scale: float | u.Quantity | None = None,
        recursive: bool = True,
    ) -> ImageSet:
        """Open a folder, a catalogue file or a single image as a lazy set.

        Why: one call for every way users keep data. ``path`` may be
        - a folder holding catalog.ecsv / catalog.csv: that catalogue names the files;
        - a folder without one: every image file below it (sorted; ``recursive``);
        - a catalogue file (.csv/.ecsv/.txt/FITS table): it names files relative to its folder;
        - one image file: a set of one.
        ``catalogue`` (a path or Table) replaces the folder's own: if it has
        ``file_column`` it names the files, else files found in the folder are
        joined to it by ``id_column`` (file stem == id). Catalogue rows whose
        file is missing go to ``failures``. Pixel scale per image, first found:
        the image's header, ``pixel_scale_column`` (arcsec/px; the column
        'pixel_scale_arcsec' is used when present), ``pixel_scale_formula``
        (``("petroR90_r", 0.02)`` means 0.02 x petroR90_r, as for Galaxy Zoo 2
        JPEGs, or a callable row -> arcsec), ``default_pixel_scale``.
        Raises `ImageReadError` when ``path`` or the catalogue cannot be read.
        """
        path = Path(path)
        options = dict(
            pixel_scale_column=pixel_scale_column,
            pixel_scale_formula=pixel_scale_formula,
            default_pixel_scale=default_pixel_scale,
        )
        if not path.exists():
            raise ImageReadError(path, "no such file or folder")
        table: Table | None = None
        table_path: Path | None = None
        if isinstance(catalogue, Table):
            table = catalogue
        elif catalogue is not None:
            table_path = Path(catalogue)
            table = read_catalogue(table_path)

        single: Path | None = None
        if path.is_dir():
            root = path
            if table is None:
                for name in FOLDER_CATALOGUES:
                    if (path / name).is_file():
                        table_path = path / name
                        table = read_catalogue(table_path)
                        break
        elif table is None and is_catalogue_file(path):
            root = path.parent
            table_path = path
            table = read_catalogue(path)
        else:  # one image file, with an optional catalogue to join
            root = path.parent
            single = path

        if table is not None:
            id_column = id_column or find_id_column(table)
            _check_columns(table, table_path or root, id_column, pixel_scale_column, pixel_scale_formula)
            if single is None and file_column in table.colnames:
                return cls._from_catalogue(root, table, table_path, file_column, id_column, options)
            if file_column not in table.colnames and id_column is None:
                raise ImageReadError(
                    table_path or root,
                    f"catalogue has neither a file column {file_column!r} nor an id column; "
                    f"columns: {', '.join(table.colnames)}",
                )
        if single is not None:
            entries = [ImageEntry(path=single, key=single.name)]
        else:
            entries = [ImageEntry(path=root / key, key=key)
                       for key in list_image_keys(root, recursive=recursive)]
        return cls._joined(root, entries, table, file_column, id_column, options)

    @classmethod
    def _from_catalogue(
        cls,
        root: Path,
        table: Table,
        table_path: Path | None,
        file_column: str,
        id_column: str | None,
        options: dict[str, Any],
    ) -> ImageSet:
        """Entries for the files a catalogue names, in row order.

        Refused rows (reported in ``failures``, one reason each): no file name; a name
        leaving the dataset folder (``../../etc/passwd``, or an absolute path elsewhere);
        a missing file; a second row naming a file an earlier row already named (the
        first row is used: its id, its values).
        """
        entries: list[ImageEntry] = []
        failures = _FailureLog()
        where = table_path or root
        root_text = os.path.normpath(os.path.abspath(os.fspath(root)))
        names = table[file_column]
        missing_mask = np.ma.getmaskarray(names)
        ids = table[id_column].tolist() if id_column else None
        first_row: dict[str, int] = {}
        for i, (name, masked) in enumerate(zip(names.tolist(), missing_mask)):
            text = "" if masked or name is None else normalise_key(name)
            if not text:
                failures.add(where, f"row {i}: no file name in {file_column!r}", "no file name")
                continue
            inside = _inside(root_text, text)
            if inside is None:
                failures.add(where, f"row {i}: {text!r}: {OUTSIDE_REASON} ({root})", OUTSIDE_REASON)
                continue
            found = _locate(inside)
            if found is None:
                failures.add(Path(inside), MISSING_FILE_REASON, MISSING_FILE_REASON)
                continue
            earlier = first_row.get(found)
            if earlier is not None:
                label = (lambda r: f"row {r} ({id_column} {ids[r]})") if ids is not None else (lambda r: f"row {r}")
                failures.add(Path(found), f"{label(i)} names the same file as {label(earlier)}; only row "
                                          f"{earlier} is used", "duplicate file name")
                continue
            first_row[found] = i
            file_path = Path(found)
            key = text if not os.path.isabs(text) else file_path.as_posix()
            entries.append(ImageEntry(path=file_path, key=key, row_index=i, catalogue=table))
        image_set = cls(root, entries, catalogue=table, failures=failures.kept(where),
                        id_column=id_column, **options)
        image_set.failure_counts = dict(failures.counts)
        image_set.warnings.extend(_scale_warnings(image_set))
        return image_set

    @classmethod
    def _joined(
        cls,
        root: Path,
        entries: list[ImageEntry],
        table: Table | None,
        file_column: str,
        id_column: str | None,
        options: dict[str, Any],
    ) -> ImageSet:
        if table is not None and entries:
            index = match_rows([e.key for e in entries], table,
                               file_column=file_column if file_column in table.colnames else None,
                               id_column=id_column)
            for entry, i in zip(entries, index):
                entry.row_index = int(i)
                entry.catalogue = table
        image_set = cls(root, entries, catalogue=table, id_column=id_column, **options)
        if table is not None:
            image_set.warnings.extend(_duplicate_key_warnings(table, file_column, id_column))
            image_set.warnings.extend(_scale_warnings(image_set))
        return image_set

    # ------------------------------------------------------------------ access

    def __len__(self) -> int:
        return len(self.entries)

    def __repr__(self) -> str:
        return f"ImageSet({str(self.root)!r}, {len(self)} images, {len(self.failures)} failures)"

    def keys(self) -> list[str]:
        """Entry keys (file names relative to the root), in set order."""
        return [e.key for e in self.entries]

    def __getitem__(self, i: int) -> GalaxyImage:
        """Read image ``i``: meta = its catalogue row, id = catalogue id or key.

        Raises `ImageReadError` for a bad file (and IndexError past the end).
        """
        entry = self.entries[i]
        image = read_image(entry.path)
        row = entry.row
        image.meta = row
        image.id = self._image_id(entry, row)
        if image.pixel_scale is None:
            image.pixel_scale = self._pixel_scale(row)
        return image

    def read(self, i: int, limits: ReadLimits | None = ReadLimits()) -> GalaxyImage:
        """``self[i]`` under the batch guard (`guarded_read`): a header declaring more
        than ``limits.max_pixels`` or a read longer than ``limits.timeout_s`` raises
        `ImageReadError`. ``limits=None``: a plain ``self[i]``."""
        return guarded_read(self.entries[i].path, lambda: self[i], limits)

    def iter_images(
        self,
        progress: Callable[[int, int], None] | None = None,
        cancel: Callable[[], bool] | None = None,
        limits: ReadLimits | None = ReadLimits(),
    ) -> Iterator[tuple[int, GalaxyImage]]:
        """Yield (index, image) for every readable entry, in order.

        Why: the loop every batch job runs. A bad file is skipped and its
        `ImageReadError` appended to ``failures`` (once per path); so is one
        whose read times out or whose header declares too many pixels
        (``limits``, see `guarded_read`; None = unguarded). ``progress``
        gets (done, total) after each entry; ``cancel`` is checked before each
        one and raises `CancelledError`.
        """
        total = len(self.entries)
        for i in range(total):
            if cancel is not None and cancel():
                raise CancelledError(f"stopped after {i} of {total} images")
            try:
                image = self.read(i, limits)
            except ImageReadError as err:
                self._record(err)
            else:
                yield i, image
            if progress is not None:
                progress(i + 1, total)

    def _record(self, err: ImageReadError) -> None:
        if err.path not in self._failed_paths:
            self._failed_paths.add(err.path)
            self.failures.append(err)

    def column(self, name: str) -> np.ndarray:
        """Catalogue column ``name`` aligned with ``entries``.

        Entries without a catalogue row are masked (a numpy masked array is
        returned then). Raises KeyError with the available columns.
        """
        if self.catalogue is None:
            raise KeyError(f"column {name!r}: this image set has no catalogue")
        if name not in self.catalogue.colnames:
            raise KeyError(f"no column {name!r} in the catalogue; columns: {', '.join(self.catalogue.colnames)}")
        index = np.array([e.row_index for e in self.entries], dtype=np.int64)
        col = self.catalogue[name]
        missing = index < 0
        values = np.asarray(col)[np.where(missing, 0, index)] if len(col) else np.asarray(col)[:0]
        col_mask = np.ma.getmaskarray(col)[np.where(missing, 0, index)] if len(col) else missing
        mask = missing | col_mask
        if mask.any():
            return np.ma.masked_array(values, mask=mask)
        return np.asarray(values)

    # ------------------------------------------------------------------ helpers

    def _image_id(self, entry: ImageEntry, row: dict[str, Any]) -> str:
        if self.id_column and row.get(self.id_column) is not None:
            return str(row[self.id_column])
        return entry.key

    def _pixel_scale(self, row: dict[str, Any]) -> u.Quantity | None:
        """Catalogue column -> formula -> default -> None (the header was tried first)."""
        column = self.pixel_scale_column
        if column is None and AUTO_PIXEL_SCALE_COLUMN in row:
            column = AUTO_PIXEL_SCALE_COLUMN
        if column is not None and row:
            scale = _as_scale(row.get(column))
            if scale is not None:
                return scale
        formula = self.pixel_scale_formula
        if formula is not None and row:
            if callable(formula):
                scale = _as_scale(formula(row))
            else:
                col_name, factor = formula
                value = row.get(col_name)
                scale = _as_scale(None if value is None else _float(value) * float(factor))
            if scale is not None:
                return scale
        return self.default_pixel_scale


def _check_columns(
    table: Table,
    where: Path,
    id_column: str | None,
    pixel_scale_column: str | None,
    pixel_scale_formula: PixelScaleFormula | None,
) -> None:
    """Fail at open time, not on image 5000, when a named column does not exist."""
    wanted = [id_column, pixel_scale_column]
    if isinstance(pixel_scale_formula, tuple):
        wanted.append(pixel_scale_formula[0])
    for name in wanted:
        if name is not None and name not in table.colnames:
            raise ImageReadError(where, f"catalogue has no column {name!r}; columns: {', '.join(table.colnames)}")


def list_image_keys(root: str | Path, *, recursive: bool = True) -> list[str]:
    """Image files below ``root`` as sorted relative posix names; nothing is opened.

    Why names, not Paths: this runs over 100k-file folders at open time, so it
    does per-folder work once and per-file work as plain string checks. Hidden
    files and folders (starting with '.') are skipped.
    """
    root_text = os.fspath(root)
    keys: list[str] = []
    if recursive:
        for dirpath, dirnames, filenames in os.walk(root_text):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            rel = os.path.relpath(dirpath, root_text)
            prefix = "" if rel == "." else rel.replace(os.sep, "/") + "/"
            keys.extend(prefix + f for f in filenames if not f.startswith(".") and is_image_file(f))
    else:
        with os.scandir(root_text) as it:
            keys = [e.name for e in it
                    if not e.name.startswith(".") and is_image_file(e.name) and e.is_file()]
    keys.sort()
    return keys


def list_image_files(root: str | Path, *, recursive: bool = True) -> list[Path]:
    """Image files below ``root`` (by name only: nothing is opened), sorted by relative path."""
    root = Path(root)
    return [root / key for key in list_image_keys(root, recursive=recursive)]


def _inside(root_text: str, name: str) -> str | None:
    """The catalogue name as a path inside the (normalised, absolute) root, or None when
    it leaves it. Lexical: '..' may not climb above the root, and an absolute name must
    lie below it; symbolic links inside the folder are followed as usual."""
    joined = os.path.normpath(name if os.path.isabs(name) else os.path.join(root_text, name))
    if joined == root_text or not joined.startswith(root_text.rstrip(os.sep) + os.sep):
        return None
    return joined


def _locate(candidate: str) -> str | None:
    """The file a catalogue names (image endings tried when it has none); None if absent.

    Plain strings and ``os.stat``: this runs once per catalogue row at open time."""
    if _is_file(candidate):
        return candidate
    if not image_suffix(candidate):
        for suffix in IMAGE_SUFFIXES:
            if _is_file(candidate + suffix):
                return candidate + suffix
    return None


def _is_file(path: str) -> bool:
    """True for anything but a missing path or a folder: a named pipe is then refused, with
    its reason, when it is read (never opened here)."""
    try:
        return not stat.S_ISDIR(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


class _FailureLog:
    """Failures at open time: the first `MAX_KEPT_PER_REASON` of each kind kept, all counted."""

    def __init__(self) -> None:
        self.items: list[ImageReadError] = []
        self.counts: dict[str, int] = {}

    def add(self, path: str | Path, reason: str, kind: str) -> None:
        n = self.counts.get(kind, 0)
        self.counts[kind] = n + 1
        if n < MAX_KEPT_PER_REASON:
            self.items.append(ImageReadError(path, reason))

    def kept(self, where: Path) -> list[ImageReadError]:
        out = list(self.items)
        for kind, n in self.counts.items():
            if n > MAX_KEPT_PER_REASON:
                more = ImageReadError(where, f"{n - MAX_KEPT_PER_REASON:,} more catalogue rows: {kind} "
                                             f"({n:,} in all; the first {MAX_KEPT_PER_REASON} are listed)")
                more.count = n - MAX_KEPT_PER_REASON  # type: ignore[attr-defined]  # rows it stands for
                more.kind = kind  # type: ignore[attr-defined]
                out.append(more)
        return out


def _duplicate_key_warnings(table: Table, file_column: str, id_column: str | None) -> list[str]:
    """A catalogue joined to a folder: rows naming the same file (or id) make the match ambiguous."""
    column = file_column if file_column in table.colnames else id_column
    if column is None or column not in table.colnames or len(table) == 0:
        return []
    values = np.asarray([normalise_key(v) for v in table[column].astype(str)])
    uniq, counts = np.unique(values[~np.ma.getmaskarray(table[column])], return_counts=True)
    dup = uniq[counts > 1]
    if not len(dup):
        return []
    shown = ", ".join(map(str, dup[:5])) + (", ..." if len(dup) > 5 else "")
    return [f"catalogue: {len(dup)} {column} value(s) appear on more than one row ({shown}); "
            "each file gets the first such row"]


def _scale_warnings(image_set: "ImageSet") -> list[str]:
    """Say when catalogue pixel scales are unusable (NaN, 0, negative) for some images.

    Why: those images silently get no arcsec (or kpc) lengths otherwise."""
    cat = image_set.catalogue
    if cat is None or not image_set.entries:
        return []
    column = image_set.pixel_scale_column
    if column is None and AUTO_PIXEL_SCALE_COLUMN in cat.colnames:
        column = AUTO_PIXEL_SCALE_COLUMN
    formula = image_set.pixel_scale_formula
    if column is not None:
        source, factor = column, 1.0
    elif isinstance(formula, tuple):
        source, factor = formula[0], float(formula[1])
    else:
        return []
    rows = np.array([e.row_index for e in image_set.entries], dtype=np.int64)
    rows = rows[rows >= 0]
    if not len(rows):
        return []
    col = cat[source]
    try:
        values = np.ma.filled(np.ma.asarray(col, dtype=float), np.nan)[rows] * factor
    except (TypeError, ValueError):
        return [f"pixel scale: column {source!r} is not numeric; lengths stay in pixels"]
    bad = ~(np.isfinite(values) & (values > 0))
    if not bad.any():
        return []
    what = f"column {source!r}" + (f" x {factor:g}" if factor != 1.0 else "")
    example = next(i for i, b in zip(rows, bad) if b)
    fallback = (f"they get the default {image_set.default_pixel_scale:.4g}" if image_set.default_pixel_scale is not None
                else "their lengths are in pixels only (no arcsec, no kpc)")
    return [f"pixel scale: {int(bad.sum())} of {len(rows)} images have no usable value in {what} "
            f"(missing, NaN, zero or negative; e.g. row {example}: {col[example]}); {fallback}"]


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _as_scale(value: Any) -> u.Quantity | None:
    """arcsec/px as a Quantity, or None for missing/NaN/non-positive values."""
    if value is None:
        return None
    if isinstance(value, u.Quantity):
        try:
            q = value.to(u.arcsec / u.pixel)
        except u.UnitConversionError:
            q = value.to(u.arcsec) / u.pixel
        return q if np.isfinite(q.value) and q.value > 0 else None
    v = _float(value)
    return v * u.arcsec / u.pixel if math.isfinite(v) and v > 0 else None
