"""A montage PNG of the worst cases of a scan: each image with its saliency and masks drawn on.

Why: a person should see in one glance what the flags mean - the saliency
contours sitting on a star rather than on the galaxy. Drawn with matplotlib's
Agg canvas (no display, no pyplot global state).
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from scipy.ndimage import gaussian_filter

from galaxyscope.errors import GalaxyscopeError

#: saliency contour levels drawn on each tile
CONTOUR_LEVELS = (0.3, 0.6, 0.9)


@dataclass
class MontageCase:
    """What one tile needs: the picture, its saliency, its masks and a caption.

    pixels: H x W x C (any range; shown stretched to [0, 1]); saliency, galaxy, sources:
    H x W on the same grid; region: (row0, row1, col0, col1) shown (the model's crop).
    """

    title: str
    caption: str
    pixels: np.ndarray
    saliency: np.ndarray
    galaxy: np.ndarray
    sources: np.ndarray
    region: tuple[int, int, int, int]
    score: float = 0.0


def display_rgb(pixels: np.ndarray) -> np.ndarray:
    """H x W x 3 in [0, 1] for display: raster images as they are, others stretched (asinh)."""
    px = np.nan_to_num(np.asarray(pixels, np.float64))
    if px.ndim == 2:
        px = px[:, :, None]
    if px.shape[2] == 1:
        px = np.repeat(px, 3, axis=2)
    px = px[:, :, :3]
    if px.min() >= 0 and px.max() <= 1:
        return px
    from astropy.visualization import AsinhStretch, ImageNormalize, PercentileInterval

    norm = ImageNormalize(px, interval=PercentileInterval(99.5), stretch=AsinhStretch())
    return np.clip(np.asarray(norm(px)), 0, 1)


def write_montage(cases: Sequence[MontageCase], path: str | Path, *, columns: int = 4,
                  tile_inches: float = 3.0, dpi: int = 100) -> Path:
    """Draw ``cases`` in a grid and write a PNG to ``path``; returns the path.

    Each tile: the model's crop of the image, saliency contours (levels
    CONTOUR_LEVELS, yellow to red, of the map smoothed by 1 px), the galaxy mask outline (green) and other
    sources (cyan), with the file name, score and reasons as caption.
    Raises GalaxyscopeError when there is nothing to draw or the folder is missing.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    path = Path(path)
    if not cases:
        raise GalaxyscopeError(f"{path}: no images to draw in the montage")
    if not path.parent.is_dir():
        raise GalaxyscopeError(f"{path}: folder {path.parent} does not exist")
    columns = max(1, min(columns, len(cases)))
    rows = math.ceil(len(cases) / columns)
    fig = Figure(figsize=(columns * tile_inches, rows * (tile_inches + 0.9)), dpi=dpi)
    FigureCanvasAgg(fig)
    for i, case in enumerate(cases):
        ax = fig.add_subplot(rows, columns, i + 1)
        r0, r1, c0, c1 = case.region
        extent = (c0 - 0.5, c1 - 0.5, r1 - 0.5, r0 - 0.5)
        ax.imshow(display_rgb(case.pixels)[r0:r1, c0:c1], extent=extent, interpolation="nearest")
        yy, xx = np.mgrid[r0:r1, c0:c1]
        # contours of a lightly smoothed map: SmoothGrad's pixel noise would draw confetti
        sal = gaussian_filter(np.asarray(case.saliency, float), 1.0)[r0:r1, c0:c1]
        if np.ptp(sal) > 0:
            ax.contour(xx, yy, sal, levels=CONTOUR_LEVELS, colors=("#ffe000", "#ff8c00", "#ff2000"),
                       linewidths=0.9)
        for mask, colour in ((case.galaxy, "#00ff40"), (case.sources, "#00e5ff")):
            m = np.asarray(mask, float)[r0:r1, c0:c1]
            if m.any() and not m.all():
                ax.contour(xx, yy, m, levels=[0.5], colors=colour, linewidths=0.8)
        ax.set_xlim(c0 - 0.5, c1 - 0.5)
        ax.set_ylim(r1 - 0.5, r0 - 0.5)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(textwrap.shorten(case.title, 40), fontsize=8)
        ax.set_xlabel(textwrap.fill(textwrap.shorten(case.caption, 200), 56), fontsize=6, loc="left")
    fig.suptitle("worst cases: saliency contours (yellow-red), galaxy mask (green), other sources (cyan)",
                 fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    fig.savefig(path, format="png")
    return path
