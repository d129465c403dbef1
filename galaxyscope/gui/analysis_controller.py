"""The image on screen, analysed: its saliency map, the bar fits from it, the isophote cross-check.

Why a controller of its own: this is the pipeline between the session state and
the overlays. A change of the saliency request recomputes the map (in a worker,
through the SaliencyService); a change of the bar parameters or the P(bar) gate
re-fits from the map in memory (a few ms, on every slider move); the isophote
fit re-assesses the bars. The window only says "a new image", "a new model".
"""

from __future__ import annotations

import dataclasses
import html
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QObject, Signal, Slot

from galaxyscope.errors import GalaxyscopeError
from galaxyscope.measure import BAR_METHODS
from galaxyscope.gui.bar_fit import BarFit, describe_fit, fit_bar, flags_tooltip, length_label
from galaxyscope.gui.isophote_panel import BAR_PEN, ELLIPSE_PEN, ellipse_xy, isophote_outlines
from galaxyscope.gui.session_state import Change, SaliencyKey
from galaxyscope.gui.window_services import AnalysisHost
from galaxyscope.gui.workers import Task
from galaxyscope.images.identity import redshift_of

# galaxyscope.jobs.measure_job, model.domain and model.framing import torch: they are imported where a
# model is in use, so the window is painted while the model (and torch) still load in a worker


