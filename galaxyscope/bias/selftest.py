"""The planted-shortcut check on the user's own model: do the flags find a star, and spare a clean set?

Why: whether the flags work depends on the model (how its saliency spreads) and
on the thresholds, so a user should be able to test them on their model rather
than trust one experiment. `run_selftest` renders two synthetic sets at the side
the user's images have - one where a saturated star sits on 70 % of the barred
galaxies (always in the same place, the shortcut of issue 7), and a clean one -
scans both with the same thresholds a scan would use, and reports:

- recall: the share of star images flagged;
- precision: the share of flagged images in the star set that carry the star;
- the clean set's flag rate (false alarms on galaxies that carry nothing).

A model that ignores the star may still put SmoothGrad mass on it (the maps follow
bright input), so a high recall means "the flags see saliency drawn to the star",
not "this model cheats"; the class summary of a real scan says whether flags follow
a label.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

#: the planted shortcut: star on barred galaxies, 70 % of them (issue 7 / issue 21)
PLANTED = dict(artefact="star", artefact_on="bar", artefact_fraction=0.7)
from galaxyscope.bias.defaults import DEFAULT_SELFTEST_N  # noqa: E402
#: seeds of the self-test sets (apart from the synthetic reference's and the experiments')
STAR_SEED, CLEAN_SEED = 4_242_001, 4_242_002


@dataclass(frozen=True)
class ArtefactDetection:
    """How a scan's flags match the planted artefacts (truth: the catalogue's ``artefact`` column)."""

    n_images: int
    n_artefact: int
    n_flagged: int
    true_pos: int
    false_pos: int
    recall: float
    precision: float
    flag_rate: float
    flag_rate_no_artefact: float


@dataclass(frozen=True)
class SelftestResult:
    """The self-test's numbers: detection on the star set, false alarms on the clean set."""

    star: ArtefactDetection
    clean_flag_rate: float
    n_clean: int
    threshold_mode: str
    star_dir: str
    clean_dir: str
    notes: tuple[str, ...] = ()

    def passed(self, min_recall: float = 0.9, min_precision: float = 0.9, max_clean_rate: float = 0.05) -> bool:
        """The issue's targets: recall and precision >= 0.9, <= 5 % of a clean set flagged."""
        s = self.star
        return bool(s.recall >= min_recall and s.precision >= min_precision and self.clean_flag_rate <= max_clean_rate)

    def text(self) -> str:
        s = self.star
        lines = [
            f"planted-shortcut self-test ({self.threshold_mode} thresholds)",
            f"  star set ({self.star_dir}): {s.n_artefact} of {s.n_images} images carry the star; "
            f"{s.n_flagged} flagged, {s.true_pos} of them with the star",
            f"  recall {_fmt(s.recall)} ({s.true_pos}/{s.n_artefact})  precision {_fmt(s.precision)} "
            f"({s.true_pos}/{s.n_flagged})  "
            f"(flag rate of the star set's images without a star {_pct(s.flag_rate_no_artefact)})",
            f"  clean set ({self.clean_dir}): {_pct(self.clean_flag_rate)} of {self.n_clean} images flagged",
            "  targets: recall >= 0.9, precision >= 0.9, clean flag rate <= 5 %: "
            + ("met" if self.passed() else "NOT met"),
        ]
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed()}


def artefact_detection(filenames: Sequence[str], flagged: Sequence[bool], catalogue: Any) -> ArtefactDetection:
    """Recall / precision of ``flagged`` for the catalogue's artefact images, joined on filename.

    Raises KeyError naming a file the catalogue does not list.
    """
    truth = {str(f): str(a) != "none" for f, a in zip(catalogue["filename"], catalogue["artefact"])}
    missing = [f for f in filenames if str(f) not in truth]
    if missing:
        raise KeyError(f"{missing[0]}: not in the catalogue")
    art = np.array([truth[str(f)] for f in filenames], bool)
    fl = np.asarray(flagged, bool)
    tp, fp = int((fl & art).sum()), int((fl & ~art).sum())

    def rate(m: np.ndarray) -> float:
        return float(fl[m].mean()) if m.any() else math.nan

    return ArtefactDetection(
        n_images=len(fl), n_artefact=int(art.sum()), n_flagged=int(fl.sum()), true_pos=tp, false_pos=fp,
        recall=tp / art.sum() if art.any() else math.nan, precision=tp / fl.sum() if fl.any() else math.nan,
        flag_rate=rate(np.ones_like(art)), flag_rate_no_artefact=rate(~art))


def selftest_dirs(root: Path, side: int, n: int) -> tuple[Path, Path]:
    """The star set's and the clean set's folders under ``root``."""
    return (root / f"star-{side}px-n{n}-seed{STAR_SEED}", root / f"clean-{side}px-n{n}-seed{CLEAN_SEED}")


def make_selftest_sets(root: Path, side: int, n: int = DEFAULT_SELFTEST_N, *,
                       progress: Callable[[int, int], None] | None = None,
                       cancel: Callable[[], bool] | None = None) -> tuple[Path, Path]:
    """Render the star and clean sets (each once; cached under ``root``)."""
    from galaxyscope.bias.reference import _render_once

    star, clean = selftest_dirs(root, side, n)
    _render_once(star, dict(n=n, seed=STAR_SEED, size=side, **PLANTED), progress, cancel)
    _render_once(clean, dict(n=n, seed=CLEAN_SEED, size=side, artefact="none"), progress, cancel)
    return star, clean


def run_selftest(model: Any, scan: Callable[[Any], Any], *, root: Path, side: int, n: int = DEFAULT_SELFTEST_N,
                 progress: Callable[[int, int], None] | None = None,
                 cancel: Callable[[], bool] | None = None) -> SelftestResult:
    """Render (once) and scan the star and clean sets; ``scan(image_set) -> ScanReport`` scans one set
    exactly as `scan-bias` would scan the user's (same thresholds, saliency and reference)."""
    from galaxyscope.images.imageset import ImageSet
    from galaxyscope.synth.dataset import read_catalog

    star_dir, clean_dir = make_selftest_sets(root, side, n, progress=progress, cancel=cancel)
    star_report = scan(ImageSet.open(str(star_dir)))
    clean_report = scan(ImageSet.open(str(clean_dir)))
    det = artefact_detection([r.filename for r in star_report.rows], [r.flagged for r in star_report.rows],
                             read_catalog(star_dir / "catalog.ecsv"))
    rows = clean_report.rows
    clean_rate = sum(r.flagged for r in rows) / len(rows) if rows else math.nan
    notes = tuple(f"star set: {t}" for t in star_report.notes) + tuple(f"clean set: {t}" for t in clean_report.notes)
    return SelftestResult(star=det, clean_flag_rate=clean_rate, n_clean=len(rows),
                          threshold_mode=str(star_report.meta.get("threshold_mode", "")),
                          star_dir=str(star_dir), clean_dir=str(clean_dir), notes=notes)


def _fmt(x: float) -> str:
    return "n/a" if not math.isfinite(x) else f"{x:.3f}"


def _pct(x: float) -> str:
    return "n/a" if not math.isfinite(x) else f"{100 * x:.1f} %"
