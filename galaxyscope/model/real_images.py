"""Read folders of real galaxy images for training, framed the way inference frames them.

Why the framing matters: at inference a real image is cropped by the galaxy's
measured size (``Preprocessing(framing="galaxy")``, ``frame_r90`` x R90), while
synthetic training images use a fixed central crop that was calibrated to show
the galaxy at the same scale. Real training images must go through the galaxy
framing too, or the network learns them at a scale it will never see again.

Images are read once through ``ImageSet`` and ``trainset.read_images`` (same
storage and the same "path: reason" record for unreadable files as the
labelled set).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from galaxyscope.errors import ImageReadError
from galaxyscope.model.preprocess import Preprocessing
from galaxyscope.model.trainset import TrainingDataError, read_images
from galaxyscope.progress import CancelCheck as Cancel, Progress

#: the shipped model's calibrated view (crop side / R90 of synthetic frames at crop 0.5)
DEFAULT_FRAME_R90 = 3.006
DEFAULT_FRAME_CROP = 0.5


def default_frame_r90(crop_fraction: float) -> float:
    """The galaxy framing that matches a fixed synthetic crop of ``crop_fraction``.

    The shipped model's calibration (3.006 x R90 at crop 0.5, ``tools/calibrate_real.py``)
    scaled with the crop: the synthetic galaxies' R90 is a fixed share of their frame.
    Only valid for sets made by ``galaxyscope synth`` with its default sizes.
    """
    return round(DEFAULT_FRAME_R90 * float(crop_fraction) / DEFAULT_FRAME_CROP, 3)


def real_preprocessing(preprocessing: Preprocessing, frame_r90: float) -> Preprocessing:
    """The run's preprocessing with galaxy framing at ``frame_r90``: how real images are read."""
    if not frame_r90 > 0:
        raise TrainingDataError(f"frame_r90 must be positive, got {frame_r90}")
    return dataclasses.replace(preprocessing, framing="galaxy", frame_r90=float(frame_r90))


@dataclass
class RealImages:
    """Preprocessed real images of one folder (no labels).

    images: N x C x S x S, stored like ``TrainingData.images`` (uint8 = value/255).
    keys: each row's file key inside the folder; rows: its index in the ImageSet.
    n_listed: images the folder holds; n_sampled: how many were asked for.
    n_fixed_crop: images whose galaxy size could not be measured, so they got the
        fixed central crop instead of the galaxy framing.
    """

    folder: str
    images: torch.Tensor
    keys: list[str]
    rows: list[int]
    n_listed: int
    n_sampled: int
    skipped: list[str] = field(default_factory=list)
    n_fixed_crop: int = 0

    def __len__(self) -> int:
        return len(self.keys)

    def record(self) -> dict[str, Any]:
        """What went into training, for the model's metrics."""
        return {"folder": self.folder, "n_listed": self.n_listed, "n_sampled": self.n_sampled,
                "n_used": len(self), "n_skipped": len(self.skipped), "n_fixed_crop": self.n_fixed_crop}


def open_real_folder(folder: str | Path) -> Any:
    """An ``ImageSet`` for a folder of real images, with errors that name the folder."""
    from galaxyscope.images.imageset import ImageSet

    path = Path(folder)
    if not path.is_dir():
        raise TrainingDataError(f"{path}: no such folder")
    try:
        imageset = ImageSet.open(path)
    except ImageReadError as exc:
        raise TrainingDataError(f"{path}: cannot open as an image folder ({exc.reason})") from exc
    if len(imageset) == 0:
        why = f" ({len(imageset.failures)} catalogue rows name missing files)" if imageset.failures else ""
        raise TrainingDataError(f"{path}: no images found in the folder{why}")
    return imageset


def sample_rows(rows: np.ndarray, max_images: int | None, seed: int) -> np.ndarray:
    """A seeded random subset of ``rows`` of at most ``max_images`` (all when None), kept in order."""
    rows = np.asarray(rows, dtype=np.int64)
    if max_images is None or max_images >= len(rows):
        return rows
    if max_images < 1:
        raise TrainingDataError("the number of real images to use must be at least 1")
    pick = np.random.default_rng(seed).choice(len(rows), size=int(max_images), replace=False)
    return rows[np.sort(pick)]


def read_real_rows(imageset: Any, folder: str | Path, rows: np.ndarray, preprocessing: Preprocessing, *,
                   n_listed: int | None = None, progress: Progress | None = None,
                   cancel: Cancel | None = None) -> RealImages:
    """Read ``rows`` of ``imageset`` with ``preprocessing``; unreadable files are skipped and listed."""
    counter = {"fixed": 0}

    def count_fallback(image: Any) -> None:
        if preprocessing.uses_galaxy_framing and not preprocessing.extent_of(image).ok:
            counter["fixed"] += 1

    images, kept, skipped, _ = read_images(imageset, rows, preprocessing, progress=progress, cancel=cancel,
                                           inspect=count_fallback)
    if not kept:
        raise TrainingDataError(f"{folder}: none of the {len(rows)} images could be read "
                                f"(first problem: {skipped[0] if skipped else 'unknown'})")
    return RealImages(folder=str(folder), images=images, keys=[str(imageset.entries[i].key) for i in kept],
                      rows=kept, n_listed=len(imageset) if n_listed is None else n_listed, n_sampled=len(rows),
                      skipped=skipped, n_fixed_crop=counter["fixed"])


def load_real_folder(folder: str | Path, preprocessing: Preprocessing, *, max_images: int | None = None,
                     seed: int = 0, progress: Progress | None = None, cancel: Cancel | None = None) -> RealImages:
    """All images below ``folder`` (or a seeded sample of ``max_images``), preprocessed once.

    ``preprocessing`` should be galaxy-framed (``real_preprocessing``). Raises
    ``TrainingDataError`` naming the folder when it holds no readable image.
    """
    imageset = open_real_folder(folder)
    rows = sample_rows(np.arange(len(imageset)), max_images, seed)
    return read_real_rows(imageset, folder, rows, preprocessing, progress=progress, cancel=cancel)
