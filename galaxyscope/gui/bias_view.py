"""The "Bias" tab: does the model look at the galaxy, image by image, as you browse?

Why: `galaxyscope scan-bias` checks a whole set in batch; while browsing, the
window already has each image's saliency map, so the same check
(`galaxyscope.bias.scan.check_saliency`, fast numpy / scikit-image) runs on every
map shown and the tab lists the images checked so far in this session, worst
score first. One click on a row opens that image (and shows its full reasons
under the table); a check box draws the
galaxy mask the check used as an outline over the current image.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from galaxyscope.bias.scan import ImageCheck, check_saliency
from galaxyscope.gui.overlay_geometry import mask_outline_xy
from galaxyscope.gui.session_state import Change
from galaxyscope.gui.vetting import SortItem
from galaxyscope.gui.window_services import BiasHost
from galaxyscope.gui.workers import Task

BIAS_COLUMNS = ("file", "flagged", "score", "reasons")
KEY_ROLE = Qt.ItemDataRole.UserRole + 11
GALAXY_MASK_COLOUR = (255, 80, 255)  # magenta: apart from the bar fit's green threshold mask


class _ElideRight(QStyledItemDelegate):
    """Reasons lose their end, not their middle: each starts with its key words."""

    def initStyleOption(self, option: QStyleOptionViewItem, index: QModelIndex) -> None:  # noqa: N802 (Qt API)
        super().initStyleOption(option, index)
        option.textElideMode = Qt.TextElideMode.ElideRight


@dataclass
class CheckedImage:
    """One image checked in this session: its file key and the check's result."""

    key: str
    check: ImageCheck


