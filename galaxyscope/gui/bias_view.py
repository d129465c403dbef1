"""The "Bias" tab: does the model look at the galaxy, image by image and for the whole set?

Why: while browsing, the window already has each image's saliency map, so the
same check `scan-bias` makes (`galaxyscope.bias.scan.check_saliency`, fast numpy /
scikit-image) runs on every map shown. Three sources fill the list:

- each map shown (with its masks: "galaxy mask" outlines the one the check used);
- Measure all (Ctrl+B): when it finishes, the whole set is scanned with the saliency
  maps it just computed (`check_set`), with thresholds calibrated on this model -
  a clean reference's values when `scan-bias` has cached them for this model, else
  the set's own robust outliers - and the set-level notes;
- "Load stored flags": the flags `scan-bias --db` stored for the open set's images.

Rows list worst score first; one click opens the image and shows its full reasons
(word-wrapped, never cut) under the table.
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
    QFileDialog,
    QPushButton,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from galaxyscope.bias.flags import FlagResult, Thresholds
from galaxyscope.bias.scan import ImageCheck, ScanReport, check_saliency, row_check
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
    """One image checked: its file key, the check's result and where the verdict came from
    ("viewed": its map was shown; "Measure all"; "database": stored by scan-bias --db)."""

    key: str
    check: ImageCheck
    source: str = "viewed"


IDLE_TEXT = "no image checked yet: bias checks run on each saliency map shown and after Measure all (Ctrl+B)"

class BiasPanel(QWidget):
    """The table of checked images (highest score first) and the mask-outline check box."""

    file_activated = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.show_mask = QCheckBox("galaxy mask")
        self.show_mask.setToolTip("outline the galaxy mask the bias check used, on the current image")
        self.summary = QLabel(IDLE_TEXT)
        self.summary.setWordWrap(True)
        self.load_stored = QPushButton("Load stored flags…")
        self.load_stored.setToolTip("list the flags `galaxyscope scan-bias --db DB` stored for this set's images")
        self.notes = QLabel("")  # what the last set scan said about the set as a whole, and its thresholds
        self.notes.setWordWrap(True)
        self.notes.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
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
        top.addWidget(self.load_stored)
        top.addWidget(self.show_mask)
        self.body = QWidget()  # everything the machine's checks say: hidden in annotate mode
        body = QVBoxLayout(self.body)
        body.setContentsMargins(0, 0, 0, 0)
        body.addLayout(top)
        body.addWidget(self.notes)
        body.addWidget(self.table, 1)
        body.addWidget(self.detail)
        self.blind_note = QLabel("<i>the machine's saliency checks and the galaxy mask are hidden in annotate mode "
                                 "(you draw blind); leave annotate mode (D) to see them</i>")
        self.blind_note.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.blind_note.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.blind_note)
        layout.addWidget(self.body, 1)

    def set_results_hidden(self, hidden: bool) -> None:
        """Annotate mode: a note in place of the checks (scores, reasons, flags of the set's images)."""
        self.body.setVisible(not hidden)
        self.blind_note.setVisible(hidden)

    def set_rows(self, checked: list[CheckedImage]) -> None:
        """Show ``checked`` sorted by score, highest first (the user may re-sort by column)."""
        self.table.setSortingEnabled(False)
        self._reasons: dict[str, list[str]] = {}
        self.table.setRowCount(len(checked))
        for row, item in enumerate(checked):
            v = item.check.verdict
            reasons = "; ".join(f.reason for f in v.flags)
            self._reasons[item.key] = [f.reason for f in v.flags]
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
        self.summary.setText(f"{len(checked)} images checked, {n_flagged} flagged" if checked else IDLE_TEXT)

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
        reasons = getattr(self, "_reasons", {}).get(key or "") or ([self.reasons_at(row)] if self.reasons_at(row) else [])
        if not reasons:
            self.detail.setText(f"<b>{html.escape(key or '')}</b>: not flagged")
            return
        items = "".join(f"<li>{html.escape(r)}</li>" for r in reasons)
        self.detail.setText(f"<b>{html.escape(key or '')}</b>:<ul style='margin:0'>{items}</ul>")

    def set_notes(self, lines: list[str]) -> None:
        """Show what a set scan said about the set as a whole (and its thresholds), word-wrapped."""
        self.notes.setText("<br>".join(html.escape(t) for t in lines))

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
        #: thresholds of the per-image checks: the last set scan's (calibrated), else the fixed defaults
        self.thresholds: Thresholds | None = None
        self.last_report: ScanReport | None = None
        self.scan_task: Task | None = None
        self._image_set: Any = None
        self._entry: int | None = None
        self.blind = False  # drawing blind: the galaxy-mask outline stays off (`blind_view`)
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
        self.panel.load_stored.clicked.connect(self._ask_stored)
        # Measure all (Ctrl+B) done: scan the set with the maps it computed. Read off the window
        # by name (not part of BiasHost: a stand-in host without a batch simply has no such signal)
        finished = getattr(host, "batch_finished", None)
        if finished is not None:
            finished.connect(self._batch_finished)

    def set_changed(self) -> None:
        """A new image set: the rows of the old one name other images; forget them."""
        self._image_set = self.host.image_set
        if self.scan_task is not None and not self.scan_task.is_finished:
            self.scan_task.cancel()
        self.checked.clear()
        self.thresholds, self.last_report = None, None
        self.panel.set_rows([])
        self.panel.detail.setText("")
        self.panel.set_notes([])
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
        thresholds = self.thresholds
        task = Task(lambda progress, cancel: check_saliency(image, saliency, region=region, thresholds=thresholds),
                    name=f"bias #{entry}")
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

    # ------------------------------------------------------------------ whole-set verdicts

    def check_set(self, cache: Any, pool: Any = None) -> Task | None:
        """Scan the open set for bias in a worker, reusing the saliency maps of Measure all via ``cache``
        (an object with ``get_or_compute``, e.g. the window's locked disk cache).

        Thresholds: the 99th percentile of a clean reference when `scan-bias` already cached this
        model's values on one for these settings (no rendering in the window), else robust
        outliers of the set itself (median + k MAD), said so in the notes.
        """
        h = self.host
        image_set, model = h.image_set, h.model
        if image_set is None or model is None or len(image_set) == 0:
            return None
        if self.scan_task is not None and not self.scan_task.is_finished:
            self.scan_task.cancel()
        request = h.state.saliency
        saliency = dict(method=request.method, n_samples=request.samples, noise=request.noise,
                        target=request.target)

        def work(progress, cancel):
            return scan_for_window(image_set, model, cache=cache, saliency=saliency, progress=progress,
                                   cancel=cancel)

        task = Task(work, name="bias scan of the set")
        task.succeeded.connect(lambda report, s=image_set: self.show_report(report, s))
        task.failed.connect(lambda exc, _tb: h.report("warning", f"bias scan of the set failed: {exc}"))
        self.scan_task = task
        self.panel.summary.setText("checking the whole set for bias with the maps of Measure all…")
        h.tasks.start(task, pool or h.io_pool, priority=1)
        return task

    def _batch_finished(self, outcome: str) -> None:
        if outcome != "succeeded":
            return
        from galaxyscope.gui.saliency_service import LockedSaliency

        h = self.host
        cache = LockedSaliency(getattr(h, "model_lock"), getattr(h, "disk_cache", None))
        self.check_set(cache, getattr(h, "compute_pool", None))

    def show_report(self, report: ScanReport, image_set: Any = None, source: str = "Measure all") -> None:
        """List every image of a set scan with its full reasons; its thresholds check the maps shown next."""
        if image_set is not None and image_set is not self.host.image_set:  # another set opened meanwhile
            return
        self.last_report = report
        self.thresholds = report.thresholds
        for row in report.rows:
            old = self.checked.get(row.filename)
            check = row_check(row)
            if old is not None and old.check.masks is not None:  # keep the masks of a viewed image
                check = ImageCheck(masks=old.check.masks, verdict=check.verdict)
            self.checked[row.filename] = CheckedImage(row.filename, check, source)
        self.panel.set_rows(list(self.checked.values()))
        from galaxyscope.bias.calibrate import threshold_lines

        mode = report.meta.get("threshold_mode", "fixed")
        lines = [*report.notes, f"{source}: {len(report.rows)} images scanned, {len(report.flagged)} flagged; "
                 f"thresholds ({mode}):", *(t.strip() for t in threshold_lines(report.thresholds))]
        lines += [n for n in report.summary.notes if n not in report.notes]
        self.panel.set_notes(lines)
        self.panel.summary.setText(f"{len(self.checked)} images checked, "
                                   f"{sum(c.check.verdict.flagged for c in self.checked.values())} flagged "
                                   f"({source}: {mode} thresholds)")
        self.host.report("info", f"bias scan of the set: {len(report.flagged)} of {len(report.rows)} flagged "
                                 f"({mode} thresholds)")

    def load_stored_flags(self, db_path: str) -> int:
        """List the flags `scan-bias --db` stored in ``db_path`` for the open set's images; returns how many
        images carry some. A database that cannot be opened is reported, not raised."""
        from galaxyscope.bias.scores import PlacementScores
        from galaxyscope.bias.store_flags import stored_verdicts
        from galaxyscope.store import AnnotationStore

        h = self.host
        if h.image_set is None:
            h.report("warning", "open an image set first")
            return 0
        entries = [(e.key, getattr(e, "path", None)) for e in h.image_set.entries]
        try:
            with AnnotationStore(db_path, readonly=True) as store:
                verdicts = stored_verdicts(store, entries)
        except Exception as exc:  # noqa: BLE001 (any failure to read the file is the user's to see)
            h.report("error", f"{db_path}: could not read stored flags ({exc})")
            return 0
        for v in verdicts:
            try:
                scores = PlacementScores.from_numbers(v.numbers)
            except (KeyError, TypeError, ValueError):
                scores = None
            result = FlagResult(flags=v.flags, score=v.score, scores=scores)  # type: ignore[arg-type]
            self.checked[v.key] = CheckedImage(v.key, ImageCheck(masks=None, verdict=result), "database")
        self.panel.set_rows(list(self.checked.values()))
        h.report("info", f"{db_path}: stored bias flags on {len(verdicts)} image(s) of this set")
        return len(verdicts)

    def _ask_stored(self) -> None:
        from galaxyscope.paths import default_database_path

        start = str(default_database_path())
        path, _ = QFileDialog.getOpenFileName(self.panel, "Load bias flags stored by scan-bias --db", start,
                                              "Annotation databases (*.sqlite *.db);;All files (*)")
        if path:
            self.load_stored_flags(path)
        self.host.focus_view()

    def set_blind(self, blind: bool, annotating: bool) -> None:
        """Blind annotation (`blind_view`): the tab shows a note for all of annotate mode; the outline
        on the image follows the image's blind state, like the other overlays."""
        self.panel.set_results_hidden(annotating)
        if bool(blind) != self.blind:
            self.blind = bool(blind)
            self._draw()

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
        masks = self.current.check.masks if self.current is not None else None
        outline = mask_outline_xy(masks.galaxy) if masks is not None else None
        xy = outline if outline is not None else ([], [])
        on = self.panel.show_mask.isChecked() and outline is not None and not self.blind
        for item in (self.outline_shadow, self.outline_item):
            item.setData(*xy)
            item.setVisible(on)



def scan_for_window(image_set: Any, model: Any, *, cache: Any, saliency: dict[str, Any], progress: Any = None,
                    cancel: Any = None) -> ScanReport:
    """The window's set scan: reference thresholds when cached for this model, else the set's own outliers.

    Why not render a reference here: that takes minutes of saliency the user did not
    ask for; `scan-bias` does it once and caches the values, which this then finds.
    """
    from galaxyscope.bias.calibrate import Calibration
    from galaxyscope.bias.reference import (
        DEFAULT_REFERENCE_N,
        describe_reference,
        load_cached_values,
        synthetic_reference_dir,
        typical_side,
        values_key,
    )
    from galaxyscope.bias.scan import scan_dataset
    from galaxyscope.saliency.methods import DEFAULT_SEED

    full = dict(saliency, seed=DEFAULT_SEED)
    side = typical_side(image_set)
    ref_dir = synthetic_reference_dir(side, DEFAULT_REFERENCE_N)
    what = describe_reference(ref_dir, DEFAULT_REFERENCE_N, synthetic_side=side)
    reference = load_cached_values(values_key(model, ref_dir, full, {"what": what}))
    calibration = Calibration(mode="reference" if reference is not None else "scan")
    report = scan_dataset(image_set, model, calibration=calibration, reference=reference, cache=cache,
                          keep_worst=0, progress=progress, cancel=cancel, **full)
    if reference is None:
        report.notes.append("thresholds from this set's own spread (median + k MAD): no clean reference has been "
                            "scanned with this model yet; `galaxyscope scan-bias DATASET --model MODEL` does it "
                            "once and the window then uses it")
    return report
