"""Re-fitting the bar from a cached saliency map and describing it in words (no Qt).

Why here: the controls call this on every slider move (a few ms), the overlay
and the info panel show what it returns, and the tests check it without a window.
"""

from __future__ import annotations

import dataclasses
import math
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import astropy.units as u

from galaxyscope.errors import GalaxyscopeError
from galaxyscope.measure import FLAG_DESCRIPTIONS, METHOD_PARAMS, BarMeasurement, measure_bar
from galaxyscope.measure.calibration import CALIBRATION_NOTE
from galaxyscope.measure.orientation import describe_pa, sky_position_angle

BAR_METHOD_LABELS: dict[str, str] = {
    "paper": "paper (Bhambra+22 threshold sweep)",
    "moments": "moments (our ellipse fit)",
}


@dataclass(frozen=True)
class BarFit:
    """One method's measurement, or the reason it failed."""

    method: str
    measurement: BarMeasurement | None
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.measurement is not None and self.measurement.ok


def default_params(method: str) -> Any:
    """The method's parameter dataclass with its defaults (PaperParams / MomentsParams)."""
    return METHOD_PARAMS[method]()


def params_with(params: Any, values: Mapping[str, Any]) -> Any:
    """A copy of ``params`` with the fields in ``values`` replaced (unknown names ignored)."""
    names = {f.name for f in dataclasses.fields(params)}
    return dataclasses.replace(params, **{k: v for k, v in values.items() if k in names})


def fit_bar(saliency_map, method: str, params: Any, *, model_input_size: int | None,
            crop_fraction: float | None, crop_box: tuple[int, int, int, int] | None = None) -> BarFit:
    """Measure the bar with ``method`` and ``params``; a measuring error becomes ``BarFit.error``."""
    try:
        m = measure_bar(saliency_map, method, model_input_size=model_input_size,
                        crop_fraction=crop_fraction, options=params, crop_box=crop_box)
    except GalaxyscopeError as exc:
        return BarFit(method, None, str(exc))
    return BarFit(method, m)


def _fmt(q: u.Quantity | None, err: u.Quantity | None, unit: str, digits: int) -> str | None:
    if q is None or not math.isfinite(float(q.value)):
        return None
    text = f"{q.to_value(unit):.{digits}f}"
    if err is not None and math.isfinite(float(err.value)) and err.value > 0:
        text += f" ± {err.to_value(unit):.{digits}f}"
    symbol = {"pix": " px", "arcsec": "″", "kpc": " kpc"}[unit]
    return text + symbol


def length_label(m: BarMeasurement | None, pixel_scale: u.Quantity | None, redshift: float | None,
                 *, with_errors: bool = False) -> str:
    """The bar length in px, arcsec and kpc where known, e.g. "52 px · 20.6″ · 9.8 kpc".

    Units that cannot be known (no pixel scale, no redshift) are left out, never guessed.
    """
    if m is not None and "no_bar" in m.flags:
        why = [note for note in m.notes if note.startswith("no bar")]  # not the calibration's note
        return why[0] if why else "no bar detected"
    if m is None or not m.ok:
        return "no bar measured"
    lengths = m.with_units(pixel_scale, redshift)
    parts = [
        _fmt(lengths.length, lengths.length_err if with_errors else None, "pix", 1),
        _fmt(lengths.length_arcsec, lengths.length_err_arcsec if with_errors else None, "arcsec", 2),
        _fmt(lengths.length_kpc, lengths.length_err_kpc if with_errors else None, "kpc", 2),
    ]
    return " · ".join(p for p in parts if p)


#: notes are wrapped to this many characters: the result panel does not wrap (so that the
#: dock keeps its width while sliders move), and a calibration note runs to ~150 characters
NOTE_WIDTH = 44


def describe_fit(fit: BarFit, pixel_scale: u.Quantity | None, redshift: float | None,
                 wcs: Any = None) -> str:
    """Several lines for the info panel: length (with errors), width, PA (east of north with
    a WCS, else from the image's +x axis), threshold, flags; long notes wrapped (`NOTE_WIDTH`)."""
    if fit.measurement is None:
        return f"{fit.method}: {fit.error or 'not measured'}"
    m = fit.measurement
    lines = [f"{fit.method}: {length_label(m, pixel_scale, redshift, with_errors=True)}"]
    if m.ok:
        pa = describe_pa(m.pa_deg, sky_position_angle(m.endpoints, wcs))
        lines.append(f"width {m.width_px:.1f} px · {pa}")
        lines.append(f"threshold {m.threshold:.3f} · {m.n_pixels} pixels in the mask")
    stop = m.diagnostics.stop_reason
    if stop:
        lines.append(f"stopped by: {stop}")
    lines.append("flags: " + (", ".join(m.flags) if m.flags else "none"))
    for note in m.notes:
        if note.startswith(CALIBRATION_NOTE):  # provenance, not a warning
            lines.append(textwrap.fill(note, NOTE_WIDTH, subsequent_indent="  "))
        elif not note.startswith("no bar detected"):
            lines.append(textwrap.fill(f"⚠ {note}", NOTE_WIDTH, subsequent_indent="  "))
    return "\n".join(lines)


def flags_tooltip(flags: tuple[str, ...]) -> str:
    """What each flag means, one per line (FLAG_DESCRIPTIONS), for tooltips."""
    if not flags:
        return "no quality flags"
    return "\n".join(f"{f}: {FLAG_DESCRIPTIONS.get(f, '')}" for f in flags)
