"""`AnnotationStore`: the one object the GUI, CLI and jobs use to read and write annotations.

Why a facade: every save must be one transaction committed before the call
returns (people's work is never half-written or lost), every change must leave
the old version in the history table, and callers should never hold ORM rows.
Each public method is one short transaction; reads see a consistent snapshot;
records come back as frozen dataclasses with Quantities.

Undo: `delete_annotation` / `restore_annotation` and `update_annotation` are each
other's inverses and write through at once, so an undo stack
(`galaxyscope.store.operations`, or the GUI's QUndoStack) only calls them.
Thread use: one store may be shared; each call takes its own pooled connection.
"""

from __future__ import annotations

import contextlib
import json
import math
import uuid
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from galaxyscope.images.identity import identity_of, image_key
from galaxyscope.store import migrations
from galaxyscope.store.convert import (
    annotation_record,
    file_sha256,
    finite,
    flag_record,
    history_record,
    image_record,
    line,
    machine_record,
    objid_value,
    physical_lengths,
    reference_record,
    split_objid,
    to_json,
)
from galaxyscope.store.engine import (
    DEFAULT_BUSY_TIMEOUT_S,
    IMMEDIATE,
    check_file,
    make_engine,
    translated_errors,
)
from galaxyscope.store.labels import LabelMethods, line_means_bar
from galaxyscope.store.versions import VersionMethods
from galaxyscope.store.errors import (
    DatabaseReadOnlyError,
    ImageChangedError,
    NotFoundError,
    StoreError,
)
from galaxyscope.store.models import (
    SCHEMA_VERSION,
    Annotation,
    AnnotationHistory,
    Annotator,
    BarLabel,
    Flag,
    Image,
    MachineMeasurement,
    ModelVersion,
    ReferenceMeasurement,
    utc_now,
)
from galaxyscope.store.records import (
    AnnotationRecord,
    AnnotatorRecord,
    BarLine,
    FlagRecord,
    HistoryRecord,
    ImageRecord,
    MachineRecord,
    ReferenceRecord,
    ReferenceRow,
    StoreCounts,
)


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


#: "leave this field as it is" in `AnnotationStore.update_annotation`
UNSET: Any = _Unset()

#: columns an annotation shares with its history rows (copied before each change)
_VERSIONED = ("revision", "x1", "y1", "x2", "y2", "wx1", "wy1", "wx2", "wy2", "length_px",
              "width_px", "length_arcsec", "length_kpc", "deleted", "updated_utc", "note")


