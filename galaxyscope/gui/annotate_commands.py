"""QUndoCommands that wrap the store's undoable operations (add, edit, delete a drawn bar).

Why a thin wrapper: the operations in `galaxyscope.store.operations` already write
through (each redo / undo is one committed store call), so the Qt undo stack holds
no second copy of the data. Two rules keep the stack honest:

- the first redo runs *before* the command is pushed (`StoreCommand.run_first`), so a
  write that fails (read-only, locked, newer database) never reaches the stack;
- a later undo / redo that fails is reported and marks the command obsolete, which
  makes QUndoStack drop it: the stack never claims a state the database lacks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtGui import QUndoCommand

from galaxyscope.errors import GalaxyscopeError
from galaxyscope.store import AnnotationRecord, AnnotationStore
from galaxyscope.store.operations import AnnotationOperation

#: what a failed write raises: the store's errors, and a bad value caught by a dataclass
STORE_FAILURES: tuple[type[BaseException], ...] = (GalaxyscopeError, ValueError, OSError)


class StoreCommand(QUndoCommand):
    """One undoable step on the annotation database.

    ``on_done(command, record, action)`` runs after each successful write (action is
    "do", "undo" or "redo"); ``on_error(command, exc)`` after a failed one.
    ``image_path`` says which image the step belongs to (the window shows it on undo).
    """

    def __init__(self, op: AnnotationOperation, store: AnnotationStore, image_path: str,
                 on_done: Callable[[StoreCommand, AnnotationRecord, str], None],
                 on_error: Callable[[StoreCommand, BaseException], None]) -> None:
        super().__init__(op.text)
        self.op = op
        self.store = store
        self.image_path = image_path
        self.on_done = on_done
        self.on_error = on_error
        self.record: AnnotationRecord | None = None
        self._pushed = False

    def run_first(self) -> AnnotationRecord:
        """Do the step once, before pushing; raises what the store raised (nothing is pushed then)."""
        self.record = self.op.redo(self.store)
        return self.record

    def redo(self) -> None:  # QUndoStack.push calls this at once: the write already happened
        if not self._pushed:
            self._pushed = True
            self.on_done(self, self.record, "do")
            return
        self._run(self.op.redo, "redo")

    def undo(self) -> None:
        self._run(self.op.undo, "undo")

    def _run(self, step: Callable[[AnnotationStore], AnnotationRecord], action: str) -> None:
        try:
            self.record = step(self.store)
        except STORE_FAILURES as exc:
            self.setObsolete(True)  # QUndoStack drops it; the database keeps its last committed state
            self.on_error(self, exc)
            return
        self.on_done(self, self.record, action)

    @property
    def annotation_id(self) -> Any:
        """The annotation this step changes (None before an add has run)."""
        return getattr(self.op, "annotation_id", None)
