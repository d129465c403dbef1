"""Whether a measured bar may be shown as a bar: gating by P(bar), agreement, domain.

Why: on real galaxies the saliency always yields *some* line, barred galaxy or not.
A length is reported only where the model says there is a bar (``no_bar`` otherwise,
length NaN), and the ones that remain carry flags when an independent, training-free
measurement (``isophote``) disagrees or the image is unlike what the model learnt
from. Every flag comes with a readable note naming the numbers it compared.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

from galaxyscope.measure.result import (DISAGREE_FACTOR, METHODS_DISAGREE, NO_BAR, OUT_OF_DOMAIN,
                                         BarMeasurement)

#: used when a model's checkpoint names no threshold of its own
DEFAULT_MIN_BAR_PROBABILITY = 0.5


def with_flag(m: BarMeasurement, flag: str, note: str) -> BarMeasurement:
    """The measurement with one more flag and its note (no duplicates)."""
    flags = m.flags if flag in m.flags else m.flags + (flag,)
    return dataclasses.replace(m, flags=flags, notes=m.notes + (note,))


def no_bar_note(probability: float, threshold: float) -> str:
    return f"no bar detected (P = {probability:.2f} < {threshold:.2f})"


def gate_by_probability(m: BarMeasurement, probability: float | None, threshold: float) -> BarMeasurement:
    """Below ``threshold`` (or with an unknown probability) the bar is withdrawn: length,
    width, angle and end points NaN, flag ``no_bar``. At or above it, unchanged."""
    p = math.nan if probability is None else float(probability)
    if threshold <= 0 or (math.isfinite(p) and p >= threshold):
        return m
    note = no_bar_note(p, threshold) if math.isfinite(p) else "no bar reported (P(bar) unknown)"
    gated = dataclasses.replace(m, length_px=math.nan, width_px=math.nan, pa_deg=math.nan,
                                endpoints=None, length_err_px=math.nan, mask=np.zeros_like(m.mask),
                                n_pixels=0)
    return with_flag(gated, NO_BAR, note)


def lengths_disagree(saliency_px: float, isophote_px: float, factor: float = DISAGREE_FACTOR) -> bool:
    """True when both lengths are finite and their ratio is beyond ``factor`` either way."""
    if not (math.isfinite(saliency_px) and math.isfinite(isophote_px)) or min(saliency_px, isophote_px) <= 0:
        return False
    ratio = saliency_px / isophote_px
    return ratio > factor or ratio < 1.0 / factor


def check_agreement(m: BarMeasurement, isophote_px: float, isophote_reason: str = "",
                    factor: float = DISAGREE_FACTOR) -> BarMeasurement:
    """Flag ``methods_disagree`` on a reported bar when the isophotes measure a different
    length, or find no bar at all (``isophote_reason`` says why)."""
    if not m.ok:
        return m
    if math.isfinite(isophote_px):
        if lengths_disagree(m.length_px, isophote_px, factor):
            return with_flag(m, METHODS_DISAGREE,
                             f"saliency length {m.length_px:.0f} px vs isophote length {isophote_px:.0f} px "
                             f"(ratio {m.length_px / isophote_px:.2f}, allowed 1/{factor:g} to {factor:g})")
        return m
    why = isophote_reason or "no bar in the isophotes"
    return with_flag(m, METHODS_DISAGREE, f"the isophotes find no bar ({why})")


def mark_out_of_domain(m: BarMeasurement, reasons: Sequence[str]) -> BarMeasurement:
    """Add ``out_of_domain`` with the reasons (from ``galaxyscope.model.domain``), if any."""
    if not reasons:
        return m
    return with_flag(m, OUT_OF_DOMAIN, "out of the training domain: " + "; ".join(reasons))


def trusted(m: BarMeasurement) -> bool:
    """A length that is reported without any warning flag."""
    return m.ok and not m.flags