class AnnotationStore(LabelMethods, VersionMethods):
    """An open annotation database (SQLite file), created or upgraded on opening.

    ``readonly=True`` opens with ``mode=ro`` (for export from a file you may not
    write); every write then raises `DatabaseReadOnlyError`. Raises
    `SchemaTooNewError`, `NotADatabaseError`, `DatabaseReadOnlyError`,
    `DatabaseLockedError` or `StoreError`, each naming the file.
    """

    def __init__(self, path: str | Path, *, readonly: bool = False,
                 busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S) -> None:
        self.path = Path(path)
        self.readonly = readonly
        self.busy_timeout_s = busy_timeout_s
        self._engine = None
        with self._errors():
            exists = check_file(self.path, readonly=readonly)
            peeked = migrations.peek_version(self.path, busy_timeout_s=busy_timeout_s) if exists else None
            engine = make_engine(self.path, readonly=readonly, busy_timeout_s=busy_timeout_s)
            try:
                if peeked == SCHEMA_VERSION:  # the usual case: no write lock needed to open
                    with engine.connect():  # runs the PRAGMAs now, so problems show at open
                        found = now = peeked
                elif readonly:
                    with engine.connect() as conn, conn.begin():
                        found, now = migrations.upgrade(conn, self.path, readonly=True)
                else:  # create or migrate under the write lock, checking the version again
                    with engine.execution_options(**{IMMEDIATE: True}).begin() as conn:
                        found, now = migrations.upgrade(conn, self.path)
            except BaseException:
                engine.dispose()
                raise
        self._engine = engine
        self._write_engine = engine.execution_options(**{IMMEDIATE: True})
        #: schema version the file had before this open upgraded it (None: no upgrade)
        self.upgraded_from: int | None = found if found is not None and found != now else None
        self.schema_version: int = now

    # ------------------------------------------------------------------ plumbing

    def close(self) -> None:
        """Close every pooled connection (the data is already committed)."""
        if self._engine is not None:
            self._engine.dispose()

    def __enter__(self) -> AnnotationStore:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        mode = "ro" if self.readonly else "rw"
        return f"AnnotationStore({str(self.path)!r}, {mode}, schema v{self.schema_version})"

    def _errors(self) -> contextlib.AbstractContextManager[None]:
        return translated_errors(self.path, busy_timeout_s=self.busy_timeout_s,
                                 readonly=self.readonly)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Session]:
        """One write transaction (BEGIN IMMEDIATE): committed when the block ends, rolled
        back entirely if it raises. Why public: an import or a batch is all-or-nothing."""
        if self.readonly:
            raise DatabaseReadOnlyError(self.path, "the database was opened read-only; this needs writing")
        with self._errors(), Session(self._write_engine, expire_on_commit=False) as session:
            with session.begin():
                yield session

    @contextlib.contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only snapshot session (nothing it does is committed)."""
        with self._errors(), Session(self._engine) as session:
            yield session  # one transaction from the first query; closing rolls it back

    def integrity_check(self) -> str:
        """SQLite's ``PRAGMA integrity_check``: "ok" for a sound file."""
        with self.reading() as s:
            rows = s.execute(text("PRAGMA integrity_check")).scalars().all()
        return "\n".join(str(r) for r in rows)

    # ------------------------------------------------------------------ images

    def register_image(self, path: str | Path, *, sha256: str | None = None,
                       set_name: str | None = None, objid: int | str | None = None,
                       pixel_scale: u.Quantity | None = None,
                       redshift: float | None = None) -> ImageRecord:
        """Find the image by its file, or add it; fill in what was unknown.

        The file is named by `images.identity.image_key` (absolute, normalised), so a
        relative and an absolute path to one file are one image row.

        Why strict: annotations are pixel positions in this exact file. A different
        content hash raises `ImageChangedError`; a different objid, pixel scale or
        redshift raises `StoreError` (the set name may change freely).
        """
        with self.transaction() as s:
            return image_record(self._register(s, path, sha256=sha256, set_name=set_name,
                                                objid=objid, pixel_scale=pixel_scale,
                                                redshift=redshift))

    def register_image_file(self, path: str | Path, **kwargs: Any) -> ImageRecord:
        """`register_image` with the file's SHA-256 computed here."""
        return self.register_image(path, sha256=file_sha256(path), **kwargs)

    def register_galaxy_image(self, image: Any, *, set_name: str | None = None,
                              hash_file: bool = True) -> ImageRecord:
        """Register a `GalaxyImage` under `images.identity`: its file, pixel scale, and the
        objid / redshift of its catalogue row, as every caller (window, scans) must agree."""
        ident = identity_of(image)
        if ident.key is None:
            raise ValueError(f"image {getattr(image, 'id', '?')!r} has no file path to register")
        kwargs: dict[str, Any] = dict(set_name=set_name, objid=ident.objid, pixel_scale=ident.pixel_scale,
                                      redshift=ident.redshift)
        if hash_file and Path(ident.key).is_file():
            return self.register_image_file(ident.key, **kwargs)
        return self.register_image(ident.key, **kwargs)

    def _register(self, s: Session, path: str | Path, *, sha256: str | None, set_name: str | None,
                  objid: Any, pixel_scale: u.Quantity | None, redshift: float | None) -> Image:
        key = image_key(path)
        oi, ot = split_objid(objid)
        scale = None
        if pixel_scale is not None:
            q = pixel_scale if isinstance(pixel_scale, u.Quantity) else pixel_scale * u.arcsec / u.pix
            if q.unit.is_equivalent(u.arcsec):
                q = q / u.pix
            scale = float(q.to_value(u.arcsec / u.pix))
        z = finite(redshift)
        img = s.scalars(select(Image).where(Image.path == key)).one_or_none()
        if img is None:
            img = Image(path=key, sha256=sha256, set_name=set_name, objid_int=oi, objid_text=ot,
                        pixel_scale_arcsec=scale, redshift=z, created_utc=utc_now())
            s.add(img)
            s.flush()
            return img
        if sha256 and img.sha256 and sha256 != img.sha256:
            raise ImageChangedError(
                self.path, f"image {key} changed since it was registered (sha256 "
                           f"{img.sha256[:12]}... now {sha256[:12]}...); its annotations are pixel "
                           "positions in the old file")
        if (oi, ot) != (None, None) and (img.objid_int, img.objid_text) not in ((None, None), (oi, ot)):
            raise StoreError(self.path, f"image {key} is registered with objid "
                                        f"{objid_value(img.objid_int, img.objid_text)}, not {objid}")
        for name, new in (("pixel_scale_arcsec", scale), ("redshift", z)):
            old = getattr(img, name)
            if new is not None and old is not None and not math.isclose(old, new, rel_tol=1e-6):
                raise StoreError(self.path, f"image {key} is registered with {name} {old}, not {new}")
            if new is not None and old is None:
                setattr(img, name, new)
        if sha256 and not img.sha256:
            img.sha256 = sha256
        if (oi, ot) != (None, None):
            img.objid_int, img.objid_text = oi, ot
        if set_name is not None:
            img.set_name = set_name
        return img

    def get_image(self, image_id: int) -> ImageRecord:
        """The image with this id (`NotFoundError` if none)."""
        with self.reading() as s:
            img = s.get(Image, image_id)
            if img is None:
                raise NotFoundError(self.path, f"no image with id {image_id}")
            return image_record(img)

    def find_image(self, path: str | Path) -> ImageRecord | None:
        """The image registered under this file, whatever form of its path is given, or None."""
        key = image_key(path)
        with self.reading() as s:
            img = s.scalars(select(Image).where(Image.path == key)).one_or_none()
            return None if img is None else image_record(img)

    def images(self, *, set_name: str | None = None) -> list[ImageRecord]:
        """Every image (of one set), in id order."""
        with self.reading() as s:
            q = select(Image).order_by(Image.id)
            if set_name is not None:
                q = q.where(Image.set_name == set_name)
            return [image_record(i) for i in s.scalars(q)]

    # ------------------------------------------------------------------ annotators

    def annotator(self, name: str) -> AnnotatorRecord:
        """The annotator with this name, created if new (names are trimmed, case kept)."""
        with self.transaction() as s:
            a = self._annotator(s, name)
            return AnnotatorRecord(a.id, a.name)

    def annotators(self) -> list[AnnotatorRecord]:
        """Every annotator, by name."""
        with self.reading() as s:
            return [AnnotatorRecord(a.id, a.name)
                    for a in s.scalars(select(Annotator).order_by(Annotator.name))]

    def _annotator(self, s: Session, who: str | int) -> Annotator:
        if isinstance(who, (int, np.integer)) and not isinstance(who, bool):
            a = s.get(Annotator, int(who))
            if a is None:
                raise NotFoundError(self.path, f"no annotator with id {who}")
            return a
        name = str(who).strip()
        if not name:
            raise ValueError("an annotator needs a name")
        a = s.scalars(select(Annotator).where(Annotator.name == name)).one_or_none()
        if a is None:
            a = Annotator(name=name, created_utc=utc_now())
            s.add(a)
            s.flush()
        return a

    def _annotator_row(self, s: Session, who: str | int) -> int | None:
        """The annotator's id without creating one (None: unknown)."""
        if isinstance(who, (int, np.integer)) and not isinstance(who, bool):
            return int(who) if s.get(Annotator, int(who)) is not None else None
        return s.scalars(select(Annotator.id).where(Annotator.name == str(who).strip())).one_or_none()

    # ------------------------------------------------------------------ annotations

    def add_annotation(self, image_id: int, annotator: str | int, bar: BarLine, *,
                       width_line: BarLine | None = None, note: str | None = None) -> AnnotationRecord:
        """Save a new bar drawn by ``annotator`` (name, created if new, or id); committed
        before this returns. Lengths in arcsec / kpc are filled when the image has a
        pixel scale (and redshift)."""
        with self.transaction() as s:
            img = self._image(s, image_id)
            who = self._annotator(s, annotator)
            now = utc_now()
            ann = Annotation(uid=str(uuid.uuid4()), image=img, annotator=who, revision=1,
                             deleted=False, created_utc=now, updated_utc=now, note=note)
            self._set_geometry(ann, img, bar, width_line)
            s.add(ann)
            s.flush()
            line_means_bar(s, img.id, who.id)
            return annotation_record(ann)

    def update_annotation(self, annotation_id: int, *, bar: BarLine | None = None,
                          width_line: BarLine | None | Any = UNSET,
                          note: str | None | Any = UNSET) -> AnnotationRecord:
        """Change a bar (and/or width line, note); the previous version goes to the history
        first. Nothing changes (and no history row) when the values are the same.
        ``width_line=None`` removes the width line; leave it out to keep it."""
        with self.transaction() as s:
            ann = self._annotation(s, annotation_id)
            if ann.deleted:
                raise StoreError(self.path, f"annotation {annotation_id} is deleted; restore it first")
            new_bar = bar if bar is not None else BarLine(ann.x1, ann.y1, ann.x2, ann.y2)
            new_width = (line(ann.wx1, ann.wy1, ann.wx2, ann.wy2) if width_line is UNSET
                         else width_line)
            new_note = ann.note if note is UNSET else note
            same = (new_bar == BarLine(ann.x1, ann.y1, ann.x2, ann.y2)
                    and new_width == line(ann.wx1, ann.wy1, ann.wx2, ann.wy2)
                    and new_note == ann.note)
            if not same:
                self._keep_history(s, ann, "update")
                self._set_geometry(ann, ann.image, new_bar, new_width)
                ann.note = new_note
                self._bump(ann)
            return annotation_record(ann)

    def delete_annotation(self, annotation_id: int) -> AnnotationRecord:
        """Mark an annotation deleted (soft: the row and its history stay; undo with
        `restore_annotation`). Deleting a deleted annotation changes nothing."""
        return self._set_deleted(annotation_id, True)

    def restore_annotation(self, annotation_id: int) -> AnnotationRecord:
        """Undo a delete."""
        return self._set_deleted(annotation_id, False)

    def _set_deleted(self, annotation_id: int, deleted: bool) -> AnnotationRecord:
        with self.transaction() as s:
            ann = self._annotation(s, annotation_id)
            if bool(ann.deleted) != deleted:
                self._keep_history(s, ann, "delete" if deleted else "restore")
                ann.deleted = deleted
                self._bump(ann)
                if not deleted:
                    line_means_bar(s, ann.image_id, ann.annotator_id)
            return annotation_record(ann)

    def get_annotation(self, annotation_id: int) -> AnnotationRecord:
        """One annotation, deleted or not (`NotFoundError` if the id is unknown)."""
        with self.reading() as s:
            return annotation_record(self._annotation(s, annotation_id))

    def annotations_for_image(self, image_id: int, *, annotator: str | int | None = None,
                              include_deleted: bool = False) -> list[AnnotationRecord]:
        """The bars drawn on one image (by everybody, or by one annotator), oldest first."""
        with self.reading() as s:
            q = select(Annotation).where(Annotation.image_id == image_id)
            if annotator is not None:
                q = q.join(Annotation.annotator).where(
                    Annotator.id == int(annotator) if isinstance(annotator, (int, np.integer))
                    else Annotator.name == str(annotator).strip())
            return self._annotation_list(s, q, include_deleted)

    def all_annotations(self, *, set_name: str | None = None,
                        include_deleted: bool = False) -> list[AnnotationRecord]:
        """Every annotation (of one image set), in id order."""
        with self.reading() as s:
            q = select(Annotation)
            if set_name is not None:
                q = q.join(Annotation.image).where(Image.set_name == set_name)
            return self._annotation_list(s, q, include_deleted)

    def history(self, annotation_id: int) -> list[HistoryRecord]:
        """The previous versions of an annotation, oldest first."""
        with self.reading() as s:
            q = (select(AnnotationHistory).where(AnnotationHistory.annotation_id == annotation_id)
                 .order_by(AnnotationHistory.id))
            return [history_record(h) for h in s.scalars(q)]

    def _annotation_list(self, s: Session, q: Any, include_deleted: bool) -> list[AnnotationRecord]:
        if not include_deleted:
            q = q.where(Annotation.deleted.is_(False))
        return [annotation_record(a) for a in s.scalars(q.order_by(Annotation.id))]

    def _image(self, s: Session, image_id: int) -> Image:
        img = s.get(Image, int(image_id))
        if img is None:
            raise NotFoundError(self.path, f"no image with id {image_id}")
        return img

    def _annotation(self, s: Session, annotation_id: int) -> Annotation:
        ann = s.get(Annotation, int(annotation_id))
        if ann is None:
            raise NotFoundError(self.path, f"no annotation with id {annotation_id}")
        return ann

    @staticmethod
    def _set_geometry(ann: Annotation, img: Image, bar: BarLine, width_line: BarLine | None) -> None:
        if not isinstance(bar, BarLine):
            raise TypeError(f"bar must be a BarLine, got {type(bar).__name__}")
        ann.x1, ann.y1, ann.x2, ann.y2 = bar.x1, bar.y1, bar.x2, bar.y2
        if width_line is None:
            ann.wx1 = ann.wy1 = ann.wx2 = ann.wy2 = ann.width_px = None
        else:
            ann.wx1, ann.wy1, ann.wx2, ann.wy2 = width_line.x1, width_line.y1, width_line.x2, width_line.y2
            ann.width_px = width_line.length_px
        ann.length_px = bar.length_px
        ann.length_arcsec, ann.length_kpc = physical_lengths(img, ann.length_px)

    @staticmethod
    def _keep_history(s: Session, ann: Annotation, action: str) -> None:
        old = {name: getattr(ann, name) for name in _VERSIONED}
        s.add(AnnotationHistory(annotation_id=ann.id, action=action, recorded_utc=utc_now(), **old))

    @staticmethod
    def _bump(ann: Annotation) -> None:
        ann.revision = ann.revision + 1
        ann.updated_utc = utc_now()

    # ------------------------------------------------------------------ machine, flags

    def add_machine_measurement(self, image_id: int, measurement: Any, *,
                                model_hash: str | None = None,
                                parameters: Any = None) -> MachineRecord:
        """Store a `BarMeasurement` (or anything with its attributes: length_px, width_px,
        length_err_px, pa_deg, endpoints, method, flags, params) for one image.
        ``parameters`` defaults to ``measurement.params`` (a dataclass -> JSON)."""
        params = parameters if parameters is not None else getattr(measurement, "params", None)
        ends = getattr(measurement, "endpoints", None)
        (x1, y1), (x2, y2) = ends if ends is not None else ((None, None), (None, None))
        length = finite(getattr(measurement, "length_px", None))
        with self.transaction() as s:
            img = self._image(s, image_id)
            arcsec, kpc = physical_lengths(img, length)
            m = MachineMeasurement(
                image_id=img.id, method=str(getattr(measurement, "method", "") or "unknown"),
                parameters_json=to_json(params or {}), model_hash=model_hash,
                length_px=length, width_px=finite(getattr(measurement, "width_px", None)),
                length_err_px=finite(getattr(measurement, "length_err_px", None)),
                pa_deg=finite(getattr(measurement, "pa_deg", None)),
                x1=finite(x1), y1=finite(y1), x2=finite(x2), y2=finite(y2),
                length_arcsec=arcsec, length_kpc=kpc,
                flags_json=json.dumps(list(getattr(measurement, "flags", ()) or ())),
                created_utc=utc_now(),
            )
            s.add(m)
            s.flush()
            return machine_record(m)

    def machine_measurements(self, *, image_id: int | None = None, method: str | None = None,
                             model_hash: str | None = None) -> list[MachineRecord]:
        """Stored machine measurements, oldest first, optionally of one image / method / model."""
        with self.reading() as s:
            q = select(MachineMeasurement).order_by(MachineMeasurement.id)
            if image_id is not None:
                q = q.where(MachineMeasurement.image_id == image_id)
            if method is not None:
                q = q.where(MachineMeasurement.method == method)
            if model_hash is not None:
                q = q.where(MachineMeasurement.model_hash == model_hash)
            return [machine_record(m) for m in s.scalars(q)]

    def add_flag(self, image_id: int, kind: str, reason: str, *, score: float | None = None,
                 numbers: dict[str, Any] | None = None) -> FlagRecord:
        """Record a reason to distrust an image (kind e.g. "saliency_off_galaxy")."""
        with self.transaction() as s:
            img = self._image(s, image_id)
            f = Flag(image_id=img.id, kind=kind, reason=reason, score=finite(score),
                     numbers_json=to_json(numbers or {}), created_utc=utc_now())
            s.add(f)
            s.flush()
            return flag_record(f)

    def flags(self, *, image_id: int | None = None, kind: str | None = None) -> list[FlagRecord]:
        """Stored flags, oldest first."""
        with self.reading() as s:
            q = select(Flag).order_by(Flag.id)
            if image_id is not None:
                q = q.where(Flag.image_id == image_id)
            if kind is not None:
                q = q.where(Flag.kind == kind)
            return [flag_record(f) for f in s.scalars(q)]

    # ------------------------------------------------------------------ references

    def add_references(self, rows: Iterable[ReferenceRow]) -> tuple[int, int]:
        """Insert or replace reference measurements by (source, objid), all in one
        transaction. Returns (added, replaced)."""
        with self.transaction() as s:
            return self.import_references(s, rows)

    def import_references(self, s: Session, rows: Iterable[ReferenceRow]) -> tuple[int, int]:
        """Inside `transaction`: what `add_references` does (for all-or-nothing imports)."""
        rows = list(rows)
        added = replaced = 0
        existing: dict[tuple[str, int | None, str | None], ReferenceMeasurement] = {}
        for source in {r.source for r in rows}:
            for ref in s.scalars(select(ReferenceMeasurement).where(
                    ReferenceMeasurement.source == source)):
                existing[(source, ref.objid_int, ref.objid_text)] = ref
        for row in rows:
            oi, ot = split_objid(row.objid)
            if (oi, ot) == (None, None):
                raise ValueError(f"reference row from {row.source} has no objid")
            values = dict(
                ra_deg=finite(row.ra_deg), dec_deg=finite(row.dec_deg), unit=row.unit,
                length=finite(row.length), length_err=finite(row.length_err),
                width=finite(row.width), width_err=finite(row.width_err),
                length_scaled=finite(row.length_scaled),
                n_measurements=None if row.n_measurements is None else int(row.n_measurements),
                extra_json=to_json(row.extra) if row.extra else None, imported_utc=utc_now(),
            )
            ref = existing.get((row.source, oi, ot))
            if ref is None:
                ref = ReferenceMeasurement(source=row.source, objid_int=oi, objid_text=ot, **values)
                s.add(ref)
                existing[(row.source, oi, ot)] = ref
                added += 1
            else:
                for k, v in values.items():
                    setattr(ref, k, v)
                replaced += 1
        return added, replaced

    def references(self, *, source: str | None = None,
                   objid: int | str | None = None) -> list[ReferenceRecord]:
        """Reference measurements (of one source, of one objid), in id order."""
        with self.reading() as s:
            q = select(ReferenceMeasurement).order_by(ReferenceMeasurement.id)
            if source is not None:
                q = q.where(ReferenceMeasurement.source == source)
            if objid is not None:
                oi, ot = split_objid(objid)
                q = q.where(ReferenceMeasurement.objid_int == oi if oi is not None
                            else ReferenceMeasurement.objid_text == ot)
            return [reference_record(r) for r in s.scalars(q)]

    def references_for_image(self, image_id: int) -> list[ReferenceRecord]:
        """Reference measurements of the galaxy in this image (matched by objid)."""
        image = self.get_image(image_id)
        return [] if image.objid is None else self.references(objid=image.objid)

    # ------------------------------------------------------------------ summary

    def counts(self) -> StoreCounts:
        """Rows per table (active and deleted annotations apart), for reports."""
        with self.reading() as s:
            def n(model: Any, *where: Any) -> int:
                return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)

            return StoreCounts(
                images=n(Image), annotators=n(Annotator),
                annotations=n(Annotation, Annotation.deleted.is_(False)),
                deleted_annotations=n(Annotation, Annotation.deleted.is_(True)),
                history=n(AnnotationHistory), references=n(ReferenceMeasurement),
                machine_measurements=n(MachineMeasurement), flags=n(Flag),
                bar_labels=n(BarLabel, BarLabel.deleted.is_(False)), model_versions=n(ModelVersion),
            )

    # ------------------------------------------------------------------ import support

    def import_annotation(self, s: Session, *, uid: str, image: dict[str, Any], annotator: str,
                          bar: BarLine, width_line: BarLine | None, note: str | None,
                          created: datetime, updated: datetime, deleted: bool = False,
                          revision: int | None = None) -> str:
        """Inside `transaction`: add an annotation with its own uid and timestamps, or bring
        an existing one (same uid) up to a newer version, keeping the old one in the
        history. Returns "added", "updated" or "skipped" (ours is as new or newer)."""
        img = self._register(s, image["path"], sha256=image.get("sha256"),
                             set_name=image.get("set_name"), objid=image.get("objid"),
                             pixel_scale=image.get("pixel_scale"), redshift=image.get("redshift"))
        who = self._annotator(s, annotator)
        ann = s.scalars(select(Annotation).where(Annotation.uid == uid)).one_or_none()
        if ann is None:
            ann = Annotation(uid=uid, image=img, annotator=who, revision=revision or 1, deleted=deleted,
                             created_utc=created, updated_utc=updated, note=note)
            self._set_geometry(ann, img, bar, width_line)
            s.add(ann)
            s.flush()
            if not deleted:
                line_means_bar(s, img.id, who.id)
            return "added"
        if ann.image_id != img.id or ann.annotator_id != who.id:
            raise StoreError(self.path, f"annotation {uid} belongs to another image or annotator here")
        if updated <= ann.updated_utc:
            return "skipped"
        self._keep_history(s, ann, "update")
        self._set_geometry(ann, img, bar, width_line)
        ann.note, ann.deleted = note, deleted
        ann.revision += 1
        ann.updated_utc = updated
        return "updated"


def open_store(path: str | Path, *, readonly: bool = False,
               busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S) -> AnnotationStore:
    """Open (creating or upgrading) an annotation database; see `AnnotationStore`."""
    return AnnotationStore(path, readonly=readonly, busy_timeout_s=busy_timeout_s)

