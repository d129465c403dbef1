"""`measure_bar`: one entry point for both bar methods, used by the CLI, jobs and the GUI.

Input is a saliency map on the original image's grid (float HxW in [0, 1], zero where
the model saw nothing), or a list of such maps from several SmoothGrad noise seeds:
then the bar is measured on their mean (divided by its peak) and the spread of the
lengths measured on each map separately is added to the uncertainty in quadrature.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from galaxyscope.measure.maps import MeasureError, clean_map, has_signal, is_normalised
from galaxyscope.measure.moments import measure_moments_clean
from galaxyscope.measure.paper import measure_paper_clean
from galaxyscope.measure.params import MomentsParams, PaperParams
from galaxyscope.measure.resolution import MapGeometry
from galaxyscope.measure.result import NO_SIGNAL, NOT_NORMALISED, BarMeasurement, MeasureDiagnostics

SaliencyInput = np.ndarray | Sequence[np.ndarray]


def _maps(saliency: SaliencyInput) -> list[np.ndarray]:
    maps = list(saliency) if isinstance(saliency, (list, tuple)) else [saliency]
    if not maps:
        raise MeasureError("no saliency map given")
    cleaned = [clean_map(m) for m in maps]
    shapes = {m.shape for m in cleaned}
    if len(shapes) > 1:
        raise MeasureError(f"saliency maps differ in shape: {sorted(shapes)}")
    return cleaned


def _combined(maps: list[np.ndarray]) -> np.ndarray:
    if len(maps) == 1:
        return maps[0]
    mean = np.mean(maps, axis=0)
    peak = float(mean.max())
    return mean / peak if peak > 0 else mean


def _params(cls: type, options: Any, overrides: dict[str, Any]) -> Any:
    base = options if options is not None else cls()
    if not isinstance(base, cls):
        raise MeasureError(f"options must be a {cls.__name__}, got {type(base).__name__}")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise MeasureError(f"unknown {cls.__name__} parameter(s) {unknown}; valid: {sorted(names)}")
    p = dataclasses.replace(base, **overrides) if overrides else base
    for name in ("t_start", "t_end"):
        v = getattr(p, name)
        if not 0.0 <= v <= 1.0:
            raise MeasureError(f"{name} must lie in [0, 1], got {v}")
    if not p.t_step > 0:
        raise MeasureError(f"t_step must be positive, got {p.t_step}")
    if p.t_end < p.t_start:
        raise MeasureError(f"t_end ({p.t_end}) is below t_start ({p.t_start})")
    if p.min_pixels is not None and p.min_pixels < 0:
        raise MeasureError(f"min_pixels must be >= 0, got {p.min_pixels}")
    return p


def _empty(shape: tuple[int, int], method: str, params: Any, flags: tuple[str, ...],
           center: tuple[float, float], diag: MeasureDiagnostics) -> BarMeasurement:
    return BarMeasurement(length_px=math.nan, width_px=math.nan, pa_deg=math.nan, endpoints=None,
                          mask=np.zeros(shape, dtype=bool), threshold=math.nan, method=method,
                          flags=flags, length_err_px=math.nan, n_pixels=0, elongation=math.nan,
                          params=params, center=center, diagnostics=diag)


def _run(core: Callable[..., BarMeasurement], cls: type, method: str, saliency: SaliencyInput,
         center: tuple[float, float] | None, model_input_size: int | None,
         crop_fraction: float | None, options: Any, overrides: dict[str, Any],
         box: tuple[int, int, int, int] | None = None) -> BarMeasurement:
    maps = _maps(saliency)
    params = _params(cls, options, overrides)
    clean = _combined(maps)
    shape = clean.shape
    geom = MapGeometry.of(shape, center=center, model_input_size=model_input_size,
                          crop_fraction=crop_fraction, min_pixels=params.min_pixels,
                          reference_min=params.reference_min_pixels,
                          reference_input=params.reference_input_size, box=box)
    if not has_signal(clean):
        diag = MeasureDiagnostics(stop_reason="no_signal", n_maps=len(maps),
                                  min_pixels_model=geom.min_pixels_model, crop_box=geom.crop_box)
        flags = (NO_SIGNAL,) if is_normalised(clean) else (NO_SIGNAL, NOT_NORMALISED)
        return _empty(shape, method, dataclasses.replace(params, min_pixels=geom.min_pixels), flags,
                      geom.center, diag)
    try:
        m = core(clean, params, geom)
    except ValueError as exc:
        raise MeasureError(str(exc)) from exc
    if len(maps) > 1:
        single = dataclasses.replace(params, err_steps=0) if hasattr(params, "err_steps") else params
        lengths = np.array([core(mp, single, geom).length_px
                            for mp in maps if has_signal(mp)])
        lengths = lengths[np.isfinite(lengths)]
        err_seeds = float(np.std(lengths, ddof=1)) if lengths.size > 1 else math.nan
        err_t = m.diagnostics.err_threshold_px
        parts = [e for e in (err_t, err_seeds) if math.isfinite(e)]
        total = math.hypot(*parts) if parts else math.nan
        m = dataclasses.replace(m, length_err_px=total, diagnostics=dataclasses.replace(
            m.diagnostics, err_seeds_px=err_seeds, n_maps=len(maps)))
    return m


def measure_paper(saliency: SaliencyInput, *, center: tuple[float, float] | None = None,
                  model_input_size: int | None = None, crop_fraction: float | None = None,
                  options: PaperParams | None = None, crop_box: tuple[int, int, int, int] | None = None,
                  **params: Any) -> BarMeasurement:
    """Bhambra et al. (2022)'s threshold sweep with the |Pearson(row, col)| stop (see measure.paper)."""
    return _run(measure_paper_clean, PaperParams, "paper", saliency, center, model_input_size,
                crop_fraction, options, params, box=crop_box)


