"""Bar labels from any table: ``filename`` or objid, ``has_bar``, and a length or end points.

Why: labels made elsewhere (a colleague's spreadsheet, a Galaxy Zoo vote cut, a
published catalogue) should teach the model just as labels drawn in the window do.
A row says which image of a dataset folder it is about (``filename`` relative to
the folder, or an objid column matched against the folder's catalogue), whether
it shows a bar (``has_bar`` 0/1), and optionally how long the bar is
(``bar_length_px``) or where its ends are (``x1, y1, x2, y2`` in pixels of the
original image, origin at the centre of the top-left pixel; optional width line
``wx1, wy1, wx2, wy2``). Every row is stored under one annotator name.

Re-importing the same file changes nothing (labels are one per annotator and
image; lines keep a uid derived from the file name, the image and the annotator).
The whole file is one transaction: any bad row names the file, the row and the
reason, and leaves the database as it was.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from galaxyscope.errors import CancelledError, ImageReadError
from galaxyscope.images.catalogue import read_catalogue, row_dict
from galaxyscope.images.identity import OBJID_COLUMNS, identity_of, image_key, objid_of
from galaxyscope.progress import CancelCheck, Progress
from galaxyscope.store.annotation_store import AnnotationStore
from galaxyscope.store.convert import cell_text as _text
from galaxyscope.store.convert import file_sha256, split_objid
from galaxyscope.store.labels import write_label
from galaxyscope.store.records import BarLine

#: columns that make a table a label table (rather than an ``annotations export``)
LABEL_COLUMN = "has_bar"
ENDS = ("x1", "y1", "x2", "y2")
WIDTH_ENDS = ("wx1", "wy1", "wx2", "wy2")
TRUE_WORDS = {"1", "true", "yes", "y", "t", "bar"}
FALSE_WORDS = {"0", "false", "no", "n", "f", "no_bar", "nobar"}
#: how far a given bar_length_px may differ from the end points' length (pixels, then share)
LENGTH_TOLERANCE = (1.0, 0.02)


@dataclass(frozen=True)
class LabelImportReport:
    """What `import_labels` changed."""

    path: Path
    annotator: str
    n_rows: int
    bars: int
    no_bars: int
    labels_added: int = 0
    labels_updated: int = 0
    labels_unchanged: int = 0
    lines_added: int = 0
    lines_updated: int = 0
    lines_unchanged: int = 0


def is_label_table(columns: list[str]) -> bool:
    """Whether a table's columns make it a label table: it has ``has_bar`` and is not an
    ``annotations export`` (which has a ``source`` column)."""
    names = {c.lower() for c in columns}
    return LABEL_COLUMN in names and "source" not in names


def _number(row: dict[str, Any], name: str) -> float | None:
    """A finite number, None when empty; ValueError naming the column otherwise."""
    value = row.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} is {_text(value)!r}, not a number") from None
    return x if math.isfinite(x) else None


def _has_bar(value: Any) -> bool:
    word = _text(value).lower()
    if word.endswith(".0"):
        word = word[:-2]
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(f"has_bar is {_text(value)!r}; it must be 0 or 1")


def _line(row: dict[str, Any], names: tuple[str, ...]) -> BarLine | None:
    values = [_number(row, n) for n in names]
    given = [v is not None for v in values]
    if not any(given):
        return None
    if not all(given):
        missing = [n for n, g in zip(names, given) if not g]
        raise ValueError(f"end points need all of {', '.join(names)} ({', '.join(missing)} empty)")
    return BarLine(*values)  # type: ignore[arg-type]


class _Index:
    """Finds a dataset's image by file name (relative to the folder) or by objid."""

    def __init__(self, dataset: Path) -> None:
        from galaxyscope.images.imageset import ImageSet

        self.root = dataset if dataset.is_dir() else dataset.parent
        self.images = ImageSet.open(dataset)
        self.by_key = {image_key(e.path): i for i, e in enumerate(self.images.entries)}
        self._by_objid: dict[int | str, list[int]] | None = None

    def by_objid(self, objid: int | str) -> list[int]:
        if self._by_objid is None:
            self._by_objid = {}
            for i, e in enumerate(self.images.entries):
                found = objid_of(e.row)
                if found is not None:
                    oi, ot = split_objid(found)
                    self._by_objid.setdefault(oi if oi is not None else ot, []).append(i)  # type: ignore[arg-type]
        oi, ot = split_objid(objid)
        return self._by_objid.get(oi if oi is not None else ot, [])  # type: ignore[arg-type]

    def find(self, row: dict[str, Any], file_column: str | None, id_column: str | None) -> int:
        if file_column is not None and _text(row.get(file_column)):
            name = _text(row.get(file_column))
            i = self.by_key.get(image_key(self.root / name))
            if i is None:
                where = "no such file" if not (self.root / name).exists() else "not an image of the dataset"
                raise ValueError(f"{file_column} {name!r}: {where} in {self.root}")
            return i
        if id_column is not None:
            value = row.get(id_column)
            if isinstance(value, float):
                raise ValueError(f"{id_column} {value!r} was read as a float and may have lost digits")
            text = _text(value)
            if not text:
                raise ValueError(f"neither a file name nor an {id_column}")
            hits = self.by_objid(value if isinstance(value, int) else text)
            if not hits:
                raise ValueError(f"{id_column} {text}: no image of {self.root} has this id in its catalogue")
            if len(hits) > 1:
                raise ValueError(f"{id_column} {text}: {len(hits)} images of {self.root} have this id")
            return hits[0]
        raise ValueError(f"no {file_column or 'filename'} given")


