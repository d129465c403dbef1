"""The bar measurement of Bhambra, Joachimi & Lahav (2022), faithful and fast.

The rule: for t = 0.5, 0.5001, ..., 1.0 take the pixels with saliency > t; stop when
|Pearson(row, col)| of those pixels exceeds 0.85 or fewer than the minimum remain;
the bar length is the largest distance between two remaining pixels (pixel centres).

Fast form: the set at every t is a prefix of the pixels sorted by descending value,
so the pixel count at each t is one ``searchsorted`` and the Pearson coefficient of
every prefix comes from cumulative sums of x, y, x^2, y^2, xy (integers, so exact).
All 5001 thresholds are evaluated at once; the largest distance comes from the
convex hull.  A literal loop gives the same stop and length (tests check it).

What happens at the stop (our reading of the paper):
- |r| > stop_pearson at t: the set at t is measured (it is the one that looks like a line);
- fewer than min_pixels at t: the set at the previous threshold (the last one with
  enough pixels) is measured and flagged ``not_elongated``, since the line test never fired;
- already too few at the first threshold: that set is measured and flagged ``too_few_pixels``
  (no length at all if it is empty);
- the map is empty/constant: no length, flag ``no_signal``.
If both conditions hold at the same t, the pixel count wins.  |r| is undefined (and
does not stop the sweep) when all pixels share a row or a column.  Known flaw: |r| is
near 0 for a bar along the image axes whatever its shape, so such bars run on to the
minimum pixel count and come out short; the "moments" method does not have this flaw.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from galaxyscope.measure.geometry import (covariance_axes, elongation_from_axes,
                                          farthest_pair_in_mask, perpendicular_extent,
                                          position_angle)
from galaxyscope.measure.maps import clean_map, count_components, edge_flags, is_normalised
from galaxyscope.measure.params import PaperParams
from galaxyscope.measure.resolution import MapGeometry, scaled_min_pixels
from galaxyscope.measure.result import (FRAGMENTED, NOT_ELONGATED, NOT_NORMALISED,
                                        TOO_FEW_PIXELS, BarMeasurement, MeasureDiagnostics)

_INT_SAFE = 2**62


def sweep_thresholds(t_start: float, t_end: float, t_step: float) -> np.ndarray:
    """t_start + k * t_step for k = 0..K with the last value <= t_end (float64)."""
    if not t_step > 0:
        raise ValueError(f"threshold step must be positive, got {t_step}")
    k = int(math.floor((t_end - t_start) / t_step + 1e-9))
    return t_start + t_step * np.arange(max(k, 0) + 1, dtype=np.float64)


@dataclass(frozen=True)
class PrefixStats:
    """Cumulative sums over pixels sorted by descending value (index n-1 = first n pixels)."""

    n: np.ndarray
    sx: np.ndarray
    sy: np.ndarray
    sxx: np.ndarray
    syy: np.ndarray
    sxy: np.ndarray

    @classmethod
    def of(cls, xs: np.ndarray, ys: np.ndarray, bound: int) -> "PrefixStats":
        """``bound`` is the largest |coordinate|: integer sums when they cannot overflow."""
        count = xs.size
        dtype = np.int64 if float(count) ** 2 * float(bound) ** 2 < _INT_SAFE else np.float64
        x = xs.astype(dtype)
        y = ys.astype(dtype)
        return cls(n=np.arange(1, count + 1, dtype=dtype), sx=np.cumsum(x), sy=np.cumsum(y),
                   sxx=np.cumsum(x * x), syy=np.cumsum(y * y), sxy=np.cumsum(x * y))

    def covariance_terms(self, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(n, n^2 var x, n^2 var y, n^2 cov xy) for prefixes of the given sizes (>= 1)."""
        i = counts - 1
        n = self.n[i]
        vx = n * self.sxx[i] - self.sx[i] * self.sx[i]
        vy = n * self.syy[i] - self.sy[i] * self.sy[i]
        cxy = n * self.sxy[i] - self.sx[i] * self.sy[i]
        return n, vx, vy, cxy

    def abs_pearson(self, counts: np.ndarray) -> np.ndarray:
        """|Pearson(x, y)| of each prefix size in ``counts``; NaN when undefined (n < 2, zero variance)."""
        out = np.full(counts.shape, np.nan)
        ok = counts >= 2
        if ok.any():
            _, vx, vy, cxy = self.covariance_terms(counts[ok])
            den = vx.astype(np.float64) * vy.astype(np.float64)
            with np.errstate(invalid="ignore", divide="ignore"):
                r = np.abs(cxy.astype(np.float64)) / np.sqrt(den)
            r[den <= 0] = np.nan
            out[ok] = r
        return out


@dataclass(frozen=True)
class PaperSweep:
    """The whole sweep at once: for the GUI's curve and for the measurement.

    thresholds, n_pixels (count > t), abs_pearson (|r|, NaN where undefined);
    stop_index: first threshold where the rule fired (-1: never);
    chosen_index: threshold whose set is measured (-1: none);
    order: flat indices of the pixels above the first threshold, by descending value
    (the set at threshold k is ``order[:n_pixels[k]]``).
    """

    thresholds: np.ndarray
    n_pixels: np.ndarray
    abs_pearson: np.ndarray
    stop_index: int
    chosen_index: int
    stop_reason: str
    order: np.ndarray
    min_pixels: float

    @property
    def threshold(self) -> float:
        return float(self.thresholds[self.chosen_index]) if self.chosen_index >= 0 else math.nan

    @property
    def n_chosen(self) -> int:
        return int(self.n_pixels[self.chosen_index]) if self.chosen_index >= 0 else 0


