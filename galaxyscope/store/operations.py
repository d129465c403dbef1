"""Undoable annotation edits that write through to the database at once.

Why here and not in the GUI: undo must not be a second copy of the data that
can drift from the database. Each operation's ``redo`` / ``undo`` is one committed
store call (add / update / soft delete / restore), so whatever the undo stack
shows is what is on disk, and a crash after any step loses nothing. The GUI
wraps each operation in a QUndoCommand whose redo()/undo() call these;
`UndoStack` is the same logic without Qt (for scripts and tests).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from galaxyscope.store.annotation_store import UNSET, AnnotationStore
from galaxyscope.store.records import AnnotationRecord, BarLabelRecord, BarLine, NoBarResult


class AnnotationOperation(Protocol):
    """One undoable change: ``redo`` (also the first do) and ``undo``, both committed at once."""

    text: str

    def redo(self, store: AnnotationStore) -> AnnotationRecord: ...

    def undo(self, store: AnnotationStore) -> AnnotationRecord: ...


@dataclass
class AddAnnotation:
    """Draw a new bar. Undo soft-deletes it; redo restores the same row (same id)."""

    image_id: int
    annotator: str | int
    bar: BarLine
    width_line: BarLine | None = None
    note: str | None = None
    annotation_id: int | None = None  # set by the first redo
    text: str = "add bar"

    def redo(self, store: AnnotationStore) -> AnnotationRecord:
        if self.annotation_id is None:
            rec = store.add_annotation(self.image_id, self.annotator, self.bar,
                                       width_line=self.width_line, note=self.note)
            self.annotation_id = rec.id
            return rec
        return store.restore_annotation(self.annotation_id)

    def undo(self, store: AnnotationStore) -> AnnotationRecord:
        if self.annotation_id is None:
            raise RuntimeError("undo before redo")
        return store.delete_annotation(self.annotation_id)


@dataclass
class EditAnnotation:
    """Move a bar's endpoints (and/or its width line or note). The values before the first
    redo are kept so undo puts them back (itself a new, recorded revision)."""

    annotation_id: int
    bar: BarLine | None = None
    width_line: object = UNSET  # BarLine, None (remove) or UNSET (keep)
    note: object = UNSET
    text: str = "move bar"
    _before: AnnotationRecord | None = field(default=None, repr=False)

    def redo(self, store: AnnotationStore) -> AnnotationRecord:
        if self._before is None:
            self._before = store.get_annotation(self.annotation_id)
        return store.update_annotation(self.annotation_id, bar=self.bar,
                                       width_line=self.width_line, note=self.note)

    def undo(self, store: AnnotationStore) -> AnnotationRecord:
        if self._before is None:
            raise RuntimeError("undo before redo")
        b = self._before
        return store.update_annotation(self.annotation_id, bar=b.bar, width_line=b.width_line,
                                       note=b.note)


@dataclass
class DeleteAnnotation:
    """Delete a bar (soft). Undo restores it."""

    annotation_id: int
    text: str = "delete bar"

    def redo(self, store: AnnotationStore) -> AnnotationRecord:
        return store.delete_annotation(self.annotation_id)

    def undo(self, store: AnnotationStore) -> AnnotationRecord:
        return store.restore_annotation(self.annotation_id)


@dataclass
class MarkNoBar:
    """Say "no bar" for one image (the annotator's lines on it are deleted with it). Undo puts
    the previous label and the lines back, in one transaction. Unlike the other operations
    it returns the label (a `BarLabelRecord`), not an annotation."""

    image_id: int
    annotator: str | int
    note: str | None = None
    text: str = "no bar"
    _done: NoBarResult | None = field(default=None, repr=False)

    def redo(self, store: AnnotationStore) -> BarLabelRecord:  # type: ignore[override]
        self._done = store.mark_no_bar(self.image_id, self.annotator, note=self.note)
        return self._done.label

    def undo(self, store: AnnotationStore) -> BarLabelRecord | None:  # type: ignore[override]
        if self._done is None:
            raise RuntimeError("undo before redo")
        label = store.undo_no_bar(self._done)
        self._done = None
        return label


class UndoStack:
    """A linear undo/redo stack over one store, with QUndoStack's semantics: ``push`` does the
    operation and drops anything that was undone."""

    def __init__(self, store: AnnotationStore) -> None:
        self.store = store
        self._done: list[AnnotationOperation] = []
        self._undone: list[AnnotationOperation] = []

    def push(self, op: AnnotationOperation) -> AnnotationRecord:
        """Do ``op`` (committed at once) and make it the next thing to undo."""
        rec = op.redo(self.store)
        self._done.append(op)
        self._undone.clear()
        return rec

    def undo(self) -> AnnotationRecord | None:
        """Undo the last operation (committed at once); None when there is nothing to undo."""
        if not self._done:
            return None
        op = self._done[-1]
        rec = op.undo(self.store)  # if this raises, the stack stays as it was
        self._undone.append(self._done.pop())
        return rec

    def redo(self) -> AnnotationRecord | None:
        """Redo the last undone operation; None when there is nothing to redo."""
        if not self._undone:
            return None
        op = self._undone[-1]
        rec = op.redo(self.store)
        self._done.append(self._undone.pop())
        return rec

    @property
    def can_undo(self) -> bool:
        return bool(self._done)

    @property
    def can_redo(self) -> bool:
        return bool(self._undone)