def import_labels(store: AnnotationStore, path: str | Path, dataset: str | Path, *,
                  annotator: str | None = None, progress: Progress | None = None,
                  cancel: CancelCheck | None = None) -> LabelImportReport:
    """Import a label table for the images of ``dataset`` (a folder, or its catalogue) under
    ``annotator`` (default: the table's file name). One transaction for the file; errors
    are `ImageReadError` naming the file, the row (1 = first data row) and the reason."""
    path = Path(path)
    dataset = Path(dataset)
    who = (annotator or path.name).strip()
    if not who:
        raise ImageReadError(path, "the annotator name is empty")
    table = read_catalogue(path)
    lower = {c.lower(): c for c in table.colnames}
    if LABEL_COLUMN not in lower:
        raise ImageReadError(path, f"not a label table: no column {LABEL_COLUMN} "
                                   f"(columns: {', '.join(table.colnames[:12])})")
    file_column = lower.get("filename")
    id_column = next((lower[c] for c in OBJID_COLUMNS if c in lower), None)
    if file_column is None and id_column is None:
        raise ImageReadError(path, "a label table needs a filename column (relative to the dataset "
                                   f"folder) or an objid column ({', '.join(OBJID_COLUMNS)})")
    for c in list(table.colnames):
        if c != c.lower() and c.lower() not in table.colnames:
            table.rename_column(c, c.lower())
    file_column = file_column and file_column.lower()
    id_column = id_column and id_column.lower()
    try:
        index = _Index(dataset)
    except ImageReadError as err:
        raise ImageReadError(path, f"dataset {dataset}: {err.reason}") from None
    set_name = index.root.absolute().name
    source = f"import:{path.name}"
    counts = dict(labels_added=0, labels_updated=0, labels_unchanged=0,
                  lines_added=0, lines_updated=0, lines_unchanged=0)
    bars = no_bars = 0
    seen: dict[int, int] = {}
    n = len(table)
    with store.transaction() as s:
        who_row = store._annotator(s, who)
        for r in range(n):
            if cancel is not None and cancel():
                raise CancelledError(f"import of {path} cancelled; nothing was written")
            row = row_dict(table, r)
            try:
                i = index.find(row, file_column, id_column)
                if i in seen:
                    raise ValueError(f"{index.images.entries[i].key} was already labelled in row {seen[i] + 1}")
                seen[i] = r
                has_bar = _has_bar(row.get(LABEL_COLUMN))
                bar = _line(row, ENDS)
                width = _line(row, WIDTH_ENDS)
                length = _number(row, "bar_length_px")
                if not has_bar and (bar is not None or (length or 0) > 0):
                    raise ValueError("has_bar is 0 but a bar length or end points are given")
                if length is not None and has_bar and length <= 0:
                    raise ValueError(f"bar_length_px {length:g} is not positive")
                if width is not None and bar is None:
                    raise ValueError("a width line (wx1..wy2) needs the bar's end points (x1..y2)")
                image = index.images.read(i)
                if bar is not None:
                    _inside(bar, image.height, image.width)
                    if length is not None and abs(length - bar.length_px) > max(
                            LENGTH_TOLERANCE[0], LENGTH_TOLERANCE[1] * bar.length_px):
                        raise ValueError(f"bar_length_px {length:g} differs from the end points' length "
                                         f"{bar.length_px:.2f}")
                ident = identity_of(image)
                img = store._register(s, ident.key, sha256=file_sha256(ident.key), set_name=set_name,
                                      objid=ident.objid, pixel_scale=ident.pixel_scale,
                                      redshift=ident.redshift)
                _, outcome = write_label(s, img.id, who_row.id, has_bar,
                                         length_px=length if bar is None else None, source=source)
                counts[f"labels_{outcome}"] += 1
                if bar is not None:
                    counts[f"lines_{_write_line(store, s, img, who_row, bar, width, path.name)}"] += 1
            except ImageReadError as err:
                raise ImageReadError(path, f"row {r + 1}: {err.path}: {err.reason}; nothing was imported") from None
            except (ValueError, TypeError) as err:
                raise ImageReadError(path, f"row {r + 1}: {err}; nothing was imported") from None
            bars += int(has_bar)
            no_bars += int(not has_bar)
            if progress is not None:
                progress(r + 1, n)
    return LabelImportReport(path, who, n, bars, no_bars, **counts)


