"""What a scan's flags add up to: counts per reason, and whether flags follow a class.

Why: one flagged image is a curiosity; flags that pile up in one class (nearly
all on barred galaxies, say) mean the training set carries a feature that
correlates with the label, which a model will happily use as a shortcut. That
is a dataset bias and worth fixing in the data, not image by image.

The association test per label column and flag kind is a 2 x 2 Fisher exact
test (scipy.stats.fisher_exact) of flagged / not flagged against the two
classes.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
from scipy.stats import fisher_exact

ANY_FLAG = "any"


@dataclass(frozen=True)
class ClassRate:
    """Flag rate of one class of a label column."""

    value: Any
    n_images: int
    n_flagged: int

    @property
    def rate(self) -> float:
        return self.n_flagged / self.n_images if self.n_images else float("nan")


@dataclass(frozen=True)
class LabelAssociation:
    """How the flags of one kind go with a (binary) label column.

    follows: the class value most flagged images belong to, when the flags follow
        it (enough of them, most in that class, Fisher p below the limit); None otherwise.
    share_in_class: share of the flagged images that are in their most common class.
    """

    column: str
    kind: str
    rates: tuple[ClassRate, ...]
    n_flagged: int
    share_in_class: float
    p_value: float
    follows: Any = None
    note: str = ""


@dataclass(frozen=True)
class AssociationRule:
    """When flags count as following a class: at least ``min_flags`` flagged images,
    at least ``min_share`` of them in one class, that class's flag rate at least
    ``min_rate_ratio`` times the other's, and Fisher p below ``max_p``."""

    min_flags: int = 5
    min_share: float = 0.8
    min_rate_ratio: float = 3.0
    max_p: float = 0.01


@dataclass
class ScanSummary:
    """Counts and associations for a whole scan; ``text()`` is what the CLI prints."""

    n_images: int
    n_scanned: int
    n_flagged: int
    n_failures: int
    counts: dict[str, int] = field(default_factory=dict)
    associations: list[LabelAssociation] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def flag_rate(self) -> float:
        return self.n_flagged / self.n_scanned if self.n_scanned else float("nan")

    def text(self) -> str:
        """A few readable lines: totals, counts per reason, flag rate per class, notes."""
        lines = [f"scanned {self.n_scanned} of {self.n_images} images: {self.n_flagged} flagged "
                 f"({100 * self.flag_rate:.1f} %)" if self.n_scanned else
                 f"scanned 0 of {self.n_images} images"]
        if self.n_failures:
            lines.append(f"{self.n_failures} file(s) could not be read")
        for kind, n in sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0])):
            lines.append(f"  {kind}: {n}")
        for a in self.associations:
            if a.kind != ANY_FLAG:
                continue
            rates = ", ".join(f"{a.column}={_fmt(r.value)}: {r.n_flagged}/{r.n_images} "
                              f"({100 * r.rate:.1f} %)" for r in a.rates)
            lines.append(f"flag rate by {a.column}: {rates}")
        lines.extend(self.notes)
        return "\n".join(lines)


def binary_labels(values: Sequence[Any] | np.ndarray) -> np.ndarray | None:
    """0/1 (or True/False) labels as an int array; fractions in [0, 1] thresholded at 0.5.

    Returns None for columns that are not labels (text, more than two values
    outside [0, 1], or only one class). Masked / NaN entries become -1.
    """
    arr = np.ma.asarray(values)
    mask = np.ma.getmaskarray(arr)
    try:
        data = np.asarray(arr.filled(np.nan) if arr.dtype.kind == "f" else arr.data, dtype=float)
    except (TypeError, ValueError):
        return None
    bad = mask | ~np.isfinite(data)
    good = data[~bad]
    if good.size == 0:
        return None
    uniq = np.unique(good)
    if set(uniq.tolist()) <= {0.0, 1.0}:
        out = data.copy()
    elif good.min() >= 0 and good.max() <= 1:
        out = (data >= 0.5).astype(float)
    else:
        return None
    labels = np.where(bad, -1, out).astype(int)
    if len(np.unique(labels[labels >= 0])) < 2:
        return None
    return labels


def associate(column: str, labels: np.ndarray, flagged: np.ndarray, kind: str = ANY_FLAG,
              rule: AssociationRule | None = None) -> LabelAssociation:
    """Flag rate per class of one binary label column, and whether the flags follow a class."""
    rule = rule or AssociationRule()
    ok = labels >= 0
    lab, fl = labels[ok], flagged[ok].astype(bool)
    rates = tuple(ClassRate(value=v, n_images=int((lab == v).sum()), n_flagged=int((fl & (lab == v)).sum()))
                  for v in (1, 0))
    n_flagged = int(fl.sum())
    table = [[r.n_flagged, r.n_images - r.n_flagged] for r in rates]
    p = float(fisher_exact(table)[1]) if n_flagged else 1.0
    top = max(rates, key=lambda r: r.n_flagged)
    other = rates[1] if top is rates[0] else rates[0]
    share = top.n_flagged / n_flagged if n_flagged else 0.0
    ratio = top.rate / other.rate if other.rate > 0 else float("inf")
    follows = None
    note = ""
    if n_flagged >= rule.min_flags and share >= rule.min_share and ratio >= rule.min_rate_ratio \
            and p < rule.max_p:
        follows = top.value
        what = "flags" if kind == ANY_FLAG else f"'{kind}' flags"
        note = (f"{what} follow {column}={_fmt(top.value)}: {100 * share:.0f} % of the {n_flagged} flagged "
                f"images have {column}={_fmt(top.value)} (flag rate {100 * top.rate:.1f} % vs "
                f"{100 * other.rate:.1f} %, Fisher p = {p:.1e}): a dataset bias the model may use as a "
                f"shortcut, not one-off mistakes")
    return LabelAssociation(column=column, kind=kind, rates=rates, n_flagged=n_flagged, share_in_class=share,
                            p_value=p, follows=follows, note=note)


def summarise(kinds_per_image: Sequence[Sequence[str]], labels: dict[str, np.ndarray], *, n_images: int,
              n_failures: int, rule: AssociationRule | None = None) -> ScanSummary:
    """Counts per flag kind and associations of each kind (and of any flag) with each label column.

    ``kinds_per_image``: the flag kinds of every scanned image (empty: not flagged);
    ``labels``: column -> binary labels aligned with it (see `binary_labels`).
    """
    counts = Counter(k for kinds in kinds_per_image for k in kinds)
    flagged_any = np.array([bool(k) for k in kinds_per_image], bool)
    out = ScanSummary(n_images=n_images, n_scanned=len(kinds_per_image), n_flagged=int(flagged_any.sum()),
                      n_failures=n_failures, counts=dict(counts))
    for column, lab in labels.items():
        lab = np.asarray(lab)
        if lab.shape[0] != len(kinds_per_image):
            raise ValueError(f"labels of {column!r} ({lab.shape[0]}) do not match the images "
                             f"({len(kinds_per_image)})")
        for kind in (ANY_FLAG, *sorted(counts)):
            fl = flagged_any if kind == ANY_FLAG else np.array([kind in k for k in kinds_per_image], bool)
            a = associate(column, lab, fl, kind, rule)
            out.associations.append(a)
            if a.note:
                out.notes.append(a.note)
    if out.n_flagged and labels and not out.notes:
        out.notes.append("the flags do not follow any label class: one-off cases rather than a dataset bias")
    return out


def _fmt(v: Any) -> str:
    return str(int(v)) if isinstance(v, (int, np.integer, bool, np.bool_)) else str(v)
