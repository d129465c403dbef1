"""Fine-tune a trained model on people's bar labels: bar / no bar, and the drawn bars as masks.

Why: every label made in the window (or imported) is a real, survey-specific
example, and a few hundred of them can turn a general model into one for the
user's own images (the Cellpose 2.0 pattern). This module is the model side and
knows nothing of the database: it takes images with a vote ("share of annotators
who see a bar") and the drawn lines, and returns `TrainingData` for
`training.train_model`, which then fine-tunes with the existing machinery:

- the labelled outputs (default the bar output) learn the annotators' vote;
- every other output of the base model (arms, rings, ...) learns the base model's
  own prediction on the same image ("learning without forgetting", Li & Hoiem
  2017), so fine-tuning the bar does not quietly break the rest;
- each drawn line, with its width line (else ``width_fraction`` x its length), is
  rasterised (scikit-image) into a bar mask on the original pixels, framed exactly
  as the network sees the image, and guides the bar output's saliency
  (``model.guidance``: the "match" penalty by default).

Images are framed with the base model's own preprocessing (galaxy framing for the
shipped model), as inference frames them, not with the fixed crop of synthetic
training.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from galaxyscope.errors import CancelledError
from galaxyscope.images.galaxy_image import GalaxyImage
from galaxyscope.model.augment import AugmentConfig
from galaxyscope.model.finetune_config import FinetuneConfig
from galaxyscope.model.guidance import GuidanceConfig
from galaxyscope.model.loaded import LoadedModel
from galaxyscope.model.preprocess import Preprocessing
from galaxyscope.model.training import Log, TrainResult, train_model
from galaxyscope.model.trainset import TrainingData, TrainingDataError, training_data_hash
from galaxyscope.progress import CancelCheck, Progress

#: (x1, y1, x2, y2, width_px or None): a drawn bar in original-image pixels (x = column, y = row,
#: origin at the centre of the top-left pixel)
Line = tuple[float, float, float, float, float | None]


@dataclass(frozen=True)
class LabelledImage:
    """One image and what people said about it.

    vote: share of annotators who see a bar (0..1). lines: every drawn bar.
    length_px: the annotators' bar length (median over those who gave one), or None.
    uids: the label and line uids behind it (to record what a model learnt from).
    """

    key: str
    vote: float
    lines: tuple[Line, ...] = ()
    length_px: float | None = None
    uids: tuple[str, ...] = ()

    @property
    def has_bar(self) -> bool:
        return self.vote >= 0.5


def rasterise_bar(shape: tuple[int, int], line: Line, width_fraction: float = 0.3) -> np.ndarray:
    """Boolean mask (H x W) of the rectangle around a drawn bar: its length along the line,
    its width (drawn, else ``width_fraction`` x the length, at least 1 px) across it."""
    from skimage.draw import polygon

    x1, y1, x2, y2, width = line
    length = math.hypot(x2 - x1, y2 - y1)
    w = width if width is not None and width > 0 else width_fraction * length
    w = max(float(w), 1.0)
    mask = np.zeros(shape, bool)
    if length == 0:
        return mask
    ux, uy = (x2 - x1) / length, (y2 - y1) / length
    nx, ny = -uy * w / 2, ux * w / 2
    xs = np.array([x1 + nx, x2 + nx, x2 - nx, x1 - nx])
    ys = np.array([y1 + ny, y2 + ny, y2 - ny, y1 - ny])
    rr, cc = polygon(ys, xs, shape)
    mask[rr, cc] = True
    return mask


def mask_on_model_grid(mask: np.ndarray, preprocessing: Preprocessing,
                       box: tuple[int, int, int, int]) -> torch.Tensor:
    """An H x W mask cut to ``box`` (zeros beyond the image) and resized to the model's
    input, as the image itself is (S x S float in [0, 1])."""
    m = np.asarray(mask, np.float32)
    r0, r1, c0, c1 = box
    crop = np.zeros((r1 - r0, c1 - c0), np.float32)
    h, w = m.shape
    vr0, vr1, vc0, vc1 = max(0, r0), min(h, r1), max(0, c0), min(w, c1)
    if vr1 > vr0 and vc1 > vc0:
        crop[vr0 - r0:vr1 - r0, vc0 - c0:vc1 - c0] = m[vr0:vr1, vc0:vc1]
    t = torch.from_numpy(crop)[None, None]
    s = preprocessing.input_size
    if t.shape[-2:] != (s, s):
        t = F.interpolate(t, size=(s, s), mode="bilinear", align_corners=False, antialias=True)
    return t[0, 0].clamp_(0.0, 1.0)


def label_output_names(base: LoadedModel, label_outputs: Sequence[str] | None) -> list[str]:
    """The outputs that learn the labels (checked against the model's outputs)."""
    names = list(base.meta.output_names)
    wanted = list(label_outputs) if label_outputs else [names[base.output_index(None)]]
    missing = [n for n in wanted if n not in names]
    if missing:
        raise TrainingDataError(f"the model has no output {', '.join(map(repr, missing))}; it has {', '.join(names)}")
    if not all(base.meta.sigmoid_outputs[names.index(n)] for n in wanted):
        raise TrainingDataError("labels train classification outputs; this model's output is a regression")
    return wanted


def build_finetune_data(images: Sequence[GalaxyImage], examples: Sequence[LabelledImage], base: LoadedModel, *,
                        label_outputs: Sequence[str] | None = None, width_fraction: float = 0.3,
                        progress: Progress | None = None, cancel: CancelCheck | None = None) -> TrainingData:
    """`TrainingData` for fine-tuning ``base``: the images framed as ``base`` frames them,
    targets (labelled outputs: the vote; the others: ``base``'s own prediction) and the
    drawn bars as masks. ``images`` and ``examples`` are row-aligned."""
    if len(images) != len(examples):
        raise ValueError("images and examples must be row-aligned")
    if base.meta.task != "classify":
        raise TrainingDataError("fine-tuning on bar labels needs a classifier, not a regressor")
    names = list(base.meta.output_names)
    labelled = [names.index(n) for n in label_output_names(base, label_outputs)]
    pre = base.preprocessing
    s = pre.input_size
    n = len(images)
    store_uint8 = pre.normalisation == "per-image"
    xs = torch.empty((n, pre.channels, s, s), dtype=torch.uint8 if store_uint8 else torch.float16)
    masks = torch.zeros((n, 1, s, s), dtype=torch.uint8)
    targets = np.zeros((n, len(names)), np.float32)
    net = base.net.eval()
    for i, (image, ex) in enumerate(zip(images, examples)):
        if cancel is not None and cancel():
            raise CancelledError("reading the labelled images was cancelled")
        x = pre.to_model(image)
        with torch.no_grad():
            logits = net(x.to(base.device)).float().cpu().numpy()[0]
        targets[i] = 1.0 / (1.0 + np.exp(-logits))  # every output: keep what the base model says
        targets[i, labelled] = float(np.clip(ex.vote, 0.0, 1.0))
        xs[i] = x[0].mul(255.0).round_().clamp_(0, 255).to(torch.uint8) if store_uint8 else x[0].to(torch.float16)
        if ex.lines and ex.has_bar:
            box = pre.box_for(image)
            full = np.zeros((image.height, image.width), bool)
            for line in ex.lines:
                full |= rasterise_bar((image.height, image.width), line, width_fraction)
            masks[i, 0] = mask_on_model_grid(full, pre, box).mul(255.0).round_().to(torch.uint8)
        if progress is not None:
            progress(i + 1, n)
    keys = [ex.key for ex in examples]
    return TrainingData(images=xs, targets=targets, keys=keys, target_names=names, classify=True,
                        data_hash=training_data_hash(keys, targets, [-1] * n, names, "finetune"),
                        masks=masks)


def finetune_model(data: TrainingData, base: LoadedModel, config: FinetuneConfig = FinetuneConfig(), *,
                   progress: Progress | None = None, cancel: CancelCheck | None = None,
                   log: Log | None = None) -> TrainResult:
    """Fine-tune ``base`` on ``build_finetune_data``'s output; the best epoch (validation
    loss plus guidance penalty on ``config.val_fraction`` of the images) is returned.
    Guidance is switched off (and said so) when no image has a drawn bar."""
    say = log or (lambda _m: None)
    bar_name = label_output_names(base, config.label_outputs)[0]
    has_masks = data.masks is not None and bool((data.masks.flatten(1).amax(1) > 127).any())
    guidance = None
    if config.guide_weight > 0 and has_masks:
        guidance = GuidanceConfig(weight=config.guide_weight, output=bar_name, kind=config.guide_kind,
                                  noise=config.guide_noise)
    elif config.guide_weight > 0:
        say("no drawn bars among the training labels: fine-tuning without saliency guidance")
    return train_model(data, architecture=base.meta.architecture, preprocessing=base.preprocessing,
                       epochs=config.epochs, batch_size=config.batch_size, lr=config.lr,
                       val_fraction=config.val_fraction, patience=config.patience, seed=config.seed,
                       device=config.device, augment=AugmentConfig() if config.augment else None,
                       guidance=guidance, init=base, progress=progress, cancel=cancel, log=log)


@dataclass
class Split:
    """Indices of the examples to train on (early stopping happens inside) and to test on."""

    train: np.ndarray
    test: np.ndarray
    notes: list[str] = field(default_factory=list)


def split_examples(examples: Sequence[LabelledImage], test_fraction: float, seed: int) -> Split:
    """Seeded, stratified (bar / no bar) split by image: the test images are never trained on
    nor used to stop early, so the before/after numbers on them are honest."""
    from galaxyscope.model.training import split_indices

    strata = np.array([int(e.has_bar) for e in examples])
    train, test = split_indices(len(examples), test_fraction, seed + 7919, strata)
    return Split(np.sort(train), np.sort(test))
