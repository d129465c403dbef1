"""Real images in a synthetic training run: what to load, and what each training step adds.

Two uses, both optional and combinable (see ``model.adapt`` and ``model.weak_labels``):

* unlabelled folders for domain adaptation (DANN, CORAL or MMD on the pooled
  features of synthetic vs real images);
* weakly labelled folders whose labels become extra outputs after the
  synthetic ones.

Each training step then puts a batch of real images (augmented like the
synthetic ones) beside the synthetic batch in one forward pass; BatchNorm
therefore sees both domains, so its running statistics at inference are not
those of synthetic images alone. ``RealTraining`` holds this per-step logic so
``training.train_model`` only calls it.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from galaxyscope.model.adapt import AdaptConfig, DomainAdapter
from galaxyscope.model.augment import AugmentConfig, augment_batch
from galaxyscope.model.networks import logits_and_features
from galaxyscope.model.preprocess import Preprocessing
from galaxyscope.model.real_images import (RealImages, default_frame_r90, load_real_folder,
                                           real_preprocessing)
from galaxyscope.model.trainset import TrainingDataError
from galaxyscope.model.val_metrics import OutputMetrics
from galaxyscope.model.weak_labels import WeakData, combine_weak, load_weak_folder, weak_batch_loss, weak_metrics
from galaxyscope.progress import Progress

Log = Callable[[str], None]


@dataclass
class RealDataConfig:
    """Which real folders a run uses and how.

    unlabelled / weak: folders (see ``real_images`` and ``weak_labels``); a
        folder may be in both (its images are then read once).
    max_unlabelled / max_weak: at most this many images per folder (a seeded sample).
    weak_columns: catalogue columns to use as weak labels (default: every usable one).
    frame_r90: galaxy framing of the real images; None = the starting model's,
        else ``real_images.default_frame_r90`` for the run's crop.
    batch_size: real images per training step from each source (unlabelled,
        weak); None = half the synthetic batch.
    adapt: domain adaptation (None: none); needs unlabelled or weak images.
    weak_weight: weight of the weak outputs' loss beside the synthetic loss.
    """

    unlabelled: list[str] = field(default_factory=list)
    weak: list[str] = field(default_factory=list)
    max_unlabelled: int | None = None
    max_weak: int | None = None
    weak_columns: list[str] | None = None
    frame_r90: float | None = None
    batch_size: int | None = None
    adapt: AdaptConfig | None = None
    weak_weight: float = 1.0

    def __post_init__(self) -> None:
        if self.adapt is not None and not (self.unlabelled or self.weak):
            raise TrainingDataError("domain adaptation (--adapt) needs real images: give --unlabelled or --weak")
        if self.weak_weight < 0:
            raise TrainingDataError("--weak-weight must not be negative")
        for name in ("max_unlabelled", "max_weak", "batch_size"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise TrainingDataError(f"{name} must be at least 1")

    @property
    def active(self) -> bool:
        return bool(self.unlabelled or self.weak)


@dataclass
class RealData:
    """Loaded real images: the domain-adaptation pool and the weak set (either may be None)."""

    config: RealDataConfig
    preprocessing: Preprocessing
    unlabelled: list[RealImages] = field(default_factory=list)
    weak: WeakData | None = None

    def pool(self) -> torch.Tensor | None:
        """The unlabelled folders' images together (None without unlabelled folders)."""
        if not self.unlabelled:
            return None
        if len(self.unlabelled) == 1:
            return self.unlabelled[0].images
        return torch.cat([u.images for u in self.unlabelled])

    def record(self) -> dict[str, Any]:
        cfg = self.config
        pre = self.preprocessing
        return {"framing": {"framing": pre.framing, "frame_r90": pre.frame_r90},
                "unlabelled": [u.record() for u in self.unlabelled],
                "n_unlabelled": int(sum(len(u) for u in self.unlabelled)),
                "weak": self.weak.record() if self.weak is not None else None,
                "weak_weight": cfg.weak_weight if self.weak is not None else None,
                "adapt": cfg.adapt.to_dict() if cfg.adapt is not None else None,
                "adapt_target": ("unlabelled" if self.unlabelled else "weak") if cfg.adapt is not None else None,
                "max_unlabelled": cfg.max_unlabelled, "max_weak": cfg.max_weak,
                "real_batch_size": cfg.batch_size}


