"""Turn an image set plus catalogue columns into in-memory training tensors.

Every image is read and preprocessed once (crop + resize to the model's input)
and kept as uint8 (float16 when the preprocessing does not map to [0, 1]): a
few thousand 96-128 px images take tens of MB, and epochs then cost only the
network's arithmetic. Bad files are skipped and reported, not fatal.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from galaxyscope.errors import CancelledError, GalaxyscopeError, ImageReadError
from galaxyscope.model.preprocess import Preprocessing
from galaxyscope.progress import CancelCheck as Cancel, Progress


class TrainingDataError(GalaxyscopeError):
    """The dataset or the requested target columns can't be trained on (message says why)."""


@dataclass
class TrainingData:
    """Preprocessed images and their targets, row-aligned.

    images: N x C x S x S, uint8 (value/255) or float16; see ``as_float``.
    targets: N x K float32 in the catalogue's units.
    keys: file key of each row (relative path inside the dataset).
    skipped: "path: reason" for each unreadable file.
    dropped: rows left out before reading, with the reason and how many.
    data_hash: sha256 over sorted (key, target values, file size).
    masks: N x 1 x S x S uint8 (value/255) bar masks on the model's grid, for
        saliency guidance; zeros for rows without a mask; None when not asked for.
    """

    images: torch.Tensor
    targets: np.ndarray
    keys: list[str]
    target_names: list[str]
    classify: bool
    skipped: list[str] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)
    data_hash: str = ""
    masks: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.keys)

    def as_float(self, index: torch.Tensor | slice) -> torch.Tensor:
        """Float32 images for the given rows (uint8 storage rescaled to [0, 1])."""
        x = self.images[index]
        return x.float().div_(255.0) if x.dtype == torch.uint8 else x.float()


def open_dataset(dataset: Any) -> Any:
    """An ``ImageSet`` for a path (folder or catalogue); an ImageSet passes through."""
    if not isinstance(dataset, (str, Path)):
        return dataset
    from galaxyscope.images.imageset import ImageSet  # imported late: built in parallel

    path = Path(dataset)
    if not path.exists():
        raise TrainingDataError(f"{path}: no such file or folder")
    return ImageSet.open(path)


def target_matrix(imageset: Any, names: list[str]) -> np.ndarray:
    """N x K float64 target values (NaN where masked or missing), with clear errors."""
    table = getattr(imageset, "catalogue", None)
    colnames = list(table.colnames) if table is not None else []
    missing = [n for n in names if n not in colnames]
    if missing:
        have = ", ".join(colnames) if colnames else "none (the dataset has no catalogue)"
        raise TrainingDataError(f"no column {', '.join(map(repr, missing))} in the catalogue; columns: {have}")
    cols = []
    for name in names:
        raw = imageset.column(name)
        mask = np.ma.getmaskarray(raw)
        data = np.ma.getdata(raw)
        if data.dtype.kind == "b":
            data = data.astype(float)
        if data.dtype.kind not in "iuf":
            raise TrainingDataError(f"column {name!r} is not numeric (dtype {data.dtype}); "
                                    "targets must be numbers (0/1, vote fractions or a length)")
        values = data.astype(np.float64)
        values[mask] = np.nan
        cols.append(values)
    return np.stack(cols, axis=1) if cols else np.zeros((len(imageset), 0))


def select_rows(values: np.ndarray, names: list[str], classify: bool,
                positive_only: bool) -> tuple[np.ndarray, dict[str, int]]:
    """Indices of usable rows, and counts of rows dropped per reason.

    Classification targets must lie in [0, 1] (binary labels or vote fractions);
    regression drops rows <= 0 when ``positive_only`` (bar length of barred
    galaxies only: unbarred ones have no length to learn).
    """
    finite = np.all(np.isfinite(values), axis=1)
    dropped = {"missing or non-finite target": int(np.count_nonzero(~finite))}
    keep = finite
    if classify:
        v = values[finite]
        for j, name in enumerate(names):
            if v.size and (v[:, j].min() < 0 or v[:, j].max() > 1):
                raise TrainingDataError(
                    f"column {name!r} has values outside [0, 1] (min {v[:, j].min():.4g}, max "
                    f"{v[:, j].max():.4g}): targets must be 0/1 labels or vote fractions; "
                    f"use --regress {name} for a continuous quantity")
    elif positive_only:
        nonpos = finite & (values[:, 0] <= 0)
        dropped["target <= 0 (regression uses barred galaxies only)"] = int(np.count_nonzero(nonpos))
        keep = finite & ~nonpos
    v = values[keep]
    for j, name in enumerate(names):
        if len(v) > 1 and np.ptp(v[:, j]) == 0:
            raise TrainingDataError(f"column {name!r} has the same value ({v[0, j]:.4g}) in every usable row: "
                                    "nothing to learn")
    return np.flatnonzero(keep), {k: v for k, v in dropped.items() if v}


def _entry_size(imageset: Any, i: int) -> int:
    entry = imageset.entries[i]
    path = getattr(entry, "path", None)
    if path is None and getattr(imageset, "root", None) is not None:
        path = Path(imageset.root) / entry.key
    try:
        return Path(path).stat().st_size if path is not None else -1
    except OSError:
        return -1


def training_data_hash(keys: list[str], targets: np.ndarray, sizes: list[int], names: list[str],
                       mode: str) -> str:
    """sha256 identifying what a model was trained on: cheap (no pixel reads), order-free."""
    h = hashlib.sha256()
    h.update(f"{mode}|{','.join(names)}\n".encode())
    for key, row, size in sorted(zip(keys, targets.tolist(), sizes)):
        h.update(f"{key}|{size}|{','.join(repr(float(v)) for v in row)}\n".encode())
    return h.hexdigest()


