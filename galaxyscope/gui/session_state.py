"""The window's session state, without Qt: saliency request, bar parameters, display, overlays,
annotate mode, entry.

Why: the window, its controls, settings persistence and the controllers all need
the same handful of values. One plain object holds them (in the spirit of glue's
``State`` / ``CallbackProperty``, but minimal): widgets write into it and follow
it, the window reacts to its changes, settings store ``to_dict()`` and read
``from_dict()``, and tests check all of it without a display.

Observers: ``state.watch(names, cb)`` calls ``cb(change)`` once per real change
of one of those fields; ``state.watch_any(cb)`` calls ``cb(changes)`` once per
``update`` that changed anything. Setting a field to an equal value notifies
nobody, which is what keeps a widget <-> state binding from looping.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from galaxyscope.measure import BAR_METHODS
from galaxyscope.gui.bar_fit import default_params, params_with
from galaxyscope.gui.display import IMAGE_COLORMAPS, INTERVALS, RGB, SALIENCY_COLORMAPS, STRETCHES, DisplaySettings

DEFAULT_SALIENCY_METHOD = "smoothgrad"
#: the window's default N: more than the CLI's quick default, fewer than the paper's 256
DEFAULT_GUI_SAMPLES = 50
SAMPLES_RANGE = (1, 1024)
NOISE_RANGE = (0.0, 1.0)
PERCENTILE_RANGE = (50.0, 100.0)
OPACITY_RANGE = (0, 100)
#: the saliency overlay's default opacity (%): the bar under the map stays visible (issue 17)
DEFAULT_OPACITY = 40
OVERLAYS: tuple[str, ...] = ("saliency", "mask", "bar", "width", "label")


@dataclass(frozen=True)
class Change:
    """One field that really changed: on which state, its name, the value before and after."""

    state: Any
    name: str
    old: Any
    new: Any


FieldCallback = Callable[[Change], None]
GroupCallback = Callable[[tuple[Change, ...]], None]


def _same(a: Any, b: Any) -> bool:
    if a is b:
        return True
    try:
        return bool(a == b)
    except Exception:  # objects whose == is not a plain bool (arrays): treat as changed
        return False


def _meta(persist: bool = True, key: str | None = None, choices: Iterable[str] | None = None,
          low: float | None = None, high: float | None = None) -> dict[str, Any]:
    return {"persist": persist, "key": key, "choices": tuple(choices) if choices is not None else None,
            "low": low, "high": high}


class Observable:
    """Base of the state groups: dataclass fields that tell watchers when they really change."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "_watchers", {})
        object.__setattr__(self, "_group_watchers", [])

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_") or "_watchers" not in self.__dict__:  # dataclass __init__, private
            object.__setattr__(self, name, value)
        else:
            self.update(**{name: value})

    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(self))  # type: ignore[arg-type]

    def watch(self, names: str | Iterable[str], callback: FieldCallback) -> None:
        """Call ``callback(change)`` whenever one of ``names`` changes to an unequal value."""
        known = self.field_names()
        for name in ([names] if isinstance(names, str) else list(names)):
            if name not in known:
                raise AttributeError(f"{type(self).__name__} has no field {name!r}")
            self._watchers.setdefault(name, []).append(callback)

    def watch_any(self, callback: GroupCallback) -> None:
        """Call ``callback(changes)`` once per update that changed at least one field."""
        self._group_watchers.append(callback)

    def unwatch(self, callback: Callable[..., None]) -> None:
        for callbacks in self._watchers.values():
            while callback in callbacks:
                callbacks.remove(callback)
        while callback in self._group_watchers:
            self._group_watchers.remove(callback)

    def update(self, **values: Any) -> tuple[Change, ...]:
        """Set several fields, then notify: each field's watchers once, the group's watchers once."""
        known = self.field_names()
        changes = []
        for name, value in values.items():
            if name not in known:
                raise AttributeError(f"{type(self).__name__} has no field {name!r}")
            old = getattr(self, name)
            if _same(old, value):
                continue
            object.__setattr__(self, name, value)
            changes.append(Change(self, name, old, value))
        for change in changes:
            for callback in list(self._watchers.get(change.name, ())):
                callback(change)
        if changes:
            for callback in list(self._group_watchers):
                callback(tuple(changes))
        return tuple(changes)


@dataclass
class SaliencyRequest(Observable):
    """What map to compute: attribution method, model output, samples, noise; when and how framed.

    target None is the model's bar output; framing follows the loaded model (not persisted).
    """

    method: str = field(default=DEFAULT_SALIENCY_METHOD, metadata=_meta())
    target: str | None = field(default=None, metadata=_meta(persist=False))
    samples: int = field(default=DEFAULT_GUI_SAMPLES, metadata=_meta(low=SAMPLES_RANGE[0], high=SAMPLES_RANGE[1]))
    noise: float = field(default=0.1, metadata=_meta(low=NOISE_RANGE[0], high=NOISE_RANGE[1]))
    auto: bool = field(default=True, metadata=_meta())
    framing: str | None = field(default=None, metadata=_meta(persist=False))

    def params(self) -> tuple[tuple[str, Any], ...]:
        return saliency_params(self.method, self.samples, self.noise)

    def key(self, entry: int) -> SaliencyKey:
        """The key of this request's map for image ``entry``."""
        return SaliencyKey(entry, self.method, self.target, self.params())


