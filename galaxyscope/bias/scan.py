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

import bisect
import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
from astropy.table import Table

from galaxyscope.bias.flags import BiasFlag, FlagResult, FlagThresholds, evaluate_flags
from galaxyscope.bias.masks import GalaxyMasks, MaskParams, galaxy_masks
from galaxyscope.bias.montage import MontageCase
from galaxyscope.bias.scores import ScoreParams, placement_scores
from galaxyscope.bias.summary import AssociationRule, ScanSummary, binary_labels, summarise
from galaxyscope.errors import ImageReadError
from galaxyscope.images.galaxy_image import GalaxyImage
from galaxyscope.progress import CancelCheck, Progress, raise_if_cancelled
from galaxyscope.saliency.methods import DEFAULT_METHOD, DEFAULT_NOISE, DEFAULT_SAMPLES, DEFAULT_SEED

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
    thresholds: FlagThresholds
    label_columns: list[str]
    meta: dict[str, Any] = field(default_factory=dict)

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
        t.meta["thresholds"] = dict(vars(self.thresholds))
        return t


@dataclass
class ImageCheck:
    """One image checked: its masks (to draw) and the verdict (scores, flags, reasons)."""

    masks: GalaxyMasks
    verdict: FlagResult


def check_saliency(
    image: GalaxyImage,
    saliency: np.ndarray,
    *,
    region: tuple[int, int, int, int] | None = None,
    thresholds: FlagThresholds | None = None,
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


def scan_dataset(
    image_set: Any,
    model: Any,
    *,
    thresholds: FlagThresholds | None = None,
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
    progress: Progress | None = None,
    cancel: CancelCheck | None = None,
    read_limits: Any = "default",
) -> ScanReport:
    """Saliency, masks, scores and flags for every readable image of ``image_set``.

    Why: the batch form of the bias check; the CLI and the GUI both call it.
    Unreadable files go to the report's failures and the scan goes on.
    ``label_columns``: binary catalogue columns to relate flags to (default: the
    model's outputs and ``has_bar`` where the catalogue has them). The galaxy's
    centre comes from the catalogue's centre_x / centre_y when present, else the
    image centre. Raises CancelledError when ``cancel()`` turns True.
    ``read_limits`` (`ReadLimits`; default: `guarded_read`'s defaults, None: off): a read
    that takes too long or a header declaring too many pixels is a reported failure.
    """
    from galaxyscope.saliency.attributions import compute_saliency

    from galaxyscope.images.guarded_read import ReadLimits, guarded_read

    limits = ReadLimits() if isinstance(read_limits, str) else read_limits
    t = thresholds or FlagThresholds()
    labels_by_col = _label_arrays(image_set, model, label_columns)
    rows: list[ScanRow] = []
    failures: list[ImageReadError] = []
    worst: list[tuple[float, int, MontageCase]] = []
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
            kwargs = dict(method=method, target=target, n_samples=n_samples, noise=noise, seed=seed)
            if cache is not None:
                sal = cache.get_or_compute(model, image, cancel=cancel, **kwargs)
            else:
                sal = compute_saliency(model, image, cancel=cancel, **kwargs)
            check = check_saliency(image, sal.map, region=_visible_box(model.preprocessing.box_for(image), image.height, image.width),
                                   thresholds=t, mask_params=mask_params, score_params=score_params)
            masks, verdict = check.masks, check.verdict
            prob = sal.score.probability
            row = ScanRow(
                index=i, filename=key, path=str(image.path or key), flagged=verdict.flagged,
                score=verdict.score, flags=verdict.flags, numbers=verdict.scores.numbers(),
                probability=float(prob) if prob is not None else math.nan, logit=float(sal.score.logit),
                labels={c: int(v[i]) for c, v in labels_by_col.items()},
            )
            rows.append(row)
            if keep_worst > 0:
                _keep(worst, keep_worst, row, image, sal.map, masks)
        if progress is not None:
            progress(i + 1, total)
    scanned = np.array([r.index for r in rows], dtype=int)
    summary = summarise([r.kinds for r in rows], {c: v[scanned] for c, v in labels_by_col.items()},
                        n_images=total, n_failures=len(failures) + len(getattr(image_set, "failures", [])),
                        rule=association)
    meta = {"model_sha256": getattr(model, "sha256", ""), "attribution": method, "n_samples": n_samples,
            "noise": noise, "seed": seed}
    return ScanReport(rows=rows, failures=failures + list(getattr(image_set, "failures", [])),
                      summary=summary, worst=[c for _, _, c in sorted(worst, key=lambda x: (-x[0], -x[1]))],
                      thresholds=t, label_columns=list(labels_by_col), meta=meta)


# ----------------------------------------------------------------------------- internals


def _known_centre(image: GalaxyImage) -> tuple[float, float] | None:
    meta = image.meta or {}
    try:
        x, y = (float(meta[c]) for c in CENTRE_COLUMNS)
    except (KeyError, TypeError, ValueError):
        return None
    if not (math.isfinite(x) and math.isfinite(y) and 0 <= x < image.width and 0 <= y < image.height):
        return None
    return x, y


def _label_arrays(image_set: Any, model: Any, columns: Sequence[str] | None) -> dict[str, np.ndarray]:
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


def _keep(worst: list[tuple[float, int, MontageCase]], n: int, row: ScanRow, image: GalaxyImage,
          saliency: np.ndarray, masks: GalaxyMasks) -> None:
    """Keep the ``n`` highest-scoring cases (list sorted by ascending score)."""
    if len(worst) >= n and row.score <= worst[0][0]:
        return
    kinds = ", ".join(row.kinds) or "not flagged"
    case = MontageCase(title=row.filename.rsplit("/", 1)[-1], caption=f"score {row.score:.2f}: {kinds}. "
                       + (row.reasons[0] if row.reasons else ""),
                       pixels=image.pixels, saliency=saliency, galaxy=masks.galaxy, sources=masks.sources,
                       region=masks.region, score=row.score)
    bisect.insort(worst, (row.score, -row.index, case), key=lambda x: (x[0], x[1]))
    if len(worst) > n:
        worst.pop(0)


def _visible_box(box, height: int, width: int):
    """The part of the model's view that lies on the image (galaxy framing may reach beyond it)."""
    from galaxyscope.model.preprocess import visible_box

    return visible_box(box, height, width)
