"""Is this image like the ones the model was trained on? Readable reasons if not.

Why: P(bar) and saliency from a network fed an image unlike its training set
(greyscale where it learnt colour, the galaxy at another scale in its view) are not
evidence of a bar, and the user must see that beside the number.
"""

from __future__ import annotations

import numpy as np

from galaxyscope.images.galaxy_image import GalaxyImage


def is_greyscale(image: GalaxyImage, tol: float = 1e-3) -> bool:
    """One channel, or channels that are (nearly) copies of each other."""
    if image.channels == 1:
        return True
    px = np.nan_to_num(image.pixels[::4, ::4])
    spread = float(np.max(np.abs(px - px[:, :, :1])))
    scale = float(np.max(np.abs(px))) or 1.0
    return spread <= tol * scale


def domain_reasons(model, image: GalaxyImage) -> list[str]:
    """Why ``image`` lies outside ``model``'s training domain (empty list: nothing found)."""
    meta = model.meta
    pre = meta.preprocessing
    dom = meta.domain or {}
    reasons: list[str] = []
    colour = dom.get("colour", pre.channels == 3)
    if colour and pre.channels == 3 and is_greyscale(image):
        reasons.append("greyscale image; the model was trained on colour (gri) images")
    ext = pre.extent_of(image)
    if not ext.ok:
        reasons.append(f"the galaxy's size could not be measured ({ext.reason})")
        return reasons
    rng = dom.get("view_r90")
    if rng and len(rng) == 2:
        r0, r1, c0, c1 = pre.box_for(image)
        view = (r1 - r0) / ext.r90_px
        lo, hi = float(rng[0]), float(rng[1])
        if not lo <= view <= hi:
            reasons.append(f"the model's view is {view:.1f} x R90 of this galaxy "
                           f"(training: {lo:.1f} to {hi:.1f} x R90)")
    return reasons
