"""Conversions between database rows, records and plain values (objids, JSON, units).

Why apart from the store: the same rules (an objid is never a float, NaN is
NULL, a reference unit with "littleh") apply to the store, export and import.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np

from galaxyscope.store.models import (
    Annotation,
    AnnotationHistory,
    Flag,
    Image,
    MachineMeasurement,
    ReferenceMeasurement,
)
from galaxyscope.store.records import (
    AnnotationRecord,
    BarLine,
    FlagRecord,
    HistoryRecord,
    ImageRecord,
    MachineRecord,
    ReferenceRecord,
    objid_value,
)

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

def split_objid(objid: Any) -> tuple[int | None, str | None]:
    """An objid -> (int64 column, text column). Why: ids must stay exact.

    ints (Python or numpy) that fit int64 go to the int column; text that is a
    plain decimal integer without sign or leading zeros and fits int64 does too,
    so '587722981747982465' and 587722981747982465 name the same galaxy; any
    other text stays text. Floats are refused: they may already have lost digits.
    """
    if objid is None:
        return None, None
    if isinstance(objid, (bool, np.bool_)):
        raise TypeError("objid must be an int or a str, not a bool")
    if isinstance(objid, (int, np.integer)):
        value = int(objid)
        return (value, None) if INT64_MIN <= value <= INT64_MAX else (None, str(value))
    if isinstance(objid, bytes):
        objid = objid.decode("utf-8")
    if isinstance(objid, str):
        textval = objid.strip()
        if not textval:
            return None, None
        if textval.isdigit() and textval.isascii() and (textval == "0" or textval[0] != "0"):
            value = int(textval)
            if value <= INT64_MAX:
                return value, None
        return None, textval
    raise TypeError(f"objid must be an int or a str (never a float, which loses digits), "
                    f"got {type(objid).__name__}")


def cell_text(value: Any) -> str:
    """A table cell as stripped text (bytes from FITS decoded, None as "")."""
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace").strip()
    return str(value).strip()


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes (identifies an image even after it is moved)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def to_json(value: Any) -> str:
    """JSON for parameter/number columns: dataclasses, numpy scalars and arrays, paths,
    Quantities (as value + unit); NaN and inf become null."""

    def clean(obj: Any) -> Any:
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            return clean(dataclasses.asdict(obj))
        if isinstance(obj, dict):
            return {str(k): clean(v) for k, v in obj.items()}
        if isinstance(obj, (list, tuple, set, frozenset)):
            return [clean(v) for v in obj]
        if isinstance(obj, u.Quantity):
            return {"value": clean(obj.value), "unit": obj.unit.to_string()}
        if isinstance(obj, np.ndarray):
            return clean(obj.tolist())
        if isinstance(obj, np.generic):
            return clean(obj.item())
        if isinstance(obj, float):
            return obj if math.isfinite(obj) else None
        if isinstance(obj, (str, int, bool)) or obj is None:
            return obj
        return str(obj)

    return json.dumps(clean(value), sort_keys=True)


def finite(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def q(value: float | None, unit: u.UnitBase) -> u.Quantity | None:
    return None if value is None else value * unit


def line(x1: float | None, y1: float | None, x2: float | None, y2: float | None) -> BarLine | None:
    if x1 is None or y1 is None or x2 is None or y2 is None:
        return None
    return BarLine(x1, y1, x2, y2)


def physical_lengths(image: Image, length_px: float | None) -> tuple[float | None, float | None]:
    """(arcsec, proper kpc) for a pixel length on ``image``; None where the pixel scale
    (and, for kpc, a positive redshift) is unknown. kpc use astropy's Planck18."""
    if length_px is None or image.pixel_scale_arcsec is None:
        return None, None
    arcsec = float(length_px) * image.pixel_scale_arcsec
    if image.redshift is None or not image.redshift > 0:
        return arcsec, None
    from galaxyscope.measure.units import kpc_per_arcsec  # astropy.cosmology loads slowly

    return arcsec, float((arcsec * u.arcsec * kpc_per_arcsec(image.redshift)).to_value(u.kpc))


def image_record(img: Image) -> ImageRecord:
    scale = img.pixel_scale_arcsec
    return ImageRecord(
        id=img.id, path=img.path, sha256=img.sha256, set_name=img.set_name,
        objid=objid_value(img.objid_int, img.objid_text),
        pixel_scale=None if scale is None else scale * u.arcsec / u.pix,
        redshift=img.redshift,
    )


