"""What the store hands out: frozen dataclasses with Quantities, never ORM objects.

Why: ORM rows belong to a session and expire when it closes; the GUI keeps
records around (undo stack, overlays) long after, and tests compare them by value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import astropy.units as u


@dataclass(frozen=True)
class BarLine:
    """A line from (x1, y1) to (x2, y2) in pixels of the original image, origin at the
    centre of the top-left pixel (x = column, y = row)."""

    x1: float
    y1: float
    x2: float
    y2: float

    def __post_init__(self) -> None:
        for name in ("x1", "y1", "x2", "y2"):
            value = float(getattr(self, name))
            if not math.isfinite(value):
                raise ValueError(f"line endpoint {name}={value} is not a finite number")
            object.__setattr__(self, name, value)

    @property
    def length_px(self) -> float:
        """End-to-end length in pixels."""
        return math.hypot(self.x2 - self.x1, self.y2 - self.y1)

    @property
    def pa_deg(self) -> float:
        """Direction in degrees, atan2(dy, dx) mod 180 (same convention as `BarMeasurement`)."""
        return math.degrees(math.atan2(self.y2 - self.y1, self.x2 - self.x1)) % 180.0

    @property
    def endpoints(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """((x1, y1), (x2, y2)), the shape `BarMeasurement.endpoints` uses."""
        return (self.x1, self.y1), (self.x2, self.y2)


def objid_value(objid_int: int | None, objid_text: str | None) -> int | str | None:
    """The exact objid from its two storage columns."""
    return objid_int if objid_int is not None else objid_text


@dataclass(frozen=True)
class ImageRecord:
    """An image as the database knows it."""

    id: int
    path: str
    sha256: str | None
    set_name: str | None
    objid: int | str | None  # exact: int64 or text, never float
    pixel_scale: u.Quantity | None  # arcsec / pix
    redshift: float | None


@dataclass(frozen=True)
class AnnotatorRecord:
    """A person who draws bars."""

    id: int
    name: str


@dataclass(frozen=True)
class AnnotationRecord:
    """One drawn bar, current version. Lengths are Quantities (pix, arcsec, proper kpc);
    arcsec and kpc are None when the image's pixel scale (and redshift) are unknown."""

    id: int
    uid: str
    image_id: int
    image_path: str
    annotator_id: int
    annotator: str
    bar: BarLine
    width_line: BarLine | None
    length: u.Quantity
    width: u.Quantity | None
    length_arcsec: u.Quantity | None
    length_kpc: u.Quantity | None
    revision: int
    deleted: bool
    created: datetime
    updated: datetime
    note: str | None = None

    @property
    def length_px(self) -> float:
        """The length as a plain float in pixels (for arithmetic over many records)."""
        return float(self.length.to_value(u.pix))


@dataclass(frozen=True)
class HistoryRecord:
    """A previous version of an annotation, and what replaced it (update / delete / restore)."""

    id: int
    annotation_id: int
    action: str
    revision: int
    bar: BarLine
    width_line: BarLine | None
    length: u.Quantity
    deleted: bool
    updated: datetime
    recorded: datetime
    note: str | None = None


@dataclass(frozen=True)
class ReferenceRecord:
    """A published measurement (e.g. Hoyle 2011) in the source's own unit."""

    id: int
    source: str
    objid: int | str | None
    ra_deg: float | None
    dec_deg: float | None
    length: u.Quantity | None
    length_err: u.Quantity | None
    width: u.Quantity | None
    width_err: u.Quantity | None
    length_scaled: float | None
    n_measurements: int | None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ReferenceRow:
    """Input for `AnnotationStore.add_references`: plain floats in ``unit``."""

    source: str
    objid: int | str
    unit: str
    length: float | None = None
    length_err: float | None = None
    width: float | None = None
    width_err: float | None = None
    length_scaled: float | None = None
    n_measurements: int | None = None
    ra_deg: float | None = None
    dec_deg: float | None = None
    extra: dict[str, Any] | None = None


@dataclass(frozen=True)
class MachineRecord:
    """A stored machine measurement of one image."""

    id: int
    image_id: int
    method: str
    parameters: dict[str, Any]
    model_hash: str | None
    length: u.Quantity | None  # None: nothing was measured
    width: u.Quantity | None
    length_err: u.Quantity | None
    pa_deg: float | None
    bar: BarLine | None
    length_arcsec: u.Quantity | None
    length_kpc: u.Quantity | None
    flags: tuple[str, ...]
    created: datetime

    @property
    def length_px(self) -> float:
        """Length in pixels, NaN when nothing was measured."""
        return math.nan if self.length is None else float(self.length.to_value(u.pix))


@dataclass(frozen=True)
class FlagRecord:
    """A stored flag on an image."""

    id: int
    image_id: int
    kind: str
    reason: str
    score: float | None
    numbers: dict[str, Any]
    created: datetime


@dataclass(frozen=True)
class StoreCounts:
    """Rows per table (for reports after an import)."""

    images: int
    annotators: int
    annotations: int  # not deleted
    deleted_annotations: int
    history: int
    references: int
    machine_measurements: int
    flags: int
    bar_labels: int = 0  # not withdrawn
    model_versions: int = 0


@dataclass(frozen=True)
class BarLabelRecord:
    """One annotator's bar / no-bar answer for one image (``length`` only when a bar length
    was given without a drawn line, e.g. by an imported catalogue)."""

    id: int
    uid: str
    image_id: int
    image_path: str
    annotator_id: int
    annotator: str
    has_bar: bool
    length: u.Quantity | None
    source: str | None
    revision: int
    deleted: bool
    created: datetime
    updated: datetime
    note: str | None = None


@dataclass(frozen=True)
class NoBarResult:
    """What `AnnotationStore.mark_no_bar` did: the label now, the label before (None: there
    was none) and the annotator's lines it deleted on the image (what undo restores)."""

    label: BarLabelRecord
    previous: BarLabelRecord | None
    deleted_annotation_ids: tuple[int, ...]


@dataclass(frozen=True)
class ModelVersionRecord:
    """A model fine-tuned on the database's labels (see `store.models.ModelVersion`)."""

    id: int
    name: str
    path: str
    sha256: str
    base_sha256: str | None
    base_path: str | None
    dataset: str | None
    n_train: int
    n_test: int
    annotations: dict[str, Any]
    metrics: dict[str, Any]
    params: dict[str, Any]
    note: str | None
    created: datetime
