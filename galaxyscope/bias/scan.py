"""Scan a whole image set for saliency that sits in the wrong place.

Why: the paper's claim that saliency can "identify and eliminate bias within
training datasets" needs a tool that goes through a set and points at the
images where the model looks at a star, a companion or the frame's border
instead of the galaxy - and says whether those images share a label (a
dataset bias) or are one-offs.

Per image: saliency of the bar output (SmoothGrad by default) -> masks
(`galaxy_masks`, border relative to the model's crop) -> placement scores ->
flag rules. The report keeps a row per image, the failures, a summary
(`summarise`) and the worst cases for a montage.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
from astropy.table import Table

from galaxyscope.bias.flags import BiasFlag, FlagResult, Thresholds, evaluate_flags
from galaxyscope.bias.masks import GalaxyMasks, MaskParams, galaxy_masks
from galaxyscope.bias.montage import MontageCase
from galaxyscope.bias.scores import PlacementScores, ScoreParams, placement_scores
from galaxyscope.bias.spots import off_galaxy_grid
from galaxyscope.bias.summary import AssociationRule, ScanSummary, binary_labels, summarise
from galaxyscope.errors import ImageReadError
from galaxyscope.images.galaxy_image import GalaxyImage
from galaxyscope.progress import CancelCheck, Progress, raise_if_cancelled
from galaxyscope.saliency.methods import DEFAULT_METHOD, DEFAULT_NOISE, DEFAULT_SAMPLES, DEFAULT_SEED

if TYPE_CHECKING:
    from galaxyscope.bias.calibrate import Calibration
    from galaxyscope.bias.reference import ReferenceValues

#: catalogue columns read as the galaxy's known centre (x, y), when both are present
CENTRE_COLUMNS = ("centre_x", "centre_y")
#: numeric columns of the flags table, in order (from PlacementScores.numbers)
NUMBER_COLUMNS = (
    "share_outside", "share_sources", "share_border", "top_source_share", "top_source_x", "top_source_y",
    "centroid_x", "centroid_y", "centroid_offset_px", "centroid_offset_r", "peak_x", "peak_y",
    "peak_on_source", "galaxy_radius_px", "galaxy_found",
)


@dataclass
class ScanRow:
    """The verdict on one image. ``index``: its entry in the image set; ``filename``: its
    key as the catalogue names it; ``numbers``: the placement scores behind the flags."""

    index: int
    filename: str
    path: str
    flagged: bool
    score: float
    flags: tuple[BiasFlag, ...]
    numbers: dict[str, Any]
    probability: float
    logit: float
    labels: dict[str, int] = field(default_factory=dict)

    @property
    def kinds(self) -> list[str]:
        return [f.kind for f in self.flags]

    @property
    def reasons(self) -> list[str]:
        return [f.reason for f in self.flags]


@dataclass
class ScanReport:
    """Everything a scan found; ``table()`` is what `galaxyscope scan-bias` writes."""

    rows: list[ScanRow]
    failures: list[ImageReadError]
    summary: ScanSummary
    worst: list[MontageCase]
    thresholds: Thresholds
    label_columns: list[str]
    meta: dict[str, Any] = field(default_factory=dict)
    #: what the scan says about the set as a whole (rules firing on most images: model-wide)
    notes: list[str] = field(default_factory=list)

    @property
    def flagged(self) -> list[ScanRow]:
        """Flagged rows, highest score first."""
        return sorted((r for r in self.rows if r.flagged), key=lambda r: -r.score)

    def table(self) -> Table:
        """One row per scanned image: filename, flagged, score, reasons, kinds, the numbers, labels."""
        names = ["filename", "flagged", "score", "reasons", "kinds", *NUMBER_COLUMNS,
                 "bar_probability", "bar_logit", *self.label_columns]
        cols: dict[str, list[Any]] = {n: [] for n in names}
        for r in self.rows:
            cols["filename"].append(r.filename)
            cols["flagged"].append(r.flagged)
            cols["score"].append(r.score)
            cols["reasons"].append("; ".join(r.reasons))
            cols["kinds"].append(",".join(r.kinds))
            for n in NUMBER_COLUMNS:
                cols[n].append(r.numbers[n])
            cols["bar_probability"].append(r.probability)
            cols["bar_logit"].append(r.logit)
            for c in self.label_columns:
                cols[c].append(r.labels.get(c, -1))
        dtypes = {"filename": str, "flagged": bool, "score": float, "reasons": str, "kinds": str,
                  "peak_on_source": bool, "galaxy_found": bool}
        t = Table([np.array(cols[n], dtype=dtypes.get(n, float if n not in self.label_columns else int))
                   for n in names], names=names)
        t.meta.update(self.meta)
        from galaxyscope.bias.calibrate import thresholds_meta

        t.meta["thresholds"] = thresholds_meta(self.thresholds)
        t.meta["notes"] = list(self.notes)
        return t


@dataclass
class ImageCheck:
    """One image checked: its masks (to draw; None for a verdict read back from a scan table or
    database) and the verdict (scores, flags, reasons)."""

    masks: GalaxyMasks | None
    verdict: FlagResult


def row_check(row: ScanRow) -> ImageCheck:
    """A scan row as an `ImageCheck` without masks (for the GUI's list of a batch scan)."""
    return ImageCheck(masks=None, verdict=FlagResult(flags=tuple(row.flags), score=float(row.score),
                                                     scores=PlacementScores.from_numbers(row.numbers)))


def check_saliency(
    image: GalaxyImage,
    saliency: np.ndarray,
    *,
    region: tuple[int, int, int, int] | None = None,
    thresholds: Thresholds | None = None,
    mask_params: MaskParams | None = None,
    score_params: ScoreParams | None = None,
) -> ImageCheck:
    """Masks, placement scores and flags for one image and a saliency map already computed.

    Why: the GUI has the map from its own saliency service and needs the same
    verdict and masks the scan gives. ``region``: the model's crop box (its
    border is the border zone); default the whole image. The galaxy's centre is
    the catalogue's centre_x / centre_y (``image.meta``) when present.
    """
    masks = galaxy_masks(image, _known_centre(image), region=region, params=mask_params)
    return ImageCheck(masks=masks, verdict=evaluate_flags(placement_scores(saliency, masks, score_params), thresholds))


@dataclass
class ScoredImage:
    """One image's placement scores and the model's output, before any threshold is applied."""

    index: int
    filename: str
    path: str
    scores: PlacementScores
    probability: float
    logit: float
    labels: dict[str, int] = field(default_factory=dict)
    #: off-galaxy saliency share per cell of the model's view (`bias.spots.off_galaxy_grid`)
    grid: np.ndarray | None = None


def score_image(
    model: Any,
    image: GalaxyImage,
    index: int,
    key: str,
    *,
    mask_params: MaskParams | None = None,
    score_params: ScoreParams | None = None,
    method: str = DEFAULT_METHOD,
    n_samples: int = DEFAULT_SAMPLES,
    noise: float = DEFAULT_NOISE,
    seed: int = DEFAULT_SEED,
    target: str | int | None = None,
    cache: Any = None,
    mask_cache: Any = None,
    cancel: CancelCheck | None = None,
) -> ScoredImage:
    """Saliency, masks, placement scores and the off-galaxy grid of one image read already
    (no labels: they come from the catalogue, `label_arrays`).

    Why one function: `score_dataset` (one process) and `bias.score_work.ScoreWork` (a Dask
    worker) both run it, so both paths give the same scores for the same seeds.
    """
    from galaxyscope.saliency.attributions import compute_saliency

    sal = _saliency(model, image, cache, cancel, compute_saliency, method=method, target=target,
                    n_samples=n_samples, noise=noise, seed=seed)
    region = _model_region(model, image)
    if mask_cache is not None:
        masks = mask_cache.get_or_compute(image, _known_centre(image), region, mask_params)
    else:
        masks = galaxy_masks(image, _known_centre(image), region=region, params=mask_params)
    prob = sal.score.probability
    sp = score_params or ScoreParams()
    return ScoredImage(
        index=index, filename=key, path=str(image.path or key),
        scores=placement_scores(sal.map, masks, sp),
        probability=float(prob) if prob is not None else math.nan, logit=float(sal.score.logit),
        grid=off_galaxy_grid(sal.map, masks, sp.floor_quantile))


def score_dataset(
    image_set: Any,
    model: Any,
    *,
    mask_params: MaskParams | None = None,
    score_params: ScoreParams | None = None,
    method: str = DEFAULT_METHOD,
    n_samples: int = DEFAULT_SAMPLES,
    noise: float = DEFAULT_NOISE,
    seed: int = DEFAULT_SEED,
    target: str | int | None = None,
    labels_by_col: dict[str, np.ndarray] | None = None,
    cache: Any = None,
    mask_cache: Any = None,
    progress: Progress | None = None,
    cancel: CancelCheck | None = None,
    read_limits: Any = "default",
) -> tuple[list[ScoredImage], list[ImageReadError]]:
    """Saliency, masks and placement scores for every readable image (no thresholds yet).

    Why apart from the flags: calibrated thresholds depend on the scores of the
    whole set (``scan`` mode) or of a reference set scanned the same way, so the
    scores come first and the verdicts after. Unreadable files go to the failures.
    ``mask_cache`` (`bias.mask_cache.MaskCache`): masks do not depend on the model, so
    a second model scanned on the same images reuses them.
    """
    from galaxyscope.images.guarded_read import ReadLimits, guarded_read

    limits = ReadLimits() if isinstance(read_limits, str) else read_limits
    labels_by_col = labels_by_col or {}
    scored: list[ScoredImage] = []
    failures: list[ImageReadError] = []
    total = len(image_set)
    if progress is not None:
        progress(0, total)
    for i in range(total):
        raise_if_cancelled(cancel, f"bias scan stopped after {i} of {total} images")
        key = image_set.entries[i].key
        try:
            image = guarded_read(getattr(image_set.entries[i], "path", key), lambda i=i: image_set[i], limits)
        except ImageReadError as exc:
            failures.append(exc)
        else:
            one = score_image(model, image, i, key, mask_params=mask_params, score_params=score_params,
                              method=method, n_samples=n_samples, noise=noise, seed=seed, target=target,
                              cache=cache, mask_cache=mask_cache, cancel=cancel)
            one.labels = {c: int(v[i]) for c, v in labels_by_col.items()}
            scored.append(one)
        if progress is not None:
            progress(i + 1, total)
    return scored, failures


def scan_dataset(
    image_set: Any,
    model: Any,
    *,
    thresholds: Thresholds | None = None,
    calibration: Calibration | None = None,
    reference: ReferenceValues | None = None,
    mask_params: MaskParams | None = None,
    score_params: ScoreParams | None = None,
    method: str = DEFAULT_METHOD,
    n_samples: int = DEFAULT_SAMPLES,
    noise: float = DEFAULT_NOISE,
    seed: int = DEFAULT_SEED,
    target: str | int | None = None,
    label_columns: Sequence[str] | None = None,
    association: AssociationRule | None = None,
    keep_worst: int = 16,
    cache: Any = None,
    mask_cache: Any = None,
    progress: Progress | None = None,
    cancel: CancelCheck | None = None,
    read_limits: Any = "default",
) -> ScanReport:
    """Saliency, masks, scores and flags for every readable image of ``image_set``.

    Why: the batch form of the bias check; the CLI and the GUI both call it.
    Thresholds: ``thresholds`` when given (fixed `FlagThresholds` or ready
    `RuleThresholds`); else from ``calibration`` (`bias.calibrate.Calibration`):
    ``reference`` mode needs ``reference`` (the model's values on a clean set,
    `bias.reference`), ``scan`` mode takes them from this set's own scores; no
    calibration: the fixed defaults. Rules that fire on most of the set become
    set-level notes (`calibrate.flag_set`), printed first in the summary.

    Unreadable files go to the report's failures and the scan goes on.
    ``label_columns``: binary catalogue columns to relate flags to (default: the
    model's outputs and ``has_bar`` where the catalogue has them). The galaxy's
    centre comes from the catalogue's centre_x / centre_y when present, else the
    image centre. Raises CancelledError when ``cancel()`` turns True.
    ``read_limits`` (`ReadLimits`; default: `guarded_read`'s defaults, None: off): a read
    that takes too long or a header declaring too many pixels is a reported failure.
    """
    labels_by_col = label_arrays(image_set, model, label_columns)
    saliency = dict(method=method, n_samples=n_samples, noise=noise, seed=seed, target=target)
    scored, failures = score_dataset(image_set, model, mask_params=mask_params, score_params=score_params,
                                     labels_by_col=labels_by_col, cache=cache, mask_cache=mask_cache,
                                     progress=progress,
                                     cancel=cancel, read_limits=read_limits, **saliency)
    return scan_from_scores(image_set, model, scored, failures, labels_by_col=labels_by_col,
                            thresholds=thresholds, calibration=calibration, reference=reference,
                            mask_params=mask_params, association=association, keep_worst=keep_worst,
                            cache=cache, cancel=cancel, **saliency)


def scan_from_scores(
    image_set: Any,
    model: Any,
    scored: list[ScoredImage],
    failures: list[ImageReadError],
    *,
    labels_by_col: dict[str, np.ndarray] | None = None,
    thresholds: Thresholds | None = None,
    calibration: Calibration | None = None,
    reference: ReferenceValues | None = None,
    mask_params: MaskParams | None = None,
    method: str = DEFAULT_METHOD,
    n_samples: int = DEFAULT_SAMPLES,
    noise: float = DEFAULT_NOISE,
    seed: int = DEFAULT_SEED,
    target: str | int | None = None,
    association: AssociationRule | None = None,
    keep_worst: int = 16,
    cache: Any = None,
    cancel: CancelCheck | None = None,
) -> ScanReport:
    """The verdicts on a set already scored (`score_dataset`, or a distributed scan's rows).

    Why apart: the thresholds (reference, scan or fixed calibration), the recurring-spot
    rule, the set-level notes, the summary and the worst cases depend on the whole set's
    scores, so they run once, in this process, after the per-image work - wherever that
    ran. ``scored`` in the set's order; ``failures``: the images that could not be scored
    (the set's own open-time failures are added here). ``labels_by_col``: `label_arrays`.
    The saliency parameters go into the table's meta and redraw the worst cases.
    """
    from galaxyscope.bias.calibrate import Calibration, flag_set

    labels_by_col = labels_by_col or {}
    saliency = dict(method=method, n_samples=n_samples, noise=noise, seed=seed, target=target)
    cal = calibration or Calibration(mode="fixed")
    t = thresholds if thresholds is not None else thresholds_for(cal, [s.scores for s in scored], reference)
    extra, spot_note = None, None
    if thresholds is None and cal.mode == "reference" and reference is not None and reference.grids is not None:
        t, extra, spot_note = _spot_flags(scored, reference, t, cal.quantile)
    outcome = flag_set([s.scores for s in scored], t, broad_fraction=cal.broad_fraction, extra=extra)
    if spot_note:
        outcome.notes.insert(0, spot_note)
    rows = [ScanRow(index=s.index, filename=s.filename, path=s.path, flagged=v.flagged, score=v.score,
                    flags=v.flags, numbers=v.scores.numbers(), probability=s.probability, logit=s.logit,
                    labels=s.labels) for s, v in zip(scored, outcome.verdicts)]
    total = len(image_set)
    scanned = np.array([r.index for r in rows], dtype=int)
    summary = summarise([r.kinds for r in rows], {c: v[scanned] for c, v in labels_by_col.items()},
                        n_images=total, n_failures=len(failures) + len(getattr(image_set, "failures", [])),
                        rule=association)
    summary.notes[:0] = outcome.notes
    meta = {"model_sha256": getattr(model, "sha256", ""), "attribution": method, "n_samples": n_samples,
            "noise": noise, "seed": seed, "threshold_mode": getattr(t, "mode", "fixed"),
            "scan_id": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "set_notes": list(outcome.notes)}
    worst = _worst_cases(image_set, model, rows, keep_worst, cache, cancel, mask_params, saliency)
    return ScanReport(rows=rows, failures=failures + list(getattr(image_set, "failures", [])),
                      summary=summary, worst=worst, thresholds=t, label_columns=list(labels_by_col), meta=meta,
                      notes=list(outcome.notes))


def thresholds_for(calibration: Calibration, scores: Sequence[PlacementScores],
                   reference: ReferenceValues | None = None) -> Thresholds:
    """The thresholds ``calibration`` asks for, from a set's scores or a reference's values.

    Raises ValueError for ``reference`` mode without reference values.
    """
    from galaxyscope.bias.calibrate import reference_thresholds_from_values, scan_thresholds

    if calibration.mode == "fixed":
        return calibration.fixed
    if calibration.mode == "scan":
        return scan_thresholds(scores, k=calibration.k, flag_no_galaxy=calibration.fixed.flag_no_galaxy)
    if reference is None:
        raise ValueError("reference thresholds need the model's values on a reference set")
    return reference_thresholds_from_values(reference.values, reference.what, quantile=calibration.quantile,
                                            flag_no_galaxy=calibration.fixed.flag_no_galaxy)


# ----------------------------------------------------------------------------- internals


def _spot_flags(scored: list[ScoredImage], reference: ReferenceValues, t: Thresholds, quantile: float
                ) -> tuple[Thresholds, list[list[BiasFlag]], str | None]:
    """The recurring-spot rule (`bias.spots`): thresholds with its entry added, its flags per image, a note."""
    from galaxyscope.bias.flags import RuleThresholds
    from galaxyscope.bias.spots import SPOT, SpotParams, find_hotspot, spot_shares

    params = SpotParams()
    set_grids = np.stack([s.grid for s in scored]) if scored else np.zeros((0, 1, 1))
    spot = find_hotspot(set_grids, reference.grids, params)
    extra: list[list[BiasFlag]] = [[] for _ in scored]
    if not spot.found or not isinstance(t, RuleThresholds):
        return t, extra, None
    ref_shares = spot_shares(reference.grids, spot)
    med = float(np.median(ref_shares))
    mad = 1.4826 * float(np.median(np.abs(ref_shares - med)))
    threshold = med + max(params.k * mad, SPOT_MARGIN)
    basis = (f"the median share the same spot gets on {reference.what} scanned with this model "
             f"({100 * med:.1f} %) + {params.k:g} x its robust spread")
    values = spot_shares(set_grids, spot)
    where = spot.where()
    for i, v in enumerate(values):
        if v >= threshold:
            extra[i].append(BiasFlag(
                SPOT, f"{100 * v:.0f} % of the saliency lies on another source (star/companion/artefact) in {where}, "
                f"where this set's saliency keeps landing on sources ({100 * spot.set_mean:.1f} % of it on average, "
                f"{100 * spot.reference_mean:.1f} % on the reference: something that recurs in the same place, as a "
                f"planted artefact does): above "
                f"{100 * threshold:.0f} %, {basis}", float(v), float(threshold), basis))
    n = sum(bool(e) for e in extra)
    note = (f"saliency on other sources recurs in {where} across this set ({100 * spot.set_mean:.1f} % of it on average "
            f"against {100 * spot.reference_mean:.1f} % on {reference.what}): {n} image(s) with much of their "
            f"saliency there are flagged '{SPOT}'; look for an artefact or label shared by those images")
    new_t = RuleThresholds(values={**t.values, SPOT: threshold}, basis={**t.basis, SPOT: basis}, mode=t.mode,
                           flag_no_galaxy=t.flag_no_galaxy)
    return new_t, extra, note


#: the smallest margin of the spot rule's threshold over the reference's median share
SPOT_MARGIN = 0.05


def _ordinal(q: float) -> str:
    from galaxyscope.bias.calibrate import _ordinal as ordinal

    return ordinal(q)


def _saliency(model: Any, image: GalaxyImage, cache: Any, cancel: CancelCheck | None, compute: Any, **kwargs: Any):
    if cache is not None:
        return cache.get_or_compute(model, image, cancel=cancel, **kwargs)
    return compute(model, image, cancel=cancel, **kwargs)


def _model_region(model: Any, image: GalaxyImage) -> tuple[int, int, int, int]:
    return _visible_box(model.preprocessing.box_for(image), image.height, image.width)


def _worst_cases(image_set: Any, model: Any, rows: list[ScanRow], n: int, cache: Any, cancel: CancelCheck | None,
                 mask_params: MaskParams | None, saliency: dict[str, Any]) -> list[MontageCase]:
    """The ``n`` highest-scoring images drawn for the montage (re-read: only these are kept in memory)."""
    if n <= 0 or not rows:
        return []
    from galaxyscope.saliency.attributions import compute_saliency

    cases = []
    for row in sorted(rows, key=lambda r: (-r.score, r.index))[:n]:
        try:
            image = image_set[row.index]
        except ImageReadError:
            continue
        sal = _saliency(model, image, cache, cancel, compute_saliency, **saliency)
        masks = galaxy_masks(image, _known_centre(image), region=_model_region(model, image), params=mask_params)
        kinds = ", ".join(row.kinds) or "not flagged"
        cases.append(MontageCase(title=row.filename.rsplit("/", 1)[-1],
                                 caption=f"score {row.score:.2f}: {kinds}. " + (row.reasons[0] if row.reasons else ""),
                                 pixels=image.pixels, saliency=sal.map, galaxy=masks.galaxy, sources=masks.sources,
                                 region=masks.region, score=row.score))
    return cases


def _known_centre(image: GalaxyImage) -> tuple[float, float] | None:
    meta = image.meta or {}
    try:
        x, y = (float(meta[c]) for c in CENTRE_COLUMNS)
    except (KeyError, TypeError, ValueError):
        return None
    if not (math.isfinite(x) and math.isfinite(y) and 0 <= x < image.width and 0 <= y < image.height):
        return None
    return x, y


def label_arrays(image_set: Any, model: Any, columns: Sequence[str] | None) -> dict[str, np.ndarray]:
    """Binary labels per entry for the association summary (columns that are not labels are skipped)."""
    catalogue = getattr(image_set, "catalogue", None)
    if catalogue is None:
        return {}
    if columns is None:
        wanted = [c for c in (*model.meta.output_names, "has_bar") if c in catalogue.colnames]
        explicit = False
    else:
        wanted, explicit = list(columns), True
    out: dict[str, np.ndarray] = {}
    for c in dict.fromkeys(wanted):
        try:
            values = image_set.column(c)
        except KeyError:
            if explicit:
                raise
            continue
        lab = binary_labels(values)
        if lab is not None:
            out[c] = lab
        elif explicit:
            raise KeyError(f"column {c!r} is not a binary label (0/1, True/False or a fraction in [0, 1])")
    return out


def _visible_box(box, height: int, width: int):
    """The part of the model's view that lies on the image (galaxy framing may reach beyond it)."""
    from galaxyscope.model.preprocess import visible_box

    return visible_box(box, height, width)
