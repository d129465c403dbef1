"""What the controllers may use of the main window: small typed interfaces instead of the whole window.

Why: the annotate, bias, analysis and batch controllers used to take the window
typed ``Any`` and read whatever they liked of it. Each now names what it needs
here (``typing.Protocol``: the window satisfies them structurally, a test can
hand a controller a small stand-in), and values the user sets are read from the
session state, not from widgets.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from PySide6.QtCore import QThreadPool, SignalInstance
    from PySide6.QtGui import QAction
    from PySide6.QtWidgets import QDockWidget, QTabWidget, QWidget

    from galaxyscope.gui.browser import BrowserWidget
    from galaxyscope.gui.controls import BarControls, SaliencyControls
    from galaxyscope.gui.image_view import ImageView
    from galaxyscope.gui.isophote_panel import IsophotePanel
    from galaxyscope.gui.measurements import MeasurementsPanel
    from galaxyscope.gui.panels import LogPanel
    from galaxyscope.gui.saliency_service import SaliencyService
    from galaxyscope.gui.session_state import SessionState
    from galaxyscope.gui.settings import Settings
    from galaxyscope.gui.workers import ModelLock, TaskList


class WindowServices(Protocol):
    """What every controller may use: the state, what is open, the image view, workers, messages."""

    state: SessionState
    settings: Settings
    image_view: ImageView
    tasks: TaskList
    io_pool: QThreadPool
    model: Any  # LoadedModel, or None: browsing without saliency
    image_set: Any  # ImageSet, or None before one is opened
    current_image: Any  # the GalaxyImage on screen, or None while it loads or failed

    def report(self, level: str, text: str) -> None:
        """Log a message; warnings and errors also go to the status bar."""

    def show_status(self, text: str, timeout_ms: int = 4000) -> None:
        """A transient status-bar message (not logged)."""

    def add_result_tab(self, widget: QWidget, title: str) -> None:
        """Add a tab to the Results dock under the image."""

    def select_file(self, key: str) -> bool:
        """Make the image with file key ``key`` current."""

    def file_key(self, entry: int) -> str | None:
        """The file key of entry ``entry`` of the open set."""

    def focus_view(self) -> None:
        """Give the keyboard back to the image view (after a dialog): N, P, D... work without a click."""


class BiasHost(WindowServices, Protocol):
    """The Bias tab: it checks each map shown against the image on screen."""

    saliency_shown: SignalInstance  # (entry) after a saliency map was shown
    current_saliency: Any  # the SaliencyResult on screen, or None

    def model_region(self, image: Any) -> tuple[int, int, int, int] | None:
        """The part of ``image`` the network sees (None without a model)."""


class AnnotateHost(WindowServices, Protocol):
    """Annotate mode: draws on the image, steps through the browser, adds a dock and a tab."""

    browser: BrowserWidget
    bottom_tabs: QTabWidget
    bar_fitted: SignalInstance  # () after every live re-fit of the machine's bar

    def dialog_parent(self) -> QWidget:
        """The widget dialogs, docks and the controller itself hang from."""

    def add_side_dock(self, dock: QDockWidget) -> None:
        """Put ``dock`` on the right, tabbed with the controls (which stay in front)."""

    def act_on_image(self, action: QAction) -> None:
        """Let ``action``'s shortcut work on the image and the browser only (not in text fields)."""

    def make_room_for_results(self, height_px: int) -> None:
        """Grow the Results dock to at least ``height_px``."""

    def machine_bar(self) -> tuple[Any, str | None]:
        """The machine's live measurement of the drawn bar method (or None) and the model's hash."""

    def open_path(self, path: str | Path) -> bool:
        """Open a folder, catalogue or image file (reported, never raised)."""


class AnalysisHost(WindowServices, Protocol):
    """The saliency / bar-fit / isophote pipeline of the image on screen."""

    service: SaliencyService
    browser: BrowserWidget
    saliency_controls: SaliencyControls
    bar_controls: BarControls
    isophote_panel: IsophotePanel
    log: LogPanel

    def update_title(self) -> None:
        """Redraw the line above the image (file, size, score, method)."""


class BatchHost(WindowServices, Protocol):
    """Measure all: the whole set through the model, in a worker."""

    browser: BrowserWidget
    measurements: MeasurementsPanel
    bottom_tabs: QTabWidget
    model_lock: ModelLock
    compute_pool: QThreadPool
    disk_cache: Any

    def dialog_parent(self) -> QWidget:
        """The widget the export dialog hangs from."""