def load_training_data(dataset: Any, targets: list[str] | None = None, regress: str | None = None, *,
                       preprocessing: Preprocessing = Preprocessing(), positive_only: bool = True,
                       mask_column: str | None = None,
                       progress: Progress | None = None, cancel: Cancel | None = None) -> TrainingData:
    """Read the images and target columns a training run needs, once.

    Exactly one of ``targets`` (classification columns) or ``regress`` (one
    column) must be given. Raises ``TrainingDataError`` for unusable columns or
    an empty result; unreadable images are skipped and listed. With
    ``mask_column`` (e.g. ``bar_mask`` of a ``synth`` set) each row's mask file
    is read too; an empty entry means "no bar" (all-zero mask), and a row whose
    mask file cannot be read is skipped like an unreadable image.
    """
    if bool(targets) == bool(regress):
        raise TrainingDataError("give either target columns to classify or one column to regress, not both")
    names = list(targets) if targets else [str(regress)]
    classify = bool(targets)
    imageset = open_dataset(dataset)
    if len(imageset) == 0:
        raise TrainingDataError(f"{dataset}: the dataset holds no images")
    values = target_matrix(imageset, names)
    mask_names = _mask_names(imageset, mask_column) if mask_column else None
    rows, dropped = select_rows(values, names, classify, positive_only)
    if len(rows) == 0:
        raise TrainingDataError(f"{dataset}: no rows with usable values in {', '.join(names)} "
                                f"({', '.join(f'{v} {k}' for k, v in dropped.items())})")

    images, kept, skipped, masks = read_images(imageset, rows, preprocessing, mask_names=mask_names,
                                               progress=progress, cancel=cancel)
    if not kept:
        raise TrainingDataError(f"{dataset}: none of the {len(rows)} images could be read "
                                f"(first problem: {skipped[0] if skipped else 'unknown'})")
    keys = [str(imageset.entries[i].key) for i in kept]
    y = values[kept].astype(np.float32)
    sizes = [_entry_size(imageset, i) for i in kept]
    mode = "classify" if classify else "regress"
    return TrainingData(images=images, targets=y, keys=keys, target_names=names,
                        classify=classify, skipped=skipped, dropped=dropped,
                        data_hash=training_data_hash(keys, y, sizes, names, mode), masks=masks)


def read_images(imageset: Any, rows: np.ndarray | list[int], preprocessing: Preprocessing, *,
                mask_names: list[str] | None = None, progress: Progress | None = None,
                cancel: Cancel | None = None, inspect: Callable[[Any], None] | None = None,
                ) -> tuple[torch.Tensor, list[int], list[str], torch.Tensor | None]:
    """Read and preprocess the given rows of an image set once, as training keeps them.

    Returns (images N x C x S x S: uint8 = value/255 for per-image normalisation,
    else float16; the entry indices that were read; "path: reason" for each
    unreadable file, the set's own listing failures first; masks or None).
    Shared by the labelled, weakly labelled and unlabelled loaders so all of them
    store and skip the same way. ``inspect(image)`` is called with each image
    read (after preprocessing, so e.g. its cached galaxy extent can be counted).
    """
    store_uint8 = preprocessing.normalisation == "per-image"
    s = preprocessing.input_size
    images = torch.empty((len(rows), preprocessing.channels, s, s),
                         dtype=torch.uint8 if store_uint8 else torch.float16)
    masks = torch.zeros((len(rows), 1, s, s), dtype=torch.uint8) if mask_names is not None else None
    kept: list[int] = []
    skipped: list[str] = [str(f) for f in getattr(imageset, "failures", [])]  # e.g. files named but absent
    for n, i in enumerate(rows):
        if cancel is not None and cancel():
            raise CancelledError("training data loading cancelled")
        try:
            image = imageset[int(i)]
            x = preprocessing.to_model(image)[0]
            if inspect is not None:
                inspect(image)
            if masks is not None and mask_names is not None and mask_names[int(i)]:
                masks[len(kept), 0] = _read_row_mask(imageset, mask_names[int(i)], preprocessing)
        except ImageReadError as exc:
            skipped.append(str(exc))
        else:
            images[len(kept)] = x.mul(255.0).round_().clamp_(0, 255).to(torch.uint8) if store_uint8 \
                else x.to(torch.float16)
            kept.append(int(i))
        if progress is not None:
            progress(n + 1, len(rows))
    return (images[: len(kept)].clone(), kept, skipped,
            masks[: len(kept)].clone() if masks is not None else None)


def _mask_names(imageset: Any, column: str) -> list[str]:
    """The mask file named in ``column`` for every entry ("" where none)."""
    table = getattr(imageset, "catalogue", None)
    if table is None or column not in table.colnames:
        have = ", ".join(table.colnames) if table is not None else "none (the dataset has no catalogue)"
        raise TrainingDataError(f"no mask column {column!r} in the catalogue; columns: {have}")
    raw = imageset.column(column)
    missing = np.ma.getmaskarray(raw)
    return ["" if bad else str(v).strip() for v, bad in zip(np.ma.getdata(raw), missing)]


def _read_row_mask(imageset: Any, name: str, preprocessing: Preprocessing) -> torch.Tensor:
    from galaxyscope.model.guidance import read_mask

    path = Path(imageset.root) / name
    try:
        m = read_mask(path, preprocessing)
    except (OSError, ValueError) as exc:
        raise ImageReadError(path, f"bar mask unreadable ({exc})") from exc
    return m.mul(255.0).round_().to(torch.uint8)
