"""Issue 6 experiment harness: which training and attribution make saliency find the bar?

One command regenerates the whole comparison table (models already trained are reused):

    python -m experiments.exp_saliency all --out docs/experiments/saliency.md

Data (options; defaults under ``$GALAXYSCOPE_DATA``, see experiments/common.py): ``--work``
(models and caches, default ``exp6``), ``--train`` (train4k), ``--val`` (val200), ``--test`` (eval400).

Steps (each also runs alone: ``train``, ``masknet``, ``table``; issue 20 adds ``reference`` and
``evidence``, see the end of this text):

* Variants are fine-tuned from the shipped model for the same number of epochs on the same
  training galaxies (``galaxyscope synth $GALAXYSCOPE_DATA/train4k --n 4000 --seed 100``), 3 seeds each:
  ``ctrl`` (no guidance: the equal-length control) and ``guide_wW`` (the bar-mask saliency
  penalty of ``galaxyscope.model.guidance`` with weight W).
* ``masknet``: the upper reference, a small fully convolutional network trained directly on the
  synthetic bar masks; its predicted mask is measured like a saliency map.
* ``truth``: the true bar mask measured like a saliency map (the ceiling of the measuring step).
* For every model and attribution the measurement settings (moments grid and the paper's method)
  are tuned on the VALIDATION set (val200, seed 3030) by Spearman rho of length / r90, and one
  length scale is fitted there; the numbers reported are on the TEST set (eval400, seed 2026),
  which nothing is tuned on.

Metrics on the test set's barred galaxies: Spearman rho and Pearson r against the true length,
rho of length / r90 against true length / r90 ("beyond size"), median relative error after the
validation scale, all with bootstrap 95 % intervals; "bar share" = mean share of saliency mass
inside the true bar mask; has_bar AUC on the whole test set and on the 22 real Galaxy Zoo examples.

Issue 20 (lengths judged on measurable bars: has_bar and simulated GZ2 bar vote >= 0.5; ``export``
writes the mask network as the shipped model's ``barmap`` companion, see the end):

* ``reference`` writes the mask network's lengths of every barred TEST galaxy as a results table
  (``--table-out``, default WORK/masknet_test.ecsv), its setting and scale chosen on the
  VALIDATION set's measurable bars, for ``experiments.eval_engine --extra``;
* ``evidence`` writes SmoothGrad maps of the mask network's pooled bar evidence on the validation
  set's measurable bars (for ``experiments.exp_measurable score``) and prints that score's P(bar) AUC;
* ``export [--table-out FILE] [--attach CLASSIFIER]`` writes it as a ``barmap`` checkpoint, which the
  ``bar_evidence`` attribution explains (``python -m experiments.exp_saliency export --attach
  resources/models/default.safetensors`` made the shipped pair);
* ``real`` prints each attribution's Spearman rho against the real bar sizes of galaxy-builder-dev
  (``bar_Re_px``, 19 galaxies; no gate; a development set).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from galaxyscope.model.networks import BarMapNet

from experiments.common import (DATA_NOTE, REPO, add_data_option, display_path, measurable_bars, measure_grid,
                                measured_lengths, shared_data, shipped_model, spearman)

SHIPPED = shipped_model()
TARGETS = ["has_bar", "t03_bar_a06_bar_fraction", "has_arms", "has_ring"]
SEEDS = (0, 1, 2)
ATTRIBUTIONS = ("smoothgrad", "smoothgrad_x_input")


@dataclass(frozen=True)
class Variant:
    """One fine-tuning recipe; every variant gets the same epochs, lr and data."""

    name: str
    weight: float = 0.0
    kind: str = "match"
    noise: float = 0.1
    dilate_px: int = 2
    epochs: int = 3
    lr: float = 5e-4
    note: str = ""
    seeds: tuple[int, ...] = SEEDS
    arch: str | None = None  # None: fine-tune the shipped model; else train this architecture from scratch


VARIANTS = {v.name: v for v in [
    Variant("ctrl", 0.0, note="fine-tuned without guidance (equal-length control)"),
    Variant("match_w1", 1.0, note="match penalty: |gradient| should cover the bar mask evenly, weight 1"),
    Variant("outside_w1", 1.0, "outside", note="Ross et al. penalty: |gradient| share outside the mask, "
            "weight 1 (one seed: it failed clearly in a pilot)", seeds=(0,)),
    Variant("evidence_net", 0.0, epochs=8, lr=2e-3, arch="evidence", seeds=(0,),
            note="resolution-keeping evidence network (log-mean-exp of per-pixel maps), labels only, from scratch"),
    Variant("evidence_masks", 1.0, "evidence", dilate_px=1, epochs=8, lr=2e-3, arch="evidence",
            note="evidence network whose has_bar evidence map is also supervised with the bar masks, from scratch"),
    Variant("match_w10", 10.0, note="match penalty, weight 10 (one seed: bar AUC collapses to ~0.55)", seeds=(0,)),
]}


@dataclass(frozen=True)
class Paths:
    """Where this experiment reads its sets and keeps its models and caches (see --help)."""

    work: Path
    train: Path
    val: Path
    test: Path


def add_path_options(ap: argparse.ArgumentParser) -> None:
    """--work, --train, --val and --test, defaulting under $GALAXYSCOPE_DATA."""
    add_data_option(ap, "--work", "exp6", "models, training cache and saliency cache")
    add_data_option(ap, "--train", "train4k", "training set (galaxyscope synth --n 4000 --seed 100)")
    add_data_option(ap, "--val", "val200", "VALIDATION set (--n 200 --seed 3030 --bar-fraction 0.6)")
    add_data_option(ap, "--test", "eval400", "TEST set (--n 400 --seed 2026 --bar-fraction 0.6)")


def paths_of(args: argparse.Namespace) -> Paths:
    return Paths(args.work, args.train, args.val, args.test)


def model_path(paths: Paths, variant: str, seed: int) -> Path:
    return paths.work / "models" / f"{variant}_s{seed}.safetensors"


# ----------------------------------------------------------------------------- data


def training_data(paths: Paths):
    """The training set at the shipped model's preprocessing, with masks; cached as tensors on disk."""
    from galaxyscope.model.checkpoint import load_checkpoint
    from galaxyscope.model.trainset import TrainingData, load_training_data

    cache = paths.work / f"{paths.train.name}_128_masks.pt"
    if cache.exists():
        d = torch.load(cache, weights_only=False)
        return TrainingData(**d)
    pre = load_checkpoint(SHIPPED, device="cpu").preprocessing
    data = load_training_data(paths.train, TARGETS, preprocessing=pre, mask_column="bar_mask")
    cache.parent.mkdir(parents=True, exist_ok=True)
    torch.save(asdict(data), cache)
    return data


