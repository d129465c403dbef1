"""The control panels: display, saliency, bar-method parameters, overlay switches.

Layout, and the binding to the session state: each panel's ``bind`` makes its
widgets follow the state (pushed with a guard, so nothing echoes back) and writes
every edit into it; the window reads the state, never the widgets. The bar
parameter panels are built from the core's parameter dataclasses
(``param_specs``), so a new parameter in measure/ appears here with its range,
step, label and help text without touching the GUI.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSlider,
    QSpinBox,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from galaxyscope.measure import BAR_METHODS
from galaxyscope.gui.bar_fit import BAR_METHOD_LABELS, default_params
from galaxyscope.gui.display import (
    IMAGE_COLORMAPS,
    INTERVALS,
    SALIENCY_COLORMAPS,
    STRETCHES,
    RGB,
    DisplaySettings,
    channel_choices,
)
from galaxyscope.gui.session_state import (
    DEFAULT_OPACITY,
    NOISE_RANGE,
    OPACITY_RANGE,
    PERCENTILE_RANGE,
    SAMPLES_RANGE,
    BarState,
    DisplayState,
    OverlayState,
    SaliencyRequest,
)
from galaxyscope.measure import param_specs

MAX_SLIDER_STEPS = 10000
#: parameters shown at once; the rest sit behind "more parameters"
PRIMARY_PARAMS: dict[str, tuple[str, ...]] = {
    "paper": ("t_start", "stop_pearson", "min_pixels"),
    "moments": ("t_start", "blur_sigma", "peak_radius", "threshold_mode", "min_pixels", "length_from"),
}


def _decimals(step: float) -> int:
    return max(0, min(6, int(math.ceil(-math.log10(step))))) if step and step < 1 else 0


def _decimals_to_show(step: float, default: Any) -> int:
    """Enough decimals for the step and for the core's default (e.g. stop elongation 0.9189):
    a box that rounds the default makes the window measure with another value than the CLI."""
    shown = _decimals(step)
    if isinstance(default, float) and math.isfinite(default):
        text = f"{default:.6f}".rstrip("0")
        shown = max(shown, len(text.split(".")[1]) if "." in text else 0)
    return min(shown, 6)


def _set_combo(combo: QComboBox, data: Any) -> bool:
    i = combo.findData(data)
    if i >= 0:
        combo.setCurrentIndex(i)
        return True
    return False


class DisplayControls(QWidget):
    """One row above the image: stretch, interval (and percentile), channels, colour map."""

    changed = Signal()
    state: DisplayState | None = None
    _pushing = False

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.stretch = QComboBox()
        for name in STRETCHES:
            self.stretch.addItem(name, name)
        self.stretch.setToolTip("display stretch (astropy.visualization); T cycles")
        self.interval = QComboBox()
        for name in INTERVALS:
            self.interval.addItem({"minmax": "min-max", "percentile": "percentile", "zscale": "zscale"}[name], name)
        self.interval.setToolTip("which values map to black and white before the stretch")
        self.percentile = QDoubleSpinBox()
        self.percentile.setRange(*PERCENTILE_RANGE)
        self.percentile.setDecimals(1)
        self.percentile.setSingleStep(0.1)
        self.percentile.setValue(99.5)
        self.percentile.setSuffix(" %")
        self.channel = QComboBox()
        self.channel.setToolTip("RGB colour, the mean of the bands, or one band")
        self.cmap = QComboBox()
        for name in IMAGE_COLORMAPS:
            self.cmap.addItem(name, name)
        self.cmap.setToolTip("colour map for one-band display (RGB keeps its colours)")
        _set_combo(self.interval, "percentile")
        row = QHBoxLayout(self)
        row.setContentsMargins(4, 0, 4, 0)
        for label, widget in (("stretch", self.stretch), ("interval", self.interval), (None, self.percentile),
                              ("channels", self.channel), ("colour map", self.cmap)):
            if label:
                row.addWidget(QLabel(label))
            row.addWidget(widget)
        row.addStretch(1)
        self.set_channels(3)
        for w in (self.stretch, self.interval, self.channel, self.cmap):
            w.currentIndexChanged.connect(self._changed)
        self.percentile.valueChanged.connect(self._changed)

    def set_channels(self, channels: int, band_names: tuple[str, ...] = (), keep: bool = True) -> None:
        """Offer the channel modes of an image with ``channels`` bands, keeping the choice if it still
        applies (``keep=False``, the first image of a new set: its own default, RGB where it has colour)."""
        current = self.channel.currentData() if keep else None
        self.channel.blockSignals(True)
        self.channel.clear()
        for key, label in channel_choices(channels, band_names):
            self.channel.addItem(label, key)
        if current is None or not _set_combo(self.channel, current):
            self.channel.setCurrentIndex(0)
        self.channel.blockSignals(False)
        self._store()  # the choice may have fallen back to the first mode

    def bind(self, state: DisplayState) -> None:
        """Show ``state`` and keep it: widget edits go into it, its changes come back here."""
        self.state = state
        state.watch_any(lambda _changes: self._show())
        self._show()

    def _show(self) -> None:
        s = self.state
        self._pushing = True
        try:
            for combo, value in ((self.stretch, s.stretch), (self.interval, s.interval), (self.channel, s.channel),
                                 (self.cmap, s.cmap)):
                _set_combo(combo, value)
            self.percentile.setValue(s.percentile)
            self.percentile.setEnabled(self.interval.currentData() == "percentile")
        finally:
            self._pushing = False
        self._store()  # what the widgets can show (a clamped percentile, a channel this image lacks)

    def _store(self) -> None:
        if self.state is None or self._pushing:
            return
        self.state.update(stretch=self.stretch.currentData(), interval=self.interval.currentData(),
                          percentile=self.percentile.value(), channel=self.channel.currentData() or RGB,
                          cmap=self.cmap.currentData())

    def settings(self) -> DisplaySettings:
        return DisplaySettings(stretch=self.stretch.currentData(), interval=self.interval.currentData(),
                               percentile=self.percentile.value(), channel=self.channel.currentData() or "rgb")

    def cmap_name(self) -> str:
        return self.cmap.currentData()

    def cycle_stretch(self) -> None:
        self.stretch.setCurrentIndex((self.stretch.currentIndex() + 1) % self.stretch.count())

    @Slot()
    def _changed(self) -> None:
        self.percentile.setEnabled(self.interval.currentData() == "percentile")
        self._store()
        self.changed.emit()


class SaliencyControls(QGroupBox):
    """Attribution method, target output, samples and noise; overlay colour map and opacity; progress.

    request_changed: the map must be recomputed; overlay_changed: only its look changed.
    """

    request_changed = Signal()
    overlay_changed = Signal()
    compute_clicked = Signal()
    cancel_clicked = Signal()
    request: SaliencyRequest | None = None
    display: DisplayState | None = None
    _pushing = False

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Saliency", parent)
        from galaxyscope.saliency.methods import METHODS

        self.method = QComboBox()
        for name, spec in METHODS.items():
            self.method.addItem(spec.label, name)
            self.method.setItemData(self.method.count() - 1, spec.description, Qt.ItemDataRole.ToolTipRole)
        self.target = QComboBox()
        self.target.setToolTip("model output whose logit is explained (default: the bar output)")
        self.samples = QSpinBox()
        self.samples.setRange(*SAMPLES_RANGE)
        self.samples.setValue(50)
        self.samples.setToolTip("SmoothGrad noisy samples N (integration steps for integrated gradients); "
                                "the paper used 256")
        self.noise = QDoubleSpinBox()
        self.noise.setRange(*NOISE_RANGE)
        self.noise.setSingleStep(0.01)
        self.noise.setDecimals(3)
        self.noise.setValue(0.1)
        self.noise.setToolTip("noise sigma as a fraction of the input's value range; choosing an "
                              "attribution sets its own (0.1 for SmoothGrad as in the paper)")
        self.auto = QCheckBox("compute on select")
        self.auto.setChecked(True)
        self.auto.setToolTip("compute the saliency whenever an image is selected (and prefetch the next one)")
        self.compute = QPushButton("Compute")
        self.cancel = QPushButton("Cancel")
        self.cancel.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setTextVisible(True)
        self.progress.setFormat("idle")
        self.cmap = QComboBox()
        for name in SALIENCY_COLORMAPS:
            self.cmap.addItem(name, name)
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(*OPACITY_RANGE)
        self.opacity.setValue(DEFAULT_OPACITY)
        self.opacity.setToolTip("opacity of the most salient pixels (low saliency fades out); colours are "
                                "scaled to the map's 99th percentile, thresholds use the raw map")
        self.score = QLabel("")
        form = QFormLayout(self)
        form.addRow("method", self.method)
        form.addRow("target", self.target)
        row = QHBoxLayout()
        row.addWidget(QLabel("N"))
        row.addWidget(self.samples)
        row.addWidget(QLabel("noise"))
        row.addWidget(self.noise)
        form.addRow(row)
        buttons = QHBoxLayout()
        buttons.addWidget(self.auto)
        buttons.addStretch(1)
        buttons.addWidget(self.compute)
        buttons.addWidget(self.cancel)
        form.addRow(buttons)
        form.addRow(self.progress)
        form.addRow("overlay", self.cmap)
        form.addRow("opacity", self.opacity)
        form.addRow(self.score)
        self.method.currentIndexChanged.connect(self._method_changed)
        self.target.currentIndexChanged.connect(self._request_changed)
        self.samples.valueChanged.connect(self._request_changed)
        self.noise.valueChanged.connect(self._request_changed)
        self.cmap.currentIndexChanged.connect(self._overlay_changed)
        self.opacity.valueChanged.connect(self._overlay_changed)
        self.auto.toggled.connect(lambda _on: self._store())
        self.compute.clicked.connect(self.compute_clicked)
        self.cancel.clicked.connect(self.cancel_clicked)
        self._update_enabled()

    def set_targets(self, names: list[str], default: str | None) -> None:
        """Fill the target chooser with a model's output names (empty list: no model)."""
        self.target.blockSignals(True)
        self.target.clear()
        for n in names:
            self.target.addItem(n, n)
        if default is not None:
            _set_combo(self.target, default)
        self.target.blockSignals(False)
        self.setEnabled(True)
        self.compute.setEnabled(bool(names))
        self._store()

    def bind(self, request: SaliencyRequest, display: DisplayState) -> None:
        """Show the request and the overlay look and keep them (see DisplayControls.bind)."""
        self.request, self.display = request, display
        request.watch_any(lambda _changes: self._show())
        display.watch(("saliency_cmap", "opacity"), lambda _change: self._show())
        self._show()

    def _show(self) -> None:
        r, d = self.request, self.display
        self._pushing = True
        try:
            _set_combo(self.method, r.method)
            if r.target is not None:
                _set_combo(self.target, r.target)
            self.samples.setValue(r.samples)
            self.noise.setValue(r.noise)
            self.auto.setChecked(r.auto)
            _set_combo(self.cmap, d.saliency_cmap)
            self.opacity.setValue(d.opacity)
        finally:
            self._pushing = False
        self._update_enabled()
        self._store()

    def _store(self) -> None:
        if self.request is None or self.display is None or self._pushing:
            return
        self.request.update(method=self.method_name(), target=self.target_name(), samples=self.samples.value(),
                            noise=self.noise.value(), auto=self.auto.isChecked())
        self.display.update(saliency_cmap=self.cmap.currentData(), opacity=self.opacity.value())

    def method_name(self) -> str:
        return self.method.currentData()

    def target_name(self) -> str | None:
        return self.target.currentData()

    def cycle_method(self) -> None:
        self.method.setCurrentIndex((self.method.currentIndex() + 1) % self.method.count())

    def set_result_hidden(self, hidden: bool) -> None:
        """Hide the machine's score line while drawing blind (it would anchor the annotator's answer)."""
        self.score.setVisible(not hidden)

    def set_busy(self, busy: bool, text: str = "") -> None:
        self.cancel.setEnabled(busy)
        if not busy:
            self.progress.setRange(0, 1)
            self.progress.setValue(0 if not text else 1)
            self.progress.setFormat(text or "idle")

    def set_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)
        self.progress.setFormat(f"{done}/{total}")

    @Slot()
    def _method_changed(self) -> None:
        """A chosen attribution brings its own noise level (`default_noise`): the one it was
        validated with, as its measuring settings follow it; the request changes once."""
        if not self._pushing:
            from galaxyscope.saliency.methods import METHODS, default_noise

            if "noise" in METHODS[self.method_name()].defaults:  # methods without noise leave the box alone
                self.noise.blockSignals(True)
                self.noise.setValue(default_noise(self.method_name()))
                self.noise.blockSignals(False)
        self._request_changed()

    @Slot()
    def _request_changed(self) -> None:
        self._update_enabled()
        self._store()
        self.request_changed.emit()

    @Slot()
    def _overlay_changed(self, *_args: Any) -> None:
        self._store()
        self.overlay_changed.emit()

    def _update_enabled(self) -> None:
        from galaxyscope.saliency.methods import METHODS

        defaults = METHODS[self.method_name()].defaults
        self.samples.setEnabled("n_samples" in defaults or "n_steps" in defaults)
        self.noise.setEnabled("noise" in defaults)


