"""Annotations out to CSV / ECSV / FITS tables and back in; Hoyle 2011 lengths in.

Why tables: people share and archive their work as files, merge several
annotators' databases, and compare with published catalogues in TOPCAT or
astropy. The export has one row per annotation (``source = "annotation"``) and
one per reference measurement (``source`` = its catalogue, e.g. "hoyle2011").
The ``objid`` column is int64 when every objid is an integer, else text; never
float. Importing an export is idempotent: annotations are matched by ``uid``, and
a newer version replaces an older one (the older one kept in the history).
Every import is one transaction: a bad row leaves the database as it was.
"""

from __future__ import annotations

import math
import uuid
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np
from astropy.table import MaskedColumn, Table

from galaxyscope.errors import CancelledError, GalaxyscopeError, ImageReadError
from galaxyscope.images.catalogue import read_catalogue, row_dict
from galaxyscope.progress import CancelCheck, Progress
from galaxyscope.store.annotation_store import AnnotationStore
from galaxyscope.store.convert import cell_text as _text
from galaxyscope.store.convert import split_objid
from galaxyscope.store.records import BarLine, ReferenceRow

ANNOTATION_SOURCE = "annotation"
#: rows of an export holding an annotator's bar / no-bar label (``has_bar``; ``length_px`` only
#: for a length given without a line)
LABEL_SOURCE = "bar_label"
HOYLE_SOURCE = "hoyle2011"
#: Hoyle et al. 2011 lengths are full end-to-end lengths in kpc/h (astropy: kpc / littleh)
HOYLE_UNIT = "kpc / littleh"
HOYLE_COLUMNS = ("objid", "length_avg")

_FLOAT_COLUMNS: dict[str, u.UnitBase | None] = {
    "x1": u.pix, "y1": u.pix, "x2": u.pix, "y2": u.pix,
    "wx1": u.pix, "wy1": u.pix, "wx2": u.pix, "wy2": u.pix,
    "length_px": u.pix, "width_px": u.pix, "length_arcsec": u.arcsec, "length_kpc": u.kpc,
    "pixel_scale_arcsec": u.arcsec / u.pix, "redshift": None,
    "ref_length": None, "ref_length_err": None, "ref_width": None, "ref_width_err": None,
    "ref_length_scaled": None, "ra": u.deg, "dec": u.deg,
}
_TEXT_COLUMNS = ("source", "uid", "image_path", "image_sha256", "set_name", "annotator", "note",
                 "created_utc", "updated_utc", "ref_unit")
#: every column of the export, in order
EXPORT_COLUMNS: tuple[str, ...] = (
    "source", "objid", "image_path", "annotator", "x1", "y1", "x2", "y2",
    "length_px", "length_arcsec", "length_kpc", "created_utc", "updated_utc",
    "wx1", "wy1", "wx2", "wy2", "width_px", "revision", "deleted", "note", "uid",
    "image_sha256", "set_name", "pixel_scale_arcsec", "redshift",
    "ref_length", "ref_length_err", "ref_width", "ref_width_err", "ref_unit",
    "ref_length_scaled", "ref_n", "ra", "dec", "has_bar",
)
REQUIRED_GENERIC = ("source", "image_path", "annotator", "x1", "y1", "x2", "y2")


@dataclass(frozen=True)
class ExportReport:
    """What `export_annotations` wrote."""

    path: Path
    n_annotations: int
    n_references: int
    n_labels: int = 0  # bar / no-bar labels


@dataclass(frozen=True)
class ImportReport:
    """What an import changed."""

    path: Path
    added: int = 0  # annotations
    updated: int = 0
    skipped: int = 0  # already present and as new
    references_added: int = 0
    references_replaced: int = 0
    labels_added: int = 0  # bar / no-bar labels
    labels_updated: int = 0
    labels_skipped: int = 0


