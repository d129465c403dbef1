"""The barred galaxies of a synthetic set with their truth, shared by the exp_* scripts.

Run the scripts as ``python tests/benchmarks/NAME.py``: this folder is then on sys.path.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import numpy as np


@dataclass
class BarredSet:
    """An ImageSet's barred rows: positions, true lengths, r90 and bar visibility (aligned)."""

    images: object
    idx: np.ndarray
    true: np.ndarray
    r90: np.ndarray
    vis: np.ndarray

    def __len__(self) -> int:
        return len(self.idx)

    def image(self, k: int):
        """The k-th barred galaxy's GalaxyImage."""
        return self.images[int(self.idx[k])]


def open_barred(path: str) -> BarredSet:
    """Open a `galaxyscope synth` folder and keep its barred galaxies."""
    from galaxyscope.images.imageset import ImageSet

    s = ImageSet.open(path)
    idx = np.flatnonzero(np.asarray(s.column("has_bar"), bool))

    def col(name: str) -> np.ndarray:
        return np.asarray(s.column(name), float)[idx]

    return BarredSet(s, idx, col("bar_length_px"), col("r90_px"), col("bar_visibility"))


def experiment_parser(doc: str) -> argparse.ArgumentParser:
    """--data, --model and --samples, the options every saliency experiment takes."""
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("--data", required=True, help="a galaxyscope synth folder")
    ap.add_argument("--model", default=None, help="checkpoint (default: the shipped model)")
    ap.add_argument("--samples", type=int, default=50, help="SmoothGrad samples")
    return ap