def annotation_record(a: Annotation) -> AnnotationRecord:
    return AnnotationRecord(
        id=a.id, uid=a.uid, image_id=a.image_id, image_path=a.image.path,
        annotator_id=a.annotator_id, annotator=a.annotator.name,
        bar=BarLine(a.x1, a.y1, a.x2, a.y2), width_line=line(a.wx1, a.wy1, a.wx2, a.wy2),
        length=a.length_px * u.pix, width=q(a.width_px, u.pix),
        length_arcsec=q(a.length_arcsec, u.arcsec), length_kpc=q(a.length_kpc, u.kpc),
        revision=a.revision, deleted=bool(a.deleted), created=a.created_utc,
        updated=a.updated_utc, note=a.note,
    )


def history_record(h: AnnotationHistory) -> HistoryRecord:
    return HistoryRecord(
        id=h.id, annotation_id=h.annotation_id, action=h.action, revision=h.revision,
        bar=BarLine(h.x1, h.y1, h.x2, h.y2), width_line=line(h.wx1, h.wy1, h.wx2, h.wy2),
        length=h.length_px * u.pix, deleted=bool(h.deleted), updated=h.updated_utc,
        recorded=h.recorded_utc, note=h.note,
    )


@functools.lru_cache(maxsize=64)
def reference_unit(unit_text: str) -> u.UnitBase:
    """Parse a reference's unit; "littleh" (kpc / littleh = Hoyle's kpc/h) needs astropy's
    cosmology units. Why not "kpc / h": astropy reads that h as hours, a speed."""
    if "littleh" in unit_text:
        import astropy.cosmology.units as cu  # slow import, only when such a unit is read

        with u.add_enabled_units(cu):
            return u.Unit(unit_text)
    return u.Unit(unit_text, parse_strict="silent")


def reference_record(r: ReferenceMeasurement) -> ReferenceRecord:
    unit = reference_unit(r.unit)
    return ReferenceRecord(
        id=r.id, source=r.source, objid=objid_value(r.objid_int, r.objid_text),
        ra_deg=r.ra_deg, dec_deg=r.dec_deg,
        length=q(r.length, unit), length_err=q(r.length_err, unit),
        width=q(r.width, unit), width_err=q(r.width_err, unit),
        length_scaled=r.length_scaled, n_measurements=r.n_measurements,
        extra=json.loads(r.extra_json) if r.extra_json else {},
    )


def machine_record(m: MachineMeasurement) -> MachineRecord:
    return MachineRecord(
        id=m.id, image_id=m.image_id, method=m.method,
        parameters=json.loads(m.parameters_json or "{}"), model_hash=m.model_hash,
        length=q(m.length_px, u.pix), width=q(m.width_px, u.pix),
        length_err=q(m.length_err_px, u.pix), pa_deg=m.pa_deg,
        bar=line(m.x1, m.y1, m.x2, m.y2), length_arcsec=q(m.length_arcsec, u.arcsec),
        length_kpc=q(m.length_kpc, u.kpc), flags=tuple(json.loads(m.flags_json or "[]")),
        created=m.created_utc,
    )


def flag_record(f: Flag) -> FlagRecord:
    return FlagRecord(id=f.id, image_id=f.image_id, kind=f.kind, reason=f.reason, score=f.score,
                      numbers=json.loads(f.numbers_json or "{}"), created=f.created_utc)


def bar_label_record(b: Any) -> Any:
    """A `BarLabel` row as a `BarLabelRecord`."""
    from galaxyscope.store.records import BarLabelRecord

    return BarLabelRecord(
        id=b.id, uid=b.uid, image_id=b.image_id, image_path=b.image.path,
        annotator_id=b.annotator_id, annotator=b.annotator.name, has_bar=bool(b.has_bar),
        length=q(b.length_px, u.pix), source=b.source, revision=b.revision, deleted=bool(b.deleted),
        created=b.created_utc, updated=b.updated_utc, note=b.note,
    )


def model_version_record(m: Any) -> Any:
    """A `ModelVersion` row as a `ModelVersionRecord`."""
    from galaxyscope.store.records import ModelVersionRecord

    return ModelVersionRecord(
        id=m.id, name=m.name, path=m.path, sha256=m.sha256, base_sha256=m.base_sha256,
        base_path=m.base_path, dataset=m.dataset, n_train=m.n_train, n_test=m.n_test,
        annotations=json.loads(m.annotations_json or "{}"), metrics=json.loads(m.metrics_json or "{}"),
        params=json.loads(m.params_json or "{}"), note=m.note, created=m.created_utc,
    )
