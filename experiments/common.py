"""What the research scripts share: where their data lives, the shipped model, a synthetic set's
barred galaxies, the measurement grid and the "measurable bar" selection.

Why one module: the scripts used to copy these or import each other's private functions, and
each had its own hard-coded data folder. Run every script from the repository root as a module,
``python -m experiments.NAME --help`` (likewise ``benchmarks.NAME`` and ``tools.NAME``), so this
module imports without any ``sys.path`` edits.

Data locations come from options whose defaults follow two environment variables:

- ``GALAXYSCOPE_DATA``: the folder of synthetic sets and experiment work (models, caches), e.g.
  ``$GALAXYSCOPE_DATA/val200`` made by ``galaxyscope synth $GALAXYSCOPE_DATA/val200 --n 200
  --seed 3030 --bar-fraction 0.6``. Unset, every option that would default under it is required.
- ``GALAXYSCOPE_SHARED_DATA``: the real galaxy sets (gz-bar-examples, galaxy-builder-dev,
  gz2-kaggle, decals-zoobot); default ``../shared/data`` beside the checkout.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from galaxyscope.measure.calibration import MEASURABLE_VOTE, measurable_bars  # noqa: F401  (one home, re-used here)

REPO = Path(__file__).resolve().parents[1]
DATA_ENV = "GALAXYSCOPE_DATA"
SHARED_ENV = "GALAXYSCOPE_SHARED_DATA"
#: the sentence a generated report carries once, so that ``$GALAXYSCOPE_DATA/...`` paths are readable
DATA_NOTE = ("`$GALAXYSCOPE_DATA` is the folder of synthetic sets and experiment work named by that "
             "environment variable (experiments/common.py).")


def shipped_model() -> Path:
    """The model the app ships (honours ``GALAXYSCOPE_RESOURCES``)."""
    from galaxyscope.resources import resources_dir

    return resources_dir() / "models" / "default.safetensors"


def data_dir(*parts: str) -> Path | None:
    """``$GALAXYSCOPE_DATA/parts...``, or None when the variable is unset."""
    root = os.environ.get(DATA_ENV)
    return Path(root).joinpath(*parts) if root else None


def shared_data(*parts: str) -> Path:
    """``$GALAXYSCOPE_SHARED_DATA/parts...`` (default: ``../shared/data`` beside the checkout)."""
    root = os.environ.get(SHARED_ENV)
    return (Path(root) if root else REPO.parent / "shared" / "data").joinpath(*parts)


def add_data_option(ap: argparse.ArgumentParser, flag: str, name: str, help: str) -> None:
    """``flag PATH`` defaulting to ``$GALAXYSCOPE_DATA/name``; required when the variable is unset."""
    default = data_dir(name)
    ap.add_argument(flag, type=Path, default=default, required=default is None,
                    help=f"{help} (default: ${DATA_ENV}/{name})")


def display_path(path: str | Path) -> str:
    """How a path is written into reports: ``$GALAXYSCOPE_DATA/...`` or ``$GALAXYSCOPE_SHARED_DATA/...``
    when under those, relative when inside the repository, else as given. Why: reports and docs
    are committed and read on other machines, where the absolute folder means nothing."""
    if not Path(path).is_absolute():
        return Path(path).as_posix()  # already machine-neutral
    resolved = Path(path).resolve()
    roots = [(os.environ.get(DATA_ENV), f"${DATA_ENV}"), (str(shared_data()), f"${SHARED_ENV}")]
    for root, shown in roots:
        if root:
            try:
                return f"{shown}/{resolved.relative_to(Path(root).resolve()).as_posix()}"
            except ValueError:
                pass
    try:
        return resolved.relative_to(REPO).as_posix()
    except ValueError:
        return str(path)


# ----------------------------------------------------------------------------- synthetic sets


@dataclass
class BarredSet:
    """An ImageSet's barred rows: positions, true lengths, r90 and bar visibility (aligned)."""

    images: Any  # galaxyscope.images.imageset.ImageSet
    idx: np.ndarray
    true: np.ndarray
    r90: np.ndarray
    vis: np.ndarray

    def __len__(self) -> int:
        return len(self.idx)

    def image(self, k: int) -> Any:
        """The k-th barred galaxy's GalaxyImage."""
        return self.images[int(self.idx[k])]


def open_barred(path: str | Path) -> BarredSet:
    """Open a ``galaxyscope synth`` folder and keep its barred galaxies."""
    from galaxyscope.images.imageset import ImageSet

    s = ImageSet.open(path)
    idx = np.flatnonzero(np.asarray(s.column("has_bar"), bool))

    def col(name: str) -> np.ndarray:
        return np.asarray(s.column(name), float)[idx]

    return BarredSet(s, idx, col("bar_length_px"), col("r90_px"), col("bar_visibility"))


def experiment_parser(doc: str, default_set: str = "val200") -> argparse.ArgumentParser:
    """--data, --model and --samples, the options every saliency experiment takes.

    ``--data`` defaults to a VALIDATION set under $GALAXYSCOPE_DATA: the test set is only ever
    named explicitly."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_option(ap, "--data", default_set, "a galaxyscope synth folder")
    ap.add_argument("--model", default=None, help="checkpoint (default: the shipped model)")
    ap.add_argument("--samples", type=int, default=50, help="SmoothGrad samples")
    return ap


# ----------------------------------------------------------------------------- measuring


def measure_grid() -> list[tuple[str, Any, str]]:
    """(method, options, label): the paper's method and the moments grid tuned on validation
    in the issue-6 comparison (exp_saliency, exp_ig_val)."""
    from galaxyscope.measure import MomentsParams, PaperParams

    grid: list[tuple[str, Any, str]] = [("paper", PaperParams(), "paper (defaults)")]
    for t, blur, lf, mode in itertools.product((0.2, 0.3, 0.4, 0.5, 0.6, 0.7), (0.75, 1.5, 3.0),
                                               ("extent", "axis"), ("fixed", "sweep")):
        grid.append(("moments", MomentsParams(t_start=t, blur_sigma=blur, length_from=lf, threshold_mode=mode),
                     f"moments t={t} blur={blur} {lf} {mode}"))
    return grid


def measured_lengths(maps: list[np.ndarray], method: str, opts: Any, size: int, crop: float) -> np.ndarray:
    """Bar length (px) of each map with one method and its options."""
    from galaxyscope.measure import measure_bar

    return np.array([measure_bar(m, method, model_input_size=size, crop_fraction=crop, options=opts).length_px
                     for m in maps])


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rho over the pairs where both are finite; NaN with 3 or fewer."""
    from scipy.stats import spearmanr

    a, b = np.asarray(a, float), np.asarray(b, float)
    ok = np.isfinite(a) & np.isfinite(b)
    return float(spearmanr(a[ok], b[ok])[0]) if ok.sum() > 3 else math.nan
