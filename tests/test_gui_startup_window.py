"""Start-up of the window (issue 17, item 4): the window module imports no torch, the window is painted
before the model has finished loading (it loads in a worker, with a status message), and the saliency of
the image on screen follows once the model is in."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import subprocess
import sys
import threading

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import QEvent, QObject  # noqa: E402
from PySide6.QtWidgets import QApplication, QMainWindow  # noqa: E402

import galaxyscope.jobs.common as jobs_common  # noqa: E402
from galaxyscope.errors import GalaxyscopeError  # noqa: E402
from galaxyscope.gui.app import run_gui  # noqa: E402
from tests.test_gui_window import (  # noqa: E402
    WAIT_MS,
    _private_settings_and_cache,
    _quiet_torch,
    make_window,
    tiny_model,
    wait_settled,
    write_set,
)

__all__ = ["_private_settings_and_cache", "_quiet_torch", "make_window"]


def test_making_the_window_imports_no_torch():
    """Importing the window's modules, its settings and the lazy disk cache, and building the window,
    leave torch to the model-loading worker (it took seconds on the window's thread before)."""
    code = ("import os, sys, tempfile; os.environ.setdefault('QT_QPA_PLATFORM', 'offscreen'); "
            "from galaxyscope.gui.app import ensure_app, _disk_cache; ensure_app(); "
            "from galaxyscope.gui.main_window import MainWindow; from galaxyscope.gui.settings import Settings; "
            "w = MainWindow(settings=Settings(os.path.join(tempfile.mkdtemp(), 's.ini')), disk_cache=_disk_cache(), "
            "restore_state=False); "
            "bad = [m for m in ('torch', 'captum') if m in sys.modules]; print(bad); raise SystemExit(1 if bad else 0)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr


def test_images_show_while_the_model_loads_and_the_saliency_follows(make_window, qtbot, tmp_path, monkeypatch):
    release = threading.Event()
    model = tiny_model()

    def slow_resolve(path=None, device=None):  # torch and a big checkpoint take seconds
        release.wait(60)
        return model

    monkeypatch.setattr(jobs_common, "resolve_model", slow_resolve)
    w = make_window()
    qtbot.waitExposed(w)
    assert w.open_path(write_set(tmp_path / "set", n=3))
    w.load_model("big.safetensors")
    try:
        qtbot.waitUntil(lambda: w.current_image is not None, timeout=WAIT_MS)  # browsing goes on
        assert "loading model big.safetensors" in w.model_label.text()  # in the status bar until loaded
        assert "loading big.safetensors" in w.saliency_controls.score.text()
        assert w.model is None and w.analysis.current_saliency is None and not w.is_settled()
    finally:
        release.set()
    wait_settled(qtbot, w, 0)
    assert w.model is model and w.analysis.current_saliency is not None and w.analysis.fits
    assert "model" in w.model_label.text() and "loading" not in w.model_label.text()


def test_a_model_that_fails_in_the_worker_is_reported_in_the_window(make_window, qtbot, tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a checkpoint")
    w = make_window()
    task = w.load_model(bad)
    qtbot.waitUntil(lambda: task.is_finished, timeout=WAIT_MS)
    assert w.model is None and w.model_task is None and "bad.safetensors" in w.log.text()
    assert "loading" not in w.model_label.text()


class FirstPaint(QObject):
    """Sets ``painted`` at the first paint of anything inside a visible main window."""

    def __init__(self) -> None:
        super().__init__()
        self.painted = threading.Event()

    def eventFilter(self, obj, event):  # noqa: N802 (Qt API)
        if event.type() == QEvent.Type.Paint and hasattr(obj, "window") and isinstance(obj.window(), QMainWindow) \
                and obj.window().isVisible():
            self.painted.set()
        return False


def test_run_gui_paints_the_window_before_the_model_has_loaded(qtbot, tmp_path, monkeypatch):
    watch = FirstPaint()
    QApplication.instance().installEventFilter(watch)
    seen = {}

    def resolve_after_paint(path=None, device=None):
        seen["painted_first"] = watch.painted.wait(60)  # before the change: no window exists yet
        return tiny_model()

    monkeypatch.setattr(jobs_common, "resolve_model", resolve_after_paint)
    ckpt = tmp_path / "named.safetensors"
    ckpt.write_bytes(b"")  # only its existence is checked before the window opens
    shot = tmp_path / "shot.png"
    try:
        code = run_gui(write_set(tmp_path / "set", n=2), model=str(ckpt), screenshot=shot,
                       settings_path=tmp_path / "shot.ini", size=(900, 650), screenshot_timeout_s=120)
    finally:
        QApplication.instance().removeEventFilter(watch)
    assert seen == {"painted_first": True}
    assert code == 0 and shot.exists()  # --screenshot waited for the model and the first saliency


def test_a_missing_named_model_still_stops_before_any_window(tmp_path):
    with pytest.raises(GalaxyscopeError, match="missing.safetensors"):
        run_gui(write_set(tmp_path / "set", n=1), model=str(tmp_path / "missing.safetensors"),
                screenshot=tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_the_gui_command_ends_the_process_as_soon_as_the_window_is_closed(qtbot, tmp_path, monkeypatch):
    """Quitting was 4-5 s: waiting for cancelled workers, then Python tearing down torch and co."""
    import argparse

    from PySide6.QtCore import QTimer

    import galaxyscope.gui.app as app_module
    from galaxyscope.gui import cli_gui
    from galaxyscope.gui.main_window import MainWindow

    exits, waited = [], []
    monkeypatch.setattr(app_module, "exit_now", exits.append)  # (the real one ends the process)
    monkeypatch.setattr(jobs_common, "resolve_model", lambda path=None, device=None: tiny_model())

    def close_when_settled() -> None:
        for w in QApplication.topLevelWidgets():
            if isinstance(w, MainWindow) and w.isVisible() and w.is_settled():
                waited.append(w.wait_on_close)
                timer.stop()
                w.close()

    timer = QTimer()
    timer.timeout.connect(close_when_settled)
    timer.start(20)
    ckpt = tmp_path / "named.safetensors"
    ckpt.write_bytes(b"")
    parser = argparse.ArgumentParser()
    cli_gui.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["gui", str(write_set(tmp_path / "set", n=2)), "--model", str(ckpt)])
    assert args.func(args) == 0
    assert exits == [0] and waited == [False]