# ----------------------------------------------------------------------------- training


def train_variant(paths: Paths, variant: Variant, seed: int, threads: int = 2) -> Path:
    """Fine-tune the shipped model with one recipe and seed; returns the checkpoint path."""
    from galaxyscope.model.checkpoint import load_checkpoint, save_checkpoint
    from galaxyscope.model.guidance import GuidanceConfig
    from galaxyscope.model.training import train_model

    out = model_path(paths, variant.name, seed)
    if out.exists():
        return out
    torch.set_num_threads(threads)
    out.parent.mkdir(parents=True, exist_ok=True)
    shipped = load_checkpoint(SHIPPED, device="cpu")
    init = shipped if variant.arch is None else None
    guidance = GuidanceConfig(weight=variant.weight, noise=variant.noise, dilate_px=variant.dilate_px,
                              kind=variant.kind) \
        if variant.weight > 0 else None
    t0 = time.perf_counter()
    result = train_model(training_data(paths), preprocessing=shipped.preprocessing, epochs=variant.epochs,
                         architecture=variant.arch or shipped.meta.architecture,
                         lr=variant.lr, patience=variant.epochs, seed=seed, device="cpu", guidance=guidance,
                         init=init, log=lambda m: print(f"[{variant.name} s{seed}] {m}", flush=True))
    how = f"fine-tuned from {SHIPPED.name}" if init is not None else f"trained from scratch ({variant.arch})"
    result.model.meta.notes = (f"exp_saliency variant {variant.name}: {variant.note}; {how} for "
                               f"{variant.epochs} epochs, lr {variant.lr}, seed {seed}")
    save_checkpoint(result.model, out)
    print(f"saved {out} ({time.perf_counter() - t0:.0f} s)", flush=True)
    return out


class MaskNet(BarMapNet):
    """Upper reference: the bar-evidence U-Net (``galaxyscope.model.networks.BarMapNet``) read per pixel.

    The same layers, so a trained MaskNet's weights are the shipped ``barmap`` companion's
    (``export``); here ``forward`` gives the per-pixel logits the masks are trained on.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pixel_logits(x)


MASKNET_AUGS = ("basic", "survey")
AUG_NOTES = {"basic": "the training augmentation",
             "survey": "the training augmentation plus survey changes (AugmentConfig.survey(): greyscale, "
                       "stretches, blur, noise, colour, JPEG)"}


def masknet_augment(aug: str):
    """The augmentation a mask network trains with: ``basic`` (the classifier's: rotations, flips,
    shifts, brightness/contrast) or ``survey`` (that plus ``AugmentConfig.survey()``: greyscale,
    stretches, blur, noise, colour, JPEG), so that the companion sees frames like Galaxy Builder's;
    ``BASE:KEY=VALUE,...`` changes single settings of either (e.g. ``basic:greyscale=0.5``)."""
    from galaxyscope.model.augment import AugmentConfig

    base, _, extra = aug.partition(":")
    if base not in MASKNET_AUGS:
        raise ValueError(f"mask network augmentation {aug!r}: use one of {', '.join(MASKNET_AUGS)}, "
                         "optionally with :KEY=VALUE,...")
    cfg = AugmentConfig.survey() if base == "survey" else AugmentConfig()
    return cfg.with_values(extra) if extra else cfg


def augment_note(aug: str) -> str:
    """The augmentation in words, for the exported checkpoint's notes."""
    base, _, extra = aug.partition(":")
    return AUG_NOTES[base] + (f", changed: {extra}" if extra else "")


