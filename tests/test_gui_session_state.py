"""The window's session state without Qt: defaults, change callbacks, settings round trip, old and bad files."""

from __future__ import annotations

import subprocess
import sys

import pytest

from galaxyscope.measure import BAR_METHODS
from galaxyscope.gui.bar_fit import default_params
from galaxyscope.gui.session_state import (
    DEFAULT_GUI_SAMPLES,
    OVERLAYS,
    SaliencyKey,
    SessionState,
    editable_param_specs,
)

METHODS = ("smoothgrad", "ig", "saliency")


def test_importing_the_state_loads_no_qt():
    code = ("import sys, galaxyscope.gui.session_state; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'shiboken6')]; "
            "print(bad); raise SystemExit(1 if bad else 0)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr


def test_defaults_are_what_the_controls_start_with():
    s = SessionState()
    assert (s.saliency.method, s.saliency.samples, s.saliency.noise, s.saliency.auto) == (
        "smoothgrad", DEFAULT_GUI_SAMPLES, 0.1, True)
    assert s.saliency.target is None and s.saliency.framing is None
    assert (s.display.stretch, s.display.interval, s.display.percentile, s.display.channel) == (
        "linear", "percentile", 99.5, "rgb")
    assert (s.display.cmap, s.display.saliency_cmap, s.display.opacity) == ("grey", "inferno", 40)
    assert all(getattr(s.overlays, name) for name in OVERLAYS)
    assert s.bars.method == "moments" and set(s.bars.params) == set(BAR_METHODS)
    assert all(s.bars.params[m] == default_params(m) for m in BAR_METHODS)
    assert s.entry.source is None and s.entry.index is None
    assert s.display.settings().stretch == "linear"


def test_field_callbacks_fire_once_per_real_change_and_not_for_equal_values():
    s = SessionState()
    seen, groups = [], []
    s.saliency.watch(("samples", "noise"), lambda c: seen.append((c.name, c.old, c.new)))
    s.saliency.watch_any(lambda changes: groups.append(tuple(c.name for c in changes)))
    s.saliency.samples = 17
    s.saliency.samples = 17  # equal: nobody hears of it
    s.saliency.noise = 0.1  # the default again: no change either
    s.saliency.auto = False  # not watched by field, but by the group
    assert seen == [("samples", 50, 17)]
    assert groups == [("samples",), ("auto",)]
    s.saliency.update(samples=20, noise=0.2, method="smoothgrad")  # method unchanged
    assert seen[-2:] == [("samples", 17, 20), ("noise", 0.1, 0.2)]
    assert groups[-1] == ("samples", "noise")  # the group hears once per update
    assert s.saliency.update(samples=20) == ()
    assert len(groups) == 3


def test_unknown_fields_are_refused_and_watchers_can_be_removed():
    s = SessionState()
    with pytest.raises(AttributeError):
        s.display.update(nosuch=1)
    with pytest.raises(AttributeError):
        s.display.watch("nosuch", lambda c: None)
    seen = []

    def cb(change):
        seen.append(change.new)

    s.display.watch("stretch", cb)
    s.display.stretch = "log"
    s.display.unwatch(cb)
    s.display.stretch = "sqrt"
    assert seen == ["log"]


def test_bar_params_change_per_method_and_say_which():
    s = SessionState()
    changed = []
    s.bars.watch("params", lambda c: changed.append(s.bars.changed_methods(c)))
    before = s.bars.params
    paper = default_params("paper")
    s.bars.set_params("paper", paper)  # equal to what it holds: no change
    assert changed == []
    import dataclasses

    s.bars.set_params("paper", dataclasses.replace(paper, stop_pearson=0.7))
    assert changed == [("paper",)]
    assert before["paper"].stop_pearson != 0.7  # the old mapping was replaced, not mutated
    assert s.bars.params["moments"] == default_params("moments")
    with pytest.raises(KeyError):
        s.bars.set_params("nosuch", paper)


def test_round_trip_through_a_plain_dict():
    import dataclasses

    s = SessionState()
    s.saliency.update(method="ig", samples=17, noise=0.25, auto=False)
    s.display.update(stretch="asinh", interval="zscale", percentile=97.5, cmap="viridis", saliency_cmap="turbo",
                     opacity=30)
    s.overlays.update(width=False, label=False)
    s.bars.method = "paper"
    s.bars.set_params("paper", dataclasses.replace(default_params("paper"), stop_pearson=0.7, min_pixels=None))
    moments = default_params("moments")
    assert moments.threshold_mode != "sweep" and "sweep" in _choices("moments", "threshold_mode")
    s.bars.set_params("moments", dataclasses.replace(moments, t_start=0.3, threshold_mode="sweep"))
    s.entry.update(source="/data/set", index=3, key="gal_03.png")
    d = s.to_dict()
    assert d["display/stretch"] == "asinh" and d["saliency/cmap"] == "turbo" and d["saliency/opacity"] == 30
    assert d["bar/paper/stop_pearson"] == 0.7 and d["bar/paper/min_pixels"] is None
    assert d["overlays/width"] is False and d["last_path"] == "/data/set"
    assert all(isinstance(v, (str, int, float, bool, type(None))) for v in d.values())
    back = SessionState.from_dict(d, saliency_methods=METHODS)
    s.saliency.update(target="has_bar", framing="galaxy")  # these follow the model: not persisted
    assert back.saliency == dataclasses.replace(s.saliency, target=None, framing=None)
    assert back.display == dataclasses.replace(s.display, channel="rgb")
    assert back.overlays == s.overlays and back.bars.method == "paper"
    assert back.bars.params == s.bars.params
    assert back.entry.source == "/data/set" and back.entry.index is None  # which image: not remembered


def test_ini_strings_are_read_back_as_their_types():
    """What QSettings' INI format hands back: every value a string, None as "none"."""
    s = SessionState()
    s.saliency.update(samples=17, auto=False)
    s.overlays.width = False
    text = {k: ("none" if v is None else str(v).lower() if isinstance(v, bool) else str(v))
            for k, v in s.to_dict().items()}
    back = SessionState.from_dict(text, saliency_methods=METHODS)
    assert back.saliency.samples == 17 and isinstance(back.saliency.samples, int)
    assert back.saliency.auto is False and back.overlays.width is False and back.overlays.bar is True
    assert back.bars.params == s.bars.params  # min_pixels "none" is automatic again


def test_old_and_bad_settings_are_ignored_with_defaults():
    old = {
        "window/geometry": b"\x01\x02",  # not the state's: ignored
        "display/stretch": "no-such-stretch",
        "display/percentile": "120",  # clamped like the spin box clamps it
        "display/cmap": 42,
        "saliency/method": "deleted_method",
        "saliency/samples": "many",
        "saliency/noise": "nan",
        "saliency/auto": "maybe",
        "saliency/opacity": "-5",
        "overlays/mask": "false",
        "bar/method": "hough",
        "bar/paper/stop_pearson": "abc",
        "bar/paper/t_start": "0.2",
        "bar/paper/min_pixels": "0.5",  # below the range: the "auto" end of the slider
        "bar/paper/no_such_param": "1",
        "bar/moments/threshold_mode": "no-such-mode",
        "bar/nosuchmethod/t_start": "0.3",
        "something/else": "x",
    }
    s = SessionState.from_dict(old, saliency_methods=METHODS)
    d = SessionState()
    assert s.display.stretch == d.display.stretch and s.display.percentile == 100.0
    assert s.display.cmap == d.display.cmap
    assert (s.saliency.method, s.saliency.samples, s.saliency.noise, s.saliency.auto) == (
        d.saliency.method, d.saliency.samples, d.saliency.noise, d.saliency.auto)
    assert s.display.opacity == 0 and s.overlays.mask is False and s.overlays.bar is True
    assert s.bars.method == d.bars.method
    paper = s.bars.params["paper"]
    assert paper.stop_pearson == default_params("paper").stop_pearson and paper.t_start == pytest.approx(0.2)
    assert paper.min_pixels is None
    assert s.bars.params["moments"] == default_params("moments")
    assert SessionState.from_dict({}, saliency_methods=METHODS) == d


def test_persisted_bar_parameters_are_the_editable_ones():
    names = {s.name for s in editable_param_specs("paper")}
    assert {"t_start", "stop_pearson", "min_pixels"} <= names
    keys = {k for k in SessionState().to_dict() if k.startswith("bar/paper/")}
    assert keys == {f"bar/paper/{n}" for n in names}


def test_request_key_follows_the_method_parameters():
    s = SessionState()
    key = s.saliency.key(4)
    assert isinstance(key, SaliencyKey) and key.entry == 4 and key.method == "smoothgrad"
    assert key.kwargs() == {"n_samples": 50, "noise": 0.1}
    s.saliency.method = "saliency"  # plain gradients: N and noise are not part of the key
    assert s.saliency.key(4).kwargs() == {}


def _choices(method: str, name: str) -> tuple[str, ...]:
    return next(s.choices for s in editable_param_specs(method) if s.name == name)
