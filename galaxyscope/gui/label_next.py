"""The browser's "label next" column: which images a label would teach the model most (issue 19).

Why here and not in the batch: the ranking (`finetune.queue.label_queue`) reads the
Measure all table, which the window already has, and the labels in the annotation
database, which change with every answer; so the column is filled after each Measure
all and after each write to the database, and costs no model time. Clicking the
column's header (or Navigate > Sort: label next first) puts the most useful images
on top; the cell's tooltip says why. Blind annotation hides the column with the
machine's other columns (its reasons quote P(bar)).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QObject, Qt

from galaxyscope.errors import GalaxyscopeError

if TYPE_CHECKING:
    from galaxyscope.gui.main_window import MainWindow

COLUMN = "label_next"


class LabelNext(QObject):
    """Fills the browser's ``label_next`` column from the last Measure all and the database's labels."""

    def __init__(self, host: MainWindow) -> None:
        super().__init__(host)
        self.host = host
        self.items: list[Any] = []  # the last queue (finetune.queue.QueueItem), best first
        host.batch.finished.connect(lambda outcome: self.refresh() if outcome == "succeeded" else None)
        host.annotate.written.connect(lambda _action: self.refresh())

    def refresh(self) -> bool:
        """Rank the measured images again (labelled ones left out). False when there is nothing to rank."""
        from galaxyscope.finetune.queue import label_queue, labelled_filenames

        h = self.host
        model, report = h.browser.model, h.batch.last_report
        if model is None or report is None or len(report.table) == 0:
            return False
        store, labelled = h.annotate.store, set()
        if store is not None and h.image_set is not None:
            try:
                labelled = labelled_filenames(store, h.image_set)
            except GalaxyscopeError as exc:
                h.report("warning", f"label next: could not read the labels ({exc}); ranking every image")
        methods = {str(m) for m in report.table["method"]}
        method = h.state.bars.method if h.state.bars.method in methods else sorted(methods)[0]
        self.items = label_queue(report.table, labelled=labelled, method=method)
        values = np.full(len(model.keys), np.nan)
        index = {k: i for i, k in enumerate(model.keys)}
        model.reasons = {}
        for item in self.items:
            entry = index.get(item.filename)
            if entry is not None:
                values[entry] = round(item.score, 3)
                model.reasons[entry] = "; ".join(item.reasons) or "no strong reason: low priority"
        model.measures[COLUMN][:] = values
        model.measurements_changed()  # the rows keep their order: Enter's "next" must stay the next row
        return True

    def sort_first(self) -> None:
        """Navigate > Sort: label next first (the browser sorted by the column, highest first)."""
        h = self.host
        if h.browser.model is None or h.batch.last_report is None:
            h.report("warning", "label next needs the model's measurements: Measure all (Ctrl+B) first")
            return
        if h.state.annotate.active:
            h.show_status("the label-next order uses the machine's numbers: it is off while you draw blind "
                          "(leave annotate mode with D)", 8000)
            return
        column = h.browser.model.columns.index(COLUMN)
        h.browser.table.sortByColumn(column, Qt.SortOrder.DescendingOrder)
        h.browser.select_row(0)