def choose_frame_r90(config: RealDataConfig, preprocessing: Preprocessing, init: Any | None) -> float:
    """``config.frame_r90``, else the starting model's calibrated framing, else the default for the crop."""
    if config.frame_r90 is not None:
        return float(config.frame_r90)
    if init is not None and init.meta.preprocessing.frame_r90 > 0:
        return float(init.meta.preprocessing.frame_r90)
    if preprocessing.frame_r90 > 0:
        return float(preprocessing.frame_r90)
    return default_frame_r90(preprocessing.crop_fraction)


def load_real_data(config: RealDataConfig, preprocessing: Preprocessing, *, init: Any | None = None,
                   seed: int = 0, progress_for: Callable[[str], Progress | None] | None = None,
                   cancel: Callable[[], bool] | None = None, log: Log | None = None) -> RealData:
    """Read every folder of ``config`` with galaxy framing (see ``choose_frame_r90``).

    ``progress_for(folder)`` may give a progress callback per folder; ``log`` gets
    one line per folder. Errors name the folder (``TrainingDataError``).
    """
    say = log or (lambda _m: None)
    pre = real_preprocessing(preprocessing, choose_frame_r90(config, preprocessing, init))
    bar = progress_for or (lambda _name: None)
    say(f"real images framed at {pre.frame_r90:.3f} x R90 (as at inference)")
    weak_folders = []
    for folder in config.weak:
        wf = load_weak_folder(folder, pre, columns=config.weak_columns, max_images=config.max_weak, seed=seed,
                              progress=bar(f"weak {Path(folder).name}"), cancel=cancel)
        say(f"weak labels from {folder}: {len(wf.images)} images ({wf.images.n_listed} in the folder, "
            f"{len(wf.images.skipped)} unreadable, {wf.images.n_fixed_crop} fixed-crop), outputs "
            + ", ".join(f"{n} ({s})" for n, s in zip(wf.labels.names, wf.labels.sources)))
        for note in wf.labels.notes:
            say(f"  {folder}: {note}")
        weak_folders.append(wf)
    weak = combine_weak(weak_folders) if weak_folders else None
    by_path = {Path(w.images.folder).resolve(): w.images for w in weak_folders}
    unlabelled = []
    for folder in config.unlabelled:
        same = by_path.get(Path(folder).resolve())
        if same is not None and config.max_unlabelled in (None, config.max_weak):
            say(f"unlabelled {folder}: the same {len(same)} images as its weak labels")
            unlabelled.append(same)
            continue
        ri = load_real_folder(folder, pre, max_images=config.max_unlabelled, seed=seed,
                              progress=bar(f"unlabelled {Path(folder).name}"), cancel=cancel)
        say(f"unlabelled {folder}: {len(ri)} images ({ri.n_listed} in the folder, {len(ri.skipped)} "
            f"unreadable, {ri.n_fixed_crop} fixed-crop)")
        for problem in ri.skipped[:5]:
            say(f"  skipped {problem}")
        unlabelled.append(ri)
    return RealData(config=config, preprocessing=pre, unlabelled=unlabelled, weak=weak)


