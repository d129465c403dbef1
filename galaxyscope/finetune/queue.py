"""What to label next: rank a measured set by how much a label would teach the model.

Why from a measurement table: the window's "Measure all" and ``galaxyscope measure``
already computed everything the ranking needs (P(bar), the saliency and the isophote
lengths, the out-of-domain flag), so ranking costs nothing extra. Three reasons to
label an image, each in [0, 1]:

- uncertainty: P(bar) near 0.5, ``1 - |2p - 1|`` (active learning's oldest rule);
- disagreement: the saliency length and the training-free isophote length differ
  (``|ln(L_saliency / L_isophote)| / ln 2``, capped at 1; one method finding a bar and
  the other none counts 1), so a label settles which one is right;
- novelty: the image is unlike the training images (the model's domain check flagged
  it ``out_of_domain``), where the model's answers are least trustworthy.

The score is their weighted mean; images already labelled (by anyone, or by one
annotator) are left out. Each item says in words why it is there.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from galaxyscope.measure.result import METHODS_DISAGREE, OUT_OF_DOMAIN


@dataclass(frozen=True)
class QueueItem:
    """One image to label, best first: its key (the table's ``filename``), the score and
    its three parts, and the reasons in words."""

    filename: str
    score: float
    uncertainty: float
    disagreement: float
    novelty: float
    reasons: tuple[str, ...]


def _num(value: Any) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return math.nan
    return x if math.isfinite(x) else math.nan


def _flags(row: Any) -> set[str]:
    text = row["flags"] if "flags" in row.colnames else ""
    text = text.decode() if isinstance(text, bytes) else str(text)
    return {f.strip() for f in text.split(",") if f.strip()}


def label_queue(table: Any, *, labelled: Collection[str] = (), method: str = "moments",
                weights: Sequence[float] = (1.0, 1.0, 1.0), limit: int | None = None) -> list[QueueItem]:
    """Rank the images of a measurement table (`jobs.measure_job` columns: filename, method,
    bar_score, bar_length_raw_px or bar_length_px, flags) for labelling, best first.

    ``method``: the saliency bar method whose row gives P(bar) and the saliency length; the
    ``isophote`` rows (when present) give the other length. ``labelled``: filenames (as in
    the table) to leave out. ``weights``: of uncertainty, disagreement, novelty.
    """
    if len(weights) != 3 or any(w < 0 for w in weights) or not sum(weights) > 0:
        raise ValueError("weights: three non-negative numbers, not all zero (uncertainty, disagreement, novelty)")
    rows: dict[str, dict[str, Any]] = {}
    for row in table:
        name = str(row["filename"])
        kind = str(row["method"])
        if kind == method:
            rows.setdefault(name, {})["main"] = row
        elif kind == "isophote":
            rows.setdefault(name, {})["iso"] = row
    skip = set(labelled)
    length_col = "bar_length_raw_px" if "bar_length_raw_px" in table.colnames else "bar_length_px"
    items = []
    for name, got in rows.items():
        main = got.get("main")
        if main is None or name in skip:
            continue
        flags = _flags(main)
        p = _num(main["bar_score"])
        uncertainty = 1.0 - abs(2.0 * p - 1.0) if math.isfinite(p) else 0.0
        reasons = []
        if math.isfinite(p) and uncertainty >= 0.5:
            reasons.append(f"P(bar) {p:.2f}: the model is unsure")
        disagreement = 1.0 if METHODS_DISAGREE in flags else 0.0
        iso = got.get("iso")
        if iso is not None:
            ls, li = _num(main[length_col]), _num(iso["bar_length_px"])
            if math.isfinite(ls) and math.isfinite(li) and ls > 0 and li > 0:
                disagreement = max(disagreement, min(1.0, abs(math.log(ls / li)) / math.log(2.0)))
                if disagreement >= 0.5:
                    reasons.append(f"saliency length {ls:.0f} px vs isophotes {li:.0f} px")
            elif math.isfinite(ls) != math.isfinite(li):
                disagreement = 1.0
                reasons.append("only the saliency finds a bar" if math.isfinite(ls) else "only the isophotes find a bar")
        if disagreement >= 0.5 and not any("length" in r or "find a bar" in r for r in reasons):
            reasons.append("the methods disagree")
        novelty = 1.0 if OUT_OF_DOMAIN in flags else 0.0
        if novelty:
            reasons.append("unlike the training images")
        score = (weights[0] * uncertainty + weights[1] * disagreement + weights[2] * novelty) / sum(weights)
        items.append(QueueItem(name, score, uncertainty, disagreement, novelty, tuple(reasons)))
    items.sort(key=lambda it: (-it.score, it.filename))
    return items if limit is None else items[:limit]


def labelled_filenames(store: Any, image_set: Any, annotator: str | None = None) -> set[str]:
    """The set's entry keys (a table's ``filename``) that have a label or a line in the store
    (by anyone, or by ``annotator``)."""
    from galaxyscope.images.identity import image_key

    ids = {rec.path: rec.id for rec in store.images()}
    by_id = {ids[k]: e.key for e in image_set.entries if (k := image_key(e.path)) in ids}
    said = store.image_labels(list(by_id))
    return {by_id[i] for i, says in said.items()
            if annotator is None or any(a.annotator == annotator for a in says)}