def masknet_path(paths: Paths, seed: int = 0, aug: str = "basic") -> Path:
    """Where a trained mask network is kept (the basic one keeps its old name)."""
    masknet_augment(aug)  # refuses an unknown recipe before it names a file
    tag = "".join(c if c.isalnum() or c in ".-" else "-" for c in aug.replace("=", ""))
    return paths.work / "models" / (f"masknet_s{seed}.pt" if aug == "basic" else f"masknet_{tag}_s{seed}.pt")


def train_masknet(paths: Paths, seed: int = 0, epochs: int = 4, threads: int = 2, aug: str = "basic") -> Path:
    """Train the direct-supervision reference on train4k's masks (BCE), with the augmentation
    recipe ``aug`` (the classifier's by default; see :func:`masknet_augment`)."""
    from galaxyscope.model.augment import augment_with_masks

    cfg = masknet_augment(aug)
    out = masknet_path(paths, seed, aug)
    if out.exists():
        return out
    torch.set_num_threads(threads)
    data = training_data(paths)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    net = MaskNet()
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=1e-4)
    n = len(data)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * (n // 32))
    t0 = time.perf_counter()
    for epoch in range(epochs):
        net.train()
        order = torch.randperm(n, generator=gen)
        total = 0.0
        for s in range(n // 32):
            b = order[s * 32:(s + 1) * 32]
            x, m = augment_with_masks(data.as_float(b), data.masks[b].float() / 255.0, gen, cfg)
            loss = F.binary_cross_entropy_with_logits(net(x), m, pos_weight=torch.tensor(5.0))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach())
        print(f"[masknet {aug} s{seed}] epoch {epoch + 1}/{epochs}: loss {total / (n // 32):.4f} "
              f"({time.perf_counter() - t0:.0f} s)", flush=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), out)
    return out


# ----------------------------------------------------------------------------- evaluation


@dataclass
class SetMaps:
    """Maps of one source on the barred galaxies of one set, and the truth they are judged by."""

    maps: list[np.ndarray]
    true: np.ndarray
    r90: np.ndarray
    masks: list[np.ndarray]


@dataclass
class Row:
    source: str
    attribution: str
    seed: str
    setting: str
    scale: float
    val_rho_r90: float
    metrics: dict = field(default_factory=dict)  # name -> (value, low, high)
    bar_share: float = math.nan
    auc_test: float = math.nan
    auc_real: float = math.nan


class Sets:
    """The validation and test sets, opened once (barred rows, truth, true masks)."""

    def __init__(self, paths: Paths) -> None:
        from PIL import Image

        from galaxyscope.images.imageset import ImageSet
        from galaxyscope.resources import sample_path

        self.sets = {}
        for name, path in (("val", paths.val), ("test", paths.test)):
            s = ImageSet.open(path)
            has_bar = np.asarray(s.column("has_bar"), bool)
            idx = np.flatnonzero(has_bar)
            masks = [np.asarray(Image.open(path / str(s.column("bar_mask")[i])).convert("L"), np.float32) / 255.0
                     for i in idx]
            self.sets[name] = dict(set=s, idx=idx, has_bar=has_bar, masks=masks,
                                   true=np.asarray(s.column("bar_length_px"), float)[idx],
                                   r90=np.asarray(s.column("r90_px"), float)[idx])
        self.real = ImageSet.open(sample_path("gz-bar-examples"))

    def of(self, name: str, maps: list[np.ndarray]) -> SetMaps:
        d = self.sets[name]
        return SetMaps(maps, d["true"], d["r90"], d["masks"])


