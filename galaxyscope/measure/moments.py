"""Our bar fit ("moments"): the paper's idea with its known flaws fixed.

1. Blur the map by ``blur_sigma`` model-input pixels (map pixels when the model's input
   size is unknown) and divide by its peak within ``peak_radius`` (a fraction of the
   region's side) of the centre, so a bright star elsewhere does not set the scale:
   moment fits on raw SmoothGrad maps chase
   single hot pixels and collapse.  On synthetic speckled maps (tests' ``testmaps``;
   96 px input, 424 px frame, 90 px bar) no blur gave 50 +- 13 px, 1.5 model px
   (3.3 map px) 87 +- 4 px.
2. Keep the 8-connected component nearest the galaxy centre: saliency on stars or
   artefacts elsewhere must not stretch the bar.
3. Threshold: "fixed" (default) uses ``t_start`` (a fraction of the blurred peak).
   "sweep" is the paper's rule made rotation-free: raise t in steps of ``t_step`` until
   the component's pixels are elongated, 1 - lambda2/lambda1 >= ``stop_elongation``
   (unlike |Pearson(row, col)| this does not depend on the bar's orientation; the default
   0.919 is where a bar at 45 degrees has the paper's |r| = 0.85, so for diagonal bars
   the two rules agree).  All thresholds are evaluated at once from cumulative sums over
   the component's pixels sorted by value (the set at t is a prefix); if fewer than
   ``min_pixels`` remain before the rule fires, it falls back to ``t_start`` (the widest
   set, which still holds the bar's ends) instead of the smallest set as the paper does.
   Why "fixed" is the default: with a bulge under the bar, 1 - lambda2/lambda1 hovers
   near the stop value and noise decides where the sweep stops; on the synthetic maps
   above (bulge 0.3 of the bar) the spread of lengths over noise seeds was 12-17 px
   with "sweep" and 3-4 px with "fixed".
4. Fit a saliency-weighted ellipse to the component with ``skimage.measure.regionprops``
   (weighted centroid and weighted central moments): the angle is the major axis of
   the weighted covariance.
5. Length ("extent", default): end-to-end extent of the mask's pixel centres projected
   on that axis.  Why: a bar's length is end to end (Hoyle et al.'s volunteers drew the
   whole bar; the paper's rule is an extent too, so the two methods stay comparable),
   and an extent does not assume an elliptical brightness profile, which
   4 sqrt(lambda1) ("axis") does: on a peaked map 4 sqrt(lambda1) comes out shorter
   than the visible bar and depends on the profile.  The blur and the single component
   keep the extent from reacting to stray pixels.  Width: the extent on the minor axis.
6. Uncertainty: the length is re-measured at t +- k * ``err_step`` (k = 1..``err_steps``),
   on the central component at each threshold, along the fitted axis; the error is half
   the range of those lengths.  With several saliency maps (noise seeds) the spread
   between maps is added in quadrature (see ``measure_bar``).
7. Optional linear calibration (slope, intercept) of the length, fitted elsewhere on
   synthetic bars; the endpoints are stretched about their midpoint to match.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from skimage.measure import regionprops

from galaxyscope.measure.geometry import (covariance_axes, elongation_from_axes, extent_along,
                                          position_angle)
from galaxyscope.measure.maps import (blurred_in_box, component_nearest, edge_flags, is_normalised,
                                      support_box)
from galaxyscope.measure.paper import PrefixStats, sweep_thresholds
from galaxyscope.measure.params import MomentsParams
from galaxyscope.measure.resolution import MapGeometry
from galaxyscope.measure.result import (NOT_ELONGATED, NOT_NORMALISED, OFF_CENTRE, TOO_FEW_PIXELS,
                                        BarMeasurement, MeasureDiagnostics)


@dataclass(frozen=True)
class EllipseFit:
    """A weighted ellipse fit of one mask, with the length/width the parameters ask for."""

    length: float
    width: float
    theta: float
    centroid: tuple[float, float]
    endpoints: tuple[tuple[float, float], tuple[float, float]]
    elongation: float
    n_pixels: int


def fit_ellipse(mask: np.ndarray, weights: np.ndarray, length_from: str = "extent",
                origin: tuple[int, int] = (0, 0)) -> EllipseFit | None:
    """Saliency-weighted ellipse of a (single-component) mask via skimage regionprops.

    ``origin`` (row, col) is added to coordinates (when mask is a crop).  None if the
    mask is empty or has no weight.
    """
    props = regionprops(mask.astype(np.uint8), intensity_image=weights)
    if not props:
        return None
    p = props[0]
    mu = p.moments_weighted_central
    m00 = float(mu[0, 0])
    if not m00 > 0:
        return None
    cyy, cxx, cxy = float(mu[2, 0]) / m00, float(mu[0, 2]) / m00, float(mu[1, 1]) / m00
    l1, l2, theta = covariance_axes(cxx, cyy, cxy)
    cr, cc = p.centroid_weighted
    centre = (float(cc) + origin[1], float(cr) + origin[0])
    ys, xs = np.nonzero(mask)
    xs = xs.astype(np.float64) + origin[1]
    ys = ys.astype(np.float64) + origin[0]
    c, s = math.cos(theta), math.sin(theta)
    if length_from == "axis":
        length, width = 4.0 * math.sqrt(l1), 4.0 * math.sqrt(l2)
        pmin, pmax = -0.5 * length, 0.5 * length
    else:
        pmin, pmax, qmin, qmax = extent_along(xs, ys, centre, theta)
        length, width = pmax - pmin, qmax - qmin
    e1 = (centre[0] + c * pmin, centre[1] + s * pmin)
    e2 = (centre[0] + c * pmax, centre[1] + s * pmax)
    ends = (e1, e2) if e1 <= e2 else (e2, e1)
    return EllipseFit(length=length, width=width, theta=theta, centroid=centre, endpoints=ends,
                      elongation=elongation_from_axes(l1, l2), n_pixels=int(xs.size))


def _sweep_threshold(field: np.ndarray, component: np.ndarray, params: MomentsParams,
                     min_pixels: float) -> tuple[float, str]:
    """Threshold chosen by the rotation-free elongation sweep over the central component."""
    thresholds = sweep_thresholds(params.t_start, params.t_end, params.t_step)
    ys, xs = np.nonzero(component)
    vals = field[ys, xs]
    order = np.argsort(vals, kind="stable")[::-1]
    vals_asc = vals[order[::-1]]
    counts = order.size - np.searchsorted(vals_asc, thresholds, side="right")
    h, w = field.shape
    stats = PrefixStats.of(xs[order] - w // 2, ys[order] - h // 2, bound=max(h, w))
    too_few = counts < min_pixels
    elong = np.full(counts.shape, np.nan)
    ok = counts >= 2
    if ok.any():
        n, vx, vy, cxy = stats.covariance_terms(counts[ok])
        vx, vy, cxy = (a.astype(np.float64) for a in (vx, vy, cxy))
        half_tr = 0.5 * (vx + vy)
        root = np.hypot(0.5 * (vx - vy), cxy)
        with np.errstate(invalid="ignore", divide="ignore"):
            elong[ok] = 1.0 - np.maximum(half_tr - root, 0.0) / (half_tr + root)
    with np.errstate(invalid="ignore"):
        line = elong >= params.stop_elongation
    fired = np.flatnonzero(too_few | line)
    if fired.size == 0 or too_few[fired[0]]:
        reason = "start_too_small" if fired.size and fired[0] == 0 else "not_elongated"
        return float(thresholds[0]), reason
    return float(thresholds[fired[0]]), "elongation"


def measure_moments_clean(clean: np.ndarray, params: MomentsParams, geom: MapGeometry) -> BarMeasurement:
    """Our fit on a cleaned map with resolved geometry (steps in the module docstring)."""
    min_pixels, crop, center = geom.min_pixels, geom.crop_box, geom.center
    if params.length_from not in ("extent", "axis"):
        raise ValueError(f"length_from must be 'extent' or 'axis', got {params.length_from!r}")
    if params.threshold_mode not in ("sweep", "fixed"):
        raise ValueError(f"threshold_mode must be 'sweep' or 'fixed', got {params.threshold_mode!r}")
    params = replace(params, min_pixels=float(min_pixels))
    blur_px = params.blur_sigma * geom.model_pixel
    side = min(crop[1] - crop[0], crop[3] - crop[2])
    peak_radius = params.peak_radius * side
    field, (rows, cols) = blurred_in_box(clean, blur_px, center, peak_radius)
    # everything below happens above t_low: work in that box only
    t_low = max(params.t_start - params.err_steps * params.err_step, 1e-6)
    sub_rows, sub_cols = support_box(field > t_low)
    field = field[sub_rows, sub_cols]
    rows = slice(rows.start + sub_rows.start, rows.start + sub_rows.stop)
    cols = slice(cols.start + sub_cols.start, cols.start + sub_cols.stop)
    origin = (rows.start, cols.start)
    local_centre = (center[0] - origin[1], center[1] - origin[0])

    base, dist = component_nearest(field > params.t_start, local_centre)
    if params.threshold_mode == "sweep":
        t, reason = _sweep_threshold(field, base, params, min_pixels)
    else:
        t, reason = params.t_start, ("start_too_small" if base.sum() < min_pixels else "fixed")
    comp = base if t == params.t_start else component_nearest(base & (field > t), local_centre)[0]
    fit = fit_ellipse(comp, field, params.length_from, origin)

    lengths = [fit.length] if fit is not None else []
    if fit is not None and params.err_steps > 0 and params.err_step > 0:
        for k in range(1, params.err_steps + 1):
            for tk in (t - k * params.err_step, t + k * params.err_step):
                if not 0.0 < tk < 1.0:
                    continue
                m = component_nearest(field > tk, local_centre)[0]
                if m.any():
                    lengths.append(_length_on_axis(m, field, fit, params.length_from, origin))
    err_t = 0.5 * (max(lengths) - min(lengths)) if len(lengths) > 1 else math.nan

    mask = np.zeros(clean.shape, dtype=bool)
    mask[rows, cols] = comp
    flags: list[str] = []
    if not is_normalised(clean):
        flags.append(NOT_NORMALISED)
    n = int(comp.sum())
    if n < min_pixels:
        flags.append(TOO_FEW_PIXELS)
    if fit is None or not fit.elongation >= params.min_elongation:
        flags.append(NOT_ELONGATED)
    if dist > params.max_centre_distance * side:
        flags.append(OFF_CENTRE)
    flags.extend(edge_flags(mask, crop))

    length = width = pa = elong = raw = math.nan
    endpoints = None
    if fit is not None:
        raw = fit.length
        length = max(0.0, params.calibration_slope * raw + params.calibration_intercept)
        width, elong = fit.width, fit.elongation
        endpoints = _stretch(fit.endpoints, length / raw if raw > 0 else 1.0)
        pa = position_angle(*fit.endpoints) if fit.length > 0 else math.nan
        err_t = abs(params.calibration_slope) * err_t
    ys, xs = np.nonzero(comp)
    r = _abs_pearson(xs, ys)
    diag = MeasureDiagnostics(stop_reason=reason, pearson_r=r, length_raw_px=raw,
                              err_threshold_px=err_t, min_pixels_model=geom.min_pixels_model,
                              blur_sigma_px=blur_px, peak_radius_px=peak_radius,
                              crop_box=crop)
    return BarMeasurement(length_px=float(length), width_px=float(width), pa_deg=float(pa),
                          endpoints=endpoints, mask=mask, threshold=float(t), method="moments",
                          flags=tuple(flags), length_err_px=float(err_t), n_pixels=n,
                          elongation=float(elong), params=params, center=center, diagnostics=diag)


def _length_on_axis(mask: np.ndarray, weights: np.ndarray, fit: EllipseFit, length_from: str,
                    origin: tuple[int, int]) -> float:
    """Length of another mask measured along an existing fit's axis (for the threshold error)."""
    ys, xs = np.nonzero(mask)
    c, s = math.cos(fit.theta), math.sin(fit.theta)
    p = (xs + origin[1] - fit.centroid[0]) * c + (ys + origin[0] - fit.centroid[1]) * s
    if length_from == "axis":
        w = weights[ys, xs]
        mean = float(np.sum(w * p) / np.sum(w))
        return 4.0 * math.sqrt(max(float(np.sum(w * p * p) / np.sum(w)) - mean * mean, 0.0))
    return float(p.max() - p.min())


def _stretch(ends, factor: float):
    (x1, y1), (x2, y2) = ends
    if factor == 1.0:
        return ends
    mx, my = 0.5 * (x1 + x2), 0.5 * (y1 + y2)
    return ((mx + factor * (x1 - mx), my + factor * (y1 - my)),
            (mx + factor * (x2 - mx), my + factor * (y2 - my)))


def _abs_pearson(xs: np.ndarray, ys: np.ndarray) -> float:
    if xs.size < 2 or np.ptp(xs) == 0 or np.ptp(ys) == 0:
        return math.nan
    return float(abs(np.corrcoef(xs, ys)[0, 1]))
