"""The annotation store: hand-drawn bar lengths, machine measurements, flags and published
reference lengths in one SQLite file (SQLAlchemy 2.0; no Qt).

Start with ``AnnotationStore(path)``; undoable edits are in `operations`, agreement
and the vetting list in `agreement`, table export / import in `table_io`.
"""

from galaxyscope.store.annotation_store import UNSET, AnnotationStore, open_store
from galaxyscope.store.convert import file_sha256, split_objid
from galaxyscope.store.errors import (
    DatabaseLockedError,
    DatabaseReadOnlyError,
    ImageChangedError,
    NotADatabaseError,
    NotFoundError,
    SchemaTooNewError,
    StoreError,
)
from galaxyscope.store.models import SCHEMA_VERSION
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

__all__ = [
    "SCHEMA_VERSION", "UNSET", "AnnotationRecord", "AnnotationStore", "AnnotatorRecord", "BarLine",
    "DatabaseLockedError", "DatabaseReadOnlyError", "FlagRecord", "HistoryRecord",
    "ImageChangedError", "ImageRecord", "MachineRecord", "NotADatabaseError", "NotFoundError",
    "ReferenceRecord", "ReferenceRow", "SchemaTooNewError", "StoreCounts", "StoreError",
    "file_sha256", "open_store", "split_objid",
]
