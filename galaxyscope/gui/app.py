"""Starting the desktop app: the QApplication, pyqtgraph's options, the window, ``--screenshot``.

Why separate from the window: the CLI, ``demo`` and the tests all start the app
the same way, and the screenshot mode (open, select the first galaxy, wait for
its saliency and bar, save a PNG, exit) must not depend on anyone clicking.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from galaxyscope.errors import GalaxyscopeError

SCREENSHOT_TIMEOUT_S = 600.0
_configured = False


def configure_pyqtgraph() -> None:
    """pyqtgraph options used everywhere: row-major images (row = y), antialiased lines. Idempotent."""
    global _configured
    import pyqtgraph as pg

    if not _configured:
        pg.setConfigOptions(imageAxisOrder="row-major", antialias=True)
        _configured = True


def ensure_app(argv: list[str] | None = None) -> Any:
    """The running QApplication, created if needed (with organisation/app names for QSettings)."""
    from PySide6.QtWidgets import QApplication

    from galaxyscope.gui.settings import APPLICATION, ORGANISATION

    app = QApplication.instance()
    if app is None:
        app = QApplication(argv if argv is not None else [sys.argv[0] if sys.argv else "galaxyscope"])
    app.setOrganizationName(ORGANISATION)
    app.setApplicationName(APPLICATION)
    configure_pyqtgraph()
    return app


def wait_until(predicate: Callable[[], bool], timeout_s: float, poll_ms: int = 20) -> bool:
    """Run the event loop until ``predicate()`` is True or ``timeout_s`` passes; returns the predicate."""
    from PySide6.QtCore import QEventLoop, QTimer

    deadline = time.monotonic() + timeout_s
    loop = QEventLoop()
    timer = QTimer()
    timer.setInterval(poll_ms)

    def check() -> None:
        if predicate() or time.monotonic() > deadline:
            loop.quit()

    timer.timeout.connect(check)
    timer.start()
    if not predicate():
        loop.exec()
    timer.stop()
    return bool(predicate())


def save_screenshot(window: Any, path: str | Path, timeout_s: float = SCREENSHOT_TIMEOUT_S) -> bool:
    """Wait until the window is settled (image, saliency, bar, thumbnails), then save it as a PNG.

    Returns True when it settled in time; the PNG is written either way. Raises
    GalaxyscopeError if the file cannot be written.
    """
    from PySide6.QtWidgets import QApplication

    settled = wait_until(window.is_settled, timeout_s)
    for _ in range(5):  # let the last repaints through
        QApplication.processEvents()
        time.sleep(0.02)
    path = Path(path)
    if path.parent and not path.parent.exists():
        raise GalaxyscopeError(f"{path}: folder {path.parent} does not exist")
    if not window.grab().save(str(path), "PNG"):
        raise GalaxyscopeError(f"{path}: could not write the screenshot")
    return settled


def load_model_for_gui(path: str | None) -> tuple[Any, str]:
    """(LoadedModel or None, note). An explicitly named model that fails raises; a missing
    shipped default only gives a note, because browsing works without a model."""
    from galaxyscope.jobs.common import resolve_model

    if path:
        return resolve_model(path), ""
    try:
        return resolve_model(None), ""
    except GalaxyscopeError as exc:
        return None, f"no model: {exc}"


def run_gui(path: str | Path | None = None, *, model: str | None = None, db: str | None = None,
            screenshot: str | Path | None = None, settings_path: str | Path | None = None,
            size: tuple[int, int] | None = None, screenshot_timeout_s: float = SCREENSHOT_TIMEOUT_S,
            exit_process: bool = False) -> int:
    """Open the main window on ``path`` (folder, catalogue or image) and run until it is closed.

    The window is shown first and the model (``model``, else the shipped one) loads in a worker
    with a status message; the saliency of the image on screen is computed once it is there.
    With ``screenshot``: select the first galaxy, wait for its saliency and bar,
    save the window as a PNG there and return 0 (1 if it timed out). Settings
    are then kept in a throw-away file so the picture does not depend on the
    user's last session. Bad paths and models raise GalaxyscopeError (the CLI
    prints them as one line). ``exit_process`` (the ``gui`` and ``demo`` commands, without
    ``--screenshot``): once the window is closed, and everything is saved, end the process at
    once instead of returning (`exit_now`).
    """
    from galaxyscope.images.imageset import ImageSet

    image_set = ImageSet.open(path) if path else None  # fail before any window opens
    if screenshot is not None and image_set is None:
        raise GalaxyscopeError("--screenshot needs an image set to show (give PATH)")
    if screenshot is not None and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from galaxyscope.gui.model_loading import check_model_path

    check_model_path(model)
    app = ensure_app()

    from galaxyscope.gui.main_window import MainWindow
    from galaxyscope.gui.settings import DEFAULT_WINDOW_SIZE, Settings

    tmp = None
    if screenshot is not None and settings_path is None:
        tmp = tempfile.TemporaryDirectory(prefix="galaxyscope-settings-")
        settings_path = Path(tmp.name) / "screenshot.ini"
    settings = Settings(settings_path)
    disk_cache = _disk_cache()
    window = MainWindow(model=None, settings=settings, disk_cache=disk_cache, db_path=db,
                        restore_state=screenshot is None)
    if screenshot is not None or size is not None:
        window.resize(*(size or DEFAULT_WINDOW_SIZE))
    window.show()
    model_task = window.load_model(model, shipped_default=not model)
    if screenshot is not None and model:
        _stop_if_the_model_fails(window, model_task, tmp)
    if image_set is not None:
        window.set_image_set(image_set, source=str(path))
    elif screenshot is None:
        last = settings.get("last_path", "")
        if last and Path(last).exists():
            window.open_path_in_background(last)
    if screenshot is None:
        window.wait_on_close = not exit_process  # the process ends right after: nothing to wait for
        code = int(app.exec())
        if exit_process:
            exit_now(code)
        return code
    try:
        settled = save_screenshot(window, screenshot, screenshot_timeout_s)
    finally:
        window.close()
        if tmp is not None:
            tmp.cleanup()
    if not settled:
        print(f"galaxyscope: screenshot saved to {screenshot} before the window settled "
              f"(timed out after {screenshot_timeout_s:.0f} s)", file=sys.stderr)
        return 1
    return 0


def _stop_if_the_model_fails(window: Any, task: Any, tmp: Any) -> None:
    """With --screenshot and a named model: wait for it to load and raise its error if it fails.

    Why: the window loads models in a worker and reports a failure in the window, which is
    right for a person at the screen; a --screenshot run has nobody there, so a broken model
    must end it as one line and exit status 2, not as a picture of an error.
    """
    window.model_load_error = None
    wait_until(lambda: window.model_task is not task, SCREENSHOT_TIMEOUT_S)
    error = window.model_load_error
    if window.model is None and error:
        window.close()
        if tmp is not None:
            tmp.cleanup()
        raise GalaxyscopeError(str(error))


def exit_now(code: int) -> None:
    """End the process without Python's finalisation. Why: after the window closed (settings
    synced, the annotation database closed, every write committed), tearing down torch, captum,
    astropy and a dozen other libraries and waiting for cancelled workers took seconds (issue 17:
    4-5 s to quit); there is nothing left to save."""
    import logging

    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


def _disk_cache() -> Any:
    """The on-disk saliency cache, made at its first use in a worker (importing it imports torch)."""
    from galaxyscope.gui.model_loading import LazySaliencyCache

    return LazySaliencyCache()
