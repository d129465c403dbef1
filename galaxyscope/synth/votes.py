"""Galaxy Zoo 2-style vote fractions simulated from a synthetic galaxy's truth.

Why: multi-output training (the paper's 37 GZ2 outputs) needs soft labels, and an honest
simulation makes the labels as imperfect as real ones: a faint, short, round-looking or steeply
inclined bar gets fewer "bar" votes, and volunteers sometimes see bars that are not there.
These are plausible, not calibrated against GZ2.

Fractions follow GZ2 (Willett et al. 2013): each is the fraction of the volunteers who *answered
that question*; questions deeper in the tree are answered by fewer people (features -> not
edge-on -> bar / spiral / bulge). Column names are GZ2's ``t01_..._fraction`` names.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class GZ2Votes:
    """Simulated GZ2 vote fractions (each question's answers sum to 1, or are all 0 if unasked)."""

    t01_smooth_or_features_a01_smooth_fraction: float
    t01_smooth_or_features_a02_features_or_disk_fraction: float
    t01_smooth_or_features_a03_star_or_artifact_fraction: float
    t02_edgeon_a04_yes_fraction: float
    t02_edgeon_a05_no_fraction: float
    t03_bar_a06_bar_fraction: float
    t03_bar_a07_no_bar_fraction: float
    t04_spiral_a08_spiral_fraction: float
    t04_spiral_a09_no_spiral_fraction: float
    t05_bulge_prominence_a10_no_bulge_fraction: float
    t05_bulge_prominence_a11_just_noticeable_fraction: float
    t05_bulge_prominence_a12_obvious_fraction: float
    t05_bulge_prominence_a13_dominant_fraction: float
    gz_n_classifications: int
    gz_n_bar_answers: int


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def bar_visibility(
    has_bar: bool, length_px: float, axis_ratio: float, contrast: float, psf_fwhm_px: float, inclination_deg: float
) -> float:
    """How obvious the bar is to a volunteer, 0 (invisible) to 1 (unmissable).

    The product of: length in PSF widths (a bar under ~3 FWHM is a blob), contrast against the
    disc and bulge under it, elongation on the image (an end-on bar looks round), and the
    disc not being edge-on.
    """
    if not has_bar or length_px <= 0:
        return 0.0
    size_term = _sigmoid((length_px / psf_fwhm_px - 3.5) / 0.8)
    contrast_term = _sigmoid((math.log(max(contrast, 1e-6)) - math.log(0.4)) / 0.35)
    shape_term = _sigmoid((0.75 - axis_ratio) / 0.08)
    tilt_term = 1.0 - _sigmoid((inclination_deg - 70.0) / 4.0)
    return size_term * contrast_term * shape_term * tilt_term


def simulate_votes(
    rng: np.random.Generator,
    *,
    visibility: float,
    has_ring: bool,
    has_arms: bool,
    arm_fraction: float,
    bulge_fraction: float,
    inclination_deg: float,
) -> GZ2Votes:
    """Draw volunteer answers down the GZ2 tree with binomial/multinomial noise."""
    n_total = int(rng.integers(30, 60))
    edge_prob = min(0.98, max(0.01, _sigmoid((inclination_deg - 74.0) / 3.5)))
    arm_term = _sigmoid((arm_fraction - 0.08) / 0.03) if has_arms else 0.0
    p_features = 0.2 + 0.45 * (1.0 - bulge_fraction) + 0.2 * arm_term + 0.15 * visibility + 0.05 * has_ring
    p_features = min(0.97, max(0.05, p_features + 0.4 * edge_prob))
    p_star = 0.01
    answers = [(1 - p_features) * (1 - p_star), p_features * (1 - p_star), p_star]
    n_smooth, n_features, n_star = (int(k) for k in rng.multinomial(n_total, answers))
    n_edge = int(rng.binomial(n_features, edge_prob))
    n_face = n_features - n_edge
    p_bar = min(0.98, 0.04 + 0.06 * has_ring + 0.9 * visibility)
    n_bar = int(rng.binomial(n_face, p_bar))
    p_spiral = min(0.97, 0.08 + 0.05 * has_ring + 0.87 * arm_term)
    n_spiral = int(rng.binomial(n_face, p_spiral))
    # bulge prominence: soft assignment around the class the bulge fraction suggests
    level = float(np.interp(bulge_fraction, [0.0, 0.04, 0.15, 0.35, 0.6], [0.0, 1.0, 2.0, 3.0, 3.5]))
    weights = np.exp(-((np.arange(4) - level) ** 2) / 0.6)
    bulge_counts = rng.multinomial(n_face, weights / weights.sum())

    def frac(k: int, n: int) -> float:
        return float(k) / n if n > 0 else 0.0

    return GZ2Votes(
        t01_smooth_or_features_a01_smooth_fraction=frac(n_smooth, n_total),
        t01_smooth_or_features_a02_features_or_disk_fraction=frac(n_features, n_total),
        t01_smooth_or_features_a03_star_or_artifact_fraction=frac(n_star, n_total),
        t02_edgeon_a04_yes_fraction=frac(n_edge, n_features),
        t02_edgeon_a05_no_fraction=frac(n_face, n_features),
        t03_bar_a06_bar_fraction=frac(n_bar, n_face),
        t03_bar_a07_no_bar_fraction=frac(n_face - n_bar, n_face),
        t04_spiral_a08_spiral_fraction=frac(n_spiral, n_face),
        t04_spiral_a09_no_spiral_fraction=frac(n_face - n_spiral, n_face),
        t05_bulge_prominence_a10_no_bulge_fraction=frac(int(bulge_counts[0]), n_face),
        t05_bulge_prominence_a11_just_noticeable_fraction=frac(int(bulge_counts[1]), n_face),
        t05_bulge_prominence_a12_obvious_fraction=frac(int(bulge_counts[2]), n_face),
        t05_bulge_prominence_a13_dominant_fraction=frac(int(bulge_counts[3]), n_face),
        gz_n_classifications=n_total,
        gz_n_bar_answers=n_face,
    )
