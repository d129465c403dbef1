"""Saliency lengths on the scale of a human's tip-to-tip bar length, with their uncertainty.

Why: a saliency blob is not the bar. The `moments` ellipse of a SmoothGrad map is about
twice the true length (it spans the bulge glow around the bar), so a raw number in
pixels misleads anyone who compares it with Hoyle et al. (2011) or a drawn line. A
model's calibration is fitted on synthetic galaxies it was not tuned on, where the true
tip-to-tip length is known, on measurable bars only (barred, simulated GZ2 bar vote
>= 0.5, as Hoyle measured only bars volunteers saw), and is stored with the model.

The fit is one multiplicative scale: ``length = scale * raw``, ``scale`` the median of
true / raw (robust to the few blobs that caught a star). Its uncertainty is the robust
scatter of log(true / (scale * raw)) (1.4826 x MAD): a relative error that every reported
length carries, added in quadrature to the measurement's own threshold-step error.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from galaxyscope.measure.result import BarMeasurement

#: the bar-vote fraction above which a synthetic bar counts as measurable (Hoyle et al. 2011)
MEASURABLE_VOTE = 0.5
#: how the note a calibrated measurement carries starts (the window shows it as provenance)
CALIBRATION_NOTE = "length calibrated"
#: fewer calibration galaxies than this give no calibration (the scatter would be noise)
MIN_CALIBRATION_BARS = 20


@dataclass(frozen=True)
class LengthCalibration:
    """``length = scale * raw`` with relative uncertainty ``relative_scatter`` (one sigma).

    attribution: the saliency method whose maps it was fitted on; another attribution's
    blob has another size, so its lengths are left raw (``applies_to``).
    settings: the bar method's parameters (field -> value, the rest at the library defaults)
    the raw lengths were measured with; a scale holds only for the settings it was fitted
    with, and another attribution's maps may need other ones (a peakier map, a lower
    threshold), so they travel with the calibration and measuring uses them (`params`).
    """

    method: str
    scale: float
    relative_scatter: float
    n_bars: int
    fitted_on: str = ""
    attribution: str = "smoothgrad"
    settings: Mapping[str, Any] = field(default_factory=dict)

    def params(self) -> Any:
        """The method's parameter dataclass (PaperParams / MomentsParams) with ``settings`` applied."""
        from galaxyscope.measure.api import METHOD_PARAMS

        return dataclasses.replace(METHOD_PARAMS[self.method](), **dict(self.settings))

    def applies_to(self, attribution: str) -> bool:
        """Whether lengths measured on ``attribution``'s maps may be calibrated with this."""
        return attribution == self.attribution

    def __post_init__(self) -> None:
        if not (math.isfinite(self.scale) and 0.01 <= self.scale <= 100):
            raise ValueError(f"length_calibration.{self.method}.scale: must be a number from 0.01 to 100, "
                             f"got {self.scale!r}")
        if not (math.isfinite(self.relative_scatter) and 0 <= self.relative_scatter <= 10):
            raise ValueError(f"length_calibration.{self.method}.relative_scatter: must be from 0 to 10, "
                             f"got {self.relative_scatter!r}")
        if self.settings:
            self._check_settings()

    def _check_settings(self) -> None:
        """Each setting a parameter of the method, in its range (the sliders' `param_specs`)."""
        from galaxyscope.measure.api import METHOD_PARAMS
        from galaxyscope.measure.params import param_specs

        where = f"length_calibration.{self.method}.settings"
        if not isinstance(self.settings, Mapping):
            raise ValueError(f"{where}: must be a JSON object (parameter -> value)")
        if self.method not in METHOD_PARAMS:
            raise ValueError(f"{where}: {self.method!r} has no parameters to set")
        specs = {spec.name: spec for spec in param_specs(METHOD_PARAMS[self.method])}
        for name, value in self.settings.items():
            spec = specs.get(name)
            if spec is None:
                raise ValueError(f"{where}: unknown parameter {name!r} of {self.method}")
            if spec.choices:
                if value not in spec.choices:
                    raise ValueError(f"{where}.{name}: must be one of {', '.join(spec.choices)}, got {value!r}")
            elif isinstance(spec.default, (int, float)) and not isinstance(spec.default, bool):
                if not (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)):
                    raise ValueError(f"{where}.{name}: must be a number, got {value!r}")
                if (spec.low is not None and value < spec.low) or (spec.high is not None and value > spec.high):
                    raise ValueError(f"{where}.{name}: must be from {spec.low} to {spec.high}, got {value!r}")

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["settings"] = dict(self.settings)
        if not d["settings"]:
            del d["settings"]  # library defaults: the checkpoints written before settings existed
        return d

    @classmethod
    def from_dict(cls, method: str, d: Mapping[str, Any]) -> "LengthCalibration":
        """From a checkpoint's JSON; ValueError naming the field for anything malformed."""
        if not isinstance(d, Mapping):
            raise ValueError(f"length_calibration.{method}: must be a JSON object")
        try:
            settings = d.get("settings", {})
            if not isinstance(settings, Mapping):
                raise ValueError(f"length_calibration.{method}.settings: must be a JSON object (parameter -> value)")
            return cls(method=method, scale=float(d["scale"]), relative_scatter=float(d["relative_scatter"]),
                       n_bars=int(d.get("n_bars", 0)), fitted_on=str(d.get("fitted_on", ""))[:500],
                       attribution=str(d.get("attribution", "smoothgrad"))[:100], settings=dict(settings))
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, ValueError) and str(exc).startswith("length_calibration"):
                raise
            raise ValueError(f"length_calibration.{method}: needs numbers scale and relative_scatter "
                             f"({exc})") from None

    def describe(self) -> str:
        at = "".join(f", {k} {v}" for k, v in self.settings.items())
        return (f"×{self.scale:.2f} ± {100 * self.relative_scatter:.0f} % "
                f"(fitted on {self.n_bars} synthetic bars{at})")


