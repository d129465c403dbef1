"""Weak labels from real images: extra sigmoid outputs trained beside the synthetic ones.

Why: real galaxies with even rough labels (a third party's spiral / non-spiral
split of Galaxy Zoo 2, Galaxy Zoo DECaLS vote fractions) teach the network's
features what real galaxies look like, which no amount of synthetic data does.
The labels are not about bars, so they become their own outputs, appended after
the synthetic targets (``has_bar`` stays output 0, where saliency looks).

A folder gives its labels in one of two ways:

* a catalogue (catalog.ecsv / catalog.csv) : every numeric column whose values
  lie in [0, 1] (0/1 labels or vote fractions) becomes ``weak_<column>``;
  other numeric columns are left out with the reason recorded, text columns
  silently. ``columns`` picks some (those a catalogue lacks are ignored).
* class subfolders (no catalogue): ``spiral/`` + ``non_spiral/`` (or ``no_``,
  ``not_``) give one output ``weak_spiral`` (1 in spiral/); other layouts give
  one 0/1 output per subfolder.

Rows of one source have no label for the other's outputs: NaN, ignored by
``masked_loss``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from galaxyscope.model.preprocess import Preprocessing
from galaxyscope.model.real_images import RealImages, open_real_folder, read_real_rows, sample_rows
from galaxyscope.model.trainset import TrainingDataError
from galaxyscope.model.val_metrics import OutputMetrics, output_metrics
from galaxyscope.progress import CancelCheck as Cancel, Progress

PREFIX = "weak_"
NEGATIONS = ("non_", "non-", "not_", "not-", "no_", "no-")


def output_name(label: str) -> str:
    """``weak_`` + the label in lower case with runs of other characters as ``_``."""
    return PREFIX + (re.sub(r"[^0-9a-zA-Z]+", "_", label).strip("_").lower() or "label")


@dataclass
class WeakLabels:
    """Labels of every entry of a folder's ImageSet, before any image is read.

    values: entries x outputs float (NaN = no label); names: output names;
    sources: where each output comes from ("column X", "subfolder X");
    notes: columns or files left out, with why.
    """

    names: list[str]
    sources: list[str]
    values: np.ndarray
    how: str
    notes: list[str] = field(default_factory=list)


def labels_from_catalogue(imageset: Any, folder: str | Path, columns: list[str] | None = None) -> WeakLabels:
    """Numeric catalogue columns with values in [0, 1] as weak labels (``columns``: only these)."""
    table = imageset.catalogue
    wanted = [c for c in columns if c in table.colnames] if columns else list(table.colnames)
    if columns and not wanted:  # several folders may share one --weak-column list: each uses what it has
        raise TrainingDataError(f"{folder}: none of the weak columns {', '.join(map(repr, columns))} is in its "
                                f"catalogue; columns: {', '.join(table.colnames)}")
    names, sources, cols, notes = [], [], [], []
    for col in wanted:
        raw = imageset.column(col)
        data = np.ma.getdata(raw)
        if data.dtype.kind == "b":
            data = data.astype(float)
        if data.dtype.kind not in "iuf":
            if columns:  # text columns (file names, ids) are only worth a word when asked for
                notes.append(f"column {col!r} left out: not numeric")
            continue
        values = data.astype(np.float64)
        values[np.ma.getmaskarray(raw)] = np.nan
        finite = values[np.isfinite(values)]
        if finite.size == 0:
            notes.append(f"column {col!r} left out: no values")
        elif finite.min() < 0 or finite.max() > 1:
            notes.append(f"column {col!r} left out: values outside [0, 1] ({finite.min():.4g} to {finite.max():.4g})")
        elif np.ptp(finite) == 0:
            notes.append(f"column {col!r} left out: the same value in every row")
        else:
            names.append(output_name(col))
            sources.append(f"column {col}")
            cols.append(values)
    if columns and notes:
        raise TrainingDataError(f"{folder}: " + "; ".join(notes))
    if not cols:
        why = "; ".join(notes + [f"columns: {', '.join(table.colnames)}"])
        raise TrainingDataError(f"{folder}: its catalogue has no numeric column with values in [0, 1] to use "
                                f"as weak labels ({why})")
    return WeakLabels(names=names, sources=sources, values=np.stack(cols, axis=1), how="catalogue", notes=notes)


def labels_from_subfolders(imageset: Any, folder: str | Path) -> WeakLabels:
    """Class labels from each image's first sub-folder (see the module docstring)."""
    top = [key.split("/", 1)[0] if "/" in key else "" for key in imageset.keys()]
    classes = sorted({t for t in top if t})
    notes = []
    n_loose = top.count("")
    if n_loose:
        notes.append(f"{n_loose} images directly in the folder left out: not in a class subfolder")
    if len(classes) < 2:
        raise TrainingDataError(f"{folder}: weak labels need a catalogue (catalog.csv with numeric columns) or at "
                                f"least two class subfolders; found {len(classes)} subfolder(s) with images"
                                + (f" ({classes[0]}/)" if classes else ""))
    top_arr = np.array(top, dtype=object)
    if len(classes) == 2:
        for pos, neg in (classes, classes[::-1]):
            if neg.lower() in {p + pos.lower() for p in NEGATIONS}:
                values = np.where(top_arr == pos, 1.0, np.where(top_arr == neg, 0.0, np.nan))[:, None]
                return WeakLabels(names=[output_name(pos)], sources=[f"subfolder {pos}/ = 1, {neg}/ = 0"],
                                  values=values.astype(np.float64), how="subfolders", notes=notes)
    values = np.stack([np.where(top_arr == c, 1.0, 0.0) for c in classes], axis=1)
    values[top_arr == ""] = np.nan
    return WeakLabels(names=[output_name(c) for c in classes], sources=[f"subfolder {c}/" for c in classes],
                      values=values, how="subfolders", notes=notes)