class RealTraining:
    """The real-image part of every training step and of every validation.

    The weak images are split (seeded, per folder) into training and validation
    rows; the validation rows never enter the weak loss. Synthetic outputs come
    first: output ``j < n_synthetic`` is synthetic, the rest weak.
    """

    def __init__(self, real: RealData, n_synthetic: int, n_features: int, synthetic_batch: int, *,
                 val_fraction: float, seed: int, loss: str, device: torch.device) -> None:
        from galaxyscope.model.training import split_indices  # late: training imports this module

        self.real = real
        self.n_synthetic = n_synthetic
        self.loss_kind = loss
        self.device = device
        cfg = real.config
        self.batch = cfg.batch_size or max(2, synthetic_batch // 2)
        self.weak = real.weak
        self.weak_weight = cfg.weak_weight
        if self.weak is not None:
            self.weak_train, self.weak_val = split_indices(len(self.weak), val_fraction, seed + 1,
                                                           self.weak.folder_of_row)
            if len(self.weak_train) == 0:
                raise TrainingDataError("no weakly labelled image is left for training after the validation split")
            self.weak_targets = torch.from_numpy(self.weak.targets)
            with warnings.catch_warnings():  # an output labelled only in validation rows: NaN mean
                warnings.simplefilter("ignore", RuntimeWarning)
                self.weak_mean = np.nanmean(self.weak.targets[self.weak_train], axis=0)
        # adaptation's target domain: the unlabelled folders; without them the weak batch serves
        self.pool = real.pool() if cfg.adapt is not None and real.unlabelled else None
        self.adapter = DomainAdapter(cfg.adapt, n_features).to(device) if cfg.adapt is not None else None

    @property
    def names(self) -> list[str]:
        return list(self.weak.names) if self.weak is not None else []

    def parameters(self) -> list[torch.nn.Parameter]:
        return self.adapter.parameters() if self.adapter is not None else []

    def _draw(self, n: int, gen: torch.Generator) -> torch.Tensor:
        return torch.randint(0, n, (self.batch,), generator=gen)

    def _as_input(self, images: torch.Tensor, gen: torch.Generator, augment: AugmentConfig | None) -> torch.Tensor:
        x = images.to(self.device)
        x = x.float().div_(255.0) if x.dtype == torch.uint8 else x.float()
        return augment_batch(x, gen, augment) if augment is not None else x

    def step_loss(self, net: torch.nn.Module, x: torch.Tensor, synthetic_loss: Callable[[torch.Tensor], torch.Tensor],
                  gen: torch.Generator, augment: AugmentConfig | None, progress: float) -> torch.Tensor:
        """Synthetic loss + weak_weight x weak loss + the adaptation loss, from one forward pass.

        ``synthetic_loss(logits)`` gets the synthetic rows' synthetic outputs.
        """
        parts, yw = [x], None
        if self.weak is not None:
            bw = torch.as_tensor(self.weak_train)[self._draw(len(self.weak_train), gen)]
            parts.append(self._as_input(self.weak.images[bw], gen, augment))
            yw = self.weak_targets[bw].to(self.device)
        if self.pool is not None:
            parts.append(self._as_input(self.pool[self._draw(len(self.pool), gen)], gen, augment))
        out, feats = logits_and_features(net, torch.cat(parts))
        ns = len(x)
        total = synthetic_loss(out[:ns, :self.n_synthetic])
        if yw is not None:
            total = total + self.weak_weight * weak_batch_loss(out[ns:ns + len(yw), self.n_synthetic:], yw,
                                                               self.loss_kind)
        if self.adapter is not None:
            total = total + self.adapter.loss(feats, ns, progress)
        return total

    @torch.no_grad()
    def validate(self, net: torch.nn.Module, batch_size: int) -> tuple[float, list[OutputMetrics], int]:
        """(weak validation loss, per-output metrics, number of rows); (nan, [], 0) when there are none."""
        if self.weak is None or len(self.weak_val) == 0:
            return math.nan, [], 0
        net.eval()
        outs = []
        for start in range(0, len(self.weak_val), batch_size):
            b = torch.as_tensor(self.weak_val[start:start + batch_size])
            outs.append(net(self.weak.as_float(b).to(self.device)).float().cpu()[:, self.n_synthetic:])
        out = torch.cat(outs)
        y = self.weak_targets[torch.as_tensor(self.weak_val)]
        loss = float(weak_batch_loss(out, y, self.loss_kind))
        metrics = weak_metrics(self.names, torch.sigmoid(out).numpy(), y.numpy(), self.weak_mean)
        return loss, metrics, len(self.weak_val)

    def epoch_summary(self) -> dict[str, float] | None:
        return self.adapter.epoch_summary() if self.adapter is not None else None

    def train(self, mode: bool = True) -> None:
        if self.adapter is not None:
            self.adapter.train(mode)

    def record(self) -> dict[str, Any]:
        rec = self.real.record()
        if self.weak is not None:
            rec["weak"]["n_train"] = int(len(self.weak_train))
            rec["weak"]["n_val"] = int(len(self.weak_val))
        return rec
