"""The annotation database schema (SQLAlchemy 2.0 typed ORM), version `SCHEMA_VERSION`.

Why these tables: people draw bars on images (annotations, by annotators), the
machine measures the same images (machine_measurements), scans raise flags, and
published human catalogues (Hoyle et al. 2011) arrive as reference_measurements
keyed by SDSS objid. Every change to an annotation first copies the old row into
annotation_history, so nothing is silently overwritten. An annotator's answer to "is
there a bar?" lives in bar_labels (one per annotator and image, with its own history),
so "no bar" is a label of its own and not the absence of a line; models fine-tuned on
the labels are recorded in model_versions.

Conventions: bar endpoints (x, y) are pixels of the original image, origin at the
centre of the top-left pixel. Lengths are plain floats with the unit in the
column name (``length_px``, ``length_arcsec``, ``length_kpc``); Quantities exist
only at the API boundary (`galaxyscope.store.records`). Reference lengths come in
the catalogue's own unit (Hoyle: kpc/h), so they carry a ``unit`` column instead.
Timestamps are UTC. An objid is either an exact int64 (``objid_int``) or text
(``objid_text``), never a float.

Changing this file means a new schema version and a step in `migrations.py`.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

#: the schema version this code writes; `migrations.py` brings older files up to it
SCHEMA_VERSION = 4


def utc_now() -> datetime:
    """The current time, timezone-aware UTC (what every timestamp column holds)."""
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out (SQLite keeps naive text)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"timestamp {value!r} has no timezone; pass an aware UTC datetime")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=timezone.utc)


class Base(DeclarativeBase):
    """Declarative base of every galaxyscope table."""


class SchemaVersion(Base):
    """One row per schema version the file has been brought to (the highest is current)."""

    __tablename__ = "schema_version"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    applied_utc: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)


class Image(Base):
    """An image file people annotate: its path as recorded, content hash, set and objid."""

    __tablename__ = "images"
    __table_args__ = (
        CheckConstraint("objid_int IS NULL OR objid_text IS NULL", name="ck_images_one_objid"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(Text, unique=True)
    sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    set_name: Mapped[str | None] = mapped_column(Text, index=True)
    objid_int: Mapped[int | None] = mapped_column(BigInteger, index=True)
    objid_text: Mapped[str | None] = mapped_column(Text, index=True)
    pixel_scale_arcsec: Mapped[float | None] = mapped_column(Float)  # arcsec per pixel
    redshift: Mapped[float | None] = mapped_column(Float)
    created_utc: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)


class Annotator(Base):
    """A person who draws bars (unique name)."""

    __tablename__ = "annotators"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    created_utc: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)


class _AnnotationValues:
    """Columns an annotation and each of its history rows share."""

    revision: Mapped[int] = mapped_column(Integer, default=1)
    x1: Mapped[float] = mapped_column(Float)
    y1: Mapped[float] = mapped_column(Float)
    x2: Mapped[float] = mapped_column(Float)
    y2: Mapped[float] = mapped_column(Float)
    # optional width line (across the bar), same pixel convention
    wx1: Mapped[float | None] = mapped_column(Float)
    wy1: Mapped[float | None] = mapped_column(Float)
    wx2: Mapped[float | None] = mapped_column(Float)
    wy2: Mapped[float | None] = mapped_column(Float)
    length_px: Mapped[float] = mapped_column(Float)
    width_px: Mapped[float | None] = mapped_column(Float)
    length_arcsec: Mapped[float | None] = mapped_column(Float)
    length_kpc: Mapped[float | None] = mapped_column(Float)  # proper kpc, Planck18
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_utc: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    note: Mapped[str | None] = mapped_column(Text)  # added in schema version 2


class Annotation(_AnnotationValues, Base):
    """One bar drawn by one annotator on one image (soft-deleted, never removed)."""

    __tablename__ = "annotations"
    __table_args__ = (Index("ix_annotations_image_annotator", "image_id", "annotator_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True)  # stable across export/import
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="RESTRICT"), index=True)
    annotator_id: Mapped[int] = mapped_column(ForeignKey("annotators.id", ondelete="RESTRICT"), index=True)
    created_utc: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)

    image: Mapped[Image] = relationship(lazy="joined", innerjoin=True)
    annotator: Mapped[Annotator] = relationship(lazy="joined", innerjoin=True)


class AnnotationHistory(_AnnotationValues, Base):
    """The previous version of an annotation, written before every change."""

    __tablename__ = "annotation_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    annotation_id: Mapped[int] = mapped_column(
        ForeignKey("annotations.id", ondelete="RESTRICT"), index=True)
    action: Mapped[str] = mapped_column(String(16))  # what replaced it: update / delete / restore
    recorded_utc: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)


class ReferenceMeasurement(Base):
    """A published measurement of a galaxy (e.g. Hoyle 2011 human bar lengths), keyed by objid."""

    __tablename__ = "reference_measurements"
    __table_args__ = (
        CheckConstraint("objid_int IS NULL OR objid_text IS NULL", name="ck_refs_one_objid"),
        Index("uq_refs_source_objid_int", "source", "objid_int", unique=True,
              sqlite_where=text("objid_int IS NOT NULL")),
        Index("uq_refs_source_objid_text", "source", "objid_text", unique=True,
              sqlite_where=text("objid_text IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(Text, index=True)  # e.g. "hoyle2011"
    objid_int: Mapped[int | None] = mapped_column(BigInteger, index=True)
    objid_text: Mapped[str | None] = mapped_column(Text, index=True)
    ra_deg: Mapped[float | None] = mapped_column(Float)
    dec_deg: Mapped[float | None] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(Text)  # astropy unit string of the four values below
    length: Mapped[float | None] = mapped_column(Float)
    length_err: Mapped[float | None] = mapped_column(Float)
    width: Mapped[float | None] = mapped_column(Float)
    width_err: Mapped[float | None] = mapped_column(Float)
    length_scaled: Mapped[float | None] = mapped_column(Float)  # dimensionless (Hoyle's L/size)
    n_measurements: Mapped[int | None] = mapped_column(Integer)
    extra_json: Mapped[str | None] = mapped_column(Text)
    imported_utc: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)


class MachineMeasurement(Base):
    """A bar measured by the program: method, parameters, model hash and results."""

    __tablename__ = "machine_measurements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="RESTRICT"), index=True)
    method: Mapped[str] = mapped_column(Text, index=True)
    parameters_json: Mapped[str] = mapped_column(Text, default="{}")
    model_hash: Mapped[str | None] = mapped_column(Text, index=True)
    length_px: Mapped[float | None] = mapped_column(Float)  # NULL: nothing measured
    width_px: Mapped[float | None] = mapped_column(Float)
    length_err_px: Mapped[float | None] = mapped_column(Float)
    pa_deg: Mapped[float | None] = mapped_column(Float)
    x1: Mapped[float | None] = mapped_column(Float)
    y1: Mapped[float | None] = mapped_column(Float)
    x2: Mapped[float | None] = mapped_column(Float)
    y2: Mapped[float | None] = mapped_column(Float)
    length_arcsec: Mapped[float | None] = mapped_column(Float)
    length_kpc: Mapped[float | None] = mapped_column(Float)
    flags_json: Mapped[str] = mapped_column(Text, default="[]")
    created_utc: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)


class Flag(Base):
    """A reason to distrust an image or its measurement (bias scans, sanity checks)."""

    __tablename__ = "flags"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="RESTRICT"), index=True)
    kind: Mapped[str] = mapped_column(Text, index=True)
    reason: Mapped[str] = mapped_column(Text)
    score: Mapped[float | None] = mapped_column(Float)
    numbers_json: Mapped[str] = mapped_column(Text, default="{}")
    created_utc: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)


class BarLabel(Base):
    """One annotator's answer to "is there a bar?" on one image (schema version 4).

    Why apart from the drawn lines: "no bar" has no line to draw, and a catalogue
    may say "bar, 30 px long" without end points. A drawn line implies "bar" even
    without a row here; a row saying "no bar" is kept consistent by the store (its
    lines are deleted with it, and drawing a line turns it into "bar").
    """

    __tablename__ = "bar_labels"
    __table_args__ = (Index("uq_bar_labels_image_annotator", "image_id", "annotator_id", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="RESTRICT"), index=True)
    annotator_id: Mapped[int] = mapped_column(ForeignKey("annotators.id", ondelete="RESTRICT"), index=True)
    has_bar: Mapped[bool] = mapped_column(Boolean)
    length_px: Mapped[float | None] = mapped_column(Float)  # a bar length given without a line
    source: Mapped[str | None] = mapped_column(Text)  # "window", "import:<file name>", ...
    note: Mapped[str | None] = mapped_column(Text)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    created_utc: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    updated_utc: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)

    image: Mapped[Image] = relationship(lazy="joined", innerjoin=True)
    annotator: Mapped[Annotator] = relationship(lazy="joined", innerjoin=True)


class BarLabelHistory(Base):
    """The previous version of a bar label, written before every change."""

    __tablename__ = "bar_label_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    label_id: Mapped[int] = mapped_column(ForeignKey("bar_labels.id", ondelete="RESTRICT"), index=True)
    action: Mapped[str] = mapped_column(String(16))  # what replaced it: update / delete / restore
    has_bar: Mapped[bool] = mapped_column(Boolean)
    length_px: Mapped[float | None] = mapped_column(Float)
    source: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    revision: Mapped[int] = mapped_column(Integer)
    deleted: Mapped[bool] = mapped_column(Boolean)
    updated_utc: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_utc: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)


class ModelVersion(Base):
    """A model fine-tuned on this database's labels: its file, its base model, which
    labels it learnt from and was tested on, and its before/after numbers (version 4).

    Why in the database: the labels and the models made from them belong together;
    the window lists these rows to switch between versions, and a model file can be
    traced back to the annotations behind it.
    """

    __tablename__ = "model_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    path: Mapped[str] = mapped_column(Text)  # absolute path of the .safetensors file
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    base_sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    base_path: Mapped[str | None] = mapped_column(Text)
    dataset: Mapped[str | None] = mapped_column(Text)
    n_train: Mapped[int] = mapped_column(Integer, default=0)  # labelled images trained on
    n_test: Mapped[int] = mapped_column(Integer, default=0)  # held-out labelled images
    annotations_json: Mapped[str] = mapped_column(Text, default="{}")  # uids per split
    metrics_json: Mapped[str] = mapped_column(Text, default="{}")
    params_json: Mapped[str] = mapped_column(Text, default="{}")
    note: Mapped[str | None] = mapped_column(Text)
    created_utc: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
