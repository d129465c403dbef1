"""Thresholds taken from the model's own behaviour, not from one experiment (issue 21).

Why: how much saliency a model puts off the galaxy, on the border or on a star
depends on its architecture, its input size and the framing of its images.
Fixed thresholds tuned on one model flagged 94 % of a clean set for another. So
each placement rule's threshold is derived from the scores this model gives:

- ``reference``: a high percentile of each rule's value over a reference set of clean
  galaxies scanned with the same model and the same saliency settings: a clean synthetic
  set `scan-bias` makes itself at the scanned images' side (`galaxyscope.bias.reference`),
  or a folder the user names. The rules share one level, raised from the quantile (default
  0.99) until at most 1 % of the reference would be flagged by any rule, so "flagged" means
  "places its saliency as this model hardly ever does on clean galaxies". In this mode the
  set-level recurring-spot rule (`galaxyscope.bias.spots`) joins them.
- ``scan``: robust outliers within the scanned set itself, median + k x MAD
  (scaled to a Gaussian sigma) of each rule's value. Needs no reference, but
  cannot see a shortcut that most of the set carries.
- ``fixed``: the absolute `FlagThresholds`, for reproducing older scans.

A rule that fires on most of a set (``broad_fraction``) says so once, as a note
("the model's saliency is broadly off-galaxy: a model-wide problem, not per-image
bias"), and its per-image flags are dropped (kept in ``fixed`` mode, which
reproduces the old flags exactly).

Every threshold carries the words that say what it was compared with, and every
reason quotes them. The defaults (`bias.defaults`) were chosen on tuning sets separate
from those reported (experiments/bias_grid.py, seeds 901/911; docs/experiments/bias-grid.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from galaxyscope.bias.flags import (
    BiasFlag,
    OFF_GALAXY,
    OFFSET,
    ON_BORDER,
    ON_SOURCE,
    FlagResult,
    FlagThresholds,
    RuleThresholds,
    Thresholds,
    evaluate_flags,
    rule_values,
)
from galaxyscope.bias.scores import PlacementScores

#: the placement rules a calibration sets a threshold for
RULES: tuple[str, ...] = (ON_SOURCE, OFF_GALAXY, OFFSET, ON_BORDER)
#: and the set-level rule of `bias.spots` (reference mode only), for notes and printed thresholds
ALL_RULES: tuple[str, ...] = (*RULES, "saliency_recurring_spot")
from galaxyscope.bias.defaults import (  # noqa: E402
    DEFAULT_BROAD_FRACTION, DEFAULT_K, DEFAULT_QUANTILE, DEFAULT_SPOT_SET_FACTOR, MODES)
#: sets smaller than this never count as "broad" (a handful of images says nothing model-wide)
MIN_BROAD_IMAGES = 10
#: the smallest distance from the typical value a threshold keeps, per rule, in the rule's
#: units. Why: a rule whose value is 0 for nearly every clean image (no other source) would
#: otherwise get a threshold of 0 and fire on any trace of saliency off the galaxy.
MIN_MARGIN: Mapping[str, float] = {ON_SOURCE: 0.05, OFF_GALAXY: 0.05, OFFSET: 0.1, ON_BORDER: 0.02}

#: the note a broad rule gives, per rule (completed with the numbers)
BROAD_WORDS: Mapping[str, str] = {
    ON_SOURCE: "the model's saliency broadly lies on other sources (stars, companions)",
    OFF_GALAXY: "the model's saliency is broadly off-galaxy",
    OFFSET: "the model's saliency is broadly off-centre",
    ON_BORDER: "the model's saliency broadly lies on the frame's border",
    "saliency_recurring_spot": "the model's saliency broadly lands off the galaxy in one recurring spot",
}


@dataclass(frozen=True)
class Calibration:
    """How a scan sets its thresholds (see the module docstring).

    mode: "reference", "scan" or "fixed".
    quantile: the reference quantile used as threshold (``reference``).
    k: the MAD factor (``scan``).
    fixed: the absolute thresholds of ``fixed`` mode (and ``flag_no_galaxy`` for all modes).
    broad_fraction: a rule firing on more than this share of a set becomes one note.
    """

    mode: str = "reference"
    quantile: float = DEFAULT_QUANTILE
    k: float = DEFAULT_K
    fixed: FlagThresholds = field(default_factory=FlagThresholds)
    broad_fraction: float = DEFAULT_BROAD_FRACTION

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown threshold mode {self.mode!r}; choose one of {', '.join(MODES)}")
        if not 0.5 <= self.quantile < 1:
            raise ValueError(f"quantile must be in [0.5, 1), got {self.quantile}")
        if not self.k > 0:
            raise ValueError(f"k must be positive, got {self.k}")
        if not 0 < self.broad_fraction <= 1:
            raise ValueError(f"broad fraction must be in (0, 1], got {self.broad_fraction}")


@dataclass
class FlagOutcome:
    """The verdict on every image of a set, and the notes about the set as a whole.

    broad: rule kind -> share of the set on which it fired, for the rules that fired
        on more than the broad fraction (their per-image flags are dropped, except in
        ``fixed`` mode).
    """

    verdicts: list[FlagResult]
    thresholds: Thresholds
    notes: list[str] = field(default_factory=list)
    broad: dict[str, float] = field(default_factory=dict)


def value_table(scores: Sequence[PlacementScores]) -> dict[str, np.ndarray]:
    """Each rule's value over a set of images (NaN where the rule cannot be judged)."""
    vals = [rule_values(s) for s in scores]
    return {k: np.array([v.get(k, math.nan) for v in vals], float) for k in RULES}