class AnalysisController(QObject):
    """Saliency, bar fits and isophotes of the window's current image.

    Signals: ``shown(entry)`` after a map is on screen, ``failed(message)`` when the
    current map could not be made, ``fitted()`` after every re-fit.
    """

    shown = Signal(int)
    failed = Signal(str)
    fitted = Signal()

    def __init__(self, host: AnalysisHost, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.host = host
        self.current_key: SaliencyKey | None = None
        self.current_saliency: Any = None
        self.saliency_error: str | None = None
        self.fits: dict[str, BarFit] = {}
        self.isophote_fit: Any = None
        self.isophote_item = pg.PlotDataItem([], [], pen=pg.mkPen(ELLIPSE_PEN, width=1), connect="finite")
        self.isophote_bar_item = pg.PlotDataItem([], [], pen=pg.mkPen(BAR_PEN, width=2))
        self._quiet = False
        self._domain_key: Any = None
        self._domain_cache: list[str] = []
        state = host.state
        state.saliency.watch("method", lambda _c: self.adopt_measuring_settings())  # before the recompute
        state.saliency.watch(("method", "target", "samples", "noise"), self._request_changed)
        state.saliency.watch("framing", lambda _c: self._framing_changed())
        state.bars.watch("params", self._params_changed)
        state.bars.watch("method", lambda _c: self.draw_bar())
        state.annotate.watch("active", lambda _c: self.draw_bar())  # one machine line, one colour there
        state.bars.watch("min_probability", lambda _c: self.refit() if self.current_saliency is not None else None)
        state.display.watch(("saliency_cmap", "opacity"), lambda _c: self.draw_saliency())
        host.service.ready.connect(self._saliency_ready)
        host.service.failed.connect(self._saliency_failed)
        host.service.progressed.connect(self._saliency_progress)
        host.isophote_panel.fit_button.clicked.connect(self.fit_isophotes)

    @contextmanager
    def _unprompted(self) -> Iterator[None]:
        """State changes made here (a new model's targets) recompute nothing on their own."""
        self._quiet = True
        try:
            yield
        finally:
            self._quiet = False

    # ================================================================== the window's news

    def model_changed(self, model: Any) -> None:
        """A new model (or None): its outputs, gate and framing go into the state; the map is remade."""
        sc = self.host.saliency_controls
        with self._unprompted():
            self.clear()
            if model is None:
                sc.set_targets([], None)
                sc.score.setText("no model: images only (File > Open model…)")
                return
            from galaxyscope.jobs.measure_job import model_min_bar_probability

            names = list(model.meta.output_names)
            sc.set_targets(names, names[model.output_index(None)])
            sc.score.setText("")
            self.host.state.bars.min_probability = model_min_bar_probability(model)
            self.host.state.saliency.framing = model.preprocessing.framing
            self.adopt_measuring_settings(only_stored=True)
        if self.host.current_image is not None and self.host.state.saliency.auto:
            self.compute()

    def adopt_measuring_settings(self, only_stored: bool = False) -> None:
        """The bar methods' parameters follow the attribution: the settings the model's length
        calibration for it was fitted with, else the library defaults; Ctrl+0 returns to them.

        Why: a calibration's scale holds for the settings it was fitted with, and a peakier map
        needs another threshold. ``only_stored`` (a model loads): change the sliders only where
        the model stores settings, so that values kept from the last session survive.
        """
        h = self.host
        if h.model is None:
            return
        from galaxyscope.gui.bar_fit import default_params
        from galaxyscope.jobs.measure_job import measuring_params

        stored = {m: measuring_params(h.model, m, h.state.saliency.method) for m in BAR_METHODS}
        start = {m: p if p is not None else default_params(m) for m, p in stored.items()}
        h.bar_controls.reset_params = start
        if only_stored:
            start = {m: p for m, p in stored.items() if p is not None}
        new = {**h.state.bars.params, **start}
        if any(new[m] != h.state.bars.params.get(m) for m in new):
            h.state.bars.update(params=new)

    def image_shown(self, entry: int) -> None:
        """The window shows a new image: compute its map (or show one made earlier)."""
        if self.host.model is None:
            return
        if self.host.state.saliency.auto:
            self.compute()
            return
        key = self.key(entry)
        cached = self.host.service.cached(key)
        if cached is not None:  # computed earlier: show it even when not computing on select
            self.current_key = key
            self._show_saliency(cached)

    def clear(self) -> None:
        """Forget the map and the fits of the image on screen."""
        self.current_saliency = None
        self.current_key = None
        self.saliency_error = None
        self.fits = {}
        h = self.host
        h.image_view.overlays.clear()
        h.bar_controls.result.setText("no measurement")
        h.saliency_controls.set_busy(False)
        if h.model is not None:
            h.saliency_controls.score.setText("")

    def settled(self) -> bool:
        """The map of the image on screen and its fits are done (or failed)."""
        return self.saliency_error is not None or (self.current_saliency is not None and bool(self.fits))

    # ================================================================== saliency

    def key(self, entry: int | None) -> SaliencyKey | None:
        """The key of the map the state asks for on image ``entry`` (None without a model)."""
        if entry is None or self.host.model is None:
            return None
        return self.host.state.saliency.key(entry)

    def compute(self, force: bool = False) -> None:
        """Show the current image's saliency: from memory at once, else computed in a worker."""
        h = self.host
        if h.model is None:
            if force:
                h.report("warning", "no model loaded: File > Open model… (Ctrl+M)")
            return
        if h.current_image is None:
            return
        key = self.key(h.state.entry.index)
        self.current_key = key
        self.saliency_error = None
        result = h.service.request(key, h.current_image)
        if result is not None:
            self._show_saliency(result)
        else:
            h.saliency_controls.set_busy(True)
            h.saliency_controls.set_progress(0, dict(key.params).get("n_samples", 1))

    def cancel(self) -> None:
        self.host.service.cancel_except(set())
        self.host.saliency_controls.set_busy(False, "cancelled")

    def keep_only(self, entry: int, nxt: int | None) -> None:
        """Stop computing maps other than this image's and the next one's."""
        keep = {self.key(entry)} | ({self.key(nxt)} if nxt is not None else set())
        self.host.service.cancel_except({k for k in keep if k is not None})

    @Slot(object, int, int)
    def _saliency_progress(self, key: SaliencyKey, done: int, total: int) -> None:
        if key == self.current_key:
            self.host.saliency_controls.set_busy(True)
            self.host.saliency_controls.set_progress(done, total)

    @Slot(object, object)
    def _saliency_ready(self, key: SaliencyKey, result: Any) -> None:
        h = self.host
        model = h.browser.model
        if model is not None and result.score.probability is not None and \
                key.target == h.model.meta.output_names[h.model.output_index(None)]:
            model.set_measurement(key.entry, score=result.score.probability)
        if key == self.current_key and key.entry == h.state.entry.index:
            self._show_saliency(result)

    @Slot(object, str)
    def _saliency_failed(self, key: SaliencyKey, message: str) -> None:
        name = self.host.file_key(key.entry) or str(key.entry)
        self.host.report("error", f"{name}: saliency ({key.method}) failed: {message}")
        if key == self.current_key:
            self.saliency_error = message
            self.host.saliency_controls.set_busy(False, "failed")
            self.failed.emit(message)

    def _show_saliency(self, result: Any) -> None:
        self.current_saliency = result
        sc = self.host.saliency_controls
        how = "from cache" if result.from_cache else f"{result.elapsed_s:.1f} s"
        sc.set_busy(False, f"done ({how})")
        prob = result.score.probability
        score = f"P({result.target}) = {prob:.3f}" if prob is not None else f"logit = {result.score.logit:.3f}"
        sc.score.setText(f"{score} · logit {result.score.logit:+.2f}")
        self.draw_saliency()
        self.refit()
        self.host.update_title()
        entry = self.host.state.entry.index
        self.shown.emit(entry if entry is not None else -1)
        self._prefetch_next()

    def _prefetch_next(self) -> None:
        h = self.host
        entry = h.state.entry.index
        if h.model is None or entry is None or not h.state.saliency.auto:
            return
        nxt = h.browser.entry_after(entry)
        if nxt is not None and nxt not in (h.browser.model.errors if h.browser.model else {}):
            h.service.request(self.key(nxt), None, prefetch=True)

    def draw_saliency(self) -> None:
        h = self.host
        ov = h.image_view.overlays
        res = self.current_saliency
        if res is None or h.current_image is None:
            ov.set_saliency(None)
            return
        box = h.model.preprocessing.box_for(h.current_image) if h.model is not None else None
        ov.set_saliency(res.map, h.state.display.saliency_cmap, h.state.display.opacity / 100.0, box)

    def _request_changed(self, _change: Change) -> None:
        if self._quiet:
            return
        if self.host.current_image is not None and self.host.state.saliency.auto:
            self.clear()
            self.compute()

    def _framing_changed(self) -> None:
        """The framing choice: switch the model's preprocessing and recompute the saliency."""
        h = self.host
        framing = h.state.saliency.framing
        if h.model is None or framing is None or h.model.preprocessing.framing == framing:
            return
        from galaxyscope.model.framing import set_framing

        try:
            set_framing(h.model, framing)
        except GalaxyscopeError as exc:
            h.log.add("error", str(exc))
            h.state.saliency.framing = h.model.preprocessing.framing  # the combo follows
            return
        h.log.add("info", f"framing: {framing}")
        h.service.reset(h.model, h.service.image_set)  # maps made with the other framing are stale
        if h.current_image is not None and h.state.saliency.auto:
            self.clear()
            self.compute()

    # ================================================================== bar fitting

    def _params_changed(self, change: Change) -> None:
        if self.current_saliency is not None:
            self.refit(self.host.state.bars.changed_methods(change))

    def refit(self, methods: tuple[str, ...] | None = None) -> None:
        """Measure the bar(s) again from the map in memory with the state's parameters, and redraw."""
        h = self.host
        res = self.current_saliency
        if res is None or h.model is None:
            self.fits = {}
            self.draw_bar()
            return
        from galaxyscope.jobs.measure_job import assess, length_calibration

        pre = h.model.preprocessing
        image = h.current_image
        bars = h.state.bars
        kw = pre.measure_kwargs(image) if image is not None else {
            "model_input_size": pre.input_size, "crop_fraction": pre.crop_fraction}
        for method in methods or BAR_METHODS:
            fit = fit_bar(res.map, method, bars.params[method], **kw)
            if fit.measurement is not None:
                fit = dataclasses.replace(fit, measurement=assess(
                    fit.measurement, res.score.probability, bars.min_probability,
                    self._domain_reasons(image), self.isophote_fit,
                    calibration=length_calibration(h.model, method, res.method), params=bars.params[method]))
            self.fits[method] = fit
        self.draw_bar()
        model, entry = h.browser.model, h.state.entry.index
        if model is not None and entry is not None:
            lengths = {m: (f.measurement.length_px if f.measurement is not None else None)
                       for m, f in self.fits.items()}
            flags = " ".join(f"{m}:{','.join(f.measurement.flags)}" for m, f in self.fits.items()
                             if f.measurement is not None and f.measurement.flags)
            model.set_measurement(entry, lengths=lengths, flags=flags)
        self.fitted.emit()

    def draw_bar(self) -> None:
        """The drawn method's bar (or a "no bar" note) on the image, every method's result beside it."""
        h = self.host
        method = h.state.bars.method
        fit = self.fits.get(method)
        image = h.current_image
        scale = image.pixel_scale if image is not None else None
        z = redshift_of(image.meta) if image is not None else None
        measurement = fit.measurement if fit is not None else None
        # annotate mode: the machine's one line among people's, named as such, always in its cyan
        annotating = h.state.annotate.active
        name = f"machine ({method})" if annotating else method
        label = f"{name}: {length_label(measurement, scale, z)}" if fit is not None else ""
        flags = measurement.flags if measurement is not None else ()
        if flags:
            label += "\n⚠ " + ", ".join(flags)
        overlays = h.image_view.overlays
        if measurement is not None and measurement.ok:
            overlays.set_bar(measurement, label, flagged=bool(flags) and not annotating)
        elif measurement is not None and "no_bar" in flags and image is not None:
            # say so where the bar would be, instead of drawing a line the model does not believe in
            why = [note for note in measurement.notes if note.startswith("no bar")]  # not the calibration's note
            text = f"{name}: " + (why[0] if why else "no bar detected")
            overlays.set_bar(measurement, text, flagged=not annotating,
                             label_pos=((image.width - 1) / 2.0, (image.height - 1) / 2.0))
        else:
            overlays.set_bar(None, "")
        h.bar_controls.result.setText(fits_html(self.fits, method, image, scale, z))
        h.bar_controls.result.setToolTip(flags_tooltip(flags))

    def _domain_reasons(self, image: Any) -> list[str]:
        """Why this image is unlike the model's training images (kept per image and model)."""
        model = self.host.model
        if image is None or model is None:
            return []
        key = (id(image), id(model), model.preprocessing)
        if self._domain_key != key:
            from galaxyscope.model.domain import domain_reasons

            self._domain_key = key
            self._domain_cache = domain_reasons(model, image)
        return self._domain_cache

    # ================================================================== isophotes

    def clear_isophotes(self) -> None:
        self.isophote_fit = None
        self.host.isophote_panel.clear()
        for item in (self.isophote_item, self.isophote_bar_item):
            item.setData([], [])
            if item.scene() is None:
                self.host.image_view.view.addItem(item)

    def fit_isophotes(self) -> Task | None:
        """Fit isophotes to the current image in a worker; then draw them and re-check the bars."""
        h = self.host
        image, entry = h.current_image, h.state.entry.index
        if image is None:
            return None
        from galaxyscope.measure.isophote import measure_isophote

        h.isophote_panel.clear("fitting isophotes …")
        task = Task(lambda progress, cancel: measure_isophote(image), name="isophotes")
        task.succeeded.connect(lambda fit: self._isophotes_done(entry, image, fit))
        task.failed.connect(lambda exc, tb: h.isophote_panel.clear(f"isophote fit failed: {exc}"))
        h.tasks.start(task, h.io_pool, priority=5)
        return task

    def _isophotes_done(self, entry: Any, image: Any, fit: Any) -> None:
        if entry != self.host.state.entry.index or image is not self.host.current_image:
            return
        self.isophote_fit = fit
        self.host.isophote_panel.show_fit(fit)
        self.isophote_item.setData(*isophote_outlines(fit))
        prof = fit.profile
        if fit.ok and prof is not None and fit.bar_index is not None:
            k = fit.bar_index
            self.isophote_bar_item.setData(*ellipse_xy(prof.x0[k], prof.y0[k], fit.bar_sma_px, prof.eps[k],
                                                       prof.pa_deg[k]))
        self.refit()  # the saliency bars get methods_disagree where the isophotes contradict them


def fits_html(fits: dict[str, BarFit], method: str, image: Any, scale: Any, z: float | None) -> str:
    """The result panel's text: the drawn method first and bold, the others grey, then the units known."""
    lines = []
    for m in sorted(BAR_METHODS, key=lambda name: name != method):
        f = fits.get(m)
        if f is None:
            continue
        text = html.escape(describe_fit(f, scale, z)).replace("\n", "<br>")
        lines.append(f"<b>{text}</b>" if m == method else f"<span style='color:gray'>{text}</span>")
    if not lines:
        return "no measurement"
    units = []
    if image is not None:
        units.append("arcsec: " + ("pixel scale %.3f″/px" % image.pixel_scale_arcsec()
                                   if image.pixel_scale is not None else "no pixel scale known"))
        units.append("kpc: " + (f"z = {z:.4f}" if z is not None else "no redshift in the catalogue"))
    lines.append("<small>" + html.escape(" · ".join(units)) + "</small>")
    return "<br><br>".join(lines)


def title_html(key: str, image: Any, result: Any) -> str:
    """The line above the image: file, size, bands, pixel scale, WCS, then the map's score and method."""
    parts = [f"<b>{html.escape(key)}</b>", f"{image.width}×{image.height} px"]
    if image.channels > 1:
        parts.append(f"{image.channels} bands")
    scale = image.pixel_scale_arcsec()
    if scale is not None:
        parts.append(f"{scale:.3f}″/px")
    if image.wcs is not None:
        parts.append("WCS")
    if result is not None:
        prob = result.score.probability
        parts.append(f"P({html.escape(result.target)}) = {prob:.2f}" if prob is not None
                     else f"logit {result.score.logit:+.2f}")
        n = result.params.get("n_samples")
        parts.append(f"{html.escape(result.method)}" + (f" N={n}" if n else ""))
    return " · ".join(parts)
