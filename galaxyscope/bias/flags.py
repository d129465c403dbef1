"""Flag rules: when a saliency placement means "the model looks at the wrong thing".

Why rules with reasons: a flag is only useful if a person can check it. Every
flag says in words what was found and gives the numbers behind it ("61 % of the
saliency lies on another source (star/companion) at (312, 80)"), and every
threshold is a field of `FlagThresholds`, so a survey with other framing can
change them.

Defaults were tuned on synthetic sets made with one pair of seeds (a model
trained on barred galaxies that carry a planted star, and one trained on a
clean set) and checked on sets made with other seeds; see
experiments/exp_bias_shortcut.py. There the centroid offset was the rule
that told a model relying on the star from one that merely sees it: SmoothGrad
puts a similar share of saliency on a saturated star for both (the maps follow
bright input structure), but only the shortcut model's saliency is pulled off
the galaxy towards it. The source-share rule is kept for the blatant cases.

Those fixed numbers do not carry over to another model or image size (issue 21):
`galaxyscope.bias.calibrate` derives each rule's threshold from the model's own
scores (a clean reference set, or the scanned set itself) and `RuleThresholds`
carries, with each number, the sentence saying what it was compared with.
`FlagThresholds` stays as the fixed, reproducible option.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping, Union

if TYPE_CHECKING:  # only for hints: keeps `galaxyscope --help` free of scipy / scikit-image
    from galaxyscope.bias.scores import PlacementScores

#: flag kinds, as stored in the database's flags table
ON_SOURCE = "saliency_on_source"
OFF_GALAXY = "saliency_off_galaxy"
ON_BORDER = "saliency_on_border"
OFFSET = "saliency_offset"
NO_GALAXY = "no_galaxy"
RECURRING_SPOT = "saliency_recurring_spot"  # set-level: see galaxyscope.bias.spots
FLAG_KINDS: tuple[str, ...] = (ON_SOURCE, OFF_GALAXY, ON_BORDER, OFFSET, NO_GALAXY, RECURRING_SPOT)
#: an offset reason names the source that pulls the centroid when it holds at least this share
PULL_SHARE = 0.05


@dataclass(frozen=True)
class FlagThresholds:
    """Each rule fires at or above its threshold; set one to ``math.inf`` to switch it off.

    source_share: share of saliency mass on the single other source that holds most.
    outside_share: share of mass anywhere off the galaxy.
    border_share: share of mass in the border zone.
    offset_r: distance of the saliency centroid from the galaxy centre, in galaxy radii.
    flag_no_galaxy: flag images where no central galaxy was found.
    """

    source_share: float = 0.4
    outside_share: float = 0.7
    border_share: float = 0.2
    offset_r: float = 0.7
    flag_no_galaxy: bool = True


@dataclass(frozen=True)
class RuleThresholds:
    """Per-rule thresholds with what each was derived from (e.g. a reference set's quantile).

    values: rule kind -> threshold (a kind left out is not judged).
    basis: rule kind -> words saying what the threshold is ("the 99th percentile of
        200 clean synthetic galaxies scanned with this model"), quoted in every reason.
    mode: how they were made ("reference", "scan" or "fixed"), for tables and reports.
    """

    values: Mapping[str, float]
    basis: Mapping[str, str]
    mode: str = "reference"
    flag_no_galaxy: bool = True

    def as_dict(self) -> dict[str, object]:
        """Plain form for a table's metadata and JSON reports."""
        return {"mode": self.mode, "flag_no_galaxy": self.flag_no_galaxy,
                **{f"{k}": float(v) for k, v in self.values.items()},
                **{f"{k}_basis": str(b) for k, b in self.basis.items()}}


#: what `evaluate_flags` takes: the fixed thresholds or calibrated ones
Thresholds = Union[FlagThresholds, RuleThresholds]


@dataclass(frozen=True)
class BiasFlag:
    """One rule that fired: its kind, a readable reason, the value and the threshold.

    basis: what the threshold is (empty for the fixed thresholds).
    """

    kind: str
    reason: str
    value: float
    threshold: float
    basis: str = ""

    @property
    def ratio(self) -> float:
        """value / threshold (>= 1 since the rule fired)."""
        return self.value / self.threshold if self.threshold > 0 else math.inf


@dataclass(frozen=True)
class FlagResult:
    """The verdict on one image.

    score: the largest value / threshold over all rules (fired or not): >= 1 means
        flagged, 2 means twice over a threshold; used to rank images.
    """

    flags: tuple[BiasFlag, ...]
    score: float
    scores: PlacementScores

    @property
    def flagged(self) -> bool:
        return bool(self.flags)

    @property
    def kinds(self) -> list[str]:
        return [f.kind for f in self.flags]

    @property
    def reasons(self) -> list[str]:
        return [f.reason for f in self.flags]


#: the threshold field of `FlagThresholds` each placement rule compares its value with
RULE_THRESHOLDS: dict[str, str] = {
    ON_SOURCE: "source_share",
    OFF_GALAXY: "outside_share",
    OFFSET: "offset_r",
    ON_BORDER: "border_share",
}


def rule_values(scores: PlacementScores) -> dict[str, float]:
    """The number each placement rule compares with its threshold (kind -> value).

    Why separate: the rules fire at value >= threshold, so tuning thresholds over
    many images needs only these values, computed once. Without a galaxy only the
    border rule can be judged.
    """
    s = scores
    if not s.galaxy_found:
        return {ON_BORDER: s.share_border}
    return {ON_SOURCE: s.top_source_share, OFF_GALAXY: s.share_outside, OFFSET: _finite(s.centroid_offset_r),
            ON_BORDER: s.share_border}


def threshold_of(thresholds: Thresholds, kind: str) -> tuple[float, str]:
    """(threshold, basis) of one rule; a rule a `RuleThresholds` leaves out never fires."""
    if isinstance(thresholds, RuleThresholds):
        return float(thresholds.values.get(kind, math.inf)), str(thresholds.basis.get(kind, ""))
    if kind not in RULE_THRESHOLDS:  # a set-level rule the fixed thresholds do not have
        return math.inf, ""
    return float(getattr(thresholds, RULE_THRESHOLDS[kind])), ""


def evaluate_flags(scores: PlacementScores, thresholds: Thresholds | None = None) -> FlagResult:
    """Apply every rule to one image's placement scores.

    Why one function: the scan, the GUI and tests all need the same verdict and
    the same wording. ``thresholds``: the fixed `FlagThresholds` (default) or
    calibrated `RuleThresholds`, whose basis every reason quotes.
    """
    t = thresholds or FlagThresholds()
    values = rule_values(scores)
    fired: list[BiasFlag] = []
    ratios: list[float] = []
    if not scores.galaxy_found and t.flag_no_galaxy:
        fired.append(BiasFlag(NO_GALAXY, "no central galaxy found: the saliency cannot be checked against it",
                              1.0, 1.0))
    for kind, value in values.items():
        threshold, basis = threshold_of(t, kind)
        if threshold > 0 and math.isfinite(threshold):
            ratios.append(value / threshold)
        if value >= threshold:
            fired.append(BiasFlag(kind, _reason(kind, scores, threshold, basis), float(value), threshold, basis))
    score = max(ratios, default=0.0)
    if fired:
        score = max(score, 1.0)
    return FlagResult(flags=tuple(fired), score=float(score), scores=scores)


def _reason(kind: str, s: PlacementScores, threshold: float, basis: str = "") -> str:
    """The readable sentence for a rule that fired, with the numbers behind it.

    With a ``basis`` the sentence ends with what the value was compared with
    ("above 21 %, the 99th percentile of ..."); without one, with the fixed threshold.
    """
    if basis:
        shown = f"{threshold:.2f} galaxy radii" if kind == OFFSET else _pct(threshold)
        return f"{_observation(kind, s)}: above {shown}, {basis}"
    pct = _pct
    if kind == ON_SOURCE:
        return f"{_observation(kind, s)} (threshold {pct(threshold)})"
    if kind == OFF_GALAXY:
        return f"{_observation(kind, s)[:-1]}; threshold {pct(threshold)})"
    if kind == OFFSET:
        return f"{_observation(kind, s)[:-1]}; threshold {threshold:g})"
    return f"{_observation(kind, s)} (threshold {pct(threshold)})"


def _observation(kind: str, s: PlacementScores) -> str:
    """What was seen, in words and numbers, without the threshold."""
    pct = _pct
    if kind == ON_SOURCE:
        where = f" at ({s.top_source_xy[0]:.0f}, {s.top_source_xy[1]:.0f})" if s.top_source_xy else ""
        peak = "; the map's peak lies on it" if s.peak_on_source and s.top_source_xy else ""
        return f"{pct(s.top_source_share)} of the saliency lies on another source (star/companion){where}{peak}"
    if kind == OFF_GALAXY:
        return (f"{pct(s.share_outside)} of the saliency lies outside the galaxy "
                f"({pct(s.share_sources)} on other sources)")
    if kind == OFFSET:
        pulled = ""
        if s.top_source_xy is not None and s.top_source_share >= PULL_SHARE:
            pulled = (f", pulled towards another source (star/companion) at ({s.top_source_xy[0]:.0f}, "
                      f"{s.top_source_xy[1]:.0f}) that holds {pct(s.top_source_share)} of it")
        return (f"the saliency centroid at ({s.centroid_xy[0]:.0f}, {s.centroid_xy[1]:.0f}) lies "
                f"{s.centroid_offset_r:.2f} galaxy radii ({s.centroid_offset_px:.0f} px) from the galaxy "
                f"centre{pulled} (radius {s.galaxy_radius_px:.0f} px)")
    return f"{pct(s.share_border)} of the saliency lies on the border of the frame"


def _pct(x: float) -> str:
    return f"{100 * x:.0f} %"


def _finite(x: float) -> float:
    return float(x) if math.isfinite(x) else 0.0
