"""Switch a loaded model between fixed and galaxy-size framing, and calibrate the latter.

Why here: the framing is part of the model's preprocessing (it travels in the
checkpoint and the saliency cache key), but a user may want the old fixed crop back.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import numpy as np

from galaxyscope.errors import GalaxyscopeError
from galaxyscope.images.extent import measure_extent
from galaxyscope.images.galaxy_image import GalaxyImage
from galaxyscope.model.preprocess import FRAMINGS


def set_framing(model, framing: str) -> None:
    """Make ``model`` frame images "fixed" or by "galaxy" size (in place).

    Galaxy framing needs a calibrated ``frame_r90``; a model without one is refused
    with a message saying how to calibrate it.
    """
    if framing not in FRAMINGS:
        raise GalaxyscopeError(f"framing must be one of {FRAMINGS}, got {framing!r}")
    pre = model.meta.preprocessing
    if framing == "galaxy" and not pre.frame_r90 > 0:
        raise GalaxyscopeError("this model has no calibrated galaxy framing (frame_r90); run "
                               "`python -m tools.calibrate_real` on its training-like images, or use --framing fixed")
    model.meta.preprocessing = dataclasses.replace(pre, framing=framing)


def calibrate_frame_r90(images: Iterable[GalaxyImage], crop_fraction: float,
                        quantiles: tuple[float, float] = (0.01, 0.99)) -> tuple[float, tuple[float, float], int]:
    """Median and range of (fixed crop side / measured R90) over training-like frames.

    Returns (frame_r90, (low, high) at ``quantiles``, number of images measured). The
    same estimator (``images.extent``) runs on the real images later, so its biases
    (stretch, PSF) cancel instead of shifting the framing.
    """
    ratios = []
    for im in images:
        ext = measure_extent(im)
        if ext.ok:
            side = max(1, int(round(min(im.height, im.width) * crop_fraction)))
            ratios.append(side / ext.r90_px)
    if not ratios:
        raise GalaxyscopeError("no galaxy extent could be measured on the calibration images")
    r = np.asarray(ratios)
    lo, hi = np.quantile(r, quantiles)
    return float(np.median(r)), (float(lo), float(hi)), int(r.size)