def _inside(bar: BarLine, height: int, width: int) -> None:
    for x, y in bar.endpoints:
        if not (-0.5 <= x <= width - 0.5 and -0.5 <= y <= height - 0.5):
            raise ValueError(f"end point ({x:g}, {y:g}) lies outside the {width} x {height} px image")


def _write_line(store: AnnotationStore, s: Any, img: Any, who: Any, bar: BarLine, width: BarLine | None,
                file_name: str) -> str:
    """Add the imported line, or bring the one from an earlier import of this file up to date."""
    from sqlalchemy import select

    from galaxyscope.store.labels import line_means_bar
    from galaxyscope.store.models import Annotation, utc_now

    uid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"galaxyscope-labels:{file_name}:{img.path}:{who.name}"))
    ann = s.scalars(select(Annotation).where(Annotation.uid == uid)).one_or_none()
    if ann is None:
        now = utc_now()
        ann = Annotation(uid=uid, image=img, annotator=who, revision=1, deleted=False, created_utc=now,
                         updated_utc=now, note=f"imported from {file_name}")
        store._set_geometry(ann, img, bar, width)
        s.add(ann)
        s.flush()
        line_means_bar(s, img.id, who.id)
        return "added"
    old_width = None if ann.wx1 is None else BarLine(ann.wx1, ann.wy1, ann.wx2, ann.wy2)
    if BarLine(ann.x1, ann.y1, ann.x2, ann.y2) == bar and old_width == width and not ann.deleted:
        return "unchanged"
    store._keep_history(s, ann, "update")
    store._set_geometry(ann, img, bar, width)
    ann.deleted = False
    store._bump(ann)
    return "updated"
