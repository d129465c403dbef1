"""The main window: browser | image with overlays | controls, and results/log/header below.

It holds the session state (`session_state.SessionState`: everything the controls
say, bound to them), what is open (the image set, the model, the image on screen),
and wires the panels and controllers to them. The work itself runs in workers
(image reads, saliency, batch measure, model loading), so the window never waits.
The saliency / bar-fit / isophote pipeline is `analysis_controller`, Measure all
is `batch_controller`, menus and the dock layout are `window_actions`; each
controller sees the window through a small interface (`window_services`).
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from PySide6.QtCore import QThreadPool, Qt, Signal, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDialog, QDockWidget, QLabel, QMainWindow, QScrollArea, QTabWidget, QVBoxLayout, QWidget

from galaxyscope import __version__
from galaxyscope.errors import GalaxyscopeError
from galaxyscope.gui.analysis_controller import AnalysisController, title_html
from galaxyscope.gui.annotate import AnnotateController
from galaxyscope.gui.batch_controller import MAX_LOGGED_FAILURES, BatchController
from galaxyscope.gui.bias_view import BiasController
from galaxyscope.gui.blind_view import apply_blind
from galaxyscope.gui.browser import BrowserModel, BrowserWidget
from galaxyscope.gui.controls import BarControls, DisplayControls, OverlayToggles, SaliencyControls
from galaxyscope.gui.finetune_controller import FinetuneController
from galaxyscope.gui.image_loader import ImageLoader
from galaxyscope.gui.image_view import ImageView
from galaxyscope.gui.isophote_panel import IsophotePanel
from galaxyscope.gui.measurements import MeasurementsPanel
from galaxyscope.gui.panels import HeaderPanel, LogPanel
from galaxyscope.gui.readout import Readout
from galaxyscope.gui.saliency_service import SaliencyService
from galaxyscope.gui.session_state import Change
from galaxyscope.gui.settings import Settings
from galaxyscope.gui.thumbnails import ThumbnailLoader
from galaxyscope.gui.window_actions import (OVERLAY_ACTIONS, OVERLAY_LABELS, add_dock, build_actions, restore_layout,
                                            save_layout, show_shortcuts, window_handlers)
from galaxyscope.gui.workers import ModelLock, Task, TaskList

class MainWindow(QMainWindow):
    """The galaxyscope desktop window.

    Signals for tests and scripted use: image_shown(entry), image_failed(entry),
    saliency_shown(entry), saliency_failed(message), bar_fitted(), batch_finished(outcome).
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
        self.state = self.settings.load_session()  # the controls' last values, whatever restore_state says
        self.disk_cache = disk_cache
        self.db_path = db_path
        self.model: Any = None
        self.image_set: Any = None
        self.current_image: Any = None
        self.current_failed = False
        self.model_task: Task | None = None  # the model loading in a worker, if any
        self.wait_on_close = True  # closing waits for cancelled workers (not when the process ends next)
        self._showing = False  # while an image is put on screen (its channel choice is settled then)
        self._new_set = False  # the next image shown is a new set's first: no channel choice carried over

        self.tasks = TaskList(self)
        self.compute_pool = QThreadPool(self)
        self.compute_pool.setMaxThreadCount(3)
        self.io_pool = QThreadPool(self)
        self.io_pool.setMaxThreadCount(3)
        self.model_lock = ModelLock()
        self.loader = ImageLoader(self.tasks, parent=self)  # the selected image, never behind other reads
        self.service = SaliencyService(self.tasks, self.compute_pool, self.model_lock, disk_cache,
                                       chunk=saliency_chunk, parent=self)
        self.thumb_size = thumb_size
        self.thumbnails: ThumbnailLoader | None = None

        self._build_widgets()
        self.analysis = AnalysisController(self, parent=self)
        self.batch = BatchController(self, parent=self)
        self.annotate = AnnotateController(self)
        self.bias = BiasController(self)
        self.finetune = FinetuneController(self)  # Model > Improve model…, Model versions…
        self._build_actions()
        self._connect()
        restore_layout(self, self.settings, restore_state, [self.browser_dock, self.controls_dock], self.bottom_dock)
        self.set_model(model)
        if db_path:
            self.annotate.open_database(db_path)

    # ================================================================== construction

    def _build_widgets(self) -> None:
        self.image_view = ImageView()
        self.display_controls = DisplayControls()
        self.display_controls.bind(self.state.display)
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
        self.browser_dock = add_dock(self, "Browser", self.browser, Qt.DockWidgetArea.LeftDockWidgetArea)

        self.saliency_controls = SaliencyControls()
        self.saliency_controls.bind(self.state.saliency, self.state.display)
        self.bar_controls = BarControls()
        self.bar_controls.bind(self.state.bars, self.state.saliency)
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
        self.controls_dock = add_dock(self, "Controls", scroll, Qt.DockWidgetArea.RightDockWidgetArea)

        self.measurements = MeasurementsPanel()
        self.log = LogPanel()
        self.header_panel = HeaderPanel()
        self.bottom_tabs = QTabWidget()
        self.bottom_tabs.addTab(self.measurements, "Measurements")
        self.bottom_tabs.addTab(self.log, "Log")
        self.bottom_tabs.addTab(self.header_panel, "FITS header")
        self.isophote_panel = IsophotePanel()
        self.bottom_tabs.addTab(self.isophote_panel, "Isophotes")
        self.bottom_dock = add_dock(self, "Results", self.bottom_tabs, Qt.DockWidgetArea.BottomDockWidgetArea)

        self.readout_label = QLabel("")
        self.statusBar().addPermanentWidget(self.readout_label)
        self.model_label = QLabel("")
        self.statusBar().addPermanentWidget(self.model_label)

    def _build_actions(self) -> None:
        self.actions_by_id, menus = build_actions(self, window_handlers(self))
        self.annotate.attach_actions(self.actions_by_id)
        view_menu = menus["View"]
        view_menu.addSeparator()
        for dock in (self.browser_dock, self.controls_dock, self.annotate.dock, self.bottom_dock):
            view_menu.addAction(dock.toggleViewAction())
        self.overlay_toggles.bind(self.state.overlays, {name: self.actions_by_id[action_id]
                                                        for name, action_id in OVERLAY_ACTIONS.items()})

    def _connect(self) -> None:
        self.browser.entry_selected.connect(self._entry_selected)
        self.loader.loaded.connect(self._image_loaded)
        self.loader.failed.connect(self._image_read_failed)
        self.browser.filter_failed.connect(lambda msg: self.report("warning", f"filter: {msg}"))
        self.image_view.cursor_moved.connect(self._cursor_moved)
        self.state.display.watch(("stretch", "interval", "percentile", "channel", "cmap"), self._display_changed)
        self.state.overlays.watch_any(self._overlays_changed)
        self.state.annotate.watch_any(self._annotate_changed)
        for name in self.image_view.overlays.visible:  # ("reference": annotate mode's layer follows it)
            self.image_view.overlays.set_visible(name, bool(getattr(self.state.overlays, name)))
        self.saliency_controls.compute_clicked.connect(lambda: self.analysis.compute(force=True))
        self.saliency_controls.cancel_clicked.connect(self.analysis.cancel)
        self.analysis.shown.connect(self.saliency_shown)
        self.analysis.failed.connect(self.saliency_failed)
        self.analysis.fitted.connect(self.bar_fitted)
        self.batch.finished.connect(self.batch_finished)
        self.measurements.file_activated.connect(self.select_file)

    def save_settings(self) -> None:
        """Remember the window layout and the session state (written on close)."""
        save_layout(self, self.settings)
        self.settings.save_session(self.state)
        if self.model is not None and getattr(self.model, "path", None):
            self.settings.set("last_model", str(self.model.path))
        self.settings.sync()

    # ================================================================== what the controllers see

    current_entry = property(lambda self: self.state.entry.index, doc="the entry on screen (or loading)")
    source = property(lambda self: self.state.entry.source, doc="the folder, catalogue or file opened")
    current_saliency = property(lambda self: self.analysis.current_saliency, doc="the SaliencyResult shown")
    fits = property(lambda self: self.analysis.fits, doc="method -> BarFit of the image on screen")
    isophote_fit = property(lambda self: self.analysis.isophote_fit, doc="the image's isophote fit, or None")
    isophote_item = property(lambda self: self.analysis.isophote_item, doc="the isophote outlines drawn")
    batch_task = property(lambda self: self.batch.task, doc="the running (or last) Measure all task")
    last_report = property(lambda self: self.batch.last_report, doc="the last Measure all report")

    def report(self, level: str, text: str) -> None:
        """Log a message; warnings and errors also go to the status bar."""
        self.log.add(level, text)
        if level != "info":
            self.statusBar().showMessage(text, 15000)

    def show_status(self, text: str, timeout_ms: int = 4000) -> None:
        self.statusBar().showMessage(text, timeout_ms)

    def add_result_tab(self, widget: QWidget, title: str) -> None:
        self.bottom_tabs.addTab(widget, title)

    def file_key(self, entry: int) -> str | None:
        model = self.browser.model
        return model.keys[entry] if model is not None and 0 <= entry < len(model.keys) else None

    def dialog_parent(self) -> QWidget:
        return self

    def focus_view(self) -> None:
        self.activateWindow()  # a closed modal dialog leaves no window active without a window manager
        self.image_view.glw.setFocus(Qt.FocusReason.OtherFocusReason)

    def add_side_dock(self, dock: QDockWidget) -> None:
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        self.tabifyDockWidget(self.controls_dock, dock)
        self.controls_dock.raise_()

    def act_on_image(self, action: QAction) -> None:
        self.removeAction(action)
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.image_view.addAction(action)
        self.browser.table.addAction(action)

    def make_room_for_results(self, height_px: int) -> None:
        if self.bottom_dock.height() < height_px:
            self.resizeDocks([self.bottom_dock], [height_px], Qt.Orientation.Vertical)

    def machine_bar(self) -> tuple[Any, str | None]:
        fit = self.analysis.fits.get(self.state.bars.method)
        return (fit.measurement if fit is not None else None), (getattr(self.model, "sha256", None) or None)

    def model_region(self, image: Any) -> tuple[int, int, int, int] | None:
        if self.model is None or image is None:
            return None
        from galaxyscope.model.preprocess import visible_box

        return visible_box(self.model.preprocessing.box_for(image), image.height, image.width)

    # ================================================================== public API

    # the pipeline's and the batch's entry points, for scripts and tests
    compute_saliency = property(lambda self: self.analysis.compute, doc="compute(force=False): show the map")
    refit = property(lambda self: self.analysis.refit, doc="refit(methods=None): measure again from the map")
    fit_isophotes = property(lambda self: self.analysis.fit_isophotes, doc="fit isophotes in a worker")
    batch_measure = property(lambda self: self.batch.start, doc="Measure all, in a worker")
    cancel_batch = property(lambda self: self.batch.cancel, doc="stop Measure all")
    write_table = property(lambda self: self.batch.write_table, doc="write_table(path) -> bool")

    def cancel_work(self) -> None:
        """Esc: stop the batch and the current saliency computation."""
        self.batch.cancel()
        self.finetune.escape()
        self.annotate.cancel()
        if self.service.busy():
            self.analysis.cancel()

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
        self.batch.set_changed()
        self.loader.set_image_set(image_set)  # late reads of the previous set are dropped
        self.image_set = image_set
        self.thumbnails = ThumbnailLoader(image_set, self.thumb_size, pool=self.io_pool, parent=self)
        self.browser.set_model(BrowserModel(image_set, self.thumbnails, parent=self))
        self.service.reset(self.model, image_set)
        self.current_image = None
        self.state.entry.update(source=source or str(getattr(image_set, "root", "")), index=None, key=None)
        self._reset_dataset_state()
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

    def _reset_dataset_state(self) -> None:
        """What belonged to the previous set: channel choice, Bias rows, readout, header, isophotes."""
        self._new_set = True
        self.analysis.clear()
        self.analysis.clear_isophotes()
        self.bias.set_changed()
        self.image_view.last_readout = None
        self.readout_label.setText("")
        self.header_panel.set_header(None)

    def set_model(self, model: Any) -> None:
        """Use ``model`` (a LoadedModel, or None: browse without saliency)."""
        self.model = model
        self.service.reset(model, self.image_set)
        if model is None:
            self.model_label.setText("no model")
        else:
            pre = model.preprocessing
            name = Path(model.path).name if getattr(model, "path", None) else model.meta.architecture
            self.model_label.setText(f"model {name} · {pre.input_size}px input · {model.device}")
            self.log.add("info", f"model: {name} ({model.meta.architecture}, outputs {list(model.meta.output_names)}, "
                                 f"input {pre.input_size}px, crop {pre.crop_fraction})")
        self.analysis.model_changed(model)

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
        if self.model_task is not None:
            return False
        if self.image_set is None or len(self.image_set) == 0:
            return True
        if self.current_entry is None:
            return False
        if self.thumbnails is not None and self.thumbnails.pending():
            return False
        if self.current_image is None:
            return self.current_failed
        if self.model is None or not self.state.saliency.auto:
            return True
        return self.analysis.settled()

    # ================================================================== selection and loading

    @Slot(int)
    def _entry_selected(self, entry: int) -> None:
        if entry == self.current_entry and (self.current_image is not None or self.loader.busy_with(entry)):
            return
        self.annotate.image_changed(entry)
        self.state.entry.update(index=entry, key=self.file_key(entry))
        self.current_image = None
        self.current_failed = False
        self.analysis.clear()
        self.image_view.show_loading(self.file_key(entry) or str(entry))  # the view follows the browser at once
        self.analysis.keep_only(entry, self.browser.entry_after(entry))
        self.loader.load(entry)

    @Slot(int, object)
    def _image_loaded(self, entry: int, image: Any) -> None:
        if entry != self.current_entry:
            return
        self.current_image = image
        try:
            self._show_image(entry, image)
        except Exception as exc:  # noqa: BLE001  (a bad image or a bug: say so, and keep the window running)
            self.annotate.image_changed(entry)
            self.analysis.clear()
            self._show_unreadable(entry, f"{self.file_key(entry)}: could not show the image "
                                         f"({type(exc).__name__}: {exc})", "could not show this file")

    def _show_image(self, entry: int, image: Any) -> None:
        self.analysis.clear_isophotes()
        self._showing = True
        try:
            self.display_controls.set_channels(image.channels, tuple(image.band_names), keep=not self._new_set)
        finally:
            self._showing = False
            self._new_set = False
        display = self.state.display
        self.image_view.set_image(image.pixels, image.wcs, display.settings(), display.cmap,
                                  focus=self.model_region(image))
        self.header_panel.set_header(image.header)
        self.annotate.image_shown(entry, image)
        self.update_title()
        self.show_status(f"{self.file_key(entry)}", 4000)
        self.image_shown.emit(entry)
        self.analysis.image_shown(entry)

    @Slot(int, object)
    def _image_read_failed(self, entry: int, exc: BaseException) -> None:
        text = str(exc) if isinstance(exc, GalaxyscopeError) else f"{type(exc).__name__}: {exc}"
        if entry == self.current_entry:
            self._show_unreadable(entry, text, "could not read this file")
        elif self.browser.model is not None:
            self.browser.model.mark_failed(entry, text)

    def _show_unreadable(self, entry: int, text: str, message: str) -> None:
        if self.browser.model is not None:
            self.browser.model.mark_failed(entry, text)
        self.current_image = None
        self.current_failed = True
        self.report("error", text)
        self.image_view.show_message(f"{message}\n(see the log)")
        self.image_view.title.setText(f"<b>{html.escape(self.file_key(entry) or '')}</b> · "
                                      f"<span style='color:#e66'>unreadable</span>")
        self.header_panel.set_header(None)
        self.image_failed.emit(entry)

    # ================================================================== dialogs and views

    def load_model(self, path: str | Path | None, *, shipped_default: bool = False) -> Task:
        """Load a checkpoint (None: the shipped model) in a worker (`model_loading`), saying so in the
        status bar; the window stays usable and the image on screen gets its saliency once it is in."""
        from galaxyscope.gui.model_loading import start_loading

        self.model_task = start_loading(self, path, shipped_default=shipped_default)
        return self.model_task

    def show_shortcuts(self) -> QDialog:
        return show_shortcuts(self)

    def zoom_to_model_region(self) -> None:
        """Z: show the central crop the network saw (the whole image without a model)."""
        box = self.model_region(self.current_image)
        if box is None:
            self.image_view.fit()
        else:
            self.image_view.zoom_to(box)

    # ================================================================== small updates

    def _display_changed(self, _change: Change) -> None:
        if not self._showing:  # a new image's channel choice: drawn with the image itself
            self.image_view.set_display(self.state.display.settings(), self.state.display.cmap)

    def _annotate_changed(self, _changes: tuple[Change, ...]) -> None:
        """Blind annotation: no score in the title, no machine numbers in the other views (`blind_view`)."""
        apply_blind(self, self.state.annotate)
        self.update_title()

    def _overlays_changed(self, changes: tuple[Change, ...]) -> None:
        for change in (c for c in changes if c.name in self.image_view.overlays.visible):
            self.image_view.overlays.set_visible(change.name, bool(change.new))

    @Slot(object)
    def _cursor_moved(self, readout: Readout | None) -> None:
        self.readout_label.setText(readout.text() if readout is not None else "")

    def update_title(self) -> None:
        """The line above the image: file, size, bands, pixel scale, WCS, score and method."""
        if self.current_image is not None and self.current_entry is not None and self.browser.model is not None:
            self.image_view.title.setText(title_html(self.file_key(self.current_entry) or "", self.current_image,
                                                     None if self.state.annotate.blind else self.current_saliency))

    def closeEvent(self, event: Any) -> None:  # noqa: N802 (Qt API)
        self.save_settings()
        self.annotate.close()
        self.tasks.cancel_all()
        if self.thumbnails is not None:
            self.thumbnails.stop()
        if self.wait_on_close:  # else the process ends right after (app.exit_now): cancelled work just stops
            self.compute_pool.waitForDone(5000)
            self.io_pool.waitForDone(5000)
        super().closeEvent(event)
