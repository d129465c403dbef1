"""The browser: every image of the set as a row with its thumbnail, catalogue columns and results.

Why a custom table model: rows are only an index array into the image set
(``order``), columns are numpy arrays, and sorting/filtering are numpy
operations (galaxyscope.images.row_filter), so 100k rows stay smooth. Thumbnails come from the
`ThumbnailLoader` when a row is painted. The rows keep fixed heights so the view
never measures 100k rows.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QItemSelectionModel, QModelIndex, Qt, Signal, Slot
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QLabel, QLineEdit, QTableView, QVBoxLayout, QWidget

from galaxyscope.images.row_filter import FilterError, filter_mask, sort_order
from galaxyscope.gui.thumbnails import ThumbnailLoader

#: columns the GUI fills in itself (model score, bar lengths per method, the label-next priority, flags)
MEASURE_COLUMNS: tuple[str, ...] = ("score", "paper_px", "moments_px", "label_next", "flags")
FILE_COLUMN = "file"
ENTRY_ROLE = Qt.ItemDataRole.UserRole + 1
HIDDEN_CATALOGUE_COLUMNS = ("filename",)


def _format(value: Any) -> str:
    if value is None or value is np.ma.masked:
        return ""
    if isinstance(value, (float, np.floating)):
        return "" if not math.isfinite(float(value)) else f"{float(value):.4g}"
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return str(value)


class BrowserModel(QAbstractTableModel):
    """Rows = entries of an ImageSet (in ``order``); columns = file, catalogue columns, MEASURE_COLUMNS."""

    def __init__(self, image_set: Any, thumbnails: ThumbnailLoader | None = None,
                 parent: Any = None) -> None:
        super().__init__(parent)
        self.image_set = image_set
        self.thumbnails = thumbnails
        n = len(image_set)
        self.keys: list[str] = [e.key for e in image_set.entries]
        cat = getattr(image_set, "catalogue", None)
        self.catalogue_columns: list[str] = [
            c for c in (cat.colnames if cat is not None else [])
            if c not in HIDDEN_CATALOGUE_COLUMNS and len(cat[c].shape) == 1]
        # results first (what the user vets), then the catalogue, then the long flags text
        self.columns: list[str] = ([FILE_COLUMN] + list(MEASURE_COLUMNS[:-1]) + self.catalogue_columns
                                   + [MEASURE_COLUMNS[-1]])
        self._values: dict[str, np.ndarray] = {}
        self.measures: dict[str, np.ndarray] = {
            "score": np.full(n, np.nan), "paper_px": np.full(n, np.nan), "moments_px": np.full(n, np.nan),
            "label_next": np.full(n, np.nan), "flags": np.full(n, "", dtype=object),
        }
        self.reasons: dict[int, str] = {}  # entry -> why label it next (`label_next`)
        self.errors: dict[int, str] = {}
        self.filter_text = ""
        self.sort_column = -1
        self.sort_descending = False
        self.order = np.arange(n, dtype=np.int64)
        self._row_of = np.arange(n, dtype=np.int64)
        if thumbnails is not None:
            thumbnails.loaded.connect(self._thumbnail_loaded)
            thumbnails.failed.connect(self._thumbnail_failed)

    # ------------------------------------------------------------------ columns

    def column_values(self, name: str) -> np.ndarray:
        """The whole column ``name`` aligned with the set's entries (cached for catalogue columns)."""
        if name in self.measures:
            return self.measures[name]
        if name == FILE_COLUMN:
            if FILE_COLUMN not in self._values:
                self._values[FILE_COLUMN] = np.asarray(self.keys, dtype=str) if self.keys else np.array([], str)
            return self._values[FILE_COLUMN]
        if name not in self._values:
            self._values[name] = self.image_set.column(name)
        return self._values[name]

    # ------------------------------------------------------------------ Qt model API

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802 (Qt API)
        return 0 if parent.isValid() else int(len(self.order))

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(self.columns):
            if role == Qt.ItemDataRole.DisplayRole:
                return self.columns[section]
            if role == Qt.ItemDataRole.ToolTipRole:
                return {"score": "model probability for the bar output (after its saliency ran)",
                        "paper_px": "bar length (px) from the paper's threshold sweep",
                        "moments_px": "bar length (px) from our ellipse fit",
                        "flags": "quality flags of the bar measurements",
                        "label_next": "how much a label here would teach the model (0-1; after Measure all; "
                                      "labelled images left blank): sort by it, highest first",
                        FILE_COLUMN: "file name relative to the set's folder"}.get(
                            self.columns[section], "catalogue column")
        return None

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self.order):
            return None
        entry = int(self.order[index.row()])
        name = self.columns[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            if name == FILE_COLUMN:
                return self.keys[entry]
            values = self.column_values(name)
            return _format(values[entry])
        if role == ENTRY_ROLE:
            return entry
        if role == Qt.ItemDataRole.DecorationRole and name == FILE_COLUMN and self.thumbnails is not None:
            if entry in self.errors:
                return None
            return self.thumbnails.get(entry)
        if role == Qt.ItemDataRole.ToolTipRole and name == "label_next" and entry in self.reasons:
            return self.reasons[entry]
        if role == Qt.ItemDataRole.ToolTipRole and name == FILE_COLUMN:
            err = self.errors.get(entry)
            return f"{self.keys[entry]}\n{err}" if err else self.keys[entry]
        if role == Qt.ItemDataRole.ForegroundRole and entry in self.errors:
            return QColor(200, 40, 40)
        if role == Qt.ItemDataRole.TextAlignmentRole and name != FILE_COLUMN:
            values = self.column_values(name)
            if np.ma.getdata(values).dtype.kind in "iufb":
                return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort all rows by a column (numpy argsort); column -1 restores the set's own order."""
        self.sort_column = int(column)
        self.sort_descending = order == Qt.SortOrder.DescendingOrder
        self._apply()

    # ------------------------------------------------------------------ rows <-> entries

    def entry_at(self, row: int) -> int | None:
        if 0 <= row < len(self.order):
            return int(self.order[row])
        return None

    def row_of(self, entry: int) -> int:
        """The row showing ``entry``, or -1 when the filter hides it."""
        if 0 <= entry < len(self._row_of):
            return int(self._row_of[entry])
        return -1

    # ------------------------------------------------------------------ filter / sort

    def set_filter(self, text: str) -> None:
        """Show only entries passing ``text`` (row_filter syntax); raises FilterError, leaving rows as they were."""
        filter_mask(text, self.keys, self.column_values, self.columns)  # validate before changing anything
        self.filter_text = text
        self._apply()

    def _apply(self) -> None:
        keep = filter_mask(self.filter_text, self.keys, self.column_values, self.columns)
        rows = np.flatnonzero(keep).astype(np.int64)
        if 0 <= self.sort_column < len(self.columns):
            rows = sort_order(self.column_values(self.columns[self.sort_column]), rows, self.sort_descending)
        self._set_order(rows)

    def _set_order(self, new_order: np.ndarray) -> None:
        self.layoutAboutToBeChanged.emit()
        old = self.persistentIndexList()
        remembered = [(int(self.order[i.row()]) if 0 <= i.row() < len(self.order) else -1, i.column())
                      for i in old]
        self.order = np.asarray(new_order, dtype=np.int64)
        self._row_of = np.full(len(self.keys), -1, dtype=np.int64)
        self._row_of[self.order] = np.arange(len(self.order))
        new = []
        for entry, col in remembered:
            row = self.row_of(entry) if entry >= 0 else -1
            new.append(self.index(row, col) if row >= 0 else QModelIndex())
        self.changePersistentIndexList(old, new)
        self.layoutChanged.emit()

    # ------------------------------------------------------------------ results

    def set_measurement(self, entry: int, *, score: float | None = None,
                        lengths: dict[str, float] | None = None, flags: str | None = None) -> None:
        """Record results for one entry and repaint its row."""
        if not 0 <= entry < len(self.keys):
            return
        if score is not None:
            self.measures["score"][entry] = score
        for method, value in (lengths or {}).items():
            col = f"{method}_px"
            if col in self.measures:
                self.measures[col][entry] = np.nan if value is None else value
        if flags is not None:
            self.measures["flags"][entry] = flags
        row = self.row_of(entry)
        if row >= 0:
            self.dataChanged.emit(self.index(row, 1), self.index(row, len(self.columns) - 1))

    def measurements_changed(self) -> None:
        """Repaint every row's result columns (after a batch)."""
        if len(self.order):
            self.dataChanged.emit(self.index(0, 1), self.index(len(self.order) - 1, len(self.columns) - 1))

    def mark_failed(self, entry: int, reason: str) -> None:
        """Show an entry as unreadable (red, reason in its tooltip)."""
        self.errors[entry] = reason
        if self.thumbnails is not None:
            self.thumbnails.mark_failed(entry, reason)
        row = self.row_of(entry)
        if row >= 0:
            self.dataChanged.emit(self.index(row, 0), self.index(row, len(self.columns) - 1))

    @Slot(int, object)
    def _thumbnail_loaded(self, entry: int, image: QImage) -> None:
        if self.thumbnails is not None:
            self.thumbnails.store(entry, image)
        row = self.row_of(entry)
        if row >= 0:
            idx = self.index(row, 0)
            self.dataChanged.emit(idx, idx, [Qt.ItemDataRole.DecorationRole])

    @Slot(int, str)
    def _thumbnail_failed(self, entry: int, reason: str) -> None:
        self.mark_failed(entry, reason)


class BrowserWidget(QWidget):
    """Filter box, row count and the table; emits ``entry_selected(entry)`` when the current row changes."""

    entry_selected = Signal(int)
    filter_failed = Signal(str)

    def __init__(self, thumb_size: int = 48, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.thumb_size = thumb_size
        self.results_hidden = False
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("filter: has_bar == 1 and paper_px > 30, or part of a file name")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.setToolTip(
            "Clauses joined by 'and': column == value, !=, <, <=, >, >=, ~ (contains), !~.\n"
            "Other text matches file names. Columns are the table's headers.")
        self.count_label = QLabel("no image set")
        self.table = QTableView()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setIconSize(self.table.iconSize().scaled(thumb_size, thumb_size, Qt.AspectRatioMode.IgnoreAspectRatio))
        self.table.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # keep both ends of long names
        self.table.setAlternatingRowColors(True)
        vh = self.table.verticalHeader()
        vh.setVisible(False)
        vh.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        vh.setDefaultSectionSize(thumb_size + 6)
        hh = self.table.horizontalHeader()
        hh.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        hh.setStretchLastSection(True)
        hh.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.table.setSortingEnabled(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.filter_edit)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.count_label)
        self.model: BrowserModel | None = None
        self.filter_edit.returnPressed.connect(self.apply_filter)
        self.filter_edit.textChanged.connect(self._filter_text_changed)

    def set_model(self, model: BrowserModel | None) -> None:
        old = self.table.selectionModel()
        self.model = model
        self.table.setModel(model)
        if old is not None:
            old.deleteLater()
        if model is None:
            self.count_label.setText("no image set")
            return
        self.table.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.table.selectionModel().currentRowChanged.connect(self._current_changed)
        for c in range(1, model.columnCount()):
            self.table.setColumnWidth(c, max(64, self.table.fontMetrics().horizontalAdvance(model.columns[c]) + 24))
        self.set_results_hidden(self.results_hidden)
        model.layoutChanged.connect(self._update_count)
        self._update_count()

    def set_results_hidden(self, hidden: bool) -> None:
        """Hide (or show again) the machine's columns (score, lengths, flags): annotate mode draws
        blind, and a length in the list would anchor the line being drawn as much as one on the image."""
        self.results_hidden = bool(hidden)
        if self.model is None:
            return
        for name in MEASURE_COLUMNS:
            if name in self.model.columns:
                self.table.setColumnHidden(self.model.columns.index(name), self.results_hidden)
        self.fit_first_columns()

    def fit_first_columns(self) -> None:
        """Give the file column what is left after score and the first length column, so those
        two numbers are always in view however narrow the dock (names elide in the middle)."""
        if self.model is None or self.model.columnCount() < 2:
            return
        shown = [c for c in range(1, min(3, self.model.columnCount())) if not self.table.isColumnHidden(c)]
        others = sum(self.table.columnWidth(c) for c in shown)
        room = self.table.viewport().width() - others - 2
        self.table.setColumnWidth(0, max(self.thumb_size + 56, room))

    def resizeEvent(self, event) -> None:  # noqa: N802  (Qt override)
        super().resizeEvent(event)
        self.fit_first_columns()

    # ------------------------------------------------------------------ navigation

    def current_entry(self) -> int | None:
        if self.model is None:
            return None
        idx = self.table.currentIndex()
        return self.model.entry_at(idx.row()) if idx.isValid() else None

    def current_row(self) -> int:
        idx = self.table.currentIndex()
        return idx.row() if idx.isValid() else -1

    def select_row(self, row: int) -> bool:
        """Make ``row`` current (and scroll to it); False when out of range."""
        if self.model is None or not 0 <= row < self.model.rowCount():
            return False
        idx = self.model.index(row, 0)
        self.table.selectionModel().setCurrentIndex(
            idx, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows)
        self.table.scrollTo(idx)
        return True

    def select_entry(self, entry: int) -> bool:
        if self.model is None:
            return False
        row = self.model.row_of(entry)
        return self.select_row(row) if row >= 0 else False

    def step(self, delta: int) -> bool:
        """Move the current row by ``delta`` (clamped); True when it moved."""
        if self.model is None or self.model.rowCount() == 0:
            return False
        row = self.current_row()
        target = 0 if row < 0 else min(max(row + delta, 0), self.model.rowCount() - 1)
        if target == row:
            return False
        return self.select_row(target)

    def entry_after(self, entry: int, delta: int = 1) -> int | None:
        """The entry ``delta`` rows after ``entry`` in the current order (for prefetching)."""
        if self.model is None:
            return None
        row = self.model.row_of(entry)
        return self.model.entry_at(row + delta) if row >= 0 else None

    # ------------------------------------------------------------------ filter

    @Slot()
    def apply_filter(self) -> None:
        if self.model is None:
            return
        try:
            self.model.set_filter(self.filter_edit.text())
        except FilterError as exc:
            self.filter_edit.setStyleSheet("QLineEdit { background: #5a1e1e; }")
            self.filter_edit.setToolTip(str(exc))
            self.filter_failed.emit(str(exc))
            return
        self.filter_edit.setStyleSheet("")
        if self.current_row() < 0 and self.model.rowCount():
            self.select_row(0)

    @Slot(str)
    def _filter_text_changed(self, text: str) -> None:
        if not text and self.model is not None and self.model.filter_text:
            self.apply_filter()

    @Slot()
    def _update_count(self) -> None:
        if self.model is None:
            return
        total = len(self.model.keys)
        shown = self.model.rowCount()
        failed = len(getattr(self.model.image_set, "failures", []))
        text = f"{shown} of {total} images" if shown != total else f"{total} images"
        if failed:
            text += f" · {failed} catalogue rows without a readable file (see log)"
        self.count_label.setText(text)

    @Slot(QModelIndex, QModelIndex)
    def _current_changed(self, current: QModelIndex, previous: QModelIndex) -> None:
        if self.model is None or not current.isValid():
            return
        if previous.isValid() and previous.row() == current.row() and \
                self.model.entry_at(previous.row()) == self.model.entry_at(current.row()):
            return
        entry = self.model.entry_at(current.row())
        if entry is not None:
            self.entry_selected.emit(entry)
