"""Fast stepping (issue 17, item 9), in the real window offscreen: after N pressed five times quickly the
view follows the browser's selection at once and ends on the browser's image; stale reads and saliency
maps are never shown; a selected image never waits behind the I/O pool's long jobs."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import threading
import time
from typing import Any

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402

from galaxyscope.gui.image_view import LOADING_OPACITY  # noqa: E402
from galaxyscope.gui.workers import Task  # noqa: E402
from galaxyscope.images.imageset import ImageSet  # noqa: E402
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


class SlowSet:
    """An ImageSet whose reads of odd entries take longer, so stale reads come back after newer ones."""

    def __init__(self, inner: ImageSet) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def __len__(self) -> int:
        return len(self._inner)

    def __getitem__(self, entry: int) -> Any:
        time.sleep(0.3 if entry % 2 else 0.02)
        return self._inner[entry]


def shows_browser_image(w) -> bool:
    """The view shows, with its saliency, exactly the image selected in the browser."""
    entry = w.browser.current_entry()
    image = w.current_image
    return (image is not None and w.current_entry == entry and w.is_settled()
            and image.path == w.image_set.entries[entry].path
            and w.image_view.pixels is not None and w.image_view.pixels is image.pixels
            and w.analysis.current_key is not None and w.analysis.current_key.entry == entry
            and w.file_key(entry) in w.image_view.title.text())


def press_n(qtbot, w, times: int) -> None:
    """N ``times`` quickly; after each press the title already names the browser's new image."""
    for _ in range(times):
        qtbot.keyClick(w.image_view.glw, Qt.Key.Key_N)
        key = w.file_key(w.browser.current_entry())
        assert key in w.image_view.title.text() and "loading" in w.image_view.title.text()
        assert w.image_view.image_item.opacity() == LOADING_OPACITY  # the old galaxy, dimmed


def test_five_quick_n_end_on_the_browsers_image_and_nothing_stale_is_shown(make_window, qtbot, tmp_path):
    w = make_window(tiny_model())
    w.set_image_set(SlowSet(ImageSet.open(write_set(tmp_path / "set", n=8))), source="slow")
    wait_settled(qtbot, w, 0)
    images, maps = [], []
    w.image_shown.connect(images.append)
    w.saliency_shown.connect(maps.append)
    press_n(qtbot, w, 5)
    assert w.browser.current_entry() == 5
    qtbot.waitUntil(lambda: shows_browser_image(w), timeout=WAIT_MS)
    assert w.image_view.image_item.opacity() == 1.0
    qtbot.waitUntil(lambda: not any(t.name.startswith("read #") for t in w.tasks.running()), timeout=WAIT_MS)
    assert shows_browser_image(w)  # every stale read has come back, and was dropped
    assert images == [5] and set(maps) == {5}  # the stale entries 1-4 were never put on screen


def test_the_selected_image_does_not_wait_behind_long_io_jobs(make_window, qtbot, tmp_path):
    """Thumbnails, isophote fits, model loading and folder listing share the I/O pool; a selected
    image read there waited for them (seconds on a real set) while the browser had moved on."""
    w = make_window(tiny_model())
    assert w.open_path(write_set(tmp_path / "set", n=8))
    wait_settled(qtbot, w, 0)
    release = threading.Event()
    blockers = []
    for i in range(w.io_pool.maxThreadCount() + 1):
        task = Task(lambda progress, cancel: release.wait(60), name=f"long I/O job {i}")
        w.tasks.start(task, w.io_pool, priority=20)  # above the image reads' priority
        blockers.append(task)
    try:
        press_n(qtbot, w, 5)
        qtbot.waitUntil(lambda: shows_browser_image(w), timeout=WAIT_MS)
        assert w.current_entry == 5
    finally:
        release.set()
    qtbot.waitUntil(lambda: all(t.is_finished for t in blockers), timeout=WAIT_MS)
