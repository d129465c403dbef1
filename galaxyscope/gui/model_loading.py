"""Loading a model for the window in a worker, with a status message, so the window is painted first.

Why: importing torch and reading a checkpoint take seconds (8 s or more on a laptop
core, issue 17); done before the window was shown, the user looked at nothing. Now the
window appears at once, browsing works meanwhile, and the image on screen gets its
saliency when the model arrives (`MainWindow.set_model`). ``MainWindow.model_task`` is
the load in progress (``is_settled`` waits for it, so ``--screenshot`` does too).
"""

from __future__ import annotations

import gc
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from galaxyscope.gui.workers import Task

if TYPE_CHECKING:
    from galaxyscope.gui.main_window import MainWindow


class LazySaliencyCache:
    """The on-disk saliency cache, made at its first use (in a worker). Why: importing
    `galaxyscope.saliency.cache` imports torch, which took seconds on the window's thread before
    the window could be painted. Without a usable cache folder, maps are computed uncached."""

    def __init__(self) -> None:
        self._cache: Any = None
        self._tried = False
        self._lock = threading.Lock()

    def cache(self) -> Any:
        """The SaliencyCache, or None when it cannot be created (read-only home, ...)."""
        with self._lock:
            if not self._tried:
                self._tried = True
                try:
                    from galaxyscope.saliency.cache import SaliencyCache

                    self._cache = SaliencyCache()
                except (OSError, ImportError):
                    self._cache = None
            return self._cache

    def get_or_compute(self, model: Any, image: Any, method: str = "smoothgrad", **kwargs: Any) -> Any:
        """`SaliencyCache.get_or_compute`, or a plain computation without a cache."""
        cache = self.cache()
        if cache is not None:
            return cache.get_or_compute(model, image, method, **kwargs)
        from galaxyscope.saliency.attributions import compute_saliency

        return compute_saliency(model, image, method, **kwargs)


def leave_a_core_for_the_gui() -> None:
    """torch on all cores but one: the window's thread keeps one."""
    try:
        import torch

        torch.set_num_threads(max(1, (os.cpu_count() or 2) - 1))
    except Exception:  # torch missing or already configured: nothing to do
        pass


def load_model_in_worker(path: str | Path | None) -> tuple[Any, str]:
    """What the window's model-loading worker runs: torch's threads (one core left for the GUI),
    then `load_model_for_gui`. Why in a worker: importing torch and reading the checkpoint take
    seconds, and the window is painted and browsable meanwhile."""
    from galaxyscope.gui.app import load_model_for_gui

    leave_a_core_for_the_gui()
    return load_model_for_gui(str(path) if path else None)


def check_model_path(path: str | Path | None) -> None:
    """An explicitly named model file that is missing stops the command before any window opens
    (other problems with it are reported in the window, which loads it in a worker)."""
    if path and not Path(path).expanduser().exists():
        from galaxyscope.errors import ModelLoadError

        raise ModelLoadError(Path(path), "model file not found")


def start_loading(w: MainWindow, path: str | Path | None, *, shipped_default: bool = False) -> Task:
    """Load ``path`` (None: the shipped model) in ``w``'s I/O pool; the status bar and the saliency
    panel say so until it is in (or failed: an error, or a warning for a missing shipped model)."""
    name = Path(path).name if path else "the shipped model"
    label_before = w.model_label.text()
    w.model_label.setText(f"loading model {name} …")
    w.saliency_controls.score.setText(f"loading {name} …: the saliency follows")
    w.show_status(f"loading {name} (torch and the checkpoint); the images can be browsed meanwhile", 15000)

    def done(model: Any, note: str, warn: bool) -> None:
        if w.model_task is task:
            w.model_task = None
        if model is not None:
            w.set_model(model)
            w.show_status(f"{w.model_label.text()}: loaded", 4000)
            return
        w.model_load_error = note  # read by a --screenshot run, which has nobody to show it to
        w.model_label.setText(label_before)  # the model in use (if any) stays
        w.saliency_controls.score.setText("" if w.model is not None else "no model: images only")
        w.report("warning" if warn else "error", note)

    # Collect the main thread's garbage here: a model load allocates much, so Python's collector
    # would otherwise run in the worker and could destroy Qt objects there (PySide deadlocks).
    gc.collect()
    task = Task(lambda progress, cancel: load_model_in_worker(path), name="load model")
    task.succeeded.connect(lambda result: done(*result, warn=shipped_default))
    task.failed.connect(lambda exc, tb: done(None, str(exc), warn=False))
    w.tasks.start(task, w.io_pool, priority=30)
    return task
