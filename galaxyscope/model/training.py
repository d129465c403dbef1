"""Train a galaxy classifier or a direct regressor from catalogue columns.

Two modes, as in Bhambra et al. (2022):

* classify (``targets=[...]``): one sigmoid output per column; columns hold
  0/1 labels or Galaxy Zoo vote fractions. Loss: binary cross-entropy with
  logits by default - for vote fractions it is the proper loss for a
  probability target and its gradient does not vanish when the sigmoid
  saturates, unlike the paper's MSE on the sigmoid (``loss="mse"`` gives the
  paper's choice). Saliency is later taken on the raw logit either way.
* regress (``regress="col"``): one linear output trained with MSE on the
  standardised column, (y - mean) / std; ``target_scale`` = std and
  ``target_offset`` = mean are stored, so prediction = raw x scale + offset is
  in the column's units: the paper's direct bar-length regressor. By default
  only rows with a positive value are used (barred galaxies: an unbarred
  galaxy has no bar length to learn).

Training is seeded (network init, split, shuffles, augmentation) and on a CPU
the same seed gives the same weights. Early stopping watches the validation
loss and the best epoch's weights are the ones returned.

Real images (``real=RealDataConfig(...)``, see ``model.realdata``) can join a
synthetic run: unlabelled folders for domain adaptation and weakly labelled
folders whose labels become extra outputs after the synthetic ones.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from galaxyscope.errors import CancelledError, GalaxyscopeError
from galaxyscope.model.augment import AugmentConfig, augment_with_masks
from galaxyscope.model.device import pick_device
from galaxyscope.model.guidance import GuidanceConfig, guidance_penalty
from galaxyscope.model.loaded import LoadedModel, ModelMeta
from galaxyscope.model.networks import build_network, count_parameters, load_extended, logits_and_features
from galaxyscope.model.preprocess import Preprocessing
from galaxyscope.model.realdata import RealData, RealDataConfig, RealTraining, load_real_data
from galaxyscope.model.trainset import TrainingData, TrainingDataError, load_training_data
from galaxyscope.model.val_metrics import ValMetrics, output_metrics
from galaxyscope.model.weak_labels import PREFIX as WEAK_PREFIX
from galaxyscope.progress import CancelCheck as Cancel, Progress

Log = Callable[[str], None]

LOSSES = ("bce", "mse")


class TrainingDivergedError(GalaxyscopeError):
    """The loss became NaN or infinite (usually: learning rate too high)."""


@dataclass
class EpochRecord:
    """What one epoch did; ``val`` is None when there is no validation set."""

    epoch: int
    train_loss: float
    val: ValMetrics | None
    lr: float
    seconds: float
    images_per_second: float
    train_guidance: float | None = None  # mean guidance penalty of the epoch (None: no guidance)
    val_guidance: float | None = None  # the same penalty on the validation images
    adapt: dict[str, float] | None = None  # domain adaptation: mean loss (DANN: head accuracy, strength)

    def describe(self, epochs: int) -> str:
        val = self.val.describe() if self.val else "no validation"
        if self.val_guidance is not None:
            val = f"validation guidance penalty {self.val_guidance:.3f}; " + val
        guide = "" if self.train_guidance is None else f" (guidance penalty {self.train_guidance:.3f})"
        if self.adapt:
            acc = self.adapt.get("domain_accuracy")
            extra = "" if acc is None else f", domain accuracy {acc:.2f}"
            guide += f" (domain loss {self.adapt['loss']:.3g}{extra})"
        return (f"epoch {self.epoch}/{epochs}: train loss {self.train_loss:.4g}{guide}; {val} "
                f"({self.seconds:.1f} s, {self.images_per_second:.0f} img/s)")


@dataclass
class TrainResult:
    """A trained model (best epoch's weights, not yet saved) and how it got there."""

    model: LoadedModel
    history: list[EpochRecord]
    best_epoch: int
    best: ValMetrics | None
    n_train: int
    n_val: int
    n_parameters: int
    skipped: list[str] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)
    stopped_early: bool = False
    seconds: float = 0.0
    real: dict[str, Any] | None = None  # what real images were used (``RealTraining.record``)

    @property
    def images_per_second(self) -> float:
        """Mean training throughput (augmentation, forward and backward)."""
        rates = [h.images_per_second for h in self.history]
        return float(np.mean(rates)) if rates else math.nan

    def summary(self) -> str:
        """Several lines for people: data, the best epoch's validation metrics, speed."""
        meta = self.model.meta
        lines = [f"{meta.architecture} network, {self.n_parameters:,} parameters, "
                 f"{meta.preprocessing.input_size} px input, task {meta.task} "
                 f"({', '.join(meta.output_names)})",
                 f"images: {self.n_train} train, {self.n_val} validation"
                 + (f", {len(self.skipped)} unreadable skipped" if self.skipped else "")]
        for reason, n in self.dropped.items():
            lines.append(f"rows left out: {n} ({reason})")
        if self.real:
            lines.append(_describe_real(self.real))
        stop = " (early stop)" if self.stopped_early else ""
        monitor = (meta.metrics or {}).get("monitor")
        chosen = f" (chosen on {monitor}'s validation score)" if monitor else ""
        lines.append(f"epochs run: {len(self.history)}{stop}; best epoch {self.best_epoch}{chosen}; "
                     f"{self.seconds:.1f} s, {self.images_per_second:.0f} img/s")
        if self.best is not None:
            lines.append(f"validation loss {self.best.loss:.4g} on {self.best.n} images")
            lines += ["  " + o.describe() for o in self.best.outputs]
        return "\n".join(lines)