def measure_moments(saliency: SaliencyInput, *, center: tuple[float, float] | None = None,
                    model_input_size: int | None = None, crop_fraction: float | None = None,
                    options: MomentsParams | None = None, crop_box: tuple[int, int, int, int] | None = None,
                  **params: Any) -> BarMeasurement:
    """Our fit: blur, central component, saliency-weighted ellipse (see measure.moments)."""
    return _run(measure_moments_clean, MomentsParams, "moments", saliency, center, model_input_size,
                crop_fraction, options, params, box=crop_box)


METHODS: dict[str, Callable[..., BarMeasurement]] = {"paper": measure_paper, "moments": measure_moments}
METHOD_PARAMS: dict[str, type] = {"paper": PaperParams, "moments": MomentsParams}
#: the saliency bar methods in display order; the one list the CLI, jobs and GUI use
BAR_METHODS: tuple[str, ...] = tuple(METHODS)
METHOD_ALIASES: dict[str, str] = {
    "bhambra2022": "paper", "bjl22": "paper", "pearson": "paper",
    "ours": "moments", "ellipse": "moments", "regionprops": "moments",
}


def resolve_method(name: str) -> str:
    """Canonical method name ("paper" or "moments") for a name or alias (case-insensitive)."""
    key = str(name).strip().lower()
    key = METHOD_ALIASES.get(key, key)
    if key not in METHODS:
        raise MeasureError(f"unknown bar method {name!r}; choose from "
                           f"{sorted(METHODS) + sorted(METHOD_ALIASES)}")
    return key


def measure_bar(saliency: SaliencyInput, method: str = "moments", *,
                center: tuple[float, float] | None = None, model_input_size: int | None = None,
                crop_fraction: float | None = None, options: PaperParams | MomentsParams | None = None,
                crop_box: tuple[int, int, int, int] | None = None, **params: Any) -> BarMeasurement:
    """Measure the bar on a saliency map (or a list of maps from several noise seeds).

    method: "paper" or "moments" (or an alias, see METHOD_ALIASES).
    center: (x, y) of the galaxy; default the centre of the region the model saw.
    model_input_size, crop_fraction: how the model saw the image (crop_fraction also
        sets the region whose edge ``touches_crop_edge`` refers to; None = whole map).
    options: a PaperParams / MomentsParams to start from; keyword params override fields.
    crop_box: (row0, row1, col0, col1) where the model looked when it framed the galaxy by its
        size (``Preprocessing.box_for``; may reach beyond the map); None = the fixed crop.
    Raises MeasureError (a GalaxyscopeError) for a bad array, method or parameter.
    """
    return METHODS[resolve_method(method)](saliency, center=center, model_input_size=model_input_size,
                                           crop_fraction=crop_fraction, options=options,
                                           crop_box=crop_box, **params)
