"""Agreement and vetting: how well people agree, and where the machine disagrees with them.

One panel: the set's inter-annotator scatter (next to Hoyle et al. 2011's numbers),
a measured-vs-annotated scatter plot and the vetting list, most disagreeing image
first, with the published reference length of the galaxy where one was imported
(Hoyle et al. 2011 or a generic table; matched by objid). Clicking a row (or Enter)
or a point emits ``image_activated(image_id)``; the window opens that image with
the human, machine and reference lines drawn. The numbers come from `galaxyscope.store.agreement`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import astropy.units as u
import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from galaxyscope.gui.annotate_logic import (
    MACHINE_COLOUR,
    OWN_COLOUR,
    REFERENCE_COLOUR,
    VETTING_COLUMNS,
    scatter_summary,
    set_agreement_text,
    vetting_cells,
)
from galaxyscope.store import AnnotationStore
from galaxyscope.store.agreement import SetAgreement, VettingRow, set_agreement, vetting_list

IMAGE_ID_ROLE = Qt.ItemDataRole.UserRole + 7
ALL_SETS = "__all__"


class SortItem(QTableWidgetItem):
    """A cell that sorts by a number (or text) it carries, not by what it shows."""

    def __init__(self, text: str, key: float | str) -> None:
        super().__init__(text)
        self.key = key

    def __lt__(self, other: QTableWidgetItem) -> bool:
        key = getattr(other, "key", other.text())
        try:
            return self.key < key
        except TypeError:
            return str(self.key) < str(key)


class VettingPanel(QWidget):
    """Set agreement, scatter plot and the vetting list over one annotation store."""

    image_activated = Signal(int)
    refresh_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.set_combo = QComboBox()
        self.set_combo.setToolTip("which images: the open set, or every image in the database")
        self.method_combo = QComboBox()
        self.method_combo.setToolTip("which machine measurements to compare with")
        self.refresh_button = QPushButton("Refresh")
        self.summary = QLabel("no annotation database open (File > Open database…)")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.table = QTableWidget(0, len(VETTING_COLUMNS))
        self.table.setHorizontalHeaderLabels(list(VETTING_COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setToolTip("most disagreeing first · click or Enter opens the image with every line")
        self.plot = pg.PlotWidget()
        self.plot.setLabel("bottom", "annotated (mean of people), px")
        self.plot.setLabel("left", "measured by the machine, px")
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        self.plot.setAspectLocked(False)
        self.one_to_one = pg.PlotCurveItem(pen=pg.mkPen((200, 200, 200), width=1, style=Qt.PenStyle.DashLine))
        self.plot.addItem(self.one_to_one)
        self.errors = pg.ErrorBarItem(pen=pg.mkPen((160, 160, 160), width=1))
        self.plot.addItem(self.errors)
        self.points = pg.ScatterPlotItem(size=8, pen=pg.mkPen((0, 0, 0), width=0.5),
                                         brush=pg.mkBrush(*MACHINE_COLOUR, 200), hoverable=True,
                                         tip=self._point_tip)
        self.plot.addItem(self.points)
        self.reference_points = pg.ScatterPlotItem(size=8, symbol="d", pen=pg.mkPen((0, 0, 0), width=0.5),
                                                   brush=pg.mkBrush(*REFERENCE_COLOUR, 200), hoverable=True,
                                                   tip=self._reference_tip)
        self.plot.addItem(self.reference_points)
        self.legend = self.plot.addLegend(offset=(8, 8))
        self.legend.addItem(self.points, "machine vs people")
        self.legend.addItem(self.reference_points, "machine vs reference")
        self.highlight = pg.ScatterPlotItem(size=15, pen=pg.mkPen(OWN_COLOUR, width=2), brush=None)
        self.plot.addItem(self.highlight)

        top = QHBoxLayout()
        top.addWidget(QLabel("images"))
        top.addWidget(self.set_combo)
        top.addWidget(QLabel("machine"))
        top.addWidget(self.method_combo)
        top.addWidget(self.refresh_button)
        top.addStretch(1)
        self.split = split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.table)
        split.addWidget(self.plot)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        self.blind_note = QLabel("<i>agreement and the machine's lengths are hidden in annotate mode (you draw "
                                 "blind); leave annotate mode (D) to vet</i>")
        self.blind_note.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.blind_note.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(top)
        layout.addWidget(self.summary)
        layout.addWidget(self.blind_note)
        layout.addWidget(split, 1)

        self.rows: list[VettingRow] = []
        self.agreement: SetAgreement | None = None
        # one click opens a row (as the docs say); Enter too; a double click opens it once
        self.table.clicked.connect(self._activated)
        self.table.activated.connect(self._activated)
        self._last_open: tuple[int, float] | None = None
        self.table.currentCellChanged.connect(lambda row, *_: self._highlight_row(row))
        self.points.sigClicked.connect(self._point_clicked)
        self.reference_points.sigClicked.connect(self._point_clicked)
        self.refresh_button.clicked.connect(self.refresh_requested.emit)
        self.set_combo.activated.connect(lambda _i: self.refresh_requested.emit())
        self.method_combo.activated.connect(lambda _i: self.refresh_requested.emit())

    # ------------------------------------------------------------------ content

    def set_results_hidden(self, hidden: bool) -> None:
        """Annotate mode: hide the summary, the list and the plot (people's and the machine's lengths)."""
        self.summary.setVisible(not hidden)
        self.split.setVisible(not hidden)
        self.blind_note.setVisible(hidden)

    def chosen_set(self) -> str | None:
        """The set name to show (None: all images)."""
        data = self.set_combo.currentData()
        return None if data in (None, ALL_SETS) else str(data)

    def chosen_method(self) -> str | None:
        data = self.method_combo.currentData()
        return None if not data else str(data)

    def _fill_combo(self, combo: QComboBox, items: Sequence[tuple[str, object]], keep: object) -> None:
        combo.blockSignals(True)
        combo.clear()
        for text, data in items:
            combo.addItem(text, data)
        i = combo.findData(keep)
        combo.setCurrentIndex(i if i >= 0 else 0)
        combo.blockSignals(False)

    def refresh(self, store: AnnotationStore | None, current_set: str | None = None) -> None:
        """Read agreement and the vetting list again (``current_set``: the open image set's name)."""
        if store is None:
            self.rows = []
            self.agreement = None
            self.summary.setText("no annotation database open (File > Open database…)")
            self._fill_table([])
            return
        sets = sorted({i.set_name for i in store.images() if i.set_name})
        keep = self.set_combo.currentData() if self.set_combo.count() else (current_set or ALL_SETS)
        items = [("all images", ALL_SETS)] + [(f"set {s}" + (" (open)" if s == current_set else ""), s)
                                              for s in sets]
        self._fill_combo(self.set_combo, items, keep)
        methods = sorted({m.method for m in store.machine_measurements()})
        self._fill_combo(self.method_combo, [("any method", "")] + [(m, m) for m in methods],
                         self.method_combo.currentData() or "")
        set_name = self.chosen_set()
        self.agreement = set_agreement(store, set_name)
        self.rows = vetting_list(store, set_name=set_name, method=self.chosen_method())
        self.summary.setText(set_agreement_text(self.agreement) + "\nmachine against people: "
                             + scatter_summary(self.rows))
        self._fill_table(self.rows)

    def _fill_table(self, rows: Sequence[VettingRow]) -> None:
        self.table.setSortingEnabled(False)
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, (text, key) in enumerate(vetting_cells(row)):
                item = SortItem(text, key)
                item.setData(IMAGE_ID_ROLE, row.image_id)
                if c >= 2:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, c, item)
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.table.setSortingEnabled(True)  # with no sort column: the store's order (by disagreement)
        ok = [row for row in rows if row.machine_length is not None
              and math.isfinite(row.machine_length.to_value(u.pix))]
        x = np.array([row.human_length.to_value(u.pix) for row in ok], dtype=float)
        y = np.array([row.machine_length.to_value(u.pix) for row in ok], dtype=float)
        err = np.array([row.human_std.to_value(u.pix) for row in ok], dtype=float)
        self.points.setData(x=x, y=y, data=[row.image_id for row in ok])
        with_ref = [row for row in ok if row.reference_length is not None]
        rx = np.array([row.reference_length.to_value(u.pix) for row in with_ref], dtype=float)
        ry = np.array([row.machine_length.to_value(u.pix) for row in with_ref], dtype=float)
        self.reference_points.setData(x=rx, y=ry, data=[row.image_id for row in with_ref])
        err = np.where(np.isfinite(err), err, 0.0)
        self.errors.setData(x=x, y=y, left=err, right=err)
        top = float(max(x.max(initial=1.0), y.max(initial=1.0), rx.max(initial=1.0))) * 1.05
        self.one_to_one.setData([0, top], [0, top])
        self.highlight.setData([], [])
        self.plot.enableAutoRange()

    # ------------------------------------------------------------------ activation

    def image_id_at(self, row: int) -> int | None:
        """The image id shown in table row ``row`` (after any sorting)."""
        item = self.table.item(row, 0)
        return None if item is None else int(item.data(IMAGE_ID_ROLE))

    def _activated(self, index: QModelIndex) -> None:
        image_id = self.image_id_at(index.row())
        if image_id is None:
            return
        now = time.monotonic()
        twice = QApplication.doubleClickInterval() / 1000.0
        if self._last_open is not None and self._last_open[0] == image_id and now - self._last_open[1] < twice:
            return  # the second half of a double click (clicked, then activated)
        self._last_open = (image_id, now)
        self.image_activated.emit(image_id)

    def _point_clicked(self, _item: object, points: Sequence[object], *args: object) -> None:
        if len(points):
            image_id = int(points[0].data())
            for r in range(self.table.rowCount()):
                if self.image_id_at(r) == image_id:
                    self.table.selectRow(r)
                    break
            self.image_activated.emit(image_id)

    def _highlight_row(self, row: int) -> None:
        image_id = self.image_id_at(row) if row >= 0 else None
        match = [r for r in self.rows if r.image_id == image_id and r.machine_length is not None
                 and math.isfinite(r.machine_length.to_value(u.pix))]
        if match:
            self.highlight.setData([match[0].human_length.to_value(u.pix)],
                                   [match[0].machine_length.to_value(u.pix)])
        else:
            self.highlight.setData([], [])

    def _reference_tip(self, x: float, y: float, data: object) -> str:
        row = next((r for r in self.rows if r.image_id == data), None)
        name = row.image_path.rsplit("/", 1)[-1] if row is not None else str(data)
        source = row.reference_source if row is not None else "reference"
        return f"{name}\n{source} {x:.1f} px · machine {y:.1f} px\nclick to open"

    def _point_tip(self, x: float, y: float, data: object) -> str:
        row = next((r for r in self.rows if r.image_id == data), None)
        name = row.image_path.rsplit("/", 1)[-1] if row is not None else str(data)
        return f"{name}\npeople {x:.1f} px · machine {y:.1f} px\nclick to open"