def fit_length_calibration(raw_px: Sequence[float], true_px: Sequence[float], method: str,
                           fitted_on: str = "", attribution: str = "smoothgrad",
                           settings: Mapping[str, Any] | None = None) -> LengthCalibration:
    """The scale and scatter that put ``raw_px`` on the scale of ``true_px`` (pairs with a
    finite, positive value on both sides; at least `MIN_CALIBRATION_BARS` of them);
    ``settings``: the bar method's parameters ``raw_px`` were measured with."""
    raw, true = np.asarray(raw_px, float), np.asarray(true_px, float)
    ok = np.isfinite(raw) & np.isfinite(true) & (raw > 0) & (true > 0)
    if ok.sum() < MIN_CALIBRATION_BARS:
        raise ValueError(f"{int(ok.sum())} usable bars to calibrate {method}; at least {MIN_CALIBRATION_BARS} needed")
    log_ratio = np.log(true[ok] / raw[ok])
    centre = float(np.median(log_ratio))
    scatter = float(1.4826 * np.median(np.abs(log_ratio - centre)))
    return LengthCalibration(method=method, scale=float(np.exp(centre)), relative_scatter=scatter,
                             n_bars=int(ok.sum()), fitted_on=fitted_on, attribution=attribution,
                             settings=dict(settings or {}))


def calibration_key(method: str, attribution: str = "smoothgrad") -> str:
    """Where a checkpoint stores the calibration of ``method`` on ``attribution``'s maps:
    ``"moments"`` for SmoothGrad (the first calibrations had no attribution), else
    ``"moments@bar_evidence"``."""
    return method if attribution == "smoothgrad" else f"{method}@{attribution}"


def calibrations_from(meta_value: Mapping[str, Any] | None) -> dict[str, LengthCalibration]:
    """key (`calibration_key`) -> calibration, from a checkpoint's ``length_calibration`` field
    (ValueError naming the field if bad)."""
    if meta_value is None:
        return {}
    if not isinstance(meta_value, Mapping):
        raise ValueError("length_calibration: must be a JSON object (method -> calibration)")
    out = {}
    for key, value in meta_value.items():
        method, _, attribution = str(key).partition("@")
        cal = LengthCalibration.from_dict(method, value)
        if attribution and cal.attribution != attribution:
            if isinstance(value, Mapping) and "attribution" in value:
                raise ValueError(f"length_calibration.{key}: attribution {cal.attribution!r} differs from the key's")
            cal = dataclasses.replace(cal, attribution=attribution)
        out[str(key)] = cal
    return out


#: what a calibrated length's note adds when it was measured at other settings than the calibration's
OTHER_SETTINGS_NOTE = "fitted at other settings than these, so the scale may not hold"


def calibrate(m: BarMeasurement, calibration: LengthCalibration | None, params: Any = None) -> BarMeasurement:
    """The measurement with its length (and drawn end points, scaled about their midpoint)
    on the calibrated scale, and the calibration's scatter in its error; unchanged without one.

    The width and the mask stay as measured: only the length was calibrated. ``params``: the
    parameters ``m`` was measured with (None: not known); if they are not the calibration's
    (`LengthCalibration.params`, e.g. a slider moved), the note says the scale may not hold.
    """
    if calibration is None or not math.isfinite(m.length_px):
        return m
    s = calibration.scale
    length = s * m.length_px
    own = s * m.length_err_px if math.isfinite(m.length_err_px) else 0.0
    err = math.hypot(own, calibration.relative_scatter * length)
    ends = m.endpoints
    if ends is not None:
        (x1, y1), (x2, y2) = ends
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        ends = ((cx + s * (x1 - cx), cy + s * (y1 - cy)), (cx + s * (x2 - cx), cy + s * (y2 - cy)))
    note = f"{CALIBRATION_NOTE} {calibration.describe()}; raw {m.length_px:.1f} px"
    if params is not None and params != calibration.params():
        note += f"; {OTHER_SETTINGS_NOTE}"
    return dataclasses.replace(m, length_px=length, length_err_px=err, endpoints=ends, notes=m.notes + (note,))


def measurable_bars(has_bar: Sequence[Any], bar_vote: Sequence[Any]) -> np.ndarray:
    """Boolean mask of the bars lengths are judged on: barred and bar vote >= `MEASURABLE_VOTE`."""
    barred = np.asarray(has_bar, float) > 0.5
    vote = np.asarray(bar_vote, float)
    return barred & np.isfinite(vote) & (vote >= MEASURABLE_VOTE)
