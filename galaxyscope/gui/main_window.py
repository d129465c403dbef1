"""The main window: browser | image with overlays | controls, and results/log/header below.

It wires the panels together and to the core; the work itself runs in workers
(image reads, saliency, batch measure, model loading), so the window never waits.
Re-fitting a bar from a cached map takes a few milliseconds and runs on every
slider move.
"""

from __future__ import annotations

import dataclasses
import html
from pathlib import Path
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QByteArray, QSize, QThreadPool, Qt, Signal, Slot
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QTabWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from galaxyscope import __version__
from galaxyscope.errors import GalaxyscopeError
from galaxyscope.jobs.measure_job import assess, model_min_bar_probability
from galaxyscope.model.domain import domain_reasons
from galaxyscope.model.framing import set_framing
from galaxyscope.gui.annotate import AnnotateController
from galaxyscope.gui.bar_fit import (
    BAR_METHODS,
    BarFit,
    describe_fit,
    fit_bar,
    flags_tooltip,
    length_label,
    redshift_of,
)
from galaxyscope.gui.bias_view import BiasController
from galaxyscope.gui.browser import BrowserModel, BrowserWidget
from galaxyscope.gui.controls import BarControls, DisplayControls, OverlayToggles, SaliencyControls
from galaxyscope.gui.image_view import ImageView
from galaxyscope.gui.isophote_panel import BAR_PEN, ELLIPSE_PEN, IsophotePanel, ellipse_xy, isophote_outlines
from galaxyscope.gui.measurements import MeasurementsPanel
from galaxyscope.gui.panels import HeaderPanel, LogPanel
from galaxyscope.gui.readout import Readout
from galaxyscope.gui.saliency_service import LockedSaliency, SaliencyKey, SaliencyService, saliency_params
from galaxyscope.gui.settings import DEFAULT_WINDOW_SIZE, Settings
from galaxyscope.gui.shortcuts import SHORTCUTS, shortcut_help_html
from galaxyscope.gui.thumbnails import ThumbnailLoader
from galaxyscope.gui.workers import ModelLock, Task, TaskList

OVERLAY_LABELS: dict[str, str] = {
    "saliency": "saliency", "mask": "mask outline", "bar": "bar", "width": "width box", "label": "length label",
}
OVERLAY_ACTIONS: dict[str, str] = {
    "saliency": "toggle_saliency", "mask": "toggle_mask", "bar": "toggle_bar", "width": "toggle_width",
    "label": "toggle_label",
}
MAX_LOGGED_FAILURES = 50


def first_run_size(available: QSize) -> tuple[int, int]:
    """The window size before any is saved: DEFAULT_WINDOW_SIZE, shrunk to 90 % of the free screen."""
    return (min(DEFAULT_WINDOW_SIZE[0], int(0.9 * available.width())),
            min(DEFAULT_WINDOW_SIZE[1], int(0.9 * available.height())))


