"""Browser thumbnails, read on demand in background threads.

Why on demand: a 100k-file set must open instantly, so a thumbnail is read only
when its row is painted. Requests go on a stack (the rows the user scrolled to
last are read first) that is trimmed, so flicking past 10 000 rows does not
queue 10 000 reads. Finished thumbnails are kept in a bounded LRU cache.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal
from PySide6.QtGui import QImage

from galaxyscope.errors import GalaxyscopeError
from galaxyscope.gui.display import thumbnail_rgb


def rgb_to_qimage(rgb: np.ndarray) -> QImage:
    """A QImage that owns a copy of an HxWx3 uint8 array (safe to create off the GUI thread)."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    h, w = rgb.shape[:2]
    return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


class _Loop(QRunnable):
    def __init__(self, loader: "ThumbnailLoader") -> None:
        super().__init__()
        self.loader = loader

    def run(self) -> None:
        self.loader._work()


class ThumbnailLoader(QObject):
    """Reads thumbnails for entries of an image set; emits ``loaded`` or ``failed`` on the GUI thread.

    loaded(entry, QImage); failed(entry, reason). ``get(entry)`` returns a cached
    thumbnail or None (and queues a read).
    """

    loaded = Signal(int, object)
    failed = Signal(int, str)

    def __init__(self, image_set: Any, size: int = 48, *, pool: QThreadPool | None = None,
                 workers: int = 2, max_pending: int = 200, cache_size: int = 4000,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.image_set = image_set
        self.size = int(size)
        self.pool = pool or QThreadPool.globalInstance()
        self.max_workers = max(1, int(workers))
        self.max_pending = int(max_pending)
        self.cache_size = int(cache_size)
        self._cache: OrderedDict[int, QImage] = OrderedDict()
        self._errors: dict[int, str] = {}
        self._pending: deque[int] = deque()
        self._queued: set[int] = set()
        self._lock = threading.Lock()
        self._active = 0
        self._stopped = False

    # ------------------------------------------------------------------ GUI thread

    def get(self, entry: int) -> QImage | None:
        """The cached thumbnail, or None after queueing a read (nothing for a known failure)."""
        img = self._cache.get(entry)
        if img is not None:
            self._cache.move_to_end(entry)
            return img
        if entry not in self._errors:
            self.request(entry)
        return None

    def error(self, entry: int) -> str | None:
        return self._errors.get(entry)

    def request(self, entry: int) -> None:
        start = False
        with self._lock:
            if self._stopped or entry in self._queued:
                return
            self._pending.append(entry)
            self._queued.add(entry)
            while len(self._pending) > self.max_pending:
                self._queued.discard(self._pending.popleft())  # oldest requests: scrolled away
            if self._active < self.max_workers:
                self._active += 1
                start = True
        if start:
            self.pool.start(_Loop(self))

    def pending(self) -> int:
        """Reads queued or running (0 when every requested thumbnail is done)."""
        with self._lock:
            return len(self._queued)

    def store(self, entry: int, image: QImage) -> None:
        """Keep a thumbnail (the loader's own results, or one made from an image already read)."""
        self._cache[entry] = image
        self._cache.move_to_end(entry)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    def mark_failed(self, entry: int, reason: str) -> None:
        self._errors[entry] = reason

    def stop(self) -> None:
        """Drop queued reads; running ones finish their current image and exit."""
        with self._lock:
            self._stopped = True
            self._pending.clear()
            self._queued.clear()
        self._cache.clear()

    # ------------------------------------------------------------------ pool threads

    def _next(self) -> int | None:
        with self._lock:
            if self._stopped or not self._pending:
                self._active -= 1
                return None
            return self._pending.pop()  # newest first: the rows on screen now

    def _done(self, entry: int) -> None:
        with self._lock:
            self._queued.discard(entry)

    def _work(self) -> None:
        while True:
            entry = self._next()
            if entry is None:
                return
            try:
                image = self.image_set[entry]
                qimg = rgb_to_qimage(thumbnail_rgb(image.pixels, self.size))
            except GalaxyscopeError as exc:
                outcome: tuple = (self.failed, entry, str(exc))
            except Exception as exc:  # never let a thumbnail kill the pool thread
                outcome = (self.failed, entry, f"{type(exc).__name__}: {exc}")
            else:
                outcome = (self.loaded, entry, qimg)
            self._done(entry)
            try:
                outcome[0].emit(*outcome[1:])
            except RuntimeError:  # the loader was deleted (window closed): stop quietly
                with self._lock:
                    self._stopped = True
                    self._active -= 1
                return