def judge(source: str, attribution: str, seed: str, val: SetMaps, test: SetMaps, size: int,
          crop: float) -> Row:
    """Tune the measurement on validation, fit one scale there, report on test."""
    from galaxyscope.evaluate.metrics import compute_metrics

    best = None
    for method, opts, label in measure_grid():
        L = measured_lengths(val.maps, method, opts, size, crop)
        score = spearman(L / val.r90, val.true / val.r90)
        if best is None or np.nan_to_num(score, nan=-9) > np.nan_to_num(best[0], nan=-9):
            best = (score, method, opts, label, L)
    score, method, opts, label, Lv = best
    ok = np.isfinite(Lv) & (Lv > 0)
    scale = float(np.median(val.true[ok] / Lv[ok])) if ok.any() else math.nan
    Lt = measured_lengths(test.maps, method, opts, size, crop) * scale
    m = compute_metrics(Lt, test.true)
    mn = compute_metrics(Lt / test.r90, test.true / test.r90)
    metrics = {k: (v.value, v.low, v.high) for k, v in m.metrics().items()}
    metrics["rho_r90"] = (mn.spearman_rho.value, mn.spearman_rho.low, mn.spearman_rho.high)
    metrics["n"] = (m.n, m.n, m.n)
    means = [np.mean(mp, axis=0) if isinstance(mp, list) else mp for mp in test.maps]  # ensembles: mean map
    share = float(np.mean([(mp * (k > 0)).sum() / max(mp.sum(), 1e-12) for mp, k in zip(means, test.masks)]))
    return Row(source, attribution, seed, label, scale, score, metrics, share)


def model_maps(model, sets: Sets, attribution: str, samples: int, cache) -> tuple[list, list]:
    out = []
    for name in ("val", "test"):
        d = sets.sets[name]
        out.append([cache.get_or_compute(model, d["set"][int(i)], attribution, n_samples=samples).map
                    for i in d["idx"]])
    return out[0], out[1]


def model_aucs(model, sets: Sets) -> tuple[float, float]:
    from galaxyscope.model.val_metrics import binary_auc

    d = sets.sets["test"]
    s = d["set"]
    k = model.output_index(None)
    probs = np.concatenate([model.predict([s[i] for i in range(a, min(a + 50, len(s)))])[:, k]
                            for a in range(0, len(s), 50)])
    real = [im for _, im in sets.real.iter_images()]
    preal = model.predict(real)[:, k]
    return (float(binary_auc(probs.astype(float), d["has_bar"])),
            float(binary_auc(preal.astype(float), np.asarray(sets.real.column("has_bar"), bool))))


def masknet_maps(path: Path, sets: Sets, pre) -> tuple[list, list]:
    net = MaskNet()
    net.load_state_dict(torch.load(path, weights_only=True))
    net.eval()
    out = []
    for name in ("val", "test"):
        d = sets.sets[name]
        maps = []
        with torch.no_grad():
            for i in d["idx"]:
                im = d["set"][int(i)]
                p = torch.sigmoid(net(pre.to_model(im)))[0, 0].numpy()
                full = pre.map_back(p, im.pixels.shape[0], im.pixels.shape[1])
                maps.append(full / max(float(full.max()), 1e-12))
        out.append(maps)
    return out[0], out[1]


def table(paths: Paths, out: Path, samples: int, variants: list[str], seeds: tuple[int, ...]) -> list[Row]:
    from galaxyscope.model.checkpoint import load_checkpoint
    from galaxyscope.saliency.cache import SaliencyCache

    torch.set_num_threads(2)
    sets = Sets(paths)
    cache = SaliencyCache(paths.work / "cache")
    shipped = load_checkpoint(SHIPPED, device="cpu")
    pre = shipped.preprocessing
    size, crop = pre.input_size, pre.crop_fraction
    rows: list[Row] = []

    def done(row: Row) -> None:
        rows.append(row)
        m = row.metrics
        print(f"{row.source:10s} {row.attribution:20s} s{row.seed}: rho {m['spearman_rho'][0]:.3f} "
              f"r {m['pearson_r'][0]:.3f} rho/r90 {m['rho_r90'][0]:.3f} medrel {m['median_rel_err'][0]:.3f} "
              f"share {row.bar_share:.3f} AUC {row.auc_test:.3f}/{row.auc_real:.3f} [{row.setting}]", flush=True)

    truth_val, truth_test = sets.of("val", sets.sets["val"]["masks"]), sets.of("test", sets.sets["test"]["masks"])
    done(judge("truth", "true bar mask", "-", truth_val, truth_test, size, crop))
    for path in sorted((paths.work / "models").glob("masknet_s[0-9]*.pt")):  # the basic recipe only, as before --aug
        v, t = masknet_maps(path, sets, pre)
        done(judge("masknet", "predicted mask", path.stem.split("_s")[-1], sets.of("val", v), sets.of("test", t),
                   size, crop))
    sources = [("shipped", "-", SHIPPED)] + [(v, str(s), model_path(paths, v, s)) for v in variants for s in seeds
                                               if s in VARIANTS[v].seeds]
    kept: dict[tuple[str, str], list[tuple[list, list]]] = {}
    for name, seed, path in sources:
        if not path.exists():
            print(f"missing {path}: skipped (train it first)", flush=True)
            continue
        model = load_checkpoint(path, device="cpu")
        auc_test, auc_real = model_aucs(model, sets)
        for attribution in ATTRIBUTIONS:
            v, t = model_maps(model, sets, attribution, samples, cache)
            kept.setdefault((name, attribution), []).append((v, t))
            row = judge(name, attribution, seed, sets.of("val", v), sets.of("test", t), size, crop)
            row.auc_test, row.auc_real = auc_test, auc_real
            done(row)
    for (name, attribution), runs in kept.items():  # the paper averaged three models' maps
        if len(runs) > 1:
            v = [list(ms) for ms in zip(*(r[0] for r in runs))]
            t = [list(ms) for ms in zip(*(r[1] for r in runs))]
            done(judge(f"{name} (mean map of {len(runs)})", attribution, "all", sets.of("val", v),
                       sets.of("test", t), size, crop))
    write_table(rows, out, samples, sets, paths)
    return rows


