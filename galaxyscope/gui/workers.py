"""Running slow work off the GUI thread: a QRunnable per task, results back as signals.

Why this shape: the core's long functions take ``progress(done, total)`` and
``cancel()``; a `Task` hands them both, runs the function in a QThreadPool and
re-emits progress, the result, an error or the cancellation on the GUI thread
(the signals object lives there, so Qt queues every emission). The window only
ever connects to a Task's signals and never blocks on one.

`ModelLock` serialises use of the network across tasks (Grad-CAM hooks and
torch's own threads do not like two computations at once) while still letting a
waiting task notice cancellation.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

from galaxyscope.errors import CancelledError
from galaxyscope.progress import CancelCheck, CancelToken, raise_if_cancelled


class ModelLock:
    """A lock for the model that a waiting task can abandon when it is cancelled."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def acquire(self, cancel: CancelCheck | None = None, poll_s: float = 0.02) -> None:
        """Block until the lock is ours; raise CancelledError if ``cancel()`` turns True first."""
        while not self._lock.acquire(timeout=poll_s):
            raise_if_cancelled(cancel, "cancelled while waiting for the model")

    def release(self) -> None:
        self._lock.release()

    def held(self, cancel: CancelCheck | None = None) -> "_Held":
        """``with lock.held(cancel): ...``"""
        return _Held(self, cancel)


class _Held:
    def __init__(self, lock: ModelLock, cancel: CancelCheck | None) -> None:
        self.lock, self.cancel = lock, cancel

    def __enter__(self) -> None:
        self.lock.acquire(self.cancel)

    def __exit__(self, *exc: Any) -> None:
        self.lock.release()


class _Signals(QObject):
    progress = Signal(int, int)
    done = Signal(object)
    failed = Signal(object, str)
    cancelled = Signal()


class _Runnable(QRunnable):
    def __init__(self, fn: Callable[..., Any], signals: _Signals, token: CancelToken) -> None:
        super().__init__()
        self.setAutoDelete(True)  # the pool owns and deletes it after run()
        self.fn, self.signals, self.token = fn, signals, token

    def run(self) -> None:  # runs on a pool thread
        try:
            raise_if_cancelled(self.token, "cancelled before it started")
            result = self.fn(progress=self._progress, cancel=self.token)
        except CancelledError:
            self.signals.cancelled.emit()
        except BaseException as exc:  # reported to the GUI thread, never lost
            self.signals.failed.emit(exc, traceback.format_exc())
        else:
            self.signals.done.emit(result)

    def _progress(self, done: int, total: int) -> None:
        self.signals.progress.emit(int(done), int(total))


class Task(QObject):
    """One function run in a thread pool: ``fn(progress=..., cancel=...) -> result``.

    Signals (all delivered on the GUI thread): progressed(done, total),
    succeeded(result), failed(exception, traceback text), cancelled(), and
    finished() after any of the last three. ``name`` is for the log.
    """

    progressed = Signal(int, int)
    succeeded = Signal(object)
    failed = Signal(object, str)
    cancelled = Signal()
    finished = Signal()

    def __init__(self, fn: Callable[..., Any], name: str = "task", parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.token = CancelToken()
        self.is_finished = False
        self.outcome: str = "pending"
        self._signals = _Signals()
        self._signals.progress.connect(self._on_progress)
        self._signals.done.connect(self._on_done)
        self._signals.failed.connect(self._on_failed)
        self._signals.cancelled.connect(self._on_cancelled)
        self._runnable = _Runnable(fn, self._signals, self.token)

    def start(self, pool: QThreadPool | None = None, priority: int = 0) -> "Task":
        runnable, self._runnable = self._runnable, None
        if runnable is None:
            raise RuntimeError(f"task {self.name!r} was already started")
        self.outcome = "running"
        (pool or QThreadPool.globalInstance()).start(runnable, priority)
        return self

    def cancel(self) -> None:
        """Ask the function to stop at its next cancel check (it reports cancelled())."""
        self.token.cancel()

    @property
    def cancel_requested(self) -> bool:
        return self.token()

    @Slot(int, int)
    def _on_progress(self, done: int, total: int) -> None:
        if not self.is_finished:
            self.progressed.emit(done, total)

    @Slot(object)
    def _on_done(self, result: Any) -> None:
        self._finish("succeeded")
        self.succeeded.emit(result)
        self.finished.emit()

    @Slot(object, str)
    def _on_failed(self, exc: Any, tb: str) -> None:
        self._finish("failed")
        self.failed.emit(exc, tb)
        self.finished.emit()

    @Slot()
    def _on_cancelled(self) -> None:
        self._finish("cancelled")
        self.cancelled.emit()
        self.finished.emit()

    def _finish(self, outcome: str) -> None:
        self.is_finished = True
        self.outcome = outcome


class TaskList(QObject):
    """The tasks a window has started; keeps them referenced until they finish."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.tasks: set[Task] = set()

    def start(self, task: Task, pool: QThreadPool | None = None, priority: int = 0) -> Task:
        self.tasks.add(task)
        task.finished.connect(lambda t=task: self.tasks.discard(t))
        return task.start(pool, priority)

    def cancel_all(self) -> None:
        for t in list(self.tasks):
            t.cancel()

    def running(self) -> list[Task]:
        return [t for t in self.tasks if not t.is_finished]
