"""Progress and cancel callbacks that every long function shares (no torch, numpy or Qt).

Why one home: the core's long functions (training, saliency, scans, imports)
take ``progress(done, total)`` and ``cancel()``; the CLI drives a tqdm bar with
them and the GUI a progress bar and a Cancel button on another thread, so the
types, the thread-safe flag and the "stop here" check must mean the same
everywhere. Bottom layer: imports nothing from galaxyscope but ``errors``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from galaxyscope.errors import CancelledError

#: ``progress(done, total)``: how far the work has got (``total`` may change as it goes)
Progress = Callable[[int, int], None]
#: ``cancel()``: True once the caller wants the work to stop (polled between steps)
CancelCheck = Callable[[], bool]

__all__ = ["CancelCheck", "CancelToken", "CancelledError", "Progress", "raise_if_cancelled"]


class CancelToken:
    """A thread-safe cancel flag; calling it answers "should I stop?".

    Why a class: one thread (the GUI) sets it while another (a worker) polls it,
    and it can be passed anywhere a `CancelCheck` is expected.
    """

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        """Ask the work to stop at its next check."""
        self._event.set()

    def __call__(self) -> bool:
        return self._event.is_set()


def raise_if_cancelled(cancel: CancelCheck | None, message: str = "cancelled") -> None:
    """Raise `CancelledError` (with ``message``) when ``cancel`` is given and returns True."""
    if cancel is not None and cancel():
        raise CancelledError(message)