def _fmt(m: tuple) -> str:
    v, lo, hi = m
    return f"{v:.2f} [{lo:.2f}, {hi:.2f}]" if math.isfinite(v) else "–"


def write_table(rows: list[Row], out: Path, samples: int, sets: Sets, paths: Paths) -> None:
    test = sets.sets["test"]
    size_rho = spearman(test["r90"], test["true"])
    lines = ["# Saliency that finds the bar: the issue-6 comparison", "",
             "Generated by `python -m experiments.exp_saliency all` (see its docstring). Test set: "
             f"`{display_path(paths.test)}` ({len(test['idx'])} barred galaxies), never used for tuning; "
             f"measurement settings and one length scale tuned per row on `{display_path(paths.val)}`. "
             f"SmoothGrad N={samples}, noise 0.1. " + DATA_NOTE, "",
             f"Galaxy size alone (r90_px): Spearman rho {size_rho:.2f} against the true length.", "",
             "| source | attribution | seed | rho | Pearson r | rho / r90 | median rel. err. | bar share "
             "| AUC test | AUC 22 real | setting (tuned on val) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        m = r.metrics
        lines.append(f"| {r.source} | {r.attribution} | {r.seed} | {_fmt(m['spearman_rho'])} | "
                     f"{_fmt(m['pearson_r'])} | {_fmt(m['rho_r90'])} | {_fmt(m['median_rel_err'])} | "
                     f"{r.bar_share:.3f} | {r.auc_test:.3f} | {r.auc_real:.3f} | {r.setting} |")
    # mean over seeds per (source, attribution)
    lines += ["", "Mean over seeds (± standard deviation between seeds):", "",
              "| source | attribution | seeds | rho | Pearson r | rho / r90 | median rel. err. | AUC 22 real |",
              "|---|---|---|---|---|---|---|---|"]
    groups: dict[tuple[str, str], list[Row]] = {}
    for r in rows:
        groups.setdefault((r.source, r.attribution), []).append(r)
    for (src, att), rs in groups.items():
        def ms(key: str) -> str:
            vals = np.array([r.metrics[key][0] for r in rs])
            return f"{vals.mean():.2f} ± {vals.std():.2f}" if len(vals) > 1 else f"{vals[0]:.2f}"
        auc = np.array([r.auc_real for r in rs])
        lines.append(f"| {src} | {att} | {len(rs)} | {ms('spearman_rho')} | {ms('pearson_r')} | "
                     f"{ms('rho_r90')} | {ms('median_rel_err')} | {np.nanmean(auc):.3f} |")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    out.with_suffix(".json").write_text(json.dumps([asdict(r) for r in rows], indent=1))
    print(f"wrote {out}")


# ----------------------------------------------------------------------------- issue 20: the measurable-bar yardstick


def _measurable_rows(image_set) -> np.ndarray:
    """Row indices of the measurable bars (has_bar and simulated GZ2 bar vote >= 0.5)."""
    has = np.asarray(image_set.column("has_bar"), bool)
    return np.flatnonzero(measurable_bars(has, np.asarray(image_set.column("t03_bar_a06_bar_fraction"), float)))


def _predicted_maps(net, image_set, idx, pre) -> list[np.ndarray]:
    """The mask network's probability map of each image, mapped back onto the image grid."""
    maps = []
    with torch.no_grad():
        for i in idx:
            im = image_set[int(i)]
            p = torch.sigmoid(net(pre.to_model(im)))[0, 0].numpy()
            full = pre.map_back(p, im.height, im.width, box=pre.box_for(im))
            maps.append(full / max(float(full.max()), 1e-12))
    return maps


def _load_masknet(path: Path) -> MaskNet:
    net = MaskNet()
    net.load_state_dict(torch.load(path, weights_only=True))
    return net.eval()


def reference_table(paths: Paths, out: Path, epochs: int = 4, threads: int = 2) -> Path:
    """The mask-trained upper reference as a results table of the TEST set's barred galaxies.

    Trains MaskNet (reused when WORK/models holds it), picks the `moments` setting with the best
    Spearman rho of length / r90 on the VALIDATION set's measurable bars and fits one length scale
    there, then writes filename, method ``masknet`` and bar_length_px for every barred test galaxy,
    which ``galaxyscope evaluate`` and ``experiments.eval_engine --extra`` read like any measurement.
    """
    from astropy.table import Table

    from galaxyscope.images.imageset import ImageSet
    from galaxyscope.model.checkpoint import load_checkpoint

    torch.set_num_threads(threads)
    net = _load_masknet(train_masknet(paths, 0, epochs=epochs, threads=threads))
    pre = load_checkpoint(SHIPPED, device="cpu").preprocessing
    size, crop = pre.input_size, pre.crop_fraction
    val = ImageSet.open(paths.val)
    vidx = _measurable_rows(val)
    vtrue = np.asarray(val.column("bar_length_px"), float)[vidx]
    vr90 = np.asarray(val.column("r90_px"), float)[vidx]
    vmaps = _predicted_maps(net, val, vidx, pre)
    best = None
    for method, opts, label in measure_grid():
        L = measured_lengths(vmaps, method, opts, size, crop)
        score = spearman(L / vr90, vtrue / vr90)
        if best is None or np.nan_to_num(score, nan=-9) > np.nan_to_num(best[0], nan=-9):
            best = (score, method, opts, label, L)
    score, method, opts, label, Lv = best
    ok = np.isfinite(Lv) & (Lv > 0)
    scale = float(np.median(vtrue[ok] / Lv[ok]))
    print(f"validation ({len(vidx)} measurable bars): {label}, rho/r90 {score:.3f}, scale {scale:.3f}")
    test = ImageSet.open(paths.test)
    tidx = np.flatnonzero(np.asarray(test.column("has_bar"), bool))
    L = measured_lengths(_predicted_maps(net, test, tidx, pre), method, opts, size, crop) * scale
    names = [str(test.column("filename")[i]) for i in tidx]
    t = Table({"filename": names, "method": ["masknet"] * len(names), "bar_length_px": L})
    t.meta["setting"] = {"label": label, "scale": scale, "val_rho_r90": score, "val_bars": int(len(vidx))}
    out.parent.mkdir(parents=True, exist_ok=True)
    t.write(out, format="ascii.ecsv", overwrite=True)
    print(json.dumps(t.meta["setting"]))
    return out


def evidence_saliency(paths: Paths, out: Path, samples: int = 25, threads: int = 2) -> Path:
    """SmoothGrad of the mask network's pooled bar evidence on the VALIDATION set's measurable bars.

    The bar score is the log-mean-exp of the network's per-pixel bar logits; the maps go to
    OUT/maps_sg.npz in exp_measurable's format (``python -m experiments.exp_measurable score
    --data VAL --work OUT --variants sg`` judges them). Also prints the pooled score's P(bar) AUC
    beside the shipped classifier's on the validation set (measurable bars against unbarred), the
    22 real examples and galaxy-builder-dev (p_bar >= 0.5 against < 0.2).
    """
    from galaxyscope.images.imageset import ImageSet
    from galaxyscope.model.checkpoint import load_checkpoint
    from galaxyscope.model.val_metrics import binary_auc
    from galaxyscope.resources import sample_path
    from galaxyscope.saliency.attributions import smoothgrad_attribution

    torch.set_num_threads(threads)
    model = load_checkpoint(SHIPPED, device="cpu")
    pre = model.preprocessing
    net = _load_masknet(train_masknet(paths, 0, threads=threads))

    class Pooled(torch.nn.Module):
        def __init__(self, m: torch.nn.Module) -> None:
            super().__init__()
            self.m = m

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            z = self.m(x).flatten(1)
            return (torch.logsumexp(z, 1) - float(np.log(z.shape[1])))[:, None]

    pooled = Pooled(net)
    val = ImageSet.open(paths.val)
    idx = _measurable_rows(val)
    maps, boxes = [], []
    for i in idx:
        im = val[int(i)]
        x = pre.to_model(im)
        boxes.append(pre.box_for(im))
        with torch.enable_grad():
            g = smoothgrad_attribution(pooled, x.clone().requires_grad_(True), 0, n_samples=samples,
                                       stdev=0.1 * float(x.max() - x.min()), chunk=5, seed=0, absolute=True)
        maps.append(g.abs().amax(1)[0].numpy())
    out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out / "maps_sg.npz", maps=np.stack(maps), idx=idx, boxes=np.array(boxes))
    for name, path in (("validation", paths.val), ("gz-bar-examples", sample_path("gz-bar-examples")),
                       ("galaxy-builder-dev", shared_data("galaxy-builder-dev"))):
        st = ImageSet.open(path)
        ims = [im for _, im in st.iter_images()]
        if "p_bar" in st.catalogue.colnames:
            p = np.ma.filled(np.ma.asarray(st.column("p_bar"), float), np.nan)
            keep, y = (p >= 0.5) | (p < 0.2), p >= 0.5
        else:
            y = np.asarray(st.column("has_bar"), bool)
            keep = np.ones(len(y), bool)
            if "t03_bar_a06_bar_fraction" in st.catalogue.colnames:
                keep = measurable_bars(y, np.asarray(st.column("t03_bar_a06_bar_fraction"), float)) | ~y
        with torch.no_grad():
            a = np.array([float(pooled(pre.to_model(im))) for im in ims])
        b = model.predict(ims)[:, model.output_index(None)].astype(float)
        print(f"{name}: {int(keep.sum())} galaxies, pooled evidence AUC {binary_auc(a[keep], y[keep]):.3f}, "
              f"shipped classifier AUC {binary_auc(b[keep], y[keep]):.3f}")
    return out