def table_format(path: str | Path) -> str:
    """astropy format name from the file extension (.csv, .ecsv, .fits/.fit/.fts)."""
    name = Path(path).name.lower()
    if name.endswith(".ecsv"):
        return "ascii.ecsv"
    if name.endswith(".csv"):
        return "ascii.csv"
    if name.endswith((".fits", ".fit", ".fts", ".fits.gz")):
        return "fits"
    raise GalaxyscopeError(f"{path}: unknown table type; use a .csv, .ecsv or .fits name")


def _iso(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(timezone.utc).isoformat()


def export_table(store: AnnotationStore, *, set_name: str | None = None,
                 include_deleted: bool = False, include_references: bool = True) -> Table:
    """The store's annotations (and reference measurements) as one astropy Table
    with the columns `EXPORT_COLUMNS`; lengths carry units."""
    images = {i.id: i for i in store.images()}
    rows: list[dict[str, Any]] = []
    for a in store.all_annotations(set_name=set_name, include_deleted=include_deleted):
        img = images[a.image_id]
        w = a.width_line
        rows.append({
            "source": ANNOTATION_SOURCE, "objid": img.objid, "image_path": img.path,
            "annotator": a.annotator, "x1": a.bar.x1, "y1": a.bar.y1, "x2": a.bar.x2, "y2": a.bar.y2,
            "length_px": a.length_px,
            "length_arcsec": None if a.length_arcsec is None else a.length_arcsec.to_value(u.arcsec),
            "length_kpc": None if a.length_kpc is None else a.length_kpc.to_value(u.kpc),
            "created_utc": _iso(a.created), "updated_utc": _iso(a.updated),
            "wx1": None if w is None else w.x1, "wy1": None if w is None else w.y1,
            "wx2": None if w is None else w.x2, "wy2": None if w is None else w.y2,
            "width_px": None if a.width is None else a.width.to_value(u.pix),
            "revision": a.revision, "deleted": int(a.deleted), "note": a.note or "", "uid": a.uid,
            "image_sha256": img.sha256 or "", "set_name": img.set_name or "",
            "pixel_scale_arcsec": None if img.pixel_scale is None
            else img.pixel_scale.to_value(u.arcsec / u.pix),
            "redshift": img.redshift,
        })
    n_annotations = len(rows)
    for b in store.bar_labels(set_name=set_name, include_deleted=include_deleted):
        img = images[b.image_id]
        rows.append({
            "source": LABEL_SOURCE, "objid": img.objid, "image_path": img.path, "annotator": b.annotator,
            "has_bar": int(b.has_bar), "length_px": None if b.length is None else b.length.to_value(u.pix),
            "created_utc": _iso(b.created), "updated_utc": _iso(b.updated), "revision": b.revision,
            "deleted": int(b.deleted), "note": b.note or "", "uid": b.uid,
            "image_sha256": img.sha256 or "", "set_name": img.set_name or "",
            "pixel_scale_arcsec": None if img.pixel_scale is None
            else img.pixel_scale.to_value(u.arcsec / u.pix),
            "redshift": img.redshift,
        })
    n_labels = len(rows) - n_annotations
    if include_references:
        for r in store.references():
            unit = r.length.unit if r.length is not None else None
            rows.append({
                "source": r.source, "objid": r.objid, "ref_unit": "" if unit is None else unit.to_string(),
                "ref_length": _value(r.length), "ref_length_err": _value(r.length_err),
                "ref_width": _value(r.width), "ref_width_err": _value(r.width_err),
                "ref_length_scaled": r.length_scaled, "ref_n": r.n_measurements,
                "ra": r.ra_deg, "dec": r.dec_deg,
            })
    table = Table(meta={"galaxyscope_export": 1, "n_annotations": n_annotations, "n_labels": n_labels,
                        "n_references": len(rows) - n_annotations - n_labels})
    for name in EXPORT_COLUMNS:
        values = [row.get(name) for row in rows]
        if name == "objid":
            table[name] = _objid_column(values)
        elif name in _FLOAT_COLUMNS:
            data = np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)
            table[name] = data if _FLOAT_COLUMNS[name] is None else data * _FLOAT_COLUMNS[name]
        elif name in ("revision", "deleted", "ref_n", "has_bar"):
            mask = np.array([v is None for v in values], dtype=bool)
            data = np.array([0 if v is None else int(v) for v in values], dtype=np.int64)
            table[name] = MaskedColumn(data, mask=mask) if mask.any() else data
        else:
            table[name] = np.array(["" if v is None else str(v) for v in values], dtype=str)
    return table