def reference_thresholds(scores: Sequence[PlacementScores], what: str, *,
                         quantile: float = DEFAULT_QUANTILE,
                         flag_no_galaxy: bool = True) -> RuleThresholds:
    """Each rule's threshold at ``quantile`` of its values on a clean reference set.

    ``what`` names the reference in the reasons ("200 clean synthetic galaxies").
    The threshold is at least the reference median plus `MIN_MARGIN`.
    Raises ValueError when the reference has no image with a galaxy.
    """
    return reference_thresholds_from_values(value_table(scores), what, quantile=quantile,
                                            flag_no_galaxy=flag_no_galaxy)


def reference_thresholds_from_values(table: Mapping[str, np.ndarray], what: str, *,
                                     quantile: float = DEFAULT_QUANTILE,
                                     flag_no_galaxy: bool = True) -> RuleThresholds:
    """`reference_thresholds` from each rule's values (as cached by `bias.reference`), aligned per image.

    Family-wise: the rules share one percentile level, raised from ``quantile`` until at
    most ``1 - quantile`` of the reference images would be flagged by any rule. Why:
    four rules each at their 99th percentile flag up to 4 % of clean galaxies together,
    and "1 % of clean galaxies" is what a user reading "99th percentile" expects.
    """
    finite = {}
    for kind in RULES:
        v = np.asarray(table.get(kind, []), float)
        if not np.isfinite(v).any():
            raise ValueError(f"the reference ({what}) has no image where a galaxy was found")
        finite[kind] = v
    n_images = max(len(v) for v in finite.values())
    levels = np.unique(np.concatenate([[quantile], np.linspace(quantile, 1.0, 41)]))
    values: dict[str, float] = {}
    level = quantile
    for level in levels:
        values = {}
        for kind, v in finite.items():
            good = v[np.isfinite(v)]
            values[kind] = max(float(np.quantile(good, level)), float(np.median(good)) + MIN_MARGIN[kind])
        fired = np.zeros(n_images, bool)
        for kind, v in finite.items():
            fired[: len(v)] |= np.nan_to_num(v, nan=-np.inf) >= values[kind]
        if fired.mean() <= 1 - quantile + 1e-9:
            break
    else:  # even each rule's maximum lets too many fire (rules fire at >=): just above the maxima
        values = {k: float(np.nextafter(v, np.inf)) for k, v in values.items()}
    basis: dict[str, str] = {}
    for kind, v in finite.items():
        good = v[np.isfinite(v)]
        q = float(np.quantile(good, level))
        floor = " (raised to the median + a minimum margin)" if values[kind] > q else ""
        basis[kind] = (f"the {_ordinal(level)} percentile of {what} scanned with this model (the level at which "
                       f"at most {100 * (1 - quantile):g} % of them would be flagged by any rule){floor}")
    return RuleThresholds(values=values, basis=basis, mode="reference", flag_no_galaxy=flag_no_galaxy)