def export_companion(paths: Paths, out: Path, attach: Path | None, threads: int = 2, aug: str = "basic",
                     seed: int = 0, epochs: int = 4) -> Path:
    """Write the trained mask network as a ``barmap`` checkpoint (the shipped model's companion).

    Its one output is the bar evidence (``BarMapNet``); its preprocessing is the shipped
    model's, which it was trained with. With ``attach`` the classifier checkpoint there gets
    ``bar_evidence = OUT's file name`` (OUT must sit in the same folder); its weights are unchanged.
    """
    from galaxyscope.model.checkpoint import load_checkpoint, save_checkpoint
    from galaxyscope.model.loaded import LoadedModel, ModelMeta

    src = train_masknet(paths, seed, epochs=epochs, threads=threads, aug=aug)
    net = BarMapNet()
    net.load_state_dict(torch.load(src, weights_only=True))
    shipped = load_checkpoint(SHIPPED, device="cpu")
    meta = ModelMeta(
        architecture="barmap", output_names=["bar_evidence"], sigmoid_outputs=[False], task="regress",
        preprocessing=shipped.preprocessing,
        notes=("Bar-evidence companion of the shipped classifier (issue 20): a U-Net trained on the "
               f"synthetic bar masks of {display_path(paths.train)} (galaxyscope synth --n 4000 --seed 100; BCE, pos_weight 5, {epochs} epochs, AdamW lr 2e-3 "
               f"cosine, {augment_note(aug)}, seed {seed}; python -m experiments.exp_saliency masknet --aug {aug}); output = "
               "bar evidence (log-mean-exp of the per-pixel bar logits). Explained by the "
               "bar_evidence attribution; never used for P(bar)."),
        metrics={"recipe": {"train": display_path(paths.train), "epochs": epochs, "seed": seed, "pos_weight": 5.0,
                            "augmentation": aug, "augment_config": masknet_augment(aug).to_dict(),
                            "lr": 2e-3, "batch_size": 32, "source": "experiments/exp_saliency.py train_masknet"}})
    out.parent.mkdir(parents=True, exist_ok=True)
    digest = save_checkpoint(LoadedModel(net, meta), out)
    print(f"wrote {out} (sha256 {digest[:12]})")
    if attach is not None:
        if attach.resolve().parent != out.resolve().parent:
            raise SystemExit(f"{attach}: the companion must sit in the classifier's folder ({out.parent})")
        model = load_checkpoint(attach, device="cpu")
        model.meta.bar_evidence = out.name
        save_checkpoint(model, attach)
        print(f"{attach}: bar_evidence = {out.name}")
    return out


