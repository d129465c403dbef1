"""Reading the image the browser selects, in a pool of its own, keeping only the newest request.

Why a pool of its own: the window's I/O pool also runs thumbnail reads, isophote
fits, model loading and folder listing, some of them for seconds; a selected
image queued behind them left the browser on one galaxy and the view on another
(issue 17, item 9). Why only the newest: after N pressed five times quickly the
four reads before the last are stale; those not started yet end as soon as their
turn comes, those already running finish unseen.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, QThreadPool, Signal

from galaxyscope.gui.workers import Task, TaskList

#: threads reading selected images: one may still be busy with a stale read while the next starts
READ_THREADS = 2


class ImageLoader(QObject):
    """``load(entry)`` reads ``image_set[entry]`` in a worker; ``loaded(entry, image)`` fires only for
    the newest request of the current set, ``failed(entry, exception)`` for any read of that set."""

    loaded = Signal(int, object)
    failed = Signal(int, object)

    def __init__(self, tasks: TaskList, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.tasks = tasks
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(READ_THREADS)
        self.image_set: Any = None
        self.task: Task | None = None  # the newest read, until it finishes
        self.entry: int | None = None  # what the newest read is for
        self._serial = 0  # bumped per request: older results are stale
        self._set_serial = 0  # the serial of the first request on the current set

    def set_image_set(self, image_set: Any) -> None:
        """A new set: nothing read from the previous one is shown or reported."""
        self.cancel()
        self.image_set = image_set
        self._serial += 1
        self._set_serial = self._serial

    def busy_with(self, entry: int) -> bool:
        """True while the newest read is for ``entry``."""
        return self.task is not None and self.entry == entry

    def load(self, entry: int) -> Task:
        """Read ``entry`` (dropping every older request)."""
        self.cancel()
        self._serial += 1
        serial, image_set = self._serial, self.image_set
        task = Task(lambda progress, cancel: image_set[entry], name=f"read #{entry}")
        task.succeeded.connect(lambda image, e=entry, s=serial: self._loaded(e, image, s))
        task.failed.connect(lambda exc, tb, e=entry, s=serial: self._failed(e, exc, s))
        task.finished.connect(lambda t=task: self._finished(t))
        self.task, self.entry = task, entry
        self.tasks.start(task, self.pool, priority=10)
        return task

    def cancel(self) -> None:
        """Drop the newest read: it ends at once if it has not started, else its result is ignored."""
        task = self.task
        if task is None:
            return
        task.cancel()
        self.task = self.entry = None

    def _loaded(self, entry: int, image: Any, serial: int) -> None:
        if serial == self._serial:
            self.loaded.emit(entry, image)

    def _failed(self, entry: int, exc: BaseException, serial: int) -> None:
        if serial >= self._set_serial:
            self.failed.emit(entry, exc)

    def _finished(self, task: Task) -> None:
        if self.task is task:
            self.task = self.entry = None