def scan_thresholds(scores: Sequence[PlacementScores], *, k: float = DEFAULT_K,
                    flag_no_galaxy: bool = True, what: str = "scanned images") -> RuleThresholds:
    """Each rule's threshold at median + k x 1.4826 MAD of its values over the scanned set.

    The spread is at least `MIN_MARGIN` / k, so a rule whose value is nearly always
    the same still needs a real excess to fire.
    """
    table = value_table(scores)
    values: dict[str, float] = {}
    basis: dict[str, str] = {}
    for kind, v in table.items():
        v = v[np.isfinite(v)]
        if v.size == 0:
            values[kind], basis[kind] = math.inf, "no image with a galaxy to compare with"
            continue
        med = float(np.median(v))
        mad = 1.4826 * float(np.median(np.abs(v - med)))
        spread = max(mad, MIN_MARGIN[kind] / k)
        values[kind] = med + k * spread
        shown = f"{med:.2f} galaxy radii" if kind == OFFSET else f"{100 * med:.0f} %"
        basis[kind] = f"the median of the {v.size} {what} ({shown}) + {k:g} x their robust spread"
    return RuleThresholds(values=values, basis=basis, mode="scan", flag_no_galaxy=flag_no_galaxy)


def fixed_thresholds(thresholds: FlagThresholds | None = None) -> FlagThresholds:
    """The absolute thresholds (the old behaviour), unchanged."""
    return thresholds or FlagThresholds()


def flag_set(scores: Sequence[PlacementScores], thresholds: Thresholds, *,
             broad_fraction: float = DEFAULT_BROAD_FRACTION,
             extra: Sequence[Sequence[BiasFlag]] | None = None,
             spot_set_factor: float = DEFAULT_SPOT_SET_FACTOR) -> FlagOutcome:
    """Flags for every image, with rules that fire on most of the set turned into notes.

    Why a set-level step: a rule that fires on most images says something about
    the model (or about the set's difference from the reference), not about those
    images; listing it on every row buries the images that do stand out.
    Fixed thresholds keep their per-image flags (reproducibility) but get the note.

    With set-level flags in ``extra`` (the recurring spot of `bias.spots` was found), an
    image the spot does not flag keeps a per-image flag only at ``spot_set_factor`` x its
    threshold or more. Why: such a set is shown not to be like the clean reference (a
    shortcut shifts where the model looks), so a value just past the reference's extreme is
    weak evidence there; on the grid's tuning sets every per-image flag outside the spot
    stood within 1.33 x its threshold and none was on an artefact image, while the star
    images' own per-image flags stood 7-11 x above theirs.
    """
    verdicts = [evaluate_flags(s, thresholds) for s in scores]
    notes: list[str] = []
    if extra is not None:  # set-level rules (`bias.spots`) judged outside evaluate_flags
        if isinstance(thresholds, RuleThresholds) and any(extra) and spot_set_factor > 1:
            verdicts, notes = _near_flags_dropped(verdicts, extra, spot_set_factor)
        verdicts = [_with(v, e) for v, e in zip(verdicts, extra)]
    outcome = FlagOutcome(verdicts=verdicts, thresholds=thresholds)
    outcome.notes.extend(notes)
    n = len(verdicts)
    if n < MIN_BROAD_IMAGES:
        return outcome
    keep_flags = not isinstance(thresholds, RuleThresholds)
    for kind in ALL_RULES:
        fired = sum(kind in v.kinds for v in verdicts)
        share = fired / n
        if share <= broad_fraction:
            continue
        outcome.broad[kind] = share
        t = verdicts[next(i for i, v in enumerate(verdicts) if kind in v.kinds)]
        flag = t.flags[t.kinds.index(kind)]
        against = f"above {_shown(kind, flag.threshold)}" + (f", {flag.basis}" if flag.basis else " (fixed threshold)")
        what = "kept on every image (fixed thresholds)" if keep_flags else "not flagged image by image"
        outcome.notes.append(f"{BROAD_WORDS[kind]} ({fired} of {n} images, {100 * share:.0f} %, {against}): "
                             f"a model-wide problem, not per-image bias; {what}")
    if outcome.broad and not keep_flags:
        outcome.verdicts = [_without(v, set(outcome.broad)) for v in verdicts]
    return outcome