@dataclass
class DisplayState(Observable):
    """How the image and the saliency overlay look (channel depends on the image: not persisted)."""

    stretch: str = field(default="linear", metadata=_meta(choices=STRETCHES))
    interval: str = field(default="percentile", metadata=_meta(choices=INTERVALS))
    percentile: float = field(default=99.5, metadata=_meta(low=PERCENTILE_RANGE[0], high=PERCENTILE_RANGE[1]))
    channel: str = field(default=RGB, metadata=_meta(persist=False))
    cmap: str = field(default=next(iter(IMAGE_COLORMAPS)), metadata=_meta(choices=IMAGE_COLORMAPS))
    saliency_cmap: str = field(default=next(iter(SALIENCY_COLORMAPS)),
                               metadata=_meta(key="saliency/cmap", choices=SALIENCY_COLORMAPS))
    opacity: int = field(default=DEFAULT_OPACITY, metadata=_meta(key="saliency/opacity", low=OPACITY_RANGE[0],
                                                    high=OPACITY_RANGE[1]))

    def settings(self) -> DisplaySettings:
        return DisplaySettings(stretch=self.stretch, interval=self.interval, percentile=self.percentile,
                               channel=self.channel or RGB)


@dataclass
class OverlayState(Observable):
    """Which overlays are drawn on the image."""

    saliency: bool = field(default=True, metadata=_meta())
    mask: bool = field(default=True, metadata=_meta())
    bar: bool = field(default=True, metadata=_meta())
    width: bool = field(default=True, metadata=_meta())
    label: bool = field(default=True, metadata=_meta())
    reference: bool = field(default=True, metadata=_meta())  # published lengths (hidden while drawing blind)


def _default_bar_params() -> dict[str, Any]:
    return {m: default_params(m) for m in BAR_METHODS}


@dataclass
class BarState(Observable):
    """The bar method drawn, each method's parameter dataclass, and the P(bar) gate.

    ``params`` is replaced, never mutated (use ``set_params``), so watchers see each change;
    the gate comes from the loaded model (not persisted).
    """

    method: str = field(default="moments", metadata=_meta(choices=BAR_METHODS))
    params: dict[str, Any] = field(default_factory=_default_bar_params, metadata=_meta())
    min_probability: float = field(default=0.5, metadata=_meta(persist=False))

    def set_params(self, method: str, params: Any) -> tuple[Change, ...]:
        if method not in self.params:
            raise KeyError(f"unknown bar method {method!r}; choose from {tuple(self.params)}")
        return self.update(params={**self.params, method: params})

    def changed_methods(self, change: Change) -> tuple[str, ...]:
        """The methods whose parameters differ between ``change.old`` and ``change.new``."""
        return tuple(m for m in change.new if not _same(change.old.get(m), change.new[m]))


@dataclass
class AnnotateState(Observable):
    """Annotate mode and what it lets the annotator see (issue 17: blind annotation).

    While annotate mode is on, the machine's line, the saliency overlay and other people's
    lines stay hidden on an image until the annotator has saved their own bar there, and
    then only if ``reveal`` is on (V). Only ``reveal`` is remembered between runs: whoever
    vets after drawing keeps vetting, whoever draws stays blind.
    """

    active: bool = field(default=False, metadata=_meta(persist=False))
    reveal: bool = field(default=False, metadata=_meta())
    saved_here: bool = field(default=False, metadata=_meta(persist=False))

    @property
    def blind(self) -> bool:
        """True when the machine's work and others' lines must not be shown now."""
        return self.active and not (self.reveal and self.saved_here)


@dataclass
class EntryState(Observable):
    """What is open: the source path (a folder, catalogue or file), the current entry and its file key."""

    source: str | None = field(default=None, metadata=_meta(key="last_path"))
    index: int | None = field(default=None, metadata=_meta(persist=False))
    key: str | None = field(default=None, metadata=_meta(persist=False))


GROUPS: dict[str, str] = {"saliency": "saliency", "display": "display", "overlays": "overlays",
                          "bars": "bar", "annotate": "annotate", "entry": "entry"}