class MainWindow(QMainWindow):
    """The galaxyscope desktop window.

    Signals for tests and scripted use: image_shown(entry), image_failed(entry),
    saliency_shown(entry), bar_fitted(), batch_finished(outcome).
    """

    image_shown = Signal(int)
    image_failed = Signal(int)
    saliency_shown = Signal(int)
    saliency_failed = Signal(str)
    bar_fitted = Signal()
    batch_finished = Signal(str)

    def __init__(self, *, model: Any = None, settings: Settings | None = None, disk_cache: Any = None,
                 db_path: str | None = None, restore_state: bool = True, thumb_size: int = 48,
                 saliency_chunk: int = 5, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"galaxyscope {__version__}")
        self.settings = settings if settings is not None else Settings()
        self.disk_cache = disk_cache
        self.db_path = db_path
        self.model: Any = None
        self.image_set: Any = None
        self.source: str | None = None
        self.current_entry: int | None = None
        self.current_image: Any = None
        self.current_key: SaliencyKey | None = None
        self.current_saliency: Any = None
        self.current_failed = False
        self.saliency_error: str | None = None
        self.fits: dict[str, BarFit] = {}
        self.last_report: Any = None
        self.batch_task: Task | None = None
        self.load_task: Task | None = None
        self._set_generation = 0  # bumped per opened set, so late results of an old set are dropped

        self.tasks = TaskList(self)
        self.compute_pool = QThreadPool(self)
        self.compute_pool.setMaxThreadCount(3)
        self.io_pool = QThreadPool(self)
        self.io_pool.setMaxThreadCount(3)
        self.model_lock = ModelLock()
        self.service = SaliencyService(self.tasks, self.compute_pool, self.model_lock, disk_cache,
                                       chunk=saliency_chunk, parent=self)
        self.thumb_size = thumb_size
        self.thumbnails: ThumbnailLoader | None = None

        self._build_widgets()
        self.annotate = AnnotateController(self)
        self.bias = BiasController(self)
        self._build_actions()
        self._connect()
        self._restore_settings(restore_state)
        self.set_model(model)
        if db_path:
            self.annotate.open_database(db_path)

    # ================================================================== construction

    def _build_widgets(self) -> None:
        self.image_view = ImageView()
        self.display_controls = DisplayControls()
        self.overlay_toggles = OverlayToggles(OVERLAY_LABELS)
        central = QWidget()
        column = QVBoxLayout(central)
        column.setContentsMargins(0, 2, 0, 2)
        column.setSpacing(2)
        column.addWidget(self.display_controls)
        column.addWidget(self.image_view, 1)
        column.addWidget(self.overlay_toggles)
        self.setCentralWidget(central)

        self.browser = BrowserWidget(self.thumb_size)
        self.browser_dock = self._dock("Browser", self.browser, Qt.DockWidgetArea.LeftDockWidgetArea)

        self.saliency_controls = SaliencyControls()
        self.bar_controls = BarControls()
        panel = QWidget()
        box = QVBoxLayout(panel)
        box.setContentsMargins(4, 4, 4, 4)
        for w in (self.saliency_controls, self.bar_controls):
            box.addWidget(w)
        box.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(panel)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.controls_dock = self._dock("Controls", scroll, Qt.DockWidgetArea.RightDockWidgetArea)

        self.measurements = MeasurementsPanel()
        self.log = LogPanel()
        self.header_panel = HeaderPanel()
        self.bottom_tabs = QTabWidget()
        self.bottom_tabs.addTab(self.measurements, "Measurements")
        self.bottom_tabs.addTab(self.log, "Log")
        self.bottom_tabs.addTab(self.header_panel, "FITS header")
        self.isophote_panel = IsophotePanel()
        self.bottom_tabs.addTab(self.isophote_panel, "Isophotes")
        self.isophote_item = pg.PlotDataItem([], [], pen=pg.mkPen(ELLIPSE_PEN, width=1), connect="finite")
        self.isophote_bar_item = pg.PlotDataItem([], [], pen=pg.mkPen(BAR_PEN, width=2))
        self.isophote_fit: Any = None
        self.isophote_panel.fit_button.clicked.connect(self.fit_isophotes)
        self.bottom_dock = self._dock("Results", self.bottom_tabs, Qt.DockWidgetArea.BottomDockWidgetArea)

        self.readout_label = QLabel("")
        self.statusBar().addPermanentWidget(self.readout_label)
        self.model_label = QLabel("")
        self.statusBar().addPermanentWidget(self.model_label)

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{title.lower()}")
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        self.addDockWidget(area, dock)
        return dock

    def _build_actions(self) -> None:
        self.actions_by_id: dict[str, QAction] = {}
        menus: dict[str, Any] = {}
        handlers = {
            "open_folder": self.choose_folder, "open_file": self.choose_file, "open_model": self.choose_model,
            "export_table": self.export_table, "quit": self.close,
            "next_image": lambda: self.browser.step(1), "prev_image": lambda: self.browser.step(-1),
            "first_image": lambda: self.browser.select_row(0),
            "last_image": lambda: self.browser.select_row((self.browser.model.rowCount() - 1)
                                                          if self.browser.model else -1),
            "focus_filter": self._focus_filter, "fit_view": self.image_view.fit,
            "zoom_model": self.zoom_to_model_region,
            "cycle_stretch": self.display_controls.cycle_stretch,
            "switch_method": self.bar_controls.switch_method,
            "cycle_attribution": self.saliency_controls.cycle_method,
            "compute_saliency": lambda: self.compute_saliency(force=True),
            "reset_params": self.bar_controls.reset_current,
            "batch_measure": self.batch_measure, "cancel": self.cancel_work,
            "show_shortcuts": self.show_shortcuts, "about": self.show_about,
            **self.annotate.action_handlers(),
        }
        for spec in SHORTCUTS:
            menu = menus.get(spec.section)
            if menu is None:
                menu = menus[spec.section] = self.menuBar().addMenu(f"&{spec.section}")
            action = QAction(spec.text, self)
            action.setObjectName(spec.action)
            if spec.keys:
                action.setShortcuts([QKeySequence(k) for k in spec.keys])
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            tip = spec.tip or spec.text
            action.setStatusTip(tip)
            action.setToolTip(f"{tip} ({', '.join(spec.keys)})" if spec.keys else tip)
            if spec.action.startswith("toggle_"):
                action.setCheckable(True)
                action.setChecked(True)
            else:
                action.triggered.connect(handlers[spec.action])
            menu.addAction(action)
            self.addAction(action)  # shortcuts work even when the menu bar is hidden
            self.actions_by_id[spec.action] = action
            if spec.action == "export_table":
                menu.addSeparator()
        self.annotate.attach_actions(self.actions_by_id)
        view_menu = menus["View"]
        view_menu.addSeparator()
        for dock in (self.browser_dock, self.controls_dock, self.annotate.dock, self.bottom_dock):
            view_menu.addAction(dock.toggleViewAction())
        for name, action_id in OVERLAY_ACTIONS.items():
            action = self.actions_by_id[action_id]
            box = self.overlay_toggles.boxes[name]
            box.setToolTip(action.toolTip())
            action.toggled.connect(box.setChecked)
            box.toggled.connect(action.setChecked)
            action.toggled.connect(lambda on, n=name: self.image_view.overlays.set_visible(n, on))

    def _connect(self) -> None:
        self.browser.entry_selected.connect(self._entry_selected)
        self.browser.filter_failed.connect(lambda msg: self.report("warning", f"filter: {msg}"))
        self.image_view.cursor_moved.connect(self._cursor_moved)
        self.display_controls.changed.connect(self._display_changed)
        self.saliency_controls.request_changed.connect(self._saliency_request_changed)
        self.saliency_controls.overlay_changed.connect(self._draw_saliency)
        self.saliency_controls.compute_clicked.connect(lambda: self.compute_saliency(force=True))
        self.saliency_controls.cancel_clicked.connect(self.cancel_saliency)
        self.bar_controls.params_changed.connect(self._params_changed)
        self.bar_controls.method_changed.connect(lambda _m: self._draw_bar())
        self.bar_controls.gate_changed.connect(lambda: self.refit() if self.current_saliency is not None else None)
        self.bar_controls.framing.currentIndexChanged.connect(lambda _i: self._framing_changed())
        self.service.ready.connect(self._saliency_ready)
        self.service.failed.connect(self._saliency_failed)
        self.service.progressed.connect(self._saliency_progress)
        self.measurements.measure_clicked.connect(self.batch_measure)
        self.measurements.cancel_clicked.connect(self.cancel_batch)
        self.measurements.export_clicked.connect(self.export_table)
        self.measurements.file_activated.connect(self.select_file)

    # ================================================================== settings

    def _restore_settings(self, restore_state: bool) -> None:
        s = self.settings
        geometry = s.get("window/geometry", QByteArray()) if restore_state else QByteArray()
        state = s.get("window/state", QByteArray()) if restore_state else QByteArray()
        if not geometry.isEmpty():
            self.restoreGeometry(geometry)
        elif restore_state:  # first run: Qt's default size leaves the image a strip under the docks
            self.resize(*first_run_size(self.screen().availableGeometry().size()))
        if not state.isEmpty():
            self.restoreState(state)
        else:
            self.resizeDocks([self.browser_dock, self.controls_dock], [400, 380], Qt.Orientation.Horizontal)
            self.resizeDocks([self.bottom_dock], [190], Qt.Orientation.Vertical)
        dc = self.display_controls
        for combo, key in ((dc.stretch, "display/stretch"), (dc.interval, "display/interval"), (dc.cmap, "display/cmap")):
            i = combo.findData(s.get(key, combo.currentData()))
            if i >= 0:
                combo.setCurrentIndex(i)
        dc.percentile.setValue(s.get("display/percentile", dc.percentile.value()))
        sc = self.saliency_controls
        sc.blockSignals(True)
        i = sc.method.findData(s.get("saliency/method", sc.method_name()))
        if i >= 0:
            sc.method.setCurrentIndex(i)
        sc.samples.setValue(s.get("saliency/samples", sc.samples.value()))
        sc.noise.setValue(s.get("saliency/noise", sc.noise.value()))
        i = sc.cmap.findData(s.get("saliency/cmap", sc.cmap.currentData()))
        if i >= 0:
            sc.cmap.setCurrentIndex(i)
        sc.opacity.setValue(s.get("saliency/opacity", sc.opacity.value()))
        sc.auto.setChecked(s.get("saliency/auto", True))
        sc.blockSignals(False)
        sc._update_enabled()
        bc = self.bar_controls
        method = s.get("bar/method", bc.method())
        if method in BAR_METHODS:
            bc.set_method(method)
        for m, panel in bc.panels.items():
            params = panel.params()
            values = {}
            for name in panel.spins:
                key = f"bar/{m}/{name}"
                if s.contains(key):
                    values[name] = s.get_optional_float(key)
            for name in panel.combos:
                key = f"bar/{m}/{name}"
                if s.contains(key):
                    values[name] = s.get(key, getattr(params, name))
            if values:
                from galaxyscope.gui.bar_fit import params_with

                try:
                    panel.set_params(params_with(params, values), emit=False)
                except (TypeError, ValueError):
                    pass
        for name, action_id in OVERLAY_ACTIONS.items():
            self.actions_by_id[action_id].setChecked(s.get(f"overlays/{name}", True))

    def save_settings(self) -> None:
        """Remember window layout and every control (written on close)."""
        s = self.settings
        s.set("window/geometry", self.saveGeometry())
        s.set("window/state", self.saveState())
        dc = self.display_controls
        s.set("display/stretch", dc.stretch.currentData())
        s.set("display/interval", dc.interval.currentData())
        s.set("display/percentile", dc.percentile.value())
        s.set("display/cmap", dc.cmap.currentData())
        sc = self.saliency_controls
        s.set("saliency/method", sc.method_name())
        s.set("saliency/samples", sc.samples.value())
        s.set("saliency/noise", sc.noise.value())
        s.set("saliency/cmap", sc.cmap.currentData())
        s.set("saliency/opacity", sc.opacity.value())
        s.set("saliency/auto", sc.auto.isChecked())
        s.set("bar/method", self.bar_controls.method())
        for m, panel in self.bar_controls.panels.items():
            params = panel.params()
            for name in list(panel.spins) + list(panel.combos):
                s.set(f"bar/{m}/{name}", getattr(params, name))
        for name, action_id in OVERLAY_ACTIONS.items():
            s.set(f"overlays/{name}", self.actions_by_id[action_id].isChecked())
        if self.source:
            s.set("last_path", self.source)
        if self.model is not None and getattr(self.model, "path", None):
            s.set("last_model", str(self.model.path))
        s.sync()

    # ================================================================== public API

    def report(self, level: str, text: str) -> None:
        """Log a message; warnings and errors also go to the status bar."""
        self.log.add(level, text)
        if level != "info":
            self.statusBar().showMessage(text, 15000)

    def open_path(self, path: str | Path) -> bool:
        """Open a folder, catalogue or image file; a bad path is reported, never raised."""
        from galaxyscope.images.imageset import ImageSet

        try:
            image_set = ImageSet.open(path)
        except GalaxyscopeError as exc:
            self.report("error", str(exc))
            return False
        self.set_image_set(image_set, source=str(path))
        return True

    def open_path_in_background(self, path: str | Path) -> Task:
        """Like open_path, but lists the files in a worker (a 100k-file folder takes a second or two)."""
        from galaxyscope.images.imageset import ImageSet

        self.statusBar().showMessage(f"opening {path} …")
        task = Task(lambda progress, cancel: ImageSet.open(path), name=f"open {path}")
        task.succeeded.connect(lambda image_set: self.set_image_set(image_set, source=str(path)))
        task.failed.connect(lambda exc, tb: self.report("error", str(exc)))
        self.tasks.start(task, self.io_pool, priority=20)
        return task

    def set_image_set(self, image_set: Any, source: str | None = None) -> None:
        """Show ``image_set`` in the browser and select its first image."""
        if self.thumbnails is not None:
            self.thumbnails.stop()
        if self.batch_task is not None and not self.batch_task.is_finished:
            self.cancel_batch()
        if self.load_task is not None:
            self.load_task.cancel()
            self.load_task = None
        self._set_generation += 1
        self.image_set = image_set
        self.source = source or str(getattr(image_set, "root", ""))
        self.thumbnails = ThumbnailLoader(image_set, self.thumb_size, pool=self.io_pool, parent=self)
        model = BrowserModel(image_set, self.thumbnails, parent=self)
        self.browser.set_model(model)
        self.service.reset(self.model, image_set)
        self.current_entry = None
        self.current_image = None
        self._clear_result()
        self.last_report = None
        self.measurements.set_table(None)
        self.report("info", f"opened {self.source}: {len(image_set)} images"
                    + (f", catalogue with {len(image_set.catalogue)} rows" if image_set.catalogue is not None else ""))
        failures = list(getattr(image_set, "failures", []))
        for err in failures[:MAX_LOGGED_FAILURES]:
            self.report("error", str(err))
        if len(failures) > MAX_LOGGED_FAILURES:
            self.report("error", f"… and {len(failures) - MAX_LOGGED_FAILURES} more catalogue rows without a file")
        for text in getattr(image_set, "warnings", []):
            self.report("warning", text)
        if len(image_set):
            self.browser.select_row(0)
        else:
            self.image_view.clear()
            self.image_view.show_message("no images in this set")

    def set_model(self, model: Any) -> None:
        """Use ``model`` (a LoadedModel, or None: browse without saliency)."""
        self.model = model
        self.service.reset(model, self.image_set)
        self._clear_result()
        if model is None:
            self.saliency_controls.set_targets([], None)
            self.saliency_controls.score.setText("no model: images only (File > Open model…)")
            self.model_label.setText("no model")
            return
        names = list(model.meta.output_names)
        self.saliency_controls.set_targets(names, names[model.output_index(None)])
        self.saliency_controls.score.setText("")
        pre = model.preprocessing
        bc = self.bar_controls
        bc.min_probability.blockSignals(True)
        bc.min_probability.setValue(model_min_bar_probability(model))
        bc.min_probability.blockSignals(False)
        self._sync_framing_combo()
        name = Path(model.path).name if getattr(model, "path", None) else model.meta.architecture
        self.model_label.setText(f"model {name} · {pre.input_size}px input · {model.device}")
        self.log.add("info", f"model: {name} ({model.meta.architecture}, outputs {names}, "
                             f"input {pre.input_size}px, crop {pre.crop_fraction})")
        if self.current_image is not None and self.saliency_controls.auto.isChecked():
            self.compute_saliency()

    def select_file(self, key: str) -> bool:
        """Make the image with file key ``key`` current (clears a filter that hides it)."""
        model = self.browser.model
        if model is None or key not in model.keys:
            return False
        entry = model.keys.index(key)
        if model.row_of(entry) < 0:
            self.browser.filter_edit.clear()
            self.browser.apply_filter()
        return self.browser.select_entry(entry)

    def is_settled(self) -> bool:
        """True when the current image, its saliency and bar (if a model is loaded) and the
        visible thumbnails are all done: what ``--screenshot`` waits for."""
        if self.image_set is None or len(self.image_set) == 0:
            return True
        if self.current_entry is None:
            return False
        if self.thumbnails is not None and self.thumbnails.pending():
            return False
        if self.current_image is None:
            return self.current_failed
        if self.model is None or not self.saliency_controls.auto.isChecked():
            return True
        if self.saliency_error is not None:
            return True
        return self.current_saliency is not None and bool(self.fits)

    # ================================================================== selection and loading

    @Slot(int)
    def _entry_selected(self, entry: int) -> None:
        if entry == self.current_entry and (self.current_image is not None or self.load_task is not None):
            return
        self.annotate.image_changed(entry)
        self.current_entry = entry
        self.current_image = None
        self.current_failed = False
        self._clear_result()
        if self.load_task is not None:
            self.load_task.cancel()
        keep = {self._key(entry)}
        nxt = self.browser.entry_after(entry)
        if nxt is not None:
            keep.add(self._key(nxt))
        self.service.cancel_except({k for k in keep if k is not None})
        image_set, gen = self.image_set, self._set_generation
        task = Task(lambda progress, cancel: image_set[entry], name=f"read #{entry}")
        task.succeeded.connect(lambda image, e=entry, g=gen: self._image_loaded(e, image, g))
        task.failed.connect(lambda exc, tb, e=entry, g=gen: self._image_read_failed(e, exc, g))
        task.finished.connect(lambda t=task: self._load_finished(t))
        self.load_task = task
        self.tasks.start(task, self.io_pool, priority=10)

    def _load_finished(self, task: Task) -> None:
        if self.load_task is task:
            self.load_task = None

    def _image_loaded(self, entry: int, image: Any, generation: int) -> None:
        if entry != self.current_entry or generation != self._set_generation:
            return
        self.current_image = image
        self._clear_isophotes()
        dc = self.display_controls
        dc.blockSignals(True)
        dc.set_channels(image.channels, tuple(image.band_names))
        dc.blockSignals(False)
        self.image_view.set_image(image.pixels, image.wcs, dc.settings(), dc.cmap_name(),
                                  focus=self._model_region(image))
        self.header_panel.set_header(image.header)
        self.annotate.image_shown(entry, image)
        self._update_title()
        self.statusBar().showMessage(f"{self.browser.model.keys[entry]}", 4000)
        self.image_shown.emit(entry)
        if self.model is None:
            return
        if self.saliency_controls.auto.isChecked():
            self.compute_saliency()
        else:
            cached = self.service.cached(self._key(entry))
            if cached is not None:  # computed earlier: show it even when not computing on select
                self.current_key = self._key(entry)
                self._show_saliency(cached)

    def _image_read_failed(self, entry: int, exc: BaseException, generation: int) -> None:
        if generation != self._set_generation:
            return
        text = str(exc) if isinstance(exc, GalaxyscopeError) else f"{type(exc).__name__}: {exc}"
        if self.browser.model is not None:
            self.browser.model.mark_failed(entry, text)
        if entry != self.current_entry:
            return
        self.current_failed = True
        self.report("error", text)
        self.image_view.show_message("could not read this file\n(see the log)")
        self.image_view.title.setText(f"<b>{html.escape(self.browser.model.keys[entry])}</b> · "
                                      f"<span style='color:#e66'>unreadable</span>")
        self.header_panel.set_header(None)
        self.image_failed.emit(entry)

    # ================================================================== saliency

    def _key(self, entry: int | None) -> SaliencyKey | None:
        if entry is None or self.model is None:
            return None
        sc = self.saliency_controls
        method = sc.method_name()
        return SaliencyKey(entry, method, sc.target_name(), saliency_params(method, sc.samples.value(),
                                                                            sc.noise.value()))

    def compute_saliency(self, force: bool = False) -> None:
        """Show the current image's saliency: from memory at once, else computed in a worker."""
        if self.model is None:
            if force:
                self.report("warning", "no model loaded: File > Open model… (Ctrl+M)")
            return
        if self.current_image is None:
            return
        key = self._key(self.current_entry)
        self.current_key = key
        self.saliency_error = None
        result = self.service.request(key, self.current_image)
        if result is not None:
            self._show_saliency(result)
        else:
            self.saliency_controls.set_busy(True)
            self.saliency_controls.set_progress(0, dict(key.params).get("n_samples", 1))

    def cancel_saliency(self) -> None:
        keep = set()
        self.service.cancel_except(keep)
        self.saliency_controls.set_busy(False, "cancelled")

    @Slot(object, int, int)
    def _saliency_progress(self, key: SaliencyKey, done: int, total: int) -> None:
        if key == self.current_key:
            self.saliency_controls.set_busy(True)
            self.saliency_controls.set_progress(done, total)

    @Slot(object, object)
    def _saliency_ready(self, key: SaliencyKey, result: Any) -> None:
        model = self.browser.model
        if model is not None and result.score.probability is not None and \
                key.target == self.model.meta.output_names[self.model.output_index(None)]:
            model.set_measurement(key.entry, score=result.score.probability)
        if key == self.current_key and key.entry == self.current_entry:
            self._show_saliency(result)

    @Slot(object, str)
    def _saliency_failed(self, key: SaliencyKey, message: str) -> None:
        name = self.browser.model.keys[key.entry] if self.browser.model else str(key.entry)
        self.report("error", f"{name}: saliency ({key.method}) failed: {message}")
        if key == self.current_key:
            self.saliency_error = message
            self.saliency_controls.set_busy(False, "failed")
            self.saliency_failed.emit(message)

    def _show_saliency(self, result: Any) -> None:
        self.current_saliency = result
        how = "from cache" if result.from_cache else f"{result.elapsed_s:.1f} s"
        self.saliency_controls.set_busy(False, f"done ({how})")
        prob = result.score.probability
        score = f"P({result.target}) = {prob:.3f}" if prob is not None else f"logit = {result.score.logit:.3f}"
        self.saliency_controls.score.setText(f"{score} · logit {result.score.logit:+.2f}")
        self._draw_saliency()
        self.refit()
        self._update_title()
        self.saliency_shown.emit(self.current_entry if self.current_entry is not None else -1)
        self._prefetch_next()

    def _prefetch_next(self) -> None:
        if self.model is None or self.current_entry is None or not self.saliency_controls.auto.isChecked():
            return
        nxt = self.browser.entry_after(self.current_entry)
        if nxt is not None and nxt not in (self.browser.model.errors if self.browser.model else {}):
            self.service.request(self._key(nxt), None, prefetch=True)

    @Slot()
    def _draw_saliency(self) -> None:
        ov = self.image_view.overlays
        res = self.current_saliency
        if res is None or self.current_image is None:
            ov.set_saliency(None)
            return
        sc = self.saliency_controls
        box = self.model.preprocessing.box_for(self.current_image) if self.model is not None else None
        ov.set_saliency(res.map, sc.cmap.currentData(), sc.opacity.value() / 100.0, box)

    @Slot()
    def _saliency_request_changed(self) -> None:
        if self.current_image is not None and self.saliency_controls.auto.isChecked():
            self._clear_result(keep_image=True)
            self.compute_saliency()

    # ================================================================== bar fitting

    def refit(self, methods: tuple[str, ...] | None = None) -> None:
        """Measure the bar(s) again from the cached map with the controls' parameters, and redraw."""
        res = self.current_saliency
        if res is None or self.model is None:
            self.fits = {}
            self._draw_bar()
            return
        pre = self.model.preprocessing
        image = self.current_image
        kw = pre.measure_kwargs(image) if image is not None else {
            "model_input_size": pre.input_size, "crop_fraction": pre.crop_fraction}
        for method in methods or BAR_METHODS:
            fit = fit_bar(res.map, method, self.bar_controls.params(method), **kw)
            if fit.measurement is not None:
                fit = dataclasses.replace(fit, measurement=assess(
                    fit.measurement, res.score.probability, self.bar_controls.min_probability.value(),
                    self._domain_reasons(image), self.isophote_fit))
            self.fits[method] = fit
        self._draw_bar()
        model = self.browser.model
        if model is not None and self.current_entry is not None:
            lengths = {m: (f.measurement.length_px if f.measurement is not None else None)
                       for m, f in self.fits.items()}
            flags = " ".join(f"{m}:{','.join(f.measurement.flags)}" for m, f in self.fits.items()
                             if f.measurement is not None and f.measurement.flags)
            model.set_measurement(self.current_entry, lengths=lengths, flags=flags)
        self.bar_fitted.emit()

    # ================================================================== isophotes

    def _clear_isophotes(self) -> None:
        self.isophote_fit = None
        self.isophote_panel.clear()
        for item in (self.isophote_item, self.isophote_bar_item):
            item.setData([], [])
            if item.scene() is None:
                self.image_view.view.addItem(item)

    def fit_isophotes(self) -> Task | None:
        """Fit isophotes to the current image in a worker; then draw them and re-check the bars."""
        image, entry = self.current_image, self.current_entry
        if image is None:
            return None
        from galaxyscope.measure.isophote import measure_isophote

        self.isophote_panel.clear("fitting isophotes …")
        task = Task(lambda progress, cancel: measure_isophote(image), name="isophotes")
        task.succeeded.connect(lambda fit: self._isophotes_done(entry, image, fit))
        task.failed.connect(lambda exc, tb: self.isophote_panel.clear(f"isophote fit failed: {exc}"))
        self.tasks.start(task, self.io_pool, priority=5)
        return task

    def _isophotes_done(self, entry: Any, image: Any, fit: Any) -> None:
        if entry != self.current_entry or image is not self.current_image:
            return
        self.isophote_fit = fit
        self.isophote_panel.show_fit(fit)
        self.isophote_item.setData(*isophote_outlines(fit))
        prof = fit.profile
        if fit.ok and prof is not None and fit.bar_index is not None:
            k = fit.bar_index
            self.isophote_bar_item.setData(*ellipse_xy(prof.x0[k], prof.y0[k], fit.bar_sma_px, prof.eps[k],
                                                       prof.pa_deg[k]))
        self.refit()  # the saliency bars get methods_disagree where the isophotes contradict them

    def _domain_reasons(self, image: Any) -> list[str]:
        """Why this image is unlike the model's training images (kept per image and model)."""
        if image is None or self.model is None:
            return []
        key = (id(image), id(self.model), self.model.preprocessing)
        if getattr(self, "_domain_key", None) != key:
            self._domain_key = key
            self._domain_cache = domain_reasons(self.model, image)
        return self._domain_cache

    def _framing_changed(self) -> None:
        """The framing combo: switch the model's preprocessing and recompute the saliency."""
        if self.model is None:
            return
        framing = self.bar_controls.framing.currentData()
        if self.model.preprocessing.framing == framing:
            return
        try:
            set_framing(self.model, framing)
        except GalaxyscopeError as exc:
            self.log.add("error", str(exc))
            self._sync_framing_combo()
            return
        self.log.add("info", f"framing: {framing}")
        self.service.reset(self.model, self.service.image_set)  # maps made with the other framing are stale
        if self.current_image is not None and self.saliency_controls.auto.isChecked():
            self._clear_result(keep_image=True)
            self.compute_saliency()

    def _sync_framing_combo(self) -> None:
        combo = self.bar_controls.framing
        combo.blockSignals(True)
        i = combo.findData(self.model.preprocessing.framing if self.model is not None else "fixed")
        combo.setCurrentIndex(max(i, 0))
        combo.blockSignals(False)

    def _params_changed(self, method: str, params: Any) -> None:
        if self.current_saliency is not None:
            self.refit((method,))

    def _draw_bar(self) -> None:
        method = self.bar_controls.method()
        fit = self.fits.get(method)
        image = self.current_image
        scale = image.pixel_scale if image is not None else None
        z = redshift_of(image.meta) if image is not None else None
        measurement = fit.measurement if fit is not None else None
        label = f"{method}: {length_label(measurement, scale, z)}" if fit is not None else ""
        flags = measurement.flags if measurement is not None else ()
        if flags:
            label += "\n⚠ " + ", ".join(flags)
        if measurement is not None and measurement.ok:
            self.image_view.overlays.set_bar(measurement, label, flagged=bool(flags))
        elif measurement is not None and "no_bar" in flags and image is not None:
            # say so where the bar would be, instead of drawing a line the model does not believe in
            text = f"{method}: " + (measurement.notes[0] if measurement.notes else "no bar detected")
            self.image_view.overlays.set_bar(measurement, text, flagged=True,
                                             label_pos=((image.width - 1) / 2.0, (image.height - 1) / 2.0))
        else:
            self.image_view.overlays.set_bar(None, "")
        lines = []
        for m in sorted(BAR_METHODS, key=lambda name: name != method):  # the drawn method first
            f = self.fits.get(m)
            if f is None:
                continue
            text = html.escape(describe_fit(f, scale, z)).replace("\n", "<br>")
            lines.append(f"<b>{text}</b>" if m == method else f"<span style='color:gray'>{text}</span>")
        units = []
        if image is not None:
            units.append("arcsec: " + ("pixel scale %.3f″/px" % image.pixel_scale_arcsec()
                                       if image.pixel_scale is not None else "no pixel scale known"))
            units.append("kpc: " + (f"z = {z:.4f}" if z is not None else "no redshift in the catalogue"))
        if lines:
            lines.append("<small>" + html.escape(" · ".join(units)) + "</small>")
        self.bar_controls.result.setText("<br><br>".join(lines) if lines else "no measurement")
        flags = fit.measurement.flags if fit is not None and fit.measurement is not None else ()
        self.bar_controls.result.setToolTip(flags_tooltip(flags))

    def _clear_result(self, keep_image: bool = False) -> None:
        self.current_saliency = None
        self.current_key = None
        self.saliency_error = None
        self.fits = {}
        self.image_view.overlays.clear()
        self.bar_controls.result.setText("no measurement")
        self.saliency_controls.set_busy(False)
        if self.model is not None:
            self.saliency_controls.score.setText("")

    # ================================================================== batch

    def batch_measure(self) -> None:
        """Measure every image of the set in a worker (saliency + both bar methods)."""
        from galaxyscope.jobs.measure_job import identifier_columns, measure_dataset

        if self.image_set is None or len(self.image_set) == 0:
            self.report("warning", "open an image set first")
            return
        if self.model is None:
            self.report("warning", "batch measure needs a model: File > Open model… (Ctrl+M)")
            return
        if self.batch_task is not None and not self.batch_task.is_finished:
            return
        sc = self.saliency_controls
        image_set, model, lock, disk = self.image_set, self.model, self.model_lock, self.disk_cache
        kwargs = dict(methods=BAR_METHODS, attribution=sc.method_name(), n_samples=sc.samples.value(),
                      noise=sc.noise.value(), target=sc.target_name(),
                      options={m: self.bar_controls.params(m) for m in BAR_METHODS},
                      keep_columns=identifier_columns(image_set))

        def work(progress, cancel):
            return measure_dataset(image_set, model, cache=LockedSaliency(lock, disk, cancel),
                                   progress=progress, cancel=cancel, **kwargs)

        task = Task(work, name="batch measure")
        task.progressed.connect(self.measurements.set_progress)
        gen = self._set_generation
        task.succeeded.connect(lambda report, g=gen: self._batch_done(report, g))
        task.failed.connect(lambda exc, tb: self._batch_end("failed", f"batch measure failed: {exc}"))
        task.cancelled.connect(lambda: self._batch_end("cancelled", "batch measure cancelled"))
        self.batch_task = task
        self.measurements.set_running(True)
        self.bottom_tabs.setCurrentWidget(self.measurements)
        self.report("info", f"batch measure started: {len(image_set)} images, {sc.method.currentText()}, "
                            f"N={sc.samples.value()}, the bar parameters set in the controls")
        self.tasks.start(task, self.compute_pool, priority=0)

    def cancel_batch(self) -> None:
        if self.batch_task is not None and not self.batch_task.is_finished:
            self.batch_task.cancel()
            self.measurements.progress.setFormat("cancelling…")

    def cancel_work(self) -> None:
        """Esc: stop the batch and the current saliency computation."""
        self.cancel_batch()
        self.annotate.cancel()
        if self.service.busy():
            self.cancel_saliency()

    def _batch_done(self, report: Any, generation: int) -> None:
        if generation != self._set_generation:  # finished after another set was opened
            self._batch_end("cancelled", "batch measure of the previous set discarded")
            return
        self.last_report = report
        self.measurements.set_table(report.table, len(report.failures))
        for err in report.failures[:MAX_LOGGED_FAILURES]:
            self.report("error", str(err))
        model = self.browser.model
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
        self._batch_end("succeeded", f"batch measure done: {len(report.table)} rows, "
                                     f"{len(report.failures)} failures")

    def _batch_end(self, outcome: str, text: str) -> None:
        self.measurements.set_running(False, outcome)
        self.report("error" if outcome == "failed" else "info", text)
        self.batch_finished.emit(outcome)

    def export_table(self) -> None:
        if self.last_report is None or len(self.last_report.table) == 0:
            self.report("warning", "nothing to export: run Measure all first")
            return
        path, _ = QFileDialog.getSaveFileName(self, "Export measurements", "measurements.ecsv",
                                              "Tables (*.ecsv *.csv *.fits)")
        if path:
            self.write_table(path)

    def write_table(self, path: str | Path) -> bool:
        """Write the last batch table (format from the suffix); errors are reported."""
        try:
            self.last_report.table.write(str(path), overwrite=True)
        except (OSError, ValueError) as exc:
            self.report("error", f"{path}: could not write ({exc})")
            return False
        self.report("info", f"measurements written to {path}")
        return True

    # ================================================================== dialogs

    def choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a folder of galaxy images",
                                                self.settings.get("last_path", ""))
        if path:
            self.open_path_in_background(path)

    def choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a catalogue or an image", self.settings.get("last_path", ""),
                                              "Catalogues and images (*.ecsv *.csv *.txt *.fits *.fit *.fits.gz "
                                              "*.jpg *.jpeg *.png);;All files (*)")
        if path:
            self.open_path_in_background(path)

    def choose_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a model", self.settings.get("last_model", ""),
                                              "Checkpoints (*.safetensors *.pt *.pth)")
        if path:
            self.load_model(path)

    def load_model(self, path: str | Path) -> Task:
        """Load a checkpoint in a worker; on success it becomes the window's model."""
        from galaxyscope.model.checkpoint import load_checkpoint

        task = Task(lambda progress, cancel: load_checkpoint(path), name="load model")
        task.succeeded.connect(self.set_model)
        task.failed.connect(lambda exc, tb: self.report("error", str(exc)))
        self.tasks.start(task, self.io_pool)
        return task

    def show_shortcuts(self) -> QDialog:
        dialog = QDialog(self)
        dialog.setWindowTitle("Keyboard shortcuts")
        text = QTextBrowser()
        text.setHtml(shortcut_help_html())
        layout = QVBoxLayout(dialog)
        layout.addWidget(text)
        dialog.resize(460, 620)
        dialog.show()
        self.shortcuts_dialog = dialog
        return dialog

    def show_about(self) -> None:
        QMessageBox.about(self, "About galaxyscope",
                          f"<b>galaxyscope {__version__}</b><p>Galactic bar lengths from CNN saliency maps "
                          "(after Bhambra, Joachimi &amp; Lahav 2022).</p><p>Sample images: Galaxy Zoo, SDSS "
                          "and the DESI Legacy Imaging Surveys.</p>")

    def _model_region(self, image: Any) -> tuple[int, int, int, int] | None:
        if self.model is None or image is None:
            return None
        from galaxyscope.model.preprocess import visible_box

        return visible_box(self.model.preprocessing.box_for(image), image.height, image.width)

    def zoom_to_model_region(self) -> None:
        """Z: show the central crop the network saw (the whole image without a model)."""
        box = self._model_region(self.current_image)
        if box is None:
            self.image_view.fit()
        else:
            self.image_view.zoom_to(box)

    def _focus_filter(self) -> None:
        self.browser.filter_edit.setFocus()
        self.browser.filter_edit.selectAll()

    # ================================================================== small updates

    @Slot()
    def _display_changed(self) -> None:
        self.image_view.set_display(self.display_controls.settings(), self.display_controls.cmap_name())

    @Slot(object)
    def _cursor_moved(self, readout: Readout | None) -> None:
        self.readout_label.setText(readout.text() if readout is not None else "")

    def _update_title(self) -> None:
        image = self.current_image
        if image is None or self.browser.model is None or self.current_entry is None:
            return
        key = self.browser.model.keys[self.current_entry]
        parts = [f"<b>{html.escape(key)}</b>", f"{image.width}×{image.height} px"]
        if image.channels > 1:
            parts.append(f"{image.channels} bands")
        scale = image.pixel_scale_arcsec()
        if scale is not None:
            parts.append(f"{scale:.3f}″/px")
        if image.wcs is not None:
            parts.append("WCS")
        res = self.current_saliency
        if res is not None:
            prob = res.score.probability
            parts.append(f"P({html.escape(res.target)}) = {prob:.2f}" if prob is not None
                         else f"logit {res.score.logit:+.2f}")
            n = res.params.get("n_samples")
            parts.append(f"{html.escape(res.method)}" + (f" N={n}" if n else ""))
        self.image_view.title.setText(" · ".join(parts))

    def closeEvent(self, event: Any) -> None:  # noqa: N802 (Qt API)
        self.save_settings()
        self.annotate.close()
        self.tasks.cancel_all()
        if self.thumbnails is not None:
            self.thumbnails.stop()
        self.compute_pool.waitForDone(5000)
        self.io_pool.waitForDone(5000)
        super().closeEvent(event)