def threshold_lines(thresholds: Thresholds) -> list[str]:
    """One readable line per rule: its threshold and what it was derived from."""
    from galaxyscope.bias.flags import threshold_of

    lines = []
    for kind in ALL_RULES:
        value, basis = threshold_of(thresholds, kind)
        if kind not in RULES and not basis:
            continue
        lines.append(f"  {kind}: {_shown(kind, value)}" + (f" = {basis}" if basis else " (fixed)"))
    return lines


def thresholds_meta(thresholds: Thresholds) -> dict[str, object]:
    """Plain form of either kind of thresholds, for a table's metadata."""
    if isinstance(thresholds, RuleThresholds):
        return thresholds.as_dict()
    return {"mode": "fixed", **dict(vars(thresholds))}


# ----------------------------------------------------------------------------- internals


def _near_flags_dropped(verdicts: list[FlagResult], extra: Sequence[Sequence[BiasFlag]],
                        factor: float) -> tuple[list[FlagResult], list[str]]:
    """Per-image flags below ``factor`` x their threshold dropped from images without a set-level flag."""
    out: list[FlagResult] = []
    dropped = 0
    for v, e in zip(verdicts, extra):
        weak = {f.kind for f in v.flags if f.ratio < factor} if not e else set()
        if weak:
            dropped += 1
            v = _without(v, weak)
        out.append(v)
    notes = []
    if dropped:
        notes.append(f"{dropped} image(s) outside the recurring spot crossed a per-image threshold by less than "
                     f"{factor:g} x: not flagged, since this set's saliency already differs from the reference's "
                     f"(the spot); such values are weak evidence here")
    return out, notes


def _with(v: FlagResult, flags: Sequence[BiasFlag]) -> FlagResult:
    """The verdict with more flags (their ratios join the score)."""
    if not flags:
        return v
    score = max([v.score, *(f.ratio for f in flags)])
    return FlagResult(flags=tuple(v.flags) + tuple(flags), score=float(max(score, 1.0)), scores=v.scores)


def _without(v: FlagResult, kinds: set[str]) -> FlagResult:
    """The verdict without the flags of ``kinds``; its score ignores them too (capped below 1)."""
    flags = tuple(f for f in v.flags if f.kind not in kinds)
    score = max((f.ratio for f in flags), default=0.0)
    if not flags:
        others = [r for r in _ratios(v) if r[0] not in kinds]
        score = min(max((r[1] for r in others), default=0.0), 0.999)
    return FlagResult(flags=flags, score=float(score), scores=v.scores)


def _ratios(v: FlagResult) -> list[tuple[str, float]]:
    return [(f.kind, f.ratio) for f in v.flags]


def _shown(kind: str, value: float) -> str:
    if not math.isfinite(value):
        return "never"
    return f"{value:.2f} galaxy radii" if kind == OFFSET else f"{100 * value:.0f} %"


def _ordinal(q: float) -> str:
    pct = 100 * q
    n = f"{pct:.1f}".rstrip("0").rstrip(".")
    if "." in n:
        return f"{n}th"
    i = int(n)
    suffix = "th" if 10 <= i % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(i % 10, "th")
    return f"{i}{suffix}"