class BiasPanel(QWidget):
    """The table of checked images (highest score first) and the mask-outline check box."""

    file_activated = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.show_mask = QCheckBox("galaxy mask")
        self.show_mask.setToolTip("outline the galaxy mask the bias check used, on the current image")
        self.summary = QLabel("no image checked yet: bias checks run on each saliency map shown")
        self.table = QTableWidget(0, len(BIAS_COLUMNS))
        self.table.setHorizontalHeaderLabels(list(BIAS_COLUMNS))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        # one line per image; long paths lose their middle, not their file name
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.table.horizontalHeader().setSectionResizeMode(len(BIAS_COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)
        self._reasons_delegate = _ElideRight(self.table)
        self.table.setItemDelegateForColumn(BIAS_COLUMNS.index("reasons"), self._reasons_delegate)
        # one click opens the image, as in the browser and the vetting list (keys too: activated)
        self.table.clicked.connect(self._activated)
        self.table.activated.connect(self._activated)
        self.detail = QLabel("")  # the full reasons of the row clicked: never cut
        self.detail.setWordWrap(True)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        top = QHBoxLayout()
        top.addWidget(self.summary, 1)
        top.addWidget(self.show_mask)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.detail)

    def set_rows(self, checked: list[CheckedImage]) -> None:
        """Show ``checked`` sorted by score, highest first (the user may re-sort by column)."""
        self.table.setSortingEnabled(False)
        self.table.setRowCount(len(checked))
        for row, item in enumerate(checked):
            v = item.check.verdict
            reasons = "; ".join(f.reason for f in v.flags)
            cells = [SortItem(item.key, item.key), SortItem("yes" if v.flagged else "no", int(v.flagged)),
                     SortItem(f"{v.score:.2f}", float(v.score)), SortItem(reasons, reasons)]
            for col, cell in enumerate(cells):
                cell.setData(KEY_ROLE, item.key)
                cell.setToolTip(item.key if col == 0 else (reasons or "not flagged"))
                self.table.setItem(row, col, cell)
        self.table.setSortingEnabled(True)
        self._fit_file_column()
        self.table.sortItems(BIAS_COLUMNS.index("score"), Qt.SortOrder.DescendingOrder)
        n_flagged = sum(c.check.verdict.flagged for c in checked)
        self.summary.setText(f"{len(checked)} images checked, {n_flagged} flagged")

    def _fit_file_column(self) -> None:
        """Widen the file column to its longest name, up to half the table (the rest elides)."""
        self.table.resizeColumnToContents(0)
        cap = max(120, self.table.viewport().width() // 2)
        if self.table.columnWidth(0) > cap:
            self.table.setColumnWidth(0, cap)

    def key_at(self, row: int) -> str | None:
        item = self.table.item(row, 0)
        return None if item is None else item.data(KEY_ROLE)

    def reasons_at(self, row: int) -> str:
        item = self.table.item(row, BIAS_COLUMNS.index("reasons"))
        return "" if item is None else item.text()

    def show_detail(self, key: str | None) -> None:
        """Show the full reasons of the row with file key ``key`` under the table (word-wrapped)."""
        row = next((r for r in range(self.table.rowCount()) if self.key_at(r) == key), -1)
        if row < 0:
            self.detail.setText("")
            return
        reasons = self.reasons_at(row)
        self.detail.setText(f"<b>{html.escape(key or '')}</b>: "
                            + (html.escape(reasons) if reasons else "not flagged"))

    def _activated(self, index: QModelIndex) -> None:
        key = self.key_at(index.row())
        if key is not None:
            self.show_detail(key)
            self.file_activated.emit(key)


class BiasController:
    """Wires the Bias tab to one main window (seen through ``BiasHost``): checks each saliency map
    shown, draws the mask outline."""

    def __init__(self, host: BiasHost) -> None:
        self.host = host
        self.panel = BiasPanel()
        host.add_result_tab(self.panel, "Bias")
        self.checked: dict[str, CheckedImage] = {}
        self.current: CheckedImage | None = None
        self._image_set: Any = None
        self._entry: int | None = None
        self.outline_shadow = pg.PlotCurveItem(pen=pg.mkPen((0, 0, 0, 200), width=3.5), connect="finite")
        self.outline_item = pg.PlotCurveItem(pen=pg.mkPen(GALAXY_MASK_COLOUR, width=1.5), connect="finite")
        self.outline_shadow.setZValue(21)
        self.outline_item.setZValue(22)
        for item in (self.outline_shadow, self.outline_item):
            host.image_view.view.addItem(item, ignoreBounds=True)
            item.setVisible(False)
        host.saliency_shown.connect(self.saliency_shown)
        host.state.entry.watch("index", self._entry_selected)
        self.panel.show_mask.toggled.connect(lambda _on: self._draw())
        self.panel.file_activated.connect(host.select_file)

    def set_changed(self) -> None:
        """A new image set: the rows of the old one name other images; forget them."""
        self._image_set = self.host.image_set
        self.checked.clear()
        self.panel.set_rows([])
        self.panel.detail.setText("")
        self.panel.summary.setText("no image checked yet: bias checks run on each saliency map shown")
        self._set_current(None)

    def saliency_shown(self, entry: int) -> None:
        """Check the window's current image against its saliency map and list the verdict."""
        h = self.host
        image, result = h.current_image, h.current_saliency
        key = h.file_key(entry) if entry >= 0 else None
        if image is None or result is None or key is None:
            return
        if h.image_set is not self._image_set:  # a new set: file keys mean other images
            self._image_set = h.image_set
            self.checked.clear()
        region = h.model_region(image)
        saliency, image_set = np.asarray(result.map), h.image_set
        task = Task(lambda progress, cancel: check_saliency(image, saliency, region=region), name=f"bias #{entry}")
        task.succeeded.connect(lambda check: self._checked(entry, key, image, image_set, check))
        task.failed.connect(lambda exc, _tb: h.report("warning", f"bias check failed for {key}: {exc}"))
        h.tasks.start(task, h.io_pool, priority=5)  # ~0.5 s for a 424 px image: off the GUI thread

    def _checked(self, entry: int, key: str, image: Any, image_set: Any, check: ImageCheck) -> None:
        if image_set is not self._image_set or image_set is not self.host.image_set:  # set changed meanwhile
            return
        item = CheckedImage(key=key, check=check)
        self.checked[key] = item
        self.panel.set_rows(list(self.checked.values()))
        if self.host.state.entry.index == entry and self.host.current_image is image:
            self._entry = entry
            self._set_current(item)
            self.panel.show_detail(key)

    def outline_shown(self) -> bool:
        """True when the galaxy-mask outline is on screen with something to draw."""
        return self.outline_item.isVisible() and self.outline_item.getData()[0] is not None \
            and len(self.outline_item.getData()[0]) > 0

    def _entry_selected(self, change: Change) -> None:
        # another image: its mask is not known until its own check is in
        if change.new != self._entry or self.host.image_set is not self._image_set:
            self._set_current(None)

    def _set_current(self, item: CheckedImage | None) -> None:
        self.current = item
        if item is None:
            self._entry = None
        self._draw()

    def _draw(self) -> None:
        outline = mask_outline_xy(self.current.check.masks.galaxy) if self.current is not None else None
        xy = outline if outline is not None else ([], [])
        on = self.panel.show_mask.isChecked() and outline is not None
        for item in (self.outline_shadow, self.outline_item):
            item.setData(*xy)
            item.setVisible(on)

