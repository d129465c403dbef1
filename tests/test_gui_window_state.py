"""The controls bound to the session state (offscreen), a controller run on a stand-in host that
has only what its protocol names, and a failure while showing an image kept inside the window."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import dataclasses

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import QObject, QThreadPool, Signal  # noqa: E402
from PySide6.QtGui import QAction  # noqa: E402
from PySide6.QtWidgets import QTabWidget  # noqa: E402

from galaxyscope.gui.bar_fit import default_params  # noqa: E402
from galaxyscope.gui.controls import BarControls, DisplayControls, OverlayToggles, SaliencyControls  # noqa: E402
from galaxyscope.gui.session_state import OVERLAYS, SessionState, editable_param_specs  # noqa: E402
from galaxyscope.gui.settings import Settings  # noqa: E402
from tests.test_gui_window import (  # noqa: E402  (same tiny set and window fixtures)
    WAIT_MS,
    _private_settings_and_cache,
    _quiet_torch,
    make_window,
    wait_settled,
    write_set,
)

__all__ = ["_private_settings_and_cache", "_quiet_torch", "make_window"]


def bound_controls(qtbot, state: SessionState):
    dc, sc, bc = DisplayControls(), SaliencyControls(), BarControls()
    for w in (dc, sc, bc):
        qtbot.addWidget(w)
    dc.bind(state.display)
    sc.bind(state.saliency, state.display)
    bc.bind(state.bars, state.saliency)
    return dc, sc, bc


def test_widget_edits_reach_the_state_once_and_state_changes_reach_the_widgets(qtbot):
    state = SessionState()
    dc, sc, bc = bound_controls(qtbot, state)
    heard = []
    state.saliency.watch_any(lambda changes: heard.append(tuple(c.name for c in changes)))
    sc.samples.setValue(17)  # widget -> state, heard once (no echo back from the widget)
    assert state.saliency.samples == 17 and heard == [("samples",)]
    state.saliency.samples = 33  # state -> widget
    assert sc.samples.value() == 33 and heard == [("samples",), ("samples",)]
    sc.auto.setChecked(False)
    assert state.saliency.auto is False
    sc.set_targets(["smooth", "has_bar"], "has_bar")  # a model's outputs: the state learns the default
    assert state.saliency.target == "has_bar"

    state.display.stretch = "log"
    assert dc.stretch.currentData() == "log"
    dc.cmap.setCurrentIndex(dc.cmap.findData("viridis"))
    assert state.display.cmap == "viridis"
    state.display.percentile = 120.0  # beyond the spin box: the state keeps what the widget can show
    assert dc.percentile.value() == 100.0 and state.display.percentile == 100.0
    sc.opacity.setValue(30)
    assert state.display.opacity == 30
    dc.set_channels(1, ("r",))  # a one-band image has no RGB mode: the state follows the fallback
    assert state.display.channel == "luminance"

    panel = bc.panels["paper"]
    panel.set_value("stop_pearson", 0.7)
    assert state.bars.params["paper"].stop_pearson == pytest.approx(0.7)
    state.bars.set_params("paper", dataclasses.replace(default_params("paper"), t_start=0.3))
    assert panel.spins["t_start"].value() == pytest.approx(0.3)
    assert panel.params().stop_pearson == default_params("paper").stop_pearson
    bc.switch_method()
    assert state.bars.method == "paper"
    state.bars.method = "moments"
    assert bc.method() == "moments"
    state.bars.min_probability = 0.8
    assert bc.min_probability.value() == pytest.approx(0.8)
    state.saliency.framing = "fixed"
    assert bc.framing.currentData() == "fixed"
    bc.framing.setCurrentIndex(bc.framing.findData("galaxy"))
    assert state.saliency.framing == "galaxy"
    panel = bc.panels["moments"]
    panel.set_value("t_start", 0.3)
    bc.reset_current()  # moments back to its defaults, through the state
    assert state.bars.params["moments"].t_start == default_params("moments").t_start
    assert state.bars.params["moments"] == panel.params()


def test_the_panels_persist_exactly_the_parameters_they_show(qtbot):
    bc = BarControls()
    qtbot.addWidget(bc)
    for method, panel in bc.panels.items():
        assert set(panel.spins) | set(panel.combos) == {s.name for s in editable_param_specs(method)}


def test_overlay_boxes_and_actions_follow_the_overlay_state(qtbot):
    state = SessionState()
    toggles = OverlayToggles({name: name for name in OVERLAYS})
    qtbot.addWidget(toggles)
    actions = {}
    for name in OVERLAYS:
        actions[name] = QAction(name, toggles)
        actions[name].setCheckable(True)
    state.overlays.width = False  # before binding: the boxes start from the state
    toggles.bind(state.overlays, actions)
    assert not toggles.boxes["width"].isChecked() and not actions["width"].isChecked()
    actions["bar"].toggle()  # the shortcut's action
    assert state.overlays.bar is False and not toggles.boxes["bar"].isChecked()
    toggles.boxes["bar"].setChecked(True)  # the check box
    assert state.overlays.bar is True and actions["bar"].isChecked()


def test_an_old_settings_file_restores_the_controls(make_window, tmp_path):
    ini = tmp_path / "old.ini"
    old = Settings(ini)  # what an earlier version wrote, plus values it could not read back
    for key, value in (("display/stretch", "sqrt"), ("saliency/samples", "12"), ("saliency/auto", "false"),
                       ("saliency/method", "a-removed-method"), ("bar/method", "paper"),
                       ("bar/paper/stop_pearson", "0.8"), ("bar/paper/min_pixels", "none"),
                       ("bar/moments/t_start", "garbage"), ("overlays/label", "false")):
        old.set(key, value)
    old.sync()
    w = make_window(settings_name="old.ini", samples=12)
    assert w.state.display.stretch == "sqrt" and w.display_controls.stretch.currentData() == "sqrt"
    assert w.state.saliency.samples == 12 and not w.saliency_controls.auto.isChecked()
    assert w.state.saliency.method == "smoothgrad" and w.saliency_controls.method_name() == "smoothgrad"
    assert w.bar_controls.method() == "paper"
    assert w.bar_controls.params("paper").stop_pearson == pytest.approx(0.8)
    assert w.bar_controls.params("paper").min_pixels is None
    assert w.bar_controls.params("moments").t_start == default_params("moments").t_start
    assert not w.actions_by_id["toggle_label"].isChecked() and not w.image_view.overlays.visible["label"]


class _Signals(QObject):
    saliency_shown = Signal(int)


class BiasStandIn:
    """Only what BiasHost names, nothing else of a window."""

    def __init__(self, image, saliency_map):
        self._signals = _Signals()
        self.saliency_shown = self._signals.saliency_shown
        self.state = SessionState()
        self.settings = None
        from galaxyscope.gui.image_view import ImageView
        from galaxyscope.gui.workers import TaskList

        self.image_view = ImageView()
        self.tasks = TaskList()
        self.io_pool = QThreadPool()
        self.model = None
        self.image_set = object()
        self.current_image = image
        self.current_saliency = type("Result", (), {"map": saliency_map})()
        self.tabs = QTabWidget()
        self.messages: list[tuple[str, str]] = []
        self.selected: list[str] = []

    def report(self, level, text):
        self.messages.append((level, text))

    def show_status(self, text, timeout_ms=4000):
        self.messages.append(("status", text))

    def add_result_tab(self, widget, title):
        self.tabs.addTab(widget, title)

    def select_file(self, key):
        self.selected.append(key)
        return True

    def file_key(self, entry):
        return f"img_{entry}.png"

    def model_region(self, image):
        return None


@pytest.fixture
def galaxy_image():
    from galaxyscope.images.galaxy_image import GalaxyImage

    yy, xx = np.mgrid[0:64, 0:64].astype(np.float32)
    disc = np.exp(-np.hypot(xx - 31.5, yy - 31.5) / 6.0).astype(np.float32)
    return GalaxyImage(pixels=np.stack([disc] * 3, axis=2), id="disc")


def test_bias_controller_runs_on_a_host_with_only_its_protocol(qtbot, galaxy_image):
    from galaxyscope.gui.bias_view import BiasController

    yy, xx = np.mgrid[0:64, 0:64].astype(np.float32)
    saliency = np.exp(-0.5 * np.hypot(xx - 31.5, yy - 31.5) ** 2 / 25.0).astype(np.float32)
    host = BiasStandIn(galaxy_image, saliency)
    bias = BiasController(host)
    assert host.tabs.tabText(0) == "Bias"
    host.state.entry.index = 0
    host.saliency_shown.emit(0)
    qtbot.waitUntil(lambda: bias.current is not None, timeout=WAIT_MS)
    assert bias.panel.key_at(0) == "img_0.png" and "img_0.png" in bias.checked
    bias.panel.show_mask.setChecked(True)
    assert bias.outline_shown()
    host.state.entry.index = 1  # another image: the outline waits for its own check
    assert bias.current is None and not bias.outline_shown()
    bias.panel.table.clicked.emit(bias.panel.table.model().index(0, 0))  # one click opens (issue 17)
    assert host.selected == ["img_0.png"]


def test_a_failure_while_showing_an_image_is_reported_and_the_window_goes_on(make_window, qtbot, tmp_path,
                                                                              monkeypatch):
    w = make_window()
    w.open_path(write_set(tmp_path / "set", n=3))
    wait_settled(qtbot, w, 0)

    def broken(*_args, **_kwargs):
        raise ValueError("no display for these pixels")

    monkeypatch.setattr(w.image_view, "set_image", broken)
    with qtbot.waitSignal(w.image_failed, timeout=WAIT_MS):
        w.browser.select_entry(1)
    message = w.statusBar().currentMessage()
    assert "gal_01.png" in message and "no display for these pixels" in message
    assert any("gal_01.png" in e and "could not show" in e for e in w.log.errors())
    assert w.current_image is None and w.is_settled()  # settled: a screenshot does not wait for it
    assert 1 in w.browser.model.errors
    monkeypatch.undo()
    w.browser.select_entry(2)  # still alive
    wait_settled(qtbot, w, 2)
    assert w.current_image is not None and "gal_02.png" in w.image_view.title.text()


def _protocol_members(proto: type) -> set[str]:
    names: set[str] = set()
    for cls in proto.__mro__:
        if getattr(cls, "_is_protocol", False) and cls.__module__ != "typing":
            names |= set(vars(cls).get("__annotations__", {}))
            names |= {n for n, v in vars(cls).items() if callable(v) and not n.startswith("_")}
    return names


def test_the_window_offers_what_each_controller_protocol_names(make_window):
    from galaxyscope.gui import window_services as ws

    w = make_window()
    for proto in (ws.WindowServices, ws.BiasHost, ws.AnnotateHost, ws.AnalysisHost, ws.BatchHost):
        members = _protocol_members(proto)
        assert {"state", "report"} <= members
        missing = sorted(n for n in members if not hasattr(w, n))
        assert not missing, f"{proto.__name__}: the window lacks {missing}"
    assert len(_protocol_members(ws.BiasHost)) < 20  # small on purpose: a controller sees a few things