def _value(q: u.Quantity | None) -> float | None:
    return None if q is None else float(q.value)


def _objid_column(values: list[Any]) -> Any:
    mask = np.array([v is None for v in values], dtype=bool)
    present = [v for v in values if v is not None]
    if all(isinstance(v, int) for v in present):
        data = np.array([0 if v is None else v for v in values], dtype=np.int64)
    else:
        data = np.array(["" if v is None else str(v) for v in values], dtype=str)
    return MaskedColumn(data, mask=mask)


def write_table(table: Table, path: str | Path) -> None:
    """Write by extension (CSV, ECSV, FITS), replacing an existing file. FITS text columns
    are written as UTF-8 bytes (FITS itself only knows ASCII)."""
    path = Path(path)
    fmt = table_format(path)
    if fmt == "fits":
        table = table.copy(copy_data=False)
        for name in table.colnames:
            if table[name].dtype.kind == "U":
                col = table[name]
                encoded = np.char.encode(np.asarray(col, dtype=str), "utf-8")
                table[name] = MaskedColumn(encoded, mask=np.ma.getmaskarray(col)) \
                    if getattr(col, "mask", None) is not None else encoded
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. units FITS cannot name (pix)
            table.write(path, format=fmt, overwrite=True)
    except OSError as err:
        raise GalaxyscopeError(f"{path}: cannot write ({err.strerror or err})") from None


def export_annotations(store: AnnotationStore, out: str | Path, **kwargs: Any) -> ExportReport:
    """`export_table` written to ``out`` (format by extension)."""
    table = export_table(store, **kwargs)
    write_table(table, out)
    return ExportReport(Path(out), int(table.meta["n_annotations"]), int(table.meta["n_references"]),
                        int(table.meta["n_labels"]))


# ---------------------------------------------------------------------- import


def _num(value: Any) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _objid(value: Any) -> int | str | None:
    if isinstance(value, float):  # never: read_catalogue keeps ids exact
        raise GalaxyscopeError(f"objid {value!r} was read as a float and may have lost digits")
    oi, ot = split_objid(value)
    return oi if oi is not None else ot