class ParamPanel(QWidget):
    """Sliders with spin boxes (and choosers) for one bar method, built from ``param_specs``.

    changed(method, params) fires on every edit with the full parameter dataclass.
    A parameter whose default is None (min_pixels: "automatic") shows "auto" at the
    bottom of its range.
    """

    changed = Signal(str, object)

    def __init__(self, method: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.method = method
        self.defaults = default_params(method)
        specs = param_specs(self.defaults)
        primary = PRIMARY_PARAMS.get(method, ())
        self.specs = [s for s in specs if s.name in primary] + [s for s in specs if s.name not in primary]
        self.sliders: dict[str, QSlider] = {}
        self.spins: dict[str, QDoubleSpinBox] = {}
        self.combos: dict[str, QComboBox] = {}
        self._optional: set[str] = set()
        self._ints: set[str] = set()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(2)
        main = QGridLayout()
        main.setVerticalSpacing(1)
        self.more = QWidget()
        more = QGridLayout(self.more)
        more.setContentsMargins(0, 0, 0, 0)
        more.setVerticalSpacing(1)
        self.more_button = QToolButton()
        self.more_button.setCheckable(True)
        self.more_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.more_button.setArrowType(Qt.ArrowType.RightArrow)
        self.more_button.setAutoRaise(True)
        self.more_button.toggled.connect(self._show_more)
        layout.addLayout(main)
        layout.addWidget(self.more_button)
        layout.addWidget(self.more)
        rows = {id(main): 0, id(more): 0}
        for spec in self.specs:
            grid = main if spec.name in primary else more
            self._add_row(grid, rows[id(grid)], spec)
            rows[id(grid)] += 1
        for grid in (main, more):
            grid.setColumnStretch(1, 1)
            grid.setColumnMinimumWidth(0, 120)
        self.more_button.setText(f"{rows[id(more)]} more parameters")
        self.more_button.setVisible(rows[id(more)] > 0)
        self.more.setVisible(False)
        self.set_params(self.defaults, emit=False)

    def _show_more(self, on: bool) -> None:
        self.more.setVisible(on)
        self.more_button.setArrowType(Qt.ArrowType.DownArrow if on else Qt.ArrowType.RightArrow)

    def _add_row(self, grid: QGridLayout, row: int, spec: Any) -> None:
        label = QLabel(spec.label)
        label.setToolTip(spec.help)
        grid.addWidget(label, row, 0)
        if spec.choices:
            combo = QComboBox()
            for c in spec.choices:
                combo.addItem(c, c)
            _set_combo(combo, spec.default)
            combo.setToolTip(spec.help)
            combo.currentIndexChanged.connect(self._emit)
            self.combos[spec.name] = combo
            grid.addWidget(combo, row, 1, 1, 2)
            return
        if spec.low is None or spec.high is None:
            return
        step = float(spec.step or (spec.high - spec.low) / 100.0)
        optional = spec.default is None
        if isinstance(spec.default, int) and not isinstance(spec.default, bool):
            self._ints.add(spec.name)
        low = float(spec.low) - (step if optional else 0.0)
        n_steps = int(round((float(spec.high) - low) / step))
        if n_steps > MAX_SLIDER_STEPS:
            step = (float(spec.high) - low) / MAX_SLIDER_STEPS
            n_steps = MAX_SLIDER_STEPS
        slider = QSlider(Qt.Orientation.Horizontal)
        slider.setRange(0, n_steps)
        slider.setToolTip(spec.help)
        spin = QDoubleSpinBox()
        spin.setDecimals(_decimals_to_show(float(spec.step or step), spec.default))
        spin.setRange(low, float(spec.high))
        spin.setSingleStep(float(spec.step or step))
        spin.setKeyboardTracking(False)
        spin.setToolTip(spec.help)
        spin.setMinimumWidth(78)
        if optional:
            spin.setSpecialValueText("auto")
            self._optional.add(spec.name)
        slider.setProperty("low", low)
        slider.setProperty("step", step)
        self.sliders[spec.name] = slider
        self.spins[spec.name] = spin
        grid.addWidget(slider, row, 1)
        grid.addWidget(spin, row, 2)
        slider.valueChanged.connect(lambda pos, n=spec.name: self._slider_moved(n, pos))
        spin.valueChanged.connect(lambda v, n=spec.name: self._spin_changed(n, v))

    # ------------------------------------------------------------------ values

    def params(self) -> Any:
        """The current parameter dataclass (PaperParams / MomentsParams)."""
        values: dict[str, Any] = {}
        for name, spin in self.spins.items():
            v = spin.value()
            if name in self._optional and v <= spin.minimum():
                values[name] = None
            elif name in self._ints:
                values[name] = int(round(v))
            else:
                values[name] = float(v)
        for name, combo in self.combos.items():
            values[name] = combo.currentData()
        return dataclasses.replace(self.defaults, **values)

    def set_params(self, params: Any, emit: bool = True) -> None:
        """Show ``params`` in the controls (fields this panel does not show are kept as they were)."""
        self._blocked = True
        try:
            for name, spin in self.spins.items():
                v = getattr(params, name)
                if v is not None:  # a stored setting (blur 0.75) must not be rounded to the box's step (0.8)
                    spin.setDecimals(max(spin.decimals(), _decimals_to_show(0.0, float(v))))
                spin.setValue(spin.minimum() if v is None else float(v))
                self._sync_slider(name, spin.value())
            for name, combo in self.combos.items():
                _set_combo(combo, getattr(params, name))
            self.defaults = dataclasses.replace(self.defaults, **{
                f.name: getattr(params, f.name) for f in dataclasses.fields(params)
                if f.name not in self.spins and f.name not in self.combos})
        finally:
            self._blocked = False
        if emit:
            self._emit()

    def reset(self) -> None:
        self.defaults = default_params(self.method)
        self.set_params(self.defaults)

    def set_value(self, name: str, value: float | None) -> None:
        """Set one parameter as if the user had typed it (tests, settings)."""
        spin = self.spins[name]
        spin.setValue(spin.minimum() if value is None else float(value))

    # ------------------------------------------------------------------ wiring

    def _slider_value(self, name: str, pos: int) -> float:
        s = self.sliders[name]
        return float(s.property("low")) + pos * float(s.property("step"))

    def _sync_slider(self, name: str, value: float) -> None:
        s = self.sliders[name]
        pos = int(round((value - float(s.property("low"))) / float(s.property("step"))))
        s.blockSignals(True)
        s.setValue(max(s.minimum(), min(s.maximum(), pos)))
        s.blockSignals(False)

    def _slider_moved(self, name: str, pos: int) -> None:
        if self._blocked:
            return
        spin = self.spins[name]
        spin.blockSignals(True)
        spin.setValue(self._slider_value(name, pos))
        spin.blockSignals(False)
        self._emit()

    def _spin_changed(self, name: str, value: float) -> None:
        if self._blocked:
            return
        self._sync_slider(name, value)
        self._emit()

    _blocked = False

    @Slot()
    def _emit(self, *_args: Any) -> None:
        if not self._blocked:
            self.changed.emit(self.method, self.params())


class BarControls(QGroupBox):
    """One tab of parameters per bar method; the selected tab is the method drawn on the image."""

    params_changed = Signal(str, object)
    method_changed = Signal(str)
    gate_changed = Signal()
    bars: BarState | None = None
    request: SaliencyRequest | None = None
    _pushing = False

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Bar measurement", parent)
        self.tabs = QTabWidget()
        self.panels: dict[str, ParamPanel] = {}
        #: what Ctrl+0 / "Reset" returns a method's panel to (the attribution's measuring settings)
        self.reset_params: dict[str, Any] = {}
        for method in BAR_METHODS:
            panel = ParamPanel(method)
            panel.changed.connect(self.params_changed)
            panel.changed.connect(lambda _m, _p: self._store())
            self.panels[method] = panel
            self.tabs.addTab(panel, method)
            self.tabs.setTabToolTip(self.tabs.count() - 1, BAR_METHOD_LABELS[method])
        self.reset_button = QPushButton("Reset to defaults")
        self.min_probability = QDoubleSpinBox()
        self.min_probability.setRange(0.0, 1.0)
        self.min_probability.setSingleStep(0.05)
        self.min_probability.setDecimals(2)
        self.min_probability.setValue(0.5)
        self.min_probability.setToolTip("report a bar only where the model's P(bar) reaches this value "
                                        "(the model's own threshold, chosen on validation data, is the default)")
        self.min_probability.valueChanged.connect(self._gate_edited)
        self.framing = QComboBox()
        self.framing.addItem("galaxy size (R90)", "galaxy")
        self.framing.addItem("fixed central crop", "fixed")
        self.framing.setToolTip("how the network sees the image: cropped to a multiple of the galaxy's "
                                "measured R90, or the central part of the frame as in training")
        self.result = QLabel("no measurement")
        self.result.setWordWrap(False)
        self.result.setTextFormat(Qt.TextFormat.RichText)
        self.result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.blind_note = QLabel("<i>the machine's bar is hidden while you draw blind</i>")
        self.blind_note.hide()
        layout = QVBoxLayout(self)
        layout.addWidget(self.result)
        layout.addWidget(self.blind_note)
        layout.addWidget(self.tabs)
        form = QFormLayout()
        form.addRow("min P(bar)", self.min_probability)
        form.addRow("framing", self.framing)
        layout.addLayout(form)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.reset_button)
        layout.addLayout(row)
        self.set_method("moments")  # the core's default method (rotation-free); "paper" is one key (M) away
        self.tabs.currentChanged.connect(self._tab_changed)
        self.framing.currentIndexChanged.connect(lambda _i: self._store())
        self.reset_button.clicked.connect(self.reset_current)

    def set_result_hidden(self, hidden: bool) -> None:
        """Drawing blind: the machine's length, P(bar) and flags give way to a note (the fit goes on)."""
        self.result.setVisible(not hidden)
        self.blind_note.setVisible(hidden)

    def _tab_changed(self, _index: int) -> None:
        self._store()
        self.method_changed.emit(self.method())

    def _gate_edited(self, _value: float) -> None:
        self._store()
        self.gate_changed.emit()

    def bind(self, bars: BarState, request: SaliencyRequest) -> None:
        """Show the bar state (and the request's framing) and keep them (see DisplayControls.bind)."""
        self.bars, self.request = bars, request
        bars.watch_any(lambda _changes: self._show())
        request.watch("framing", lambda _change: self._show())
        self._show()

    def _show(self) -> None:
        b = self.bars
        self._pushing = True
        try:
            if b.method in self.panels:
                self.set_method(b.method)
            for method, panel in self.panels.items():
                params = b.params.get(method)
                if params is not None and params != panel.params():
                    panel.set_params(params, emit=False)
            self.min_probability.setValue(b.min_probability)
            if self.request.framing is not None:
                _set_combo(self.framing, self.request.framing)
        finally:
            self._pushing = False
        self._store()  # what the panels can show (values clamped to their ranges and decimals)

    def _store(self) -> None:
        if self.bars is None or self.request is None or self._pushing:
            return
        self.bars.update(method=self.method(), params={**self.bars.params, **{m: p.params() for m, p in
                                                                              self.panels.items()}},
                         min_probability=self.min_probability.value())
        self.request.update(framing=self.framing.currentData())

    def method(self) -> str:
        return BAR_METHODS[self.tabs.currentIndex()]

    def set_method(self, method: str) -> None:
        self.tabs.setCurrentIndex(BAR_METHODS.index(method))

    def switch_method(self) -> None:
        self.tabs.setCurrentIndex((self.tabs.currentIndex() + 1) % self.tabs.count())

    def params(self, method: str) -> Any:
        return self.panels[method].params()

    def reset_current(self) -> None:
        """Back to the attribution's measuring settings (``reset_params``), else the library defaults."""
        panel = self.panels[self.method()]
        start = self.reset_params.get(self.method())
        if start is None:
            panel.reset()
        else:
            panel.set_params(start)


