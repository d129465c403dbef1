"""The annotation store: hand-drawn bar lengths, machine measurements, flags and published
reference lengths in one SQLite file (SQLAlchemy 2.0; no Qt).

Start with ``AnnotationStore(path)``; undoable edits are in `operations`, agreement
and the vetting list in `agreement`, table export / import in `table_io`.
"""

from __future__ import annotations

import importlib
from typing import Any

# public name -> submodule, imported on first use (PEP 562) so that ``galaxyscope --help``,
# which imports this package's command module, does not pay for SQLAlchemy and astropy
_WHERE = {
    "UNSET": "annotation_store",
    "AnnotationStore": "annotation_store",
    "open_store": "annotation_store",
    "file_sha256": "convert",
    "split_objid": "convert",
    "DatabaseLockedError": "errors",
    "DatabaseReadOnlyError": "errors",
    "ImageChangedError": "errors",
    "NotADatabaseError": "errors",
    "NotFoundError": "errors",
    "SchemaTooNewError": "errors",
    "StoreError": "errors",
    "SCHEMA_VERSION": "models",
    "AnnotationRecord": "records",
    "AnnotatorRecord": "records",
    "BarLine": "records",
    "FlagRecord": "records",
    "HistoryRecord": "records",
    "ImageRecord": "records",
    "MachineRecord": "records",
    "ReferenceRecord": "records",
    "ReferenceRow": "records",
    "StoreCounts": "records",
    "BarLabelRecord": "records",
    "ModelVersionRecord": "records",
    "NoBarResult": "records",
    "AnnotatorLabel": "labels",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