def _when(value: Any, default: datetime) -> datetime:
    textval = _text(value)
    if not textval:
        return default
    when = datetime.fromisoformat(textval.replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _width_line(row: dict[str, Any]) -> BarLine | None:
    vals = [_num(row.get(k)) for k in ("wx1", "wy1", "wx2", "wy2")]
    return None if any(v is None for v in vals) else BarLine(*vals)  # type: ignore[arg-type]


def _read(path: Path, required: tuple[str, ...], what: str) -> Table:
    table = read_catalogue(path)
    lower = {c.lower(): c for c in table.colnames}
    missing = [c for c in required if c not in lower]
    if missing:
        raise ImageReadError(path, f"not a {what} table: no column {', '.join(missing)} "
                                   f"(columns: {', '.join(table.colnames[:12])})")
    for c in table.colnames:  # accept any capitalisation
        if c != c.lower() and c.lower() not in table.colnames:
            table.rename_column(c, c.lower())
    return table


def _text_columns_as_text(path: Path, table: Table) -> None:
    """Re-read CSV text columns as text: astropy would make annotator "007" the integer 7."""
    from astropy.io.ascii import convert_numpy

    names = [c for c in _TEXT_COLUMNS if c in table.colnames]
    if not names:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        text = Table.read(path, format="ascii.csv", include_names=names,
                          converters={c: [convert_numpy(str)] for c in names})
    for name in names:
        table[name] = text[name]


def import_generic(store: AnnotationStore, path: str | Path, *, progress: Progress | None = None,
                   cancel: CancelCheck | None = None) -> ImportReport:
    """Read an export (CSV / ECSV / FITS) back: annotations by uid (added, or replaced by a
    newer version), reference rows by (source, objid). One transaction for the file."""
    path = Path(path)
    table = _read(path, REQUIRED_GENERIC, "galaxyscope annotation")
    if table_format(path) == "ascii.csv":
        _text_columns_as_text(path, table)
    counts = {"added": 0, "updated": 0, "skipped": 0}
    label_counts = {"added": 0, "updated": 0, "skipped": 0}
    refs: list[ReferenceRow] = []
    now = datetime.now(timezone.utc)
    n = len(table)
    with store.transaction() as s:
        for i in range(n):
            if cancel is not None and cancel():
                raise CancelledError(f"import of {path} cancelled; nothing was written")
            row = row_dict(table, i)
            source = _text(row.get("source")) or ANNOTATION_SOURCE
            try:
                if source == ANNOTATION_SOURCE:
                    outcome = _import_annotation_row(store, s, row, now)
                    counts[outcome] += 1
                elif source == LABEL_SOURCE:
                    label_counts[_import_label_row(store, s, row, now)] += 1
                else:
                    refs.append(_reference_row(row, source))
            except (ValueError, TypeError) as err:
                raise ImageReadError(path, f"row {i + 1}: {err}; nothing was imported") from None
            if progress is not None:
                progress(i + 1, n)
        ref_added, ref_replaced = store.import_references(s, refs)
    return ImportReport(path, counts["added"], counts["updated"], counts["skipped"],
                        ref_added, ref_replaced, label_counts["added"], label_counts["updated"],
                        label_counts["skipped"])


def _import_annotation_row(store: AnnotationStore, s: Any, row: dict[str, Any], now: datetime) -> str:
    image_path = _text(row.get("image_path"))
    annotator = _text(row.get("annotator"))
    if not image_path or not annotator:
        raise ValueError("an annotation row needs image_path and annotator")
    coords = [_num(row.get(k)) for k in ("x1", "y1", "x2", "y2")]
    if any(c is None for c in coords):
        raise ValueError("bar endpoints x1, y1, x2, y2 must be numbers")
    bar = BarLine(*coords)  # type: ignore[arg-type]
    created = _when(row.get("created_utc"), now)
    updated = _when(row.get("updated_utc"), created)
    uid = _text(row.get("uid")) or str(uuid.uuid5(
        uuid.NAMESPACE_URL, f"galaxyscope:{image_path}:{annotator}:{coords}:{created.isoformat()}"))
    scale = _num(row.get("pixel_scale_arcsec"))
    image = {
        "path": image_path, "sha256": _text(row.get("image_sha256")) or None,
        "set_name": _text(row.get("set_name")) or None, "objid": _objid(row.get("objid")),
        "pixel_scale": None if scale is None else scale * u.arcsec / u.pix,
        "redshift": _num(row.get("redshift")),
    }
    deleted = bool(int(_num(row.get("deleted")) or 0))
    revision = _num(row.get("revision"))
    return store.import_annotation(s, uid=uid, image=image, annotator=annotator, bar=bar,
                                   width_line=_width_line(row), note=_text(row.get("note")) or None,
                                   created=created, updated=updated, deleted=deleted,
                                   revision=None if revision is None else int(revision))


def _row_image(row: dict[str, Any], image_path: str) -> dict[str, Any]:
    scale = _num(row.get("pixel_scale_arcsec"))
    return {
        "path": image_path, "sha256": _text(row.get("image_sha256")) or None,
        "set_name": _text(row.get("set_name")) or None, "objid": _objid(row.get("objid")),
        "pixel_scale": None if scale is None else scale * u.arcsec / u.pix,
        "redshift": _num(row.get("redshift")),
    }


def _import_label_row(store: AnnotationStore, s: Any, row: dict[str, Any], now: datetime) -> str:
    """A bar / no-bar label: added, or replaced when the row is newer than ours (the old
    version kept in the history); "skipped" when ours is as new. Matched by image and
    annotator (one label each), so two databases' labels merge."""
    from galaxyscope.store.labels import label_from_export

    image_path = _text(row.get("image_path"))
    annotator = _text(row.get("annotator"))
    has_bar = _num(row.get("has_bar"))
    if not image_path or not annotator or has_bar not in (0.0, 1.0):
        raise ValueError("a bar_label row needs image_path, annotator and has_bar 0 or 1")
    created = _when(row.get("created_utc"), now)
    return label_from_export(
        store, s, image=_row_image(row, image_path), annotator=annotator, has_bar=bool(has_bar),
        length_px=_num(row.get("length_px")), uid=_text(row.get("uid")) or None,
        note=_text(row.get("note")) or None, created=created, updated=_when(row.get("updated_utc"), created),
        deleted=bool(int(_num(row.get("deleted")) or 0)))


def _reference_row(row: dict[str, Any], source: str) -> ReferenceRow:
    objid = _objid(row.get("objid"))
    if objid is None:
        raise ValueError(f"a {source} reference row needs an objid")
    n = _num(row.get("ref_n"))
    return ReferenceRow(
        source=source, objid=objid, unit=_text(row.get("ref_unit")),
        length=_num(row.get("ref_length")), length_err=_num(row.get("ref_length_err")),
        width=_num(row.get("ref_width")), width_err=_num(row.get("ref_width_err")),
        length_scaled=_num(row.get("ref_length_scaled")),
        n_measurements=None if n is None else int(n),
        ra_deg=_num(row.get("ra")), dec_deg=_num(row.get("dec")),
    )


def import_hoyle(store: AnnotationStore, path: str | Path, *, source: str = HOYLE_SOURCE,
                 progress: Progress | None = None, cancel: CancelCheck | None = None) -> ImportReport:
    """Import the Hoyle et al. (2011) bar-length catalogue (CSV or FITS: objid, ra, dec,
    length_avg, length_stdev, width_avg, width_stdev [kpc/h, full length], length_scaled,
    bar_meas) as reference human lengths keyed by exact SDSS objid."""
    path = Path(path)
    table = _read(path, HOYLE_COLUMNS, "Hoyle 2011 bar-length")
    if table["objid"].dtype.kind == "f":
        raise ImageReadError(path, "objid column is floating point (digits already lost)")
    rows = []
    n = len(table)
    for i in range(n):
        if cancel is not None and cancel():
            raise CancelledError(f"import of {path} cancelled; nothing was written")
        row = row_dict(table, i)
        objid = _objid(row.get("objid"))
        if objid is None:
            raise ImageReadError(path, f"row {i + 1}: no objid; nothing was imported")
        n_meas = _num(row.get("bar_meas"))
        rows.append(ReferenceRow(
            source=source, objid=objid, unit=HOYLE_UNIT,
            length=_num(row.get("length_avg")), length_err=_num(row.get("length_stdev")),
            width=_num(row.get("width_avg")), width_err=_num(row.get("width_stdev")),
            length_scaled=_num(row.get("length_scaled")),
            n_measurements=None if n_meas is None else int(n_meas),
            ra_deg=_num(row.get("ra")), dec_deg=_num(row.get("dec")),
        ))
        if progress is not None:
            progress(i + 1, n)
    added, replaced = store.add_references(rows)
    return ImportReport(path, references_added=added, references_replaced=replaced)