class OverlayToggles(QWidget):
    """One row of check boxes under the image, one per overlay; ``bind`` ties each box and its
    menu action to the overlay state."""

    state: OverlayState | None = None
    _pushing = False

    def __init__(self, names: dict[str, str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.boxes: dict[str, QCheckBox] = {}
        row = QHBoxLayout(self)
        row.setContentsMargins(4, 0, 4, 0)
        row.addWidget(QLabel("show:"))
        for name, label in names.items():
            box = QCheckBox(label)
            box.setChecked(True)
            self.boxes[name] = box
            row.addWidget(box)
        row.addStretch(1)

    def bind(self, state: OverlayState, actions: Mapping[str, QAction] | None = None) -> None:
        """Boxes and their checkable actions (by overlay name) follow ``state`` and write into it."""
        self.state, self.actions = state, dict(actions or {})
        for name, box in self.boxes.items():
            box.toggled.connect(lambda on, n=name: self._store(n, on))
            action = self.actions.get(name)
            if action is not None:
                box.setToolTip(action.toolTip())
                action.toggled.connect(lambda on, n=name: self._store(n, on))
        state.watch_any(lambda _changes: self._show())
        self._show()

    def _show(self) -> None:
        self._pushing = True
        try:
            for name, box in self.boxes.items():
                on = bool(getattr(self.state, name))
                box.setChecked(on)
                if name in self.actions:
                    self.actions[name].setChecked(on)
        finally:
            self._pushing = False

    def _store(self, name: str, on: bool) -> None:
        if self.state is not None and not self._pushing:
            self.state.update(**{name: bool(on)})
