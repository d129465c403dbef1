"""Measure all: every image of the open set through saliency and both bar methods, in a worker.

Why apart from the window: the batch run has its own life (start, progress,
cancel, results arriving after another set was opened, export), and reads only
the session state (the same request and parameters the user sees), the open set
and the model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog

from galaxyscope.measure import BAR_METHODS
from galaxyscope.gui.saliency_service import LockedSaliency
from galaxyscope.gui.window_services import BatchHost
from galaxyscope.gui.workers import Task

MAX_LOGGED_FAILURES = 50


class BatchController(QObject):
    """Runs Measure all for one window; ``finished(outcome)``: "succeeded", "failed" or "cancelled"."""

    finished = Signal(str)

    def __init__(self, host: BatchHost, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.host = host
        self.task: Task | None = None
        self.last_report: Any = None
        self._generation = 0  # bumped per opened set, so a late result of an old set is dropped
        m = host.measurements
        m.measure_clicked.connect(self.start)
        m.cancel_clicked.connect(self.cancel)
        m.export_clicked.connect(self.export)

    def running(self) -> bool:
        return self.task is not None and not self.task.is_finished

    def set_changed(self) -> None:
        """Another set was opened: stop a running batch and forget the last table."""
        if self.running():
            self.cancel()
        self._generation += 1
        self.last_report = None
        self.host.measurements.set_table(None)

    def start(self) -> None:
        """Measure every image of the set in a worker (saliency + both bar methods)."""
        from galaxyscope.jobs.measure_job import identifier_columns, measure_dataset
        from galaxyscope.saliency.methods import METHODS

        h = self.host
        if h.image_set is None or len(h.image_set) == 0:
            h.report("warning", "open an image set first")
            return
        if h.model is None:
            h.report("warning", "batch measure needs a model: File > Open model… (Ctrl+M)")
            return
        if self.running():
            return
        request, bars = h.state.saliency, h.state.bars
        image_set, model, lock, disk = h.image_set, h.model, h.model_lock, h.disk_cache
        kwargs = dict(methods=BAR_METHODS, attribution=request.method, n_samples=request.samples,
                      noise=request.noise, target=request.target, options={m: bars.params[m] for m in BAR_METHODS},
                      keep_columns=identifier_columns(image_set))

        def work(progress, cancel):
            return measure_dataset(image_set, model, cache=LockedSaliency(lock, disk, cancel),
                                   progress=progress, cancel=cancel, **kwargs)

        task = Task(work, name="batch measure")
        task.progressed.connect(h.measurements.set_progress)
        gen = self._generation
        task.succeeded.connect(lambda report, g=gen: self._done(report, g))
        task.failed.connect(lambda exc, tb: self._end("failed", f"batch measure failed: {exc}"))
        task.cancelled.connect(lambda: self._end("cancelled", "batch measure cancelled"))
        self.task = task
        h.measurements.set_running(True)
        h.bottom_tabs.setCurrentWidget(h.measurements)
        label = METHODS[request.method].label if request.method in METHODS else request.method
        h.report("info", f"batch measure started: {len(image_set)} images, {label}, "
                         f"N={request.samples}, the bar parameters set in the controls")
        h.tasks.start(task, h.compute_pool, priority=0)

    def cancel(self) -> None:
        if self.running():
            self.task.cancel()
            self.host.measurements.progress.setFormat("cancelling…")

    def _done(self, report: Any, generation: int) -> None:
        if generation != self._generation:  # finished after another set was opened
            self._end("cancelled", "batch measure of the previous set discarded")
            return
        h = self.host
        self.last_report = report
        h.measurements.set_table(report.table, len(report.failures))
        for err in report.failures[:MAX_LOGGED_FAILURES]:
            h.report("error", str(err))
        model = h.browser.model
        if model is not None:
            index = {k: i for i, k in enumerate(model.keys)}
            flags: dict[int, list[str]] = {}
            for row in report.table:
                entry = index.get(str(row["filename"]))
                if entry is None:
                    continue
                method = str(row["method"])
                model.set_measurement(entry, score=float(row["bar_score"]),
                                      lengths={method: float(row["bar_length_px"])})
                if row["flags"]:
                    flags.setdefault(entry, []).append(f"{method}:{row['flags']}")
            for entry, parts in flags.items():
                model.measures["flags"][entry] = " ".join(parts)
            model.measurements_changed()
        self._end("succeeded", f"batch measure done: {len(report.table)} rows, {len(report.failures)} failures")

    def _end(self, outcome: str, text: str) -> None:
        self.host.measurements.set_running(False, outcome)
        self.host.report("error" if outcome == "failed" else "info", text)
        self.finished.emit(outcome)

    def export(self) -> None:
        if self.last_report is None or len(self.last_report.table) == 0:
            self.host.report("warning", "nothing to export: run Measure all first")
            return
        path, _ = QFileDialog.getSaveFileName(self.host.dialog_parent(), "Export measurements", "measurements.ecsv",
                                              "Tables (*.ecsv *.csv *.fits)")
        if path:
            self.write_table(path)

    def write_table(self, path: str | Path) -> bool:
        """Write the last batch table (format from the suffix); errors are reported."""
        try:
            self.last_report.table.write(str(path), overwrite=True)
        except (OSError, ValueError) as exc:
            self.host.report("error", f"{path}: could not write ({exc})")
            return False
        self.host.report("info", f"measurements written to {path}")
        return True
