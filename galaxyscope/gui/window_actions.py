"""The window's menus and actions (built from the shortcut table), the dialogs they open, the dock layout.

Why here: `shortcuts.SHORTCUTS` is the one list of actions (menus and Help are
made from it); ``window_handlers`` says what each does in a window. The overlay
switches are checkable actions bound to the overlay state by the overlay
toggles; the dock layout is Qt's own saved state, kept next to the session
state in the same settings file.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QByteArray, QSize, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDockWidget,
    QFileDialog,
    QMainWindow,
    QMessageBox,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from galaxyscope import __version__
from galaxyscope.gui.settings import DEFAULT_WINDOW_SIZE, Settings
from galaxyscope.gui.shortcuts import SHORTCUTS, shortcut_help_html

if TYPE_CHECKING:
    from galaxyscope.gui.main_window import MainWindow

#: overlay name -> the id of its checkable action in SHORTCUTS
OVERLAY_ACTIONS: dict[str, str] = {
    "saliency": "toggle_saliency", "mask": "toggle_mask", "bar": "toggle_bar", "width": "toggle_width",
    "label": "toggle_label", "reference": "toggle_reference",
}

#: overlay name -> its check box under the image ("reference" is drawn by annotate mode's layer)
OVERLAY_LABELS: dict[str, str] = {
    "saliency": "saliency", "mask": "mask outline", "bar": "bar", "width": "width box", "label": "length label",
    "reference": "reference",
}


#: actions that open a modal dialog: the keyboard goes back to the image view when it closes
DIALOG_ACTIONS = ("open_folder", "open_file", "open_model", "export_table", "about", "open_database", "annotator")


def then_focus_view(w: MainWindow, handler: Callable[..., Any]) -> Callable[..., Any]:
    """``handler``, then the keyboard back to the image view. Why: after a modal dialog (most of
    all without a window manager) key presses went nowhere until the window was clicked."""
    def run(*_args: Any) -> Any:  # (triggered's "checked" is not passed on)
        try:
            return handler()
        finally:
            w.focus_view()
    return run


def window_handlers(w: MainWindow) -> dict[str, Callable[..., Any]]:
    """What each action of SHORTCUTS does in ``w`` (annotate mode brings its own)."""
    handlers = _handlers(w)
    return {name: then_focus_view(w, fn) if name in DIALOG_ACTIONS else fn for name, fn in handlers.items()}


def _handlers(w: MainWindow) -> dict[str, Callable[..., Any]]:
    browser = w.browser
    return {
        "open_folder": lambda: choose_folder(w), "open_file": lambda: choose_file(w),
        "open_model": lambda: choose_model(w), "export_table": w.batch.export, "quit": w.close,
        "next_image": lambda: browser.step(1), "prev_image": lambda: browser.step(-1),
        "first_image": lambda: browser.select_row(0),
        "last_image": lambda: browser.select_row((browser.model.rowCount() - 1) if browser.model else -1),
        "focus_filter": lambda: (browser.filter_edit.setFocus(), browser.filter_edit.selectAll()),
        "fit_view": w.image_view.fit, "zoom_model": w.zoom_to_model_region,
        "cycle_stretch": w.display_controls.cycle_stretch, "switch_method": w.bar_controls.switch_method,
        "cycle_attribution": w.saliency_controls.cycle_method,
        "compute_saliency": lambda: w.analysis.compute(force=True), "reset_params": w.bar_controls.reset_current,
        "batch_measure": w.batch.start, "cancel": w.cancel_work,
        "show_shortcuts": lambda: show_shortcuts(w), "about": lambda: show_about(w),
        **w.annotate.action_handlers(),
        **w.finetune.action_handlers(),
    }


def build_actions(window: QMainWindow, handlers: Mapping[str, Callable[..., Any]]) -> tuple[
        dict[str, QAction], dict[str, Any]]:
    """One QAction per shortcut, in menus by section; returns (actions by id, menus by section).

    Checkable ``toggle_*`` actions get no handler: they are bound to the overlay state.
    """
    actions: dict[str, QAction] = {}
    menus: dict[str, Any] = {}
    for spec in SHORTCUTS:
        menu = menus.get(spec.section)
        if menu is None:
            menu = menus[spec.section] = window.menuBar().addMenu(f"&{spec.section}")
        action = QAction(spec.text, window)
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
        window.addAction(action)  # shortcuts work even when the menu bar is hidden
        actions[spec.action] = action
        if spec.action == "export_table":
            menu.addSeparator()
    return actions, menus


def add_dock(window: QMainWindow, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
    """A movable, floatable, closable dock named ``dock_<title>`` (the name its saved layout uses)."""
    dock = QDockWidget(title, window)
    dock.setObjectName(f"dock_{title.lower()}")
    dock.setWidget(widget)
    dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                     | QDockWidget.DockWidgetFeature.DockWidgetFloatable
                     | QDockWidget.DockWidgetFeature.DockWidgetClosable)
    window.addDockWidget(area, dock)
    return dock


def first_run_size(available: QSize) -> tuple[int, int]:
    """The window size before any is saved: DEFAULT_WINDOW_SIZE, shrunk to 90 % of the free screen."""
    return (min(DEFAULT_WINDOW_SIZE[0], int(0.9 * available.width())),
            min(DEFAULT_WINDOW_SIZE[1], int(0.9 * available.height())))


def restore_layout(window: QMainWindow, settings: Settings, restore: bool, side_docks: list[QDockWidget],
                   bottom_dock: QDockWidget) -> None:
    """The saved geometry and dock layout; without one, a first-run size that leaves the image room."""
    geometry = settings.get("window/geometry", QByteArray()) if restore else QByteArray()
    state = settings.get("window/state", QByteArray()) if restore else QByteArray()
    if not geometry.isEmpty():
        window.restoreGeometry(geometry)
    elif restore:  # first run: Qt's default size leaves the image a strip under the docks
        window.resize(*first_run_size(window.screen().availableGeometry().size()))
    if not state.isEmpty():
        window.restoreState(state)
    else:
        window.resizeDocks(side_docks, [400, 380], Qt.Orientation.Horizontal)
        window.resizeDocks([bottom_dock], [190], Qt.Orientation.Vertical)


def save_layout(window: QMainWindow, settings: Settings) -> None:
    settings.set("window/geometry", window.saveGeometry())
    settings.set("window/state", window.saveState())


def choose_folder(w: MainWindow) -> None:
    path = QFileDialog.getExistingDirectory(w, "Open a folder of galaxy images", w.source or "")
    if path:
        w.open_path_in_background(path)


def choose_file(w: MainWindow) -> None:
    path, _ = QFileDialog.getOpenFileName(w, "Open a catalogue or an image", w.source or "",
                                          "Catalogues and images (*.ecsv *.csv *.txt *.fits *.fit *.fits.gz "
                                          "*.jpg *.jpeg *.png);;All files (*)")
    if path:
        w.open_path_in_background(path)


def choose_model(w: MainWindow) -> None:
    path, _ = QFileDialog.getOpenFileName(w, "Open a model", w.settings.get("last_model", ""),
                                          "Checkpoints (*.safetensors *.pt *.pth)")
    if path:
        w.load_model(path)


def show_shortcuts(w: QWidget) -> QDialog:
    """Help > Keyboard shortcuts: the table of SHORTCUTS, in a dialog kept as ``w.shortcuts_dialog``."""
    dialog = QDialog(w)
    dialog.setWindowTitle("Keyboard shortcuts")
    text = QTextBrowser()
    text.setHtml(shortcut_help_html())
    layout = QVBoxLayout(dialog)
    layout.addWidget(text)
    dialog.resize(460, 620)
    dialog.show()
    w.shortcuts_dialog = dialog  # type: ignore[attr-defined]  (kept alive while shown)
    return dialog


def show_about(w: QWidget) -> None:
    QMessageBox.about(w, "About galaxyscope",
                      f"<b>galaxyscope {__version__}</b><p>Galactic bar lengths from CNN saliency maps "
                      "(after Bhambra, Joachimi &amp; Lahav 2022).</p><p>Sample images: Galaxy Zoo, SDSS "
                      "and the DESI Legacy Imaging Surveys.</p>")