def paper_sweep(saliency: np.ndarray, params: PaperParams | None = None,
                min_pixels: float | None = None) -> PaperSweep:
    """The paper's whole threshold sweep (pixel count and |r| at every t), e.g. for a GUI plot.

    ``min_pixels`` None scales the paper's 40 px at 224 px to this map (see resolution).
    """
    clean = clean_map(saliency)
    params = params if params is not None else PaperParams()
    if min_pixels is None:
        min_pixels = params.min_pixels
    if min_pixels is None:
        min_pixels = scaled_min_pixels(clean.shape, reference_min=params.reference_min_pixels,
                                       reference_input=params.reference_input_size).map
    return _sweep(clean, params, float(min_pixels))


def _sweep(clean: np.ndarray, params: PaperParams, min_pixels: float) -> PaperSweep:
    thresholds = sweep_thresholds(params.t_start, params.t_end, params.t_step)
    flat = clean.ravel()
    idx = np.flatnonzero(flat > thresholds[0])
    order = idx[np.argsort(flat[idx], kind="stable")[::-1]]
    vals_asc = flat[order[::-1]]
    counts = order.size - np.searchsorted(vals_asc, thresholds, side="right")
    h, w = clean.shape
    ys, xs = np.divmod(order, w)
    cx, cy = w // 2, h // 2
    stats = PrefixStats.of(xs - cx, ys - cy, bound=max(cx, cy, w - cx, h - cy) + 1)
    r = stats.abs_pearson(counts)
    too_few = counts < min_pixels
    with np.errstate(invalid="ignore"):
        line = r > params.stop_pearson  # NaN -> False
    fired = np.flatnonzero(too_few | line)
    if fired.size == 0:
        stop, chosen, reason = -1, len(thresholds) - 1, "not_elongated"
    else:
        stop = int(fired[0])
        if too_few[stop]:
            if stop == 0:
                chosen, reason = (0 if counts[0] > 0 else -1), "start_too_small"
            else:
                chosen, reason = stop - 1, "min_pixels"
        else:
            chosen, reason = stop, "correlation"
    return PaperSweep(thresholds=thresholds, n_pixels=counts, abs_pearson=r, stop_index=stop,
                      chosen_index=chosen, stop_reason=reason, order=order,
                      min_pixels=float(min_pixels))


def measure_paper_clean(clean: np.ndarray, params: PaperParams, geom: MapGeometry) -> BarMeasurement:
    """The paper's measurement on a cleaned map with resolved geometry (see module docstring)."""
    min_pixels, crop, center = geom.min_pixels, geom.crop_box, geom.center
    sweep = _sweep(clean, params, min_pixels)
    params = replace(params, min_pixels=float(min_pixels))
    h, w = clean.shape
    n = sweep.n_chosen
    ys, xs = np.divmod(sweep.order[:n], w)
    mask = np.zeros((h, w), dtype=bool)
    mask[ys, xs] = True
    flags: list[str] = []
    if not is_normalised(clean):
        flags.append(NOT_NORMALISED)
    if sweep.stop_reason == "start_too_small":
        flags.append(TOO_FEW_PIXELS)
    if sweep.stop_reason in ("min_pixels", "not_elongated"):
        flags.append(NOT_ELONGATED)
    length = width = pa = elong = r = math.nan
    endpoints = None
    if n >= 1:
        # work in the bounding box of the set: the full frame is mostly empty
        r0, c0 = int(ys.min()), int(xs.min())
        local = mask[r0:int(ys.max()) + 1, c0:int(xs.max()) + 1]
        (x1, y1), (x2, y2), length = farthest_pair_in_mask(local)
        p1, p2 = (x1 + c0, y1 + r0), (x2 + c0, y2 + r0)
        endpoints = (p1, p2)
        width = perpendicular_extent(xs.astype(float), ys.astype(float), p1, p2)
        pa = position_angle(p1, p2) if n >= 2 else math.nan
        r = float(sweep.abs_pearson[sweep.chosen_index])
        elong = _elongation(xs, ys)
        if count_components(local) > 1:
            flags.append(FRAGMENTED)
    flags.extend(edge_flags(mask, crop))
    diag = MeasureDiagnostics(stop_reason=sweep.stop_reason, pearson_r=r, length_raw_px=length,
                              min_pixels_model=geom.min_pixels_model, crop_box=crop)
    return BarMeasurement(length_px=float(length), width_px=float(width), pa_deg=float(pa),
                          endpoints=endpoints, mask=mask, threshold=sweep.threshold, method="paper",
                          flags=tuple(flags), length_err_px=math.nan, n_pixels=int(n),
                          elongation=float(elong), params=params, center=center, diagnostics=diag)


def _elongation(xs: np.ndarray, ys: np.ndarray) -> float:
    if xs.size < 2:
        return math.nan
    c = np.cov(np.stack([xs, ys]).astype(np.float64), bias=True)
    l1, l2, _ = covariance_axes(float(c[0, 0]), float(c[1, 1]), float(c[0, 1]))
    return elongation_from_axes(l1, l2)
