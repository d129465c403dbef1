"""The measurements table of the whole set, with batch measure (progress, cancel) and export.

Layout and a read-only table model over the astropy Table that
``jobs.measure_job.measure_dataset`` returns; the window runs the batch in a worker.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from astropy.table import Table
from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

#: columns shown (all columns are exported)
SHOWN_COLUMNS: tuple[str, ...] = (
    "filename", "method", "bar_length_px", "length_err_px", "bar_length_arcsec", "bar_length_kpc",
    "bar_width_px", "bar_pa_deg", "bar_score", "threshold", "flags",
)


def summarise(table: Table | None, n_failures: int = 0) -> str:
    """One line about a results table: rows, images, measured lengths per method, failures."""
    if table is None:
        return "no measurements yet: Measure all (Ctrl+B) runs the whole set"
    if len(table) == 0:
        return f"no measurements ({n_failures} files failed)" if n_failures else "no measurements"
    parts = [f"{len(set(table['filename']))} images"]
    for method in sorted(set(table["method"])):
        sel = table[table["method"] == method]
        lengths = np.asarray(sel["bar_length_px"], dtype=float)
        ok = np.isfinite(lengths)
        med = f", median {np.median(lengths[ok]):.1f} px" if ok.any() else ""
        parts.append(f"{method}: {int(ok.sum())} lengths{med}")
    if n_failures:
        parts.append(f"{n_failures} failed (see log)")
    return " · ".join(parts)


class MeasurementsModel(QAbstractTableModel):
    """Read-only view of a measure_dataset table (SHOWN_COLUMNS that exist)."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.table: Table | None = None
        self.columns: list[str] = []
        self._cells: list[list[Any]] = []

    def set_table(self, table: Table | None) -> None:
        self.beginResetModel()
        self.table = table
        self.columns = [c for c in SHOWN_COLUMNS if table is not None and c in table.colnames]
        self._cells = ([[table[c][i] for c in self.columns] for i in range(len(table))]
                       if table is not None else [])
        self.endResetModel()

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802 (Qt API)
        return 0 if parent.isValid() else len(self._cells)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: N802
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.columns[section].replace("bar_", "")
        return None

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        value = self._cells[index.row()][index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            if isinstance(value, (float, np.floating)):
                return "" if not math.isfinite(float(value)) else f"{float(value):.3g}" \
                    if abs(float(value)) < 1 else f"{float(value):.1f}"
            return str(value)
        if role == Qt.ItemDataRole.TextAlignmentRole and isinstance(value, (float, np.floating, int, np.integer)):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def filename_at(self, row: int) -> str | None:
        if self.table is None or not 0 <= row < len(self._cells) or "filename" not in self.columns:
            return None
        return str(self._cells[row][self.columns.index("filename")])


class MeasurementsPanel(QWidget):
    """Buttons (measure all, cancel, export), a progress bar, a summary line and the table.

    file_activated(filename) when a row is clicked, so the window can show that image.
    """

    measure_clicked = Signal()
    cancel_clicked = Signal()
    export_clicked = Signal()
    file_activated = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.measure = QPushButton("Measure all")
        self.measure.setToolTip("saliency + both bar methods for every image of the set (Ctrl+B)")
        self.cancel = QPushButton("Cancel")
        self.cancel.setEnabled(False)
        self.export = QPushButton("Export…")
        self.export.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("idle")
        self.summary = QLabel(summarise(None))
        self.model = MeasurementsModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setAlternatingRowColors(True)
        top = QHBoxLayout()
        top.addWidget(self.measure)
        top.addWidget(self.cancel)
        top.addWidget(self.progress, 1)
        top.addWidget(self.export)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(top)
        self.blind_note = QLabel("<i>the machine's measurements are hidden in annotate mode (you draw blind); "
                                 "leave annotate mode (D) to see them</i>")
        self.blind_note.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.blind_note.hide()
        layout.addWidget(self.summary)
        layout.addWidget(self.blind_note)
        layout.addWidget(self.table, 1)
        self.measure.clicked.connect(self.measure_clicked)
        self.cancel.clicked.connect(self.cancel_clicked)
        self.export.clicked.connect(self.export_clicked)
        self.table.clicked.connect(self._clicked)

    def set_results_hidden(self, hidden: bool) -> None:
        """Annotate mode: hide the table and its summary (every number in it is the machine's)."""
        self.table.setVisible(not hidden)
        self.summary.setVisible(not hidden)
        self.blind_note.setVisible(hidden)

    def set_running(self, running: bool, text: str = "") -> None:
        self.measure.setEnabled(not running)
        self.cancel.setEnabled(running)
        if running:
            self.progress.setRange(0, 0)  # busy until the first progress report
            self.progress.setFormat("starting…")
        else:
            self.progress.setRange(0, 1)
            self.progress.setValue(1 if text else 0)
            self.progress.setFormat(text or "idle")

    def set_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)
        self.progress.setFormat(f"{done}/{total} images")

    def set_table(self, table: Table | None, n_failures: int = 0) -> None:
        self.model.set_table(table)
        self.summary.setText(summarise(table, n_failures))
        self.export.setEnabled(table is not None and len(table) > 0)
        self.table.resizeColumnsToContents()

    def _clicked(self, index: QModelIndex) -> None:
        name = self.model.filename_at(index.row())
        if name is not None:
            self.file_activated.emit(name)