def split_indices(n: int, val_fraction: float, seed: int,
                  strata: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Seeded train/validation split, stratified by ``strata`` labels when given.

    Stratifying keeps both classes in a small validation set, so its AUC exists.
    """
    rng = np.random.default_rng(seed)
    if val_fraction <= 0:
        return rng.permutation(n), np.array([], dtype=np.int64)
    groups = [np.arange(n)] if strata is None else [np.flatnonzero(strata == s) for s in np.unique(strata)]
    train, val = [], []
    for g in groups:
        g = rng.permutation(g)
        k = int(round(len(g) * val_fraction))
        if len(g) >= 2:
            k = min(max(k, 1), len(g) - 1)
        else:
            k = 0
        val.append(g[:k])
        train.append(g[k:])
    return rng.permutation(np.concatenate(train)), np.sort(np.concatenate(val))


def _loss(out: torch.Tensor, y: torch.Tensor, classify: bool, loss: str) -> torch.Tensor:
    if not classify:
        return F.mse_loss(out, y)
    if loss == "mse":
        return F.mse_loss(torch.sigmoid(out), y)
    return F.binary_cross_entropy_with_logits(out, y)


@torch.no_grad()
def _evaluate(net: torch.nn.Module, data: TrainingData, idx: np.ndarray, y_scaled: torch.Tensor,
              scale: np.ndarray, offset: np.ndarray, train_mean: np.ndarray, loss: str,
              device: torch.device, batch_size: int) -> ValMetrics:
    net.eval()
    outs = []
    for start in range(0, len(idx), batch_size):
        b = torch.as_tensor(idx[start:start + batch_size])
        outs.append(net(data.as_float(b).to(device)).float().cpu())
    out = torch.cat(outs)[:, :len(data.target_names)]  # weak outputs are validated on their own images
    val_loss = float(_loss(out, y_scaled[idx], data.classify, loss))
    pred = torch.sigmoid(out).numpy() if data.classify else out.numpy() * scale[None, :] + offset[None, :]
    return ValMetrics(loss=val_loss, n=len(idx),
                      outputs=output_metrics(data.target_names, pred, data.targets[idx], train_mean,
                                             data.classify))


def monitored_value(val: ValMetrics, output: str) -> float:
    """What epoch selection minimises when watching one output: -AUC, or RMSE where no AUC."""
    metrics = next(o for o in val.outputs if o.name == output)
    return -metrics.auc if math.isfinite(metrics.auc) else metrics.rmse


def train_model(dataset: Any, targets: list[str] | None = None, regress: str | None = None, *,
                architecture: str = "small", arch_kwargs: dict[str, Any] | None = None,
                preprocessing: Preprocessing = Preprocessing(input_size=96, crop_fraction=0.5),
                epochs: int = 15, batch_size: int = 32, lr: float = 2e-3, weight_decay: float = 1e-4,
                val_fraction: float = 0.2, patience: int = 4, seed: int = 0,
                device: str | torch.device | None = None, loss: str = "bce",
                augment: AugmentConfig | None = AugmentConfig(), positive_only: bool = True,
                guidance: GuidanceConfig | None = None, init: LoadedModel | None = None,
                monitor: str | None = None, real: RealDataConfig | RealData | None = None,
                progress: Progress | None = None, load_progress: Progress | None = None,
                cancel: Cancel | None = None, log: Log | None = None) -> TrainResult:
    """Train a network on an image set's catalogue columns; returns the best epoch's model.

    ``dataset``: a path ``ImageSet.open`` accepts (folder with catalog.ecsv,
    catalogue file), an ``ImageSet``, or ``TrainingData`` already loaded.
    ``progress(done, total)`` counts training batches over all epochs;
    ``load_progress`` counts images while they are read; ``cancel()`` is
    checked every batch (raises ``CancelledError``); ``log`` gets one line per
    epoch. ``augment=None`` turns augmentation off.

    ``guidance`` adds the bar-mask saliency penalty (see ``model.guidance``);
    the dataset must then name a mask per image. ``init`` starts from a trained
    model's weights (fine-tuning); its architecture, outputs and preprocessing
    must match the run's, except that the run may add weak outputs after the
    model's (their head rows start fresh) and that the model's framing (an
    inference setting) is kept.

    ``real`` adds real images (``model.realdata``): unlabelled ones for domain
    adaptation, weakly labelled ones as extra outputs ``weak_*`` after the
    targets; they are read with galaxy framing, as inference frames them.

    ``monitor`` picks the epoch (and stops early) on one output's validation AUC
    (classification; its RMSE where the AUC is undefined, and for regression)
    instead of the summed validation loss of all outputs: with several outputs
    the sum can bottom out while the output you care about still improves.
    """
    real_cfg = real.config if isinstance(real, RealData) else real
    weak_runs = bool(real_cfg is not None and real_cfg.weak)
    if weak_runs and regress is not None:
        raise TrainingDataError("weak labels (--weak) are classification outputs: they need --target, not --regress")
    if monitor is not None and targets is not None and regress is None and monitor not in targets \
            and not weak_runs:
        raise TrainingDataError(f"--monitor {monitor}: not one of the outputs being trained ({', '.join(targets)})")
    if monitor is not None and val_fraction == 0:
        raise TrainingDataError(f"--monitor {monitor} needs a validation split (val_fraction > 0)")
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}")
    if epochs < 1 or batch_size < 1:
        raise ValueError("epochs and batch_size must be at least 1")
    if not 0 <= val_fraction < 1:
        raise ValueError("val_fraction must be in [0, 1)")
    t_start = time.perf_counter()
    say = log or (lambda _msg: None)
    dev = pick_device(device)

    if isinstance(dataset, TrainingData):
        data = dataset
        preprocessing = _check_same_size(data, preprocessing)
    else:
        data = load_training_data(dataset, targets, regress, preprocessing=preprocessing,
                                  positive_only=positive_only,
                                  mask_column=guidance.mask_column if guidance else None,
                                  progress=load_progress, cancel=cancel)
    say(f"loaded {len(data)} images ({len(data.skipped)} unreadable skipped)")
    for problem in data.skipped[:20]:
        say(f"skipped {problem}")
    real_data = _real_data(real, preprocessing, init, seed, cancel, say)
    weak_names = list(real_data.weak.names) if real_data is not None and real_data.weak is not None else []
    clash = [n for n in weak_names if n in data.target_names]
    if clash:
        raise TrainingDataError(f"weak output {clash[0]!r} has the name of a synthetic target")
    output_names = list(data.target_names) + weak_names

    if monitor is not None and monitor not in output_names:
        raise TrainingDataError(f"--monitor {monitor}: not one of the outputs being trained "
                                f"({', '.join(output_names)})")
    guide_index = _guide_index(data, guidance)
    strata = (data.targets[:, 0] >= 0.5).astype(int) if data.classify else None
    train_idx, val_idx = split_indices(len(data), val_fraction, seed, strata)
    if len(train_idx) < 2:
        raise TrainingDataError(f"only {len(data)} usable images: need at least 2 for training "
                                f"plus some for validation")

    train_mean = data.targets[train_idx].mean(axis=0)
    if data.classify:
        scale = np.ones(len(data.target_names), np.float32)
        offset = np.zeros(len(data.target_names), np.float32)
    else:  # standardise: the network learns (y - mean) / std, a well-conditioned target
        std = float(data.targets[train_idx, 0].std())
        scale = np.array([std if std > 0 else 1.0], np.float32)
        offset = train_mean.astype(np.float32)
    y_scaled = torch.from_numpy((data.targets - offset[None, :]) / scale[None, :]).float()

    n_train = len(train_idx)
    steps = n_train // batch_size + (1 if n_train % batch_size > 1 else 0)  # a batch of 1 breaks BatchNorm
    steps = max(steps, 1)
    total_steps = epochs * steps
    images = data.images.to(dev)
    masks = data.masks.to(dev) if guide_index is not None else None
    arch_kwargs = dict(arch_kwargs or {})
    if init is not None:
        architecture, arch_kwargs = _check_init(init, architecture, data, preprocessing, output_names)

    fork_devices = [dev.index or 0] if dev.type == "cuda" else []
    with torch.random.fork_rng(devices=fork_devices):  # seed locally; leave the caller's RNG alone
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        net = build_network(architecture, len(output_names), preprocessing.channels, **arch_kwargs).to(dev)
        if init is not None:
            added = load_extended(net, {k: v.to(dev) for k, v in init.net.state_dict().items()})
            if added:
                say(f"starting model extended by {added} new output(s): {', '.join(output_names[-added:])}")
        n_params = count_parameters(net)
        rt = None
        if real_data is not None:
            rt = RealTraining(real_data, len(data.target_names), _n_features(net, preprocessing, dev), batch_size,
                              val_fraction=val_fraction, seed=seed, loss=loss, device=dev)
        opt = torch.optim.AdamW(list(net.parameters()) + (rt.parameters() if rt else []), lr=lr,
                                weight_decay=weight_decay)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
        history: list[EpochRecord] = []
        best_state: dict[str, torch.Tensor] = {}
        best_loss, best_epoch, best_val, wait, stopped_early = math.inf, 0, None, 0, False
        step = 0
        for epoch in range(1, epochs + 1):
            t0 = time.perf_counter()
            net.train()
            if rt is not None:
                rt.train()
            order = train_idx[torch.randperm(n_train, generator=gen).numpy()]
            running, seen, penalty_sum, guided = 0.0, 0, 0.0, 0
            for s in range(steps):
                if cancel is not None and cancel():
                    raise CancelledError("training cancelled")
                b = torch.as_tensor(order[s * batch_size:(s + 1) * batch_size])
                x = images[b.to(images.device)]
                x = x.float().div_(255.0) if x.dtype == torch.uint8 else x.float()
                m = None
                if masks is not None:
                    m = masks[b.to(masks.device)].float().div_(255.0)
                if augment is not None:
                    x, m = augment_with_masks(x, m, gen, augment)
                y = y_scaled[b].to(dev)
                if rt is None:
                    batch_loss = _loss(net(x), y, data.classify, loss)
                else:  # real images join the batch: weak outputs, domain adaptation
                    batch_loss = rt.step_loss(net, x, lambda out: _loss(out, y, data.classify, loss), gen,
                                              augment, step / total_steps)
                if guide_index is not None and guidance is not None and m is not None:
                    penalty = guidance_penalty(net, x, m, guide_index, guidance, gen)
                    batch_loss = batch_loss + guidance.weight * penalty
                    penalty_sum += float(penalty.detach())
                    guided += 1
                opt.zero_grad(set_to_none=True)
                batch_loss.backward()
                opt.step()
                running += float(batch_loss.detach()) * len(b)
                seen += len(b)
                step += 1
                if progress is not None:
                    progress(step, total_steps)
            lr_now = opt.param_groups[0]["lr"]
            sched.step()
            train_seconds = time.perf_counter() - t0
            val = None
            if len(val_idx):
                val = _evaluate(net, data, val_idx, y_scaled, scale, offset, train_mean, loss, dev,
                                2 * batch_size)
                if rt is not None:
                    val = _with_weak_validation(val, rt, net, 2 * batch_size)
            val_guide = None
            if len(val_idx) and guide_index is not None and masks is not None and guidance is not None:
                val_guide = _val_guidance(net, data, val_idx, masks, guide_index, guidance, dev, batch_size)
            record = EpochRecord(epoch=epoch, train_loss=running / max(seen, 1), val=val, lr=lr_now,
                                 val_guidance=val_guide,
                                 seconds=time.perf_counter() - t0,
                                 images_per_second=seen / train_seconds if train_seconds > 0 else math.nan,
                                 train_guidance=penalty_sum / guided if guided else None,
                                 adapt=rt.epoch_summary() if rt is not None else None)
            history.append(record)
            say(record.describe(epochs))
            if not math.isfinite(record.train_loss) or (val is not None and not math.isfinite(val.loss)):
                raise TrainingDivergedError(f"training diverged in epoch {epoch} (loss is not finite): "
                                            f"try a smaller learning rate than {lr:g}")
            current = val.loss if val is not None else record.train_loss
            # select on the objective trained for; NaN (no bar drawn in the validation share) would
            # make every epoch 'not better' and leave no weights to restore
            if val_guide is not None and math.isfinite(val_guide) and guidance is not None:
                current = current + guidance.weight * val_guide
            if monitor is not None and val is not None:
                current = monitored_value(val, monitor)
            if val is None or current < best_loss - 1e-7:
                best_loss, best_epoch, best_val, wait = current, epoch, val, 0
                best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
            else:
                wait += 1
                if wait >= patience:
                    stopped_early = True
                    what = f"{monitor}'s validation score" if monitor else "validation loss"
                    say(f"early stop: {what} has not improved for {patience} epochs")
                    break
        if progress is not None:
            progress(total_steps, total_steps)

    net.load_state_dict(best_state)
    real_record = rt.record() if rt is not None else None
    if real_record is not None and real_record.get("adapt"):
        real_record["adapt"]["history"] = [h.adapt for h in history]
    if init is not None and init.meta.min_bar_probability is not None:
        say("the starting model's P(bar) gate is not carried over: calibrate the new model "
            "(tools/calibrate_real.py)")
    meta = ModelMeta(
        architecture=architecture,
        output_names=output_names,
        sigmoid_outputs=[data.classify] * len(output_names),
        preprocessing=_saved_preprocessing(preprocessing, init, real_data),
        domain=dict(init.meta.domain or {}) if init is not None else {},
        task="classify" if data.classify else "regress",
        arch_kwargs=arch_kwargs,
        target_scale=None if data.classify else [float(scale[0])],
        target_offset=None if data.classify else [float(offset[0])],
        training_data_hash=data.data_hash,
        metrics={"val": best_val.to_dict() if best_val else None, "best_epoch": best_epoch,
                 "epochs_run": len(history), "n_train": n_train, "n_val": int(len(val_idx)),
                 "seed": seed, "lr": lr, "batch_size": batch_size, "loss": loss if data.classify else "mse",
                 "augment": augment.to_dict() if augment else None, "skipped_files": len(data.skipped),
                 "dropped_rows": dict(data.dropped), "n_parameters": n_params,
                 "guidance": guidance.to_dict() if guidance else None,
                 "init_from_sha256": init.sha256 if init is not None else None,
                 "monitor": monitor,
                 "guidance_penalty": history[-1].train_guidance if history else None,
                 "real": real_record},
        notes=_notes(data, loss, positive_only) + (_weak_note(weak_names) if weak_names else ""),
    )
    model = LoadedModel(net=net, meta=meta, device=dev)
    return TrainResult(model=model, history=history, best_epoch=best_epoch, best=best_val, n_train=n_train,
                       n_val=int(len(val_idx)), n_parameters=n_params, skipped=list(data.skipped),
                       dropped=dict(data.dropped), stopped_early=stopped_early,
                       seconds=time.perf_counter() - t_start, real=real_record)


def _val_guidance(net: torch.nn.Module, data: TrainingData, idx: np.ndarray, masks: torch.Tensor,
                  output_index: int, guidance: GuidanceConfig, device: torch.device, batch_size: int) -> float:
    """Mean guidance penalty over the validation images with a bar (fixed noise draws)."""
    rows = idx[(data.masks[torch.as_tensor(idx)].flatten(1).amax(1) > 127).numpy()]
    if len(rows) == 0:
        return math.nan
    gen = torch.Generator().manual_seed(12345)
    total, n = 0.0, 0
    with torch.enable_grad():
        for start in range(0, len(rows), batch_size):
            b = torch.as_tensor(rows[start:start + batch_size])
            x = data.as_float(b).to(device)
            m = masks[b.to(masks.device)].float().div_(255.0)
            total += float(guidance_penalty(net, x, m, output_index, guidance, gen).detach()) * len(b)
            n += len(b)
    net.zero_grad(set_to_none=True)
    return total / n


def _check_same_size(data: TrainingData, preprocessing: Preprocessing) -> Preprocessing:
    c, s = data.images.shape[1], data.images.shape[-1]
    if (c, s) != (preprocessing.channels, preprocessing.input_size):
        raise ValueError(f"preloaded images are {c} x {s} px but the preprocessing says "
                         f"{preprocessing.channels} x {preprocessing.input_size}")
    return preprocessing


def _notes(data: TrainingData, loss: str, positive_only: bool) -> str:
    if data.classify:
        how = "BCE with logits" if loss == "bce" else "MSE on the sigmoid (as Bhambra et al. 2022)"
        return f"classifier: sigmoid outputs trained with {how} on 0/1 labels or vote fractions"
    rows = f"rows with {data.target_names[0]} > 0 only (barred galaxies)" if positive_only else "all rows"
    return (f"direct regression of {data.target_names[0]}: prediction = raw x target_scale + target_offset; "
            f"trained with MSE on {rows}")


def _guide_index(data: TrainingData, guidance: GuidanceConfig | None) -> int | None:
    """Index of the guided output, with clear errors when guidance cannot work."""
    if guidance is None or guidance.weight == 0:
        return None
    if not data.classify:
        raise TrainingDataError("saliency guidance needs a classifier (--target), not --regress")
    if guidance.output not in data.target_names:
        raise TrainingDataError(f"guided output {guidance.output!r} is not among the targets "
                                f"({', '.join(data.target_names)})")
    if data.masks is None:
        raise TrainingDataError("saliency guidance needs bar masks: load the data with mask_column")
    if not bool((data.masks.flatten(1).amax(1) > 127).any()):
        raise TrainingDataError(f"no image has a non-empty mask in column {guidance.mask_column!r}")
    return data.target_names.index(guidance.output)


def _check_init(init: LoadedModel, architecture: str, data: TrainingData, preprocessing: Preprocessing,
                output_names: list[str] | None = None) -> tuple[str, dict[str, Any]]:
    """The starting model must fit this run: same outputs and preprocessing.

    Allowed differences: the run may add weak outputs (``weak_*``) after the
    model's outputs (the model's must still start with all the synthetic
    targets, in order), and the framing may differ (synthetic training images
    always use the fixed crop; the galaxy framing is how the model is used).
    """
    meta = init.meta
    names = list(data.target_names) if output_names is None else list(output_names)
    old = list(meta.output_names)
    extra = names[len(old):]
    extends = (len(old) >= len(data.target_names) and names[:len(old)] == old and bool(extra)
               and all(n.startswith(WEAK_PREFIX) for n in extra))
    if old != names and not extends:
        raise TrainingDataError(f"the starting model's outputs ({', '.join(meta.output_names)}) differ from "
                                f"the targets ({', '.join(names)})")
    if _unframed(meta.preprocessing) != _unframed(preprocessing):
        raise TrainingDataError(f"the starting model's preprocessing ({meta.preprocessing}) differs from "
                                f"this run's ({preprocessing})")
    return meta.architecture, dict(meta.arch_kwargs or {})


def _unframed(pre: Preprocessing) -> Preprocessing:
    return dataclasses.replace(pre, framing="fixed", frame_r90=0.0)


def _saved_preprocessing(preprocessing: Preprocessing, init: LoadedModel | None,
                         real: RealData | None) -> Preprocessing:
    """How the new model frames images: the starting model's framing, else the real images' framing.

    Why: a model that learnt real galaxies framed by their size must be used the
    same way; a fine-tuned model keeps its calibrated framing.
    """
    if init is not None and init.meta.preprocessing.uses_galaxy_framing:
        src = init.meta.preprocessing
        return dataclasses.replace(preprocessing, framing=src.framing, frame_r90=src.frame_r90)
    if real is not None:
        return dataclasses.replace(preprocessing, framing="galaxy", frame_r90=real.preprocessing.frame_r90)
    return preprocessing


def _real_data(real: RealDataConfig | RealData | None, preprocessing: Preprocessing, init: LoadedModel | None,
               seed: int, cancel: Cancel | None, say: Log) -> RealData | None:
    """Load the configured real folders (or check preloaded ones fit the run's input)."""
    if real is None or (isinstance(real, RealDataConfig) and not real.active):
        return None
    if isinstance(real, RealData):
        pre = real.preprocessing
        if (pre.input_size, pre.channels) != (preprocessing.input_size, preprocessing.channels):
            raise ValueError(f"the real images are {pre.channels} x {pre.input_size} px but the run's input is "
                             f"{preprocessing.channels} x {preprocessing.input_size}")
        return real
    return load_real_data(real, preprocessing, init=init, seed=seed, cancel=cancel, log=say)


@torch.no_grad()
def _n_features(net: torch.nn.Module, preprocessing: Preprocessing, device: torch.device) -> int:
    """Width of the pooled features (one eval-mode pass on zeros: no statistics change)."""
    was = net.training
    net.eval()
    s = preprocessing.input_size
    _, feats = logits_and_features(net, torch.zeros(1, preprocessing.channels, s, s, device=device))
    net.train(was)
    return int(feats.shape[1])


def _with_weak_validation(val: ValMetrics, rt: RealTraining, net: torch.nn.Module, batch_size: int) -> ValMetrics:
    """The synthetic validation plus the weak outputs' (on held-out weak images); the loss
    adds weak_weight x the weak loss, as training does."""
    weak_loss, weak_outputs, n = rt.validate(net, batch_size)
    if n == 0:
        return val
    return ValMetrics(loss=val.loss + rt.weak_weight * weak_loss, n=val.n, outputs=val.outputs + weak_outputs)


def _weak_note(names: list[str]) -> str:
    return (f"; outputs {', '.join(names)} are weak labels of real images (see metrics.real.weak), "
            "trained with a loss that ignores rows without their label")


def _describe_real(rec: dict[str, Any]) -> str:
    """One line on the real images a run used."""
    parts = []
    if rec.get("n_unlabelled"):
        parts.append(f"{rec['n_unlabelled']} unlabelled from {len(rec['unlabelled'])} folder(s)")
    weak = rec.get("weak")
    if weak:
        parts.append(f"{weak['n_images']} weakly labelled ({weak.get('n_train', '?')} train, "
                     f"{weak.get('n_val', '?')} validation; outputs {', '.join(weak['outputs'])})")
    adapt = rec.get("adapt")
    if adapt:
        parts.append(f"adaptation {adapt['method']} weight {adapt['weight']:g} on the {rec['adapt_target']} images")
    return f"real images at {rec['framing']['frame_r90']:.3f} x R90: " + "; ".join(parts)
