"""Where a saliency map puts its weight, measured against the masks of its image.

Why: "the model looks at the wrong thing" needs numbers before it can be a
flag. Each number here is a share of the saliency mass (how much of what the
model attends to lies outside the galaxy, on another source, on the border) or
a distance (how far the saliency's centroid sits from the galaxy's centre).

Saliency mass: SmoothGrad maps have a diffuse floor everywhere, and summing it
over a large sky area would swamp the few bright pixels the model actually
uses. The mass is therefore the map above its floor, ``max(map - floor, 0)``,
where the floor is a quantile (default the median) of the map inside the region
the model saw.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage as ndi

from galaxyscope.bias.masks import GalaxyMasks


@dataclass(frozen=True)
class ScoreParams:
    """floor_quantile: the map's floor (see module docstring) as a quantile inside the region.
    peak_smooth_px: Gaussian smoothing before locating the map's peak (one hot pixel is no peak).
    """

    floor_quantile: float = 0.5
    peak_smooth_px: float = 1.5


@dataclass(frozen=True)
class PlacementScores:
    """Where the saliency lies in one image (shares in [0, 1], positions (x, y) in pixels).

    share_outside: saliency mass not on the galaxy (sources, sky and border together).
    share_sources: mass on other sources (stars, companions).
    share_border: mass in the border zone.
    top_source_share / top_source_xy: the single other source holding the most mass,
        and where it is (None when no source holds any).
    centroid_xy: the mass-weighted centroid of the saliency.
    centroid_offset_px: its distance from the galaxy centre; centroid_offset_r the same
        in units of the galaxy radius (NaN when no galaxy was found).
    peak_xy: the smoothed map's maximum; peak_on_source: whether it falls on another source.
    galaxy_found: False when segmentation found no central galaxy.
    """

    share_outside: float
    share_sources: float
    share_border: float
    top_source_share: float
    top_source_xy: tuple[float, float] | None
    centroid_xy: tuple[float, float]
    centroid_offset_px: float
    centroid_offset_r: float
    peak_xy: tuple[float, float]
    peak_on_source: bool
    galaxy_radius_px: float
    galaxy_found: bool
    total_mass: float

    @classmethod
    def from_numbers(cls, n: Any) -> PlacementScores:
        """Rebuild from ``numbers()`` (e.g. a row of a flags table), so flags can be re-evaluated
        with other thresholds without recomputing any saliency."""
        tx, ty = float(n["top_source_x"]), float(n["top_source_y"])
        top = (tx, ty) if math.isfinite(tx) and math.isfinite(ty) else None
        return cls(
            share_outside=float(n["share_outside"]), share_sources=float(n["share_sources"]),
            share_border=float(n["share_border"]), top_source_share=float(n["top_source_share"]),
            top_source_xy=top, centroid_xy=(float(n["centroid_x"]), float(n["centroid_y"])),
            centroid_offset_px=float(n["centroid_offset_px"]), centroid_offset_r=float(n["centroid_offset_r"]),
            peak_xy=(float(n["peak_x"]), float(n["peak_y"])), peak_on_source=bool(n["peak_on_source"]),
            galaxy_radius_px=float(n["galaxy_radius_px"]), galaxy_found=bool(n["galaxy_found"]),
            total_mass=1.0,  # not part of numbers(): only its sign matters, and a flagged map had mass
        )

    def to_row(self) -> dict[str, float | bool]:
        """Every field as a flat row of plain floats and bools (``total_mass`` included, a
        missing top source as NaN): `from_row` gives back an equal object.

        Why beside `numbers`: a distributed scan's Parquet rows must rebuild the very
        scores a single-process scan holds, not the table's view of them.
        """
        row: dict[str, float | bool] = {k: (v if isinstance(v, bool) else float(v))
                                        for k, v in self.numbers().items()}
        row["peak_on_source"], row["galaxy_found"] = bool(self.peak_on_source), bool(self.galaxy_found)
        row["total_mass"] = float(self.total_mass)
        return row

    @classmethod
    def from_row(cls, row: Any) -> PlacementScores:
        """The inverse of `to_row` (a missing value, e.g. a Parquet null, reads as NaN)."""
        def f(name: str) -> float:
            v = row.get(name)
            return math.nan if v is None else float(v)

        tx, ty = f("top_source_x"), f("top_source_y")
        return cls(
            share_outside=f("share_outside"), share_sources=f("share_sources"), share_border=f("share_border"),
            top_source_share=f("top_source_share"),
            top_source_xy=(tx, ty) if math.isfinite(tx) and math.isfinite(ty) else None,
            centroid_xy=(f("centroid_x"), f("centroid_y")), centroid_offset_px=f("centroid_offset_px"),
            centroid_offset_r=f("centroid_offset_r"), peak_xy=(f("peak_x"), f("peak_y")),
            peak_on_source=bool(row["peak_on_source"]), galaxy_radius_px=f("galaxy_radius_px"),
            galaxy_found=bool(row["galaxy_found"]), total_mass=f("total_mass"))

    def numbers(self) -> dict[str, float | bool | None]:
        """Flat name -> value mapping for tables and the database."""
        top = self.top_source_xy
        return {
            "share_outside": self.share_outside,
            "share_sources": self.share_sources,
            "share_border": self.share_border,
            "top_source_share": self.top_source_share,
            "top_source_x": top[0] if top else math.nan,
            "top_source_y": top[1] if top else math.nan,
            "centroid_x": self.centroid_xy[0],
            "centroid_y": self.centroid_xy[1],
            "centroid_offset_px": self.centroid_offset_px,
            "centroid_offset_r": self.centroid_offset_r,
            "peak_x": self.peak_xy[0],
            "peak_y": self.peak_xy[1],
            "peak_on_source": self.peak_on_source,
            "galaxy_radius_px": self.galaxy_radius_px,
            "galaxy_found": self.galaxy_found,
        }


def saliency_mass(saliency: np.ndarray, region: tuple[int, int, int, int],
                  floor_quantile: float = 0.5) -> np.ndarray:
    """The map above its floor inside ``region``, zero elsewhere (see module docstring)."""
    s = np.nan_to_num(np.asarray(saliency, np.float64), nan=0.0)
    r0, r1, c0, c1 = region
    inside = s[r0:r1, c0:c1]
    out = np.zeros_like(s)
    if inside.size:
        floor = float(np.quantile(inside, floor_quantile))
        out[r0:r1, c0:c1] = np.clip(inside - floor, 0.0, None)
    return out


def placement_scores(saliency: np.ndarray, masks: GalaxyMasks,
                     params: ScoreParams | None = None) -> PlacementScores:
    """Shares of saliency mass off the galaxy / on sources / on the border, and centroid offsets.

    Why: the numbers every bias flag is built from. ``saliency`` is an H x W map
    on the same grid as ``masks`` (e.g. ``SaliencyResult.map``).
    """
    p = params or ScoreParams()
    s = np.asarray(saliency)
    if s.shape != masks.galaxy.shape:
        raise ValueError(f"saliency map {s.shape} and masks {masks.galaxy.shape} differ in shape")
    w = saliency_mass(s, masks.region, p.floor_quantile)
    total = float(w.sum())
    cx, cy = masks.centre
    smooth = ndi.gaussian_filter(np.nan_to_num(s.astype(np.float64)), p.peak_smooth_px) \
        if p.peak_smooth_px > 0 else s
    pr, pc = np.unravel_index(int(np.argmax(smooth)), smooth.shape)
    peak = (float(pc), float(pr))
    peak_on = masks.source_at(*peak) > 0
    if total <= 0:  # a flat map: nothing to place
        return PlacementScores(0.0, 0.0, 0.0, 0.0, None, (cx, cy), 0.0, 0.0 if masks.radius_px else math.nan,
                               peak, peak_on, masks.radius_px, masks.found_galaxy, 0.0)
    share_outside = float(w[~masks.galaxy].sum() / total)
    share_sources = float(w[masks.sources].sum() / total)
    share_border = float(w[masks.border].sum() / total)
    top_share, top_xy = 0.0, None
    n = len(masks.source_positions)
    if n:
        per_source = np.asarray(ndi.sum(w, masks.source_labels, index=np.arange(1, n + 1))) / total
        k = int(np.argmax(per_source))
        if per_source[k] > 0:
            top_share, top_xy = float(per_source[k]), masks.source_positions[k]
    gy, gx = ndi.center_of_mass(w)
    offset = math.hypot(gx - cx, gy - cy)
    offset_r = offset / masks.radius_px if masks.radius_px > 0 else math.nan
    return PlacementScores(
        share_outside=share_outside, share_sources=share_sources, share_border=share_border,
        top_source_share=top_share, top_source_xy=top_xy, centroid_xy=(float(gx), float(gy)),
        centroid_offset_px=float(offset), centroid_offset_r=float(offset_r), peak_xy=peak,
        peak_on_source=peak_on, galaxy_radius_px=masks.radius_px, galaxy_found=masks.found_galaxy,
        total_mass=total,
    )