def folder_labels(imageset: Any, folder: str | Path, columns: list[str] | None = None) -> WeakLabels:
    """The folder's catalogue columns if it has a catalogue, else its class subfolders.

    ``columns`` applies to catalogue folders only (those present in each catalogue).
    """
    if getattr(imageset, "catalogue", None) is not None:
        return labels_from_catalogue(imageset, folder, columns)
    return labels_from_subfolders(imageset, folder)


@dataclass
class WeakFolder:
    """One folder's read images and their weak labels (rows aligned with ``images``)."""

    images: RealImages
    labels: WeakLabels
    targets: np.ndarray  # len(images) x len(labels.names), float32, NaN = no label

    def record(self) -> dict[str, Any]:
        rec = self.images.record()
        rec.update(how=self.labels.how, outputs=dict(zip(self.labels.names, self.labels.sources)),
                   n_labelled={n: int(np.isfinite(self.targets[:, j]).sum()) for j, n in enumerate(self.labels.names)},
                   notes=list(self.labels.notes))
        return rec


def load_weak_folder(folder: str | Path, preprocessing: Preprocessing, *, columns: list[str] | None = None,
                     max_images: int | None = None, seed: int = 0, progress: Progress | None = None,
                     cancel: Cancel | None = None) -> WeakFolder:
    """Read a weakly labelled folder: labels first (cheap), then the images of labelled rows."""
    imageset = open_real_folder(folder)
    labels = folder_labels(imageset, folder, columns)
    usable = np.flatnonzero(np.isfinite(labels.values).any(axis=1))
    if len(usable) == 0:
        raise TrainingDataError(f"{folder}: no image has a weak label")
    rows = sample_rows(usable, max_images, seed)
    images = read_real_rows(imageset, folder, rows, preprocessing, n_listed=len(imageset),
                            progress=progress, cancel=cancel)
    return WeakFolder(images=images, labels=labels, targets=labels.values[images.rows].astype(np.float32))


@dataclass
class WeakData:
    """All weak folders together: one target column per distinct output name.

    Two folders with the same output name (e.g. two ``spiral/ non_spiral/`` sets)
    train the same output; a folder's rows are NaN in the other folders' outputs.
    """

    names: list[str]
    images: torch.Tensor
    targets: np.ndarray
    folder_of_row: np.ndarray
    folders: list[WeakFolder]

    def __len__(self) -> int:
        return len(self.targets)

    def as_float(self, index: torch.Tensor) -> torch.Tensor:
        x = self.images[index]
        return x.float().div_(255.0) if x.dtype == torch.uint8 else x.float()

    def record(self) -> dict[str, Any]:
        return {"outputs": list(self.names), "n_images": len(self), "folders": [f.record() for f in self.folders]}


def combine_weak(folders: list[WeakFolder]) -> WeakData:
    """Stack the folders' images and spread their labels over the union of output names."""
    names: list[str] = []
    for f in folders:
        names += [n for n in f.labels.names if n not in names]
    targets = np.full((sum(len(f.images) for f in folders), len(names)), np.nan, np.float32)
    start = 0
    for f in folders:
        cols = [names.index(n) for n in f.labels.names]
        targets[start:start + len(f.images), cols] = f.targets
        start += len(f.images)
    images = torch.cat([f.images.images for f in folders])
    folder_of_row = np.concatenate([np.full(len(f.images), i) for i, f in enumerate(folders)])
    return WeakData(names=names, images=images, targets=targets, folder_of_row=folder_of_row, folders=folders)


def elementwise_loss(out: torch.Tensor, y: torch.Tensor, loss: str) -> torch.Tensor:
    """Per-element classification loss (BCE with logits, or MSE on the sigmoid)."""
    if loss == "mse":
        return (torch.sigmoid(out) - y) ** 2
    return F.binary_cross_entropy_with_logits(out, y, reduction="none")


def masked_loss(out: torch.Tensor, y: torch.Tensor, loss: str = "bce") -> torch.Tensor:
    """Per-output mean loss over the rows where ``y`` is finite (NaN = no label); K values.

    An output with no labelled row in the batch gets 0 (and no gradient). Why per
    output: a row without a label for an output must not change that output's
    loss, whatever else the batch holds.
    """
    have = torch.isfinite(y)
    per = elementwise_loss(out, torch.where(have, y, torch.zeros_like(y)), loss) * have
    return per.sum(dim=0) / have.sum(dim=0).clamp_min(1)


def weak_batch_loss(out: torch.Tensor, y: torch.Tensor, loss: str = "bce") -> torch.Tensor:
    """Mean of ``masked_loss`` over the outputs that have a label in the batch (0 if none)."""
    have = torch.isfinite(y).any(dim=0)
    if not bool(have.any()):
        return out.sum() * 0.0
    return masked_loss(out, y, loss)[have].mean()


def weak_metrics(names: list[str], predictions: np.ndarray, targets: np.ndarray,
                 train_mean: np.ndarray) -> list[OutputMetrics]:
    """Validation metrics of each weak output on the rows that have its label."""
    out = []
    for j, name in enumerate(names):
        have = np.isfinite(targets[:, j])
        if not have.any():
            out.append(OutputMetrics(name=name, rmse=float("nan"), mse=float("nan"), baseline_rmse=float("nan")))
            continue
        out += output_metrics([name], predictions[have, j:j + 1], targets[have, j:j + 1],
                              train_mean[j:j + 1], classify=True)
    return out
