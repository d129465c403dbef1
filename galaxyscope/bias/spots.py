"""Saliency that keeps landing off the galaxy in the same place across a set: the mark of a planted shortcut.

Why: an artefact that teaches a model a shortcut (a star, a trail, a label
printed in a corner) correlates with the label only because it recurs - and it
recurs where the survey or the dataset put it. Per image its saliency share is
modest and overlaps with that of ordinary field stars (measured on the grid's
tuning sets: a median of 16 % of the saliency on the planted star against up to
35 % on a random field star of a clean galaxy), so no per-image threshold tells
them apart. Over a set the picture is clear: the off-galaxy saliency piles up
in one spot, far above what the same model shows there on a clean reference.

Steps:
1. every image's saliency mass on other sources (`scores.saliency_mass` on the source
   mask off the galaxy, as a share of the image's total) binned on a G x G grid over the
   model's view (`off_galaxy_grid`), so spots line up whatever the image size;
2. the set's mean grid against the reference's: cells whose excess is both large
   (`SpotParams.min_excess`) and significant (z against the reference's standard error)
   form the hot spot (`find_hotspot`), grown by one cell;
3. each image's share of saliency in the hot spot is compared with the same share over
   the reference images: above their median + k x their robust spread (MAD), and at least
   5 % of the saliency above that median. Not a quantile: field stars give the reference a
   heavy tail anywhere, and on the tuning sets its 99th percentile sat above the median
   planted-star share.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from galaxyscope.bias.masks import GalaxyMasks
from galaxyscope.bias.scores import saliency_mass

#: flag kind of this rule
SPOT = "saliency_recurring_spot"
GRID = 16


@dataclass(frozen=True)
class SpotParams:
    """min_excess: the set's mean off-galaxy share in a cell must exceed the reference's by this much.
    min_z: ... and by this many standard errors of the reference mean (scaled to the set's size).
    grow: cells added around the spot.
    Tuned on the grid's tuning sets only (experiments/bias_grid.py: seeds 901/911 at 424 px with
    model s424-n600-seed0, 902/912 at 212 px with s212-n600-seed1).
    """

    min_excess: float = 0.004
    min_z: float = 3.0
    grow: int = 1
    #: an image flags when its share in the spot exceeds the reference's median + k x robust spread
    k: float = 5.0


@dataclass(frozen=True)
class Hotspot:
    """The cells where this set's off-galaxy saliency piles up beyond the reference's."""

    cells: np.ndarray  # bool G x G
    set_mean: float  # mean share of saliency in the cells, over the set
    reference_mean: float  # ... over the reference
    centre: tuple[float, float]  # (x, y) in [0, 1] of the model's view (0, 0 = top left)

    @property
    def found(self) -> bool:
        return bool(self.cells.any())

    def where(self) -> str:
        """The spot in words ("upper right of the model's view")."""
        x, y = self.centre
        v = "upper" if y < 0.4 else "lower" if y > 0.6 else "middle"
        h = "left" if x < 0.4 else "right" if x > 0.6 else "centre"
        return "the centre of the model's view" if (v, h) == ("middle", "centre") else \
            f"the {v} {h} of the model's view"


def off_galaxy_grid(saliency: np.ndarray, masks: GalaxyMasks, floor_quantile: float = 0.5,
                    grid: int = GRID) -> np.ndarray:
    """G x G float32: the share of the image's saliency mass that lies on other sources (stars,
    companions, artefacts: `masks.sources`) in each cell of the model's view (``masks.region``).

    Why sources and not all of the sky: at a small image side a model's saliency spreads
    over the sky around every galaxy, and that diffuse share drowned the star in the spot
    on the 212 px tuning sets; what recurs is an object, and the masks find it."""
    r0, r1, c0, c1 = masks.region
    w = saliency_mass(np.asarray(saliency), masks.region, floor_quantile)
    total = float(w.sum())
    out = np.zeros((grid, grid), np.float32)
    if total <= 0 or r1 <= r0 or c1 <= c0:
        return out
    off = np.where(masks.sources & ~masks.galaxy, w, 0.0)[r0:r1, c0:c1] / total
    rows = np.minimum((np.arange(r1 - r0) * grid) // (r1 - r0), grid - 1)
    cols = np.minimum((np.arange(c1 - c0) * grid) // (c1 - c0), grid - 1)
    np.add.at(out, (rows[:, None], cols[None, :]), off)
    return out


def find_hotspot(set_grids: np.ndarray, reference_grids: np.ndarray, params: SpotParams | None = None) -> Hotspot:
    """Cells where the set's mean off-galaxy share beats the reference's (see the module docstring)."""
    p = params or SpotParams()
    s = np.asarray(set_grids, np.float64)
    r = np.asarray(reference_grids, np.float64)
    g = s.shape[-1] if s.size else GRID
    empty = Hotspot(np.zeros((g, g), bool), 0.0, 0.0, (0.5, 0.5))
    if s.size == 0 or r.size == 0:
        return empty
    ms, mr = s.mean(axis=0), r.mean(axis=0)
    # standard error of a mean of len(s) images, from the reference's spread (floored: a cell the
    # reference never touches must not make any trace significant)
    se = np.maximum(r.std(axis=0), 0.01) / np.sqrt(len(s))
    cells = ((ms - mr) > p.min_excess) & ((ms - mr) / se > p.min_z)
    if not cells.any():
        return empty
    if p.grow > 0:
        cells = ndi.binary_dilation(cells, iterations=p.grow)
    weight = np.where(cells, np.maximum(ms - mr, 0), 0)
    cy, cx = ndi.center_of_mass(weight) if weight.sum() > 0 else ((g - 1) / 2, (g - 1) / 2)
    return Hotspot(cells=cells, set_mean=float(ms[cells].sum()), reference_mean=float(mr[cells].sum()),
                   centre=((cx + 0.5) / g, (cy + 0.5) / g))


def spot_shares(grids: np.ndarray, spot: Hotspot) -> np.ndarray:
    """Each image's share of saliency in the hot spot."""
    g = np.asarray(grids, np.float64)
    if g.size == 0 or not spot.found:
        return np.zeros(len(g))
    return g[:, spot.cells].sum(axis=1)
