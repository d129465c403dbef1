"""Saliency maps for the window: computed in workers, kept in memory, prefetched.

Why a service: the window asks "the map for image i with these settings" many
times (every step, every slider move redraws from it); the service answers from
memory when it can, otherwise starts exactly one worker per request (a prefetch
that is still running is simply adopted when the user arrives at that image),
and drops results from a model that has since been replaced.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from PySide6.QtCore import QObject, QThreadPool, Signal

from galaxyscope.gui.session_state import SaliencyKey
from galaxyscope.gui.workers import ModelLock, Task, TaskList


class LockedSaliency:
    """``get_or_compute`` that holds the model lock (and uses the disk cache if any).

    Why: ``measure_dataset`` accepts a cache object; passing this one makes the
    batch job take the model one image at a time, so interactive requests get in
    between images instead of waiting for the whole batch.
    """

    def __init__(self, lock: ModelLock, disk_cache: Any = None, cancel: Any = None) -> None:
        self.lock, self.disk_cache, self.cancel = lock, disk_cache, cancel

    def get_or_compute(self, model: Any, image: Any, method: str = "smoothgrad", *, target: Any = None,
                       progress: Any = None, cancel: Any = None, **params: Any) -> Any:
        from galaxyscope.saliency.attributions import compute_saliency

        cancel = cancel or self.cancel
        with self.lock.held(cancel):
            if self.disk_cache is not None:
                return self.disk_cache.get_or_compute(model, image, method, target=target, progress=progress,
                                                      cancel=cancel, **params)
            return compute_saliency(model, image, method, target=target, progress=progress, cancel=cancel,
                                    **params)


class SaliencyService(QObject):
    """Computes and remembers saliency maps for the current image set and model.

    ready(key, SaliencyResult), failed(key, message), progressed(key, done, total),
    all on the GUI thread.
    """

    ready = Signal(object, object)
    failed = Signal(object, str)
    progressed = Signal(object, int, int)

    def __init__(self, tasks: TaskList, pool: QThreadPool, lock: ModelLock, disk_cache: Any = None,
                 capacity: int = 64, chunk: int = 5, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.tasks, self.pool, self.lock = tasks, pool, lock
        self.disk_cache = disk_cache
        self.capacity = int(capacity)
        self.chunk = int(chunk)
        self.model: Any = None
        self.image_set: Any = None
        self._generation = 0
        self._results: OrderedDict[SaliencyKey, Any] = OrderedDict()
        self.running: dict[SaliencyKey, Task] = {}

    def reset(self, model: Any, image_set: Any) -> None:
        """New model or set: forget every map and stop every computation."""
        self._generation += 1
        self.model, self.image_set = model, image_set
        self._results.clear()
        for task in self.running.values():
            task.cancel()
        self.running.clear()

    def cached(self, key: SaliencyKey) -> Any:
        result = self._results.get(key)
        if result is not None:
            self._results.move_to_end(key)
        return result

    def request(self, key: SaliencyKey, image: Any = None, *, prefetch: bool = False) -> Any:
        """The map if it is in memory; otherwise start computing it (once) and return None.

        ``image`` is the already-read GalaxyImage (prefetches read theirs in the worker).
        """
        hit = self.cached(key)
        if hit is not None or self.model is None:
            return hit
        if key in self.running:
            return None
        generation, model, image_set, lock, disk = self._generation, self.model, self.image_set, self.lock, self.disk_cache
        chunk = self.chunk

        def work(progress, cancel):
            img = image if image is not None else image_set[key.entry]
            return LockedSaliency(lock, disk).get_or_compute(
                model, img, key.method, target=key.target, progress=progress, cancel=cancel,
                chunk=chunk, **key.kwargs())

        task = Task(work, name=f"saliency {key.method} #{key.entry}" + (" (prefetch)" if prefetch else ""))
        task.progressed.connect(lambda d, t, k=key: self.progressed.emit(k, d, t))
        task.succeeded.connect(lambda r, k=key, g=generation: self._done(k, g, r))
        task.failed.connect(lambda exc, tb, k=key, g=generation: self._failed(k, g, exc))
        task.finished.connect(lambda k=key, t=task: self._forget(k, t))
        self.running[key] = task
        self.tasks.start(task, self.pool, priority=0 if prefetch else 1)
        return None

    def cancel_except(self, keep: set[SaliencyKey]) -> None:
        """Stop computations the user no longer needs (not the current or next image)."""
        for key, task in list(self.running.items()):
            if key not in keep:
                task.cancel()
                del self.running[key]

    def busy(self) -> bool:
        return bool(self.running)

    def _forget(self, key: SaliencyKey, task: Task) -> None:
        if self.running.get(key) is task:
            del self.running[key]

    def _done(self, key: SaliencyKey, generation: int, result: Any) -> None:
        if generation != self._generation:
            return
        self._results[key] = result
        self._results.move_to_end(key)
        while len(self._results) > self.capacity:
            self._results.popitem(last=False)
        self.ready.emit(key, result)

    def _failed(self, key: SaliencyKey, generation: int, exc: BaseException) -> None:
        if generation == self._generation:
            self.failed.emit(key, str(exc) or type(exc).__name__)