@dataclass
class SessionState:
    """All of the window's state groups; ``to_dict`` / ``from_dict`` are what settings store."""

    saliency: SaliencyRequest = field(default_factory=SaliencyRequest)
    display: DisplayState = field(default_factory=DisplayState)
    overlays: OverlayState = field(default_factory=OverlayState)
    bars: BarState = field(default_factory=BarState)
    annotate: AnnotateState = field(default_factory=AnnotateState)
    entry: EntryState = field(default_factory=EntryState)

    def to_dict(self) -> dict[str, Any]:
        """Plain values under the settings keys ("display/stretch", "bar/paper/t_start", ...)."""
        out: dict[str, Any] = {}
        for attr, prefix in GROUPS.items():
            group = getattr(self, attr)
            for f in dataclasses.fields(group):
                if not f.metadata.get("persist", False):
                    continue
                if f.name == "params":
                    for method, params in group.params.items():
                        for spec in editable_param_specs(method):
                            out[f"{prefix}/{method}/{spec.name}"] = getattr(params, spec.name)
                    continue
                out[f.metadata.get("key") or f"{prefix}/{f.name}"] = getattr(group, f.name)
        if not self.entry.source:  # nothing opened yet: keep the last path a previous run saved
            out.pop("last_path", None)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, saliency_methods: Iterable[str] | None = None) -> SessionState:
        """A state from ``to_dict`` output or an old settings file: unknown keys are ignored, a
        missing or unreadable value keeps its default (INI strings such as "true" or "none" are read)."""
        state = cls()
        if saliency_methods is None:
            from galaxyscope.saliency.methods import METHODS

            saliency_methods = METHODS
        methods = tuple(saliency_methods)
        for attr, prefix in GROUPS.items():
            group = getattr(state, attr)
            values: dict[str, Any] = {}
            for f in dataclasses.fields(group):
                if not f.metadata.get("persist", False):
                    continue
                if f.name == "params":
                    values["params"] = {m: _params_from(data, prefix, m, p) for m, p in group.params.items()}
                    continue
                key = f.metadata.get("key") or f"{prefix}/{f.name}"
                if key not in data:
                    continue
                choices = methods if (attr, f.name) == ("saliency", "method") else f.metadata.get("choices")
                like = getattr(group, f.name)
                value = _convert(data[key], "" if like is None else like, choices, f.metadata.get("low"),
                                 f.metadata.get("high"))
                if value is not None:
                    values[f.name] = value
            group.update(**values)
        return state


def editable_param_specs(method: str) -> tuple[Any, ...]:
    """The parameters of ``method`` the controls show (a choice or a range): the ones persisted."""
    from galaxyscope.measure import param_specs

    return tuple(s for s in param_specs(default_params(method))
                 if s.choices or (s.low is not None and s.high is not None))


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _convert(value: Any, default: Any, choices: Iterable[str] | None = None, low: float | None = None,
             high: float | None = None) -> Any:
    """``value`` as ``type(default)`` (clamped to [low, high], one of ``choices``), or None if unreadable."""
    try:
        if isinstance(default, bool):
            if isinstance(value, str):
                text = value.strip().lower()
                return True if text in _TRUE else False if text in _FALSE else None
            return bool(value) if isinstance(value, (bool, int)) else None
        if isinstance(default, (int, float)):
            number = float(value)
            if not math.isfinite(number):
                return None
            if low is not None:
                number = max(float(low), number)
            if high is not None:
                number = min(float(high), number)
            return int(round(number)) if isinstance(default, int) else number
        if isinstance(default, str):
            text = str(value)
            return text if choices is None or text in tuple(choices) else None
    except (TypeError, ValueError, OverflowError):
        return None
    return None


def _params_from(data: Mapping[str, Any], prefix: str, method: str, params: Any) -> Any:
    """``params`` with the stored values of its editable fields; an unreadable one keeps its value."""
    values: dict[str, Any] = {}
    for spec in editable_param_specs(method):
        key = f"{prefix}/{method}/{spec.name}"
        if key not in data:
            continue
        raw = data[key]
        if spec.choices:
            value = _convert(raw, str(spec.default), spec.choices)
        elif spec.default is None and (raw is None or str(raw).strip().lower() in ("", "none")):
            values[spec.name] = None  # "automatic"
            continue
        else:
            like = spec.default if spec.default is not None else 0.0
            value = _convert(raw, like, None, None, spec.high)
            if value is not None and value < spec.low:
                value = None if spec.default is None else type(like)(spec.low)  # below the range: "auto"
        if value is not None:
            values[spec.name] = value
    try:
        return params_with(params, values)
    except (TypeError, ValueError):
        return params


@dataclass(frozen=True)
class SaliencyKey:
    """What identifies a map inside one session: entry, attribution method, target, parameters."""

    entry: int
    method: str
    target: str | None
    params: tuple[tuple[str, Any], ...]

    def kwargs(self) -> dict[str, Any]:
        return dict(self.params)


def saliency_params(method: str, samples: int, noise: float) -> tuple[tuple[str, Any], ...]:
    """The compute_saliency keyword arguments the controls set, as a hashable tuple.

    ``samples`` is N for SmoothGrad-like methods and the number of steps for
    integrated gradients; other methods ignore it (so their keys do not change
    when it does).
    """
    from galaxyscope.saliency.methods import METHODS, canonical_method

    defaults = METHODS[canonical_method(method)].defaults
    out: dict[str, Any] = {}
    if "n_samples" in defaults:
        out["n_samples"] = int(samples)
    if "n_steps" in defaults:
        out["n_steps"] = int(samples)
    if "noise" in defaults:
        out["noise"] = round(float(noise), 6)
    return tuple(sorted(out.items()))