def real_lengths(threads: int = 2) -> dict:
    """Real bar sizes: Spearman rho of each attribution's `moments` length against galaxy-builder-dev's
    ``bar_Re_px`` (the 19 galaxies with a volunteers' bar size), no P(bar) gate, bootstrap 95 %
    intervals; each attribution measured with the settings stored with its calibration
    (`measuring_params`, as `galaxyscope measure` does; library defaults where none); beside galaxy
    size alone and the companion's own mask (read per pixel, like the upper reference). A development set: the numbers guide, the kept-back half tests.
    """
    from galaxyscope.evaluate.metrics import compute_metrics
    from galaxyscope.images.imageset import ImageSet
    from galaxyscope.jobs.measure_job import measuring_params
    from galaxyscope.measure import measure_bar
    from galaxyscope.model.checkpoint import load_checkpoint
    from galaxyscope.saliency.attributions import compute_saliency

    torch.set_num_threads(threads)
    model = load_checkpoint(SHIPPED, device="cpu")
    pre = model.preprocessing
    st = ImageSet.open(shared_data("galaxy-builder-dev"))
    ref = np.ma.filled(np.ma.asarray(st.column("bar_Re_px"), float), np.nan)
    r90 = np.asarray(st.column("r90_px"), float)
    idx = np.flatnonzero(np.isfinite(ref))
    ims = [st[int(i)] for i in idx]
    lengths: dict[str, np.ndarray] = {}
    for att in ("smoothgrad", "bar_evidence"):  # each measured as `galaxyscope measure` does (its stored settings)
        opts = measuring_params(model, "moments", att)
        lengths[att] = np.array([measure_bar(compute_saliency(model, im, att).map, "moments", options=opts,
                                             **pre.measure_kwargs(im)).length_px for im in ims])
    companion = MaskNet()
    companion.load_state_dict(model.bar_evidence_model().net.state_dict())
    masks = _predicted_maps(companion.eval(), st, idx, pre)
    lengths["companion's own mask"] = np.array([measure_bar(m, "moments", **pre.measure_kwargs(im)).length_px
                                                for m, im in zip(masks, ims)])
    lengths["galaxy size alone (r90_px)"] = r90[idx]
    out = {}
    for name, L in lengths.items():
        m = compute_metrics(L, ref[idx])
        mn = compute_metrics(L / r90[idx], ref[idx] / r90[idx])
        out[name] = {"n": int(np.isfinite(L).sum()), "rho": [m.spearman_rho.value, m.spearman_rho.low,
                                                             m.spearman_rho.high],
                     "rho_r90": [mn.spearman_rho.value, mn.spearman_rho.low, mn.spearman_rho.high]}
        print(f"{name}: rho {m.spearman_rho.value:.2f} [{m.spearman_rho.low:.2f}, {m.spearman_rho.high:.2f}], "
              f"rho of length/r90 {mn.spearman_rho.value:.2f} [{mn.spearman_rho.low:.2f}, "
              f"{mn.spearman_rho.high:.2f}] (n = {out[name]['n']})", flush=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cmd", choices=("train", "masknet", "table", "all", "reference", "evidence", "export", "real"))
    ap.add_argument("--epochs", type=int, default=4, help="mask network epochs (masknet, reference)")
    ap.add_argument("--table-out", type=Path, default=None,
                    help="reference: results table to write (default WORK/masknet_test.ecsv); "
                         "evidence: folder of the maps (default WORK/evidence_sg); export: the companion "
                         "checkpoint (default resources/models/bar_evidence.safetensors)")
    ap.add_argument("--attach", type=Path, default=None,
                    help="export: classifier checkpoint that gets the companion's name (bar_evidence)")
    ap.add_argument("--aug", default="basic",
                    help="masknet, export: the mask network's augmentation, basic or survey (greyscale, "
                         "stretches, blur, noise, colour and JPEG on top, as real frames differ), optionally "
                         "with :KEY=VALUE,... (galaxyscope.model.augment.AugmentConfig), e.g. basic:greyscale=0.5")
    ap.add_argument("--masknet-seed", type=int, default=0, help="masknet, export: the mask network's seed")
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--seeds", default=",".join(map(str, SEEDS)))
    ap.add_argument("--samples", type=int, default=25)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=str(REPO / "docs/experiments/saliency.md"))
    add_path_options(ap)
    args = ap.parse_args()
    try:
        masknet_augment(args.aug)
    except ValueError as e:
        ap.error(f"--aug: {e}")
    paths = paths_of(args)
    variants = [v for v in args.variants.split(",") if v]
    seeds = tuple(int(s) for s in args.seeds.split(",") if s)
    if args.cmd in ("train", "all"):
        for s in seeds:  # seed 0 of every variant first: a cut-short run still compares all of them
            for v in variants:
                if s in VARIANTS[v].seeds:
                    train_variant(paths, VARIANTS[v], s, args.threads)
    if args.cmd in ("masknet", "all"):
        train_masknet(paths, args.masknet_seed, epochs=args.epochs, threads=args.threads, aug=args.aug)
    if args.cmd in ("table", "all"):
        table(paths, Path(args.out), args.samples, variants, seeds)
    if args.cmd == "reference":
        reference_table(paths, args.table_out or paths.work / "masknet_test.ecsv", args.epochs, args.threads)
    if args.cmd == "real":
        real_lengths(args.threads)
    if args.cmd == "export":
        export_companion(paths, args.table_out or REPO / "resources/models/bar_evidence.safetensors",
                         args.attach, args.threads, aug=args.aug, seed=args.masknet_seed, epochs=args.epochs)
    if args.cmd == "evidence":
        evidence_saliency(paths, args.table_out or paths.work / "evidence_sg", args.samples, args.threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
