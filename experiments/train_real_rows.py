"""Issue 14's comparison: training recipes for real galaxies, on the same footing.

    python -m experiments.train_real_rows --rows render,survey,dann,weak --seed 0 \
        --synthetic $GALAXYSCOPE_DATA/train3k_new --val $GALAXYSCOPE_DATA/val200_new \
        --out $GALAXYSCOPE_DATA/models

Every row fine-tunes one starting model (``--init``; default the shipped model, but issue 14's
table started from version 1: ``git show 58eec6d:resources/models/default.safetensors``) for the same
number of steps (``--epochs`` over the same synthetic images, same seed, same learning rate);
only the recipe changes:

- ``render``: the new renderer's images, basic augmentation ("better rendering alone");
- ``survey``: + survey augmentation (colour balance, stretch, noise, blur, JPEG, greyscale);
- ``dann``: + domain adaptation (DANN) with unlabelled real images (gz2-kaggle, decals-zoobot);
- ``weak``: + weak real labels as extra outputs (gz2-kaggle spiral, decals-zoobot vote fractions);
- ``coral``: like ``dann`` with CORAL instead (optional row).

``ROW:basic`` / ``ROW:survey`` force the augmentation (e.g. ``dann:basic``: DANN without the
survey augmentation), to tell the steps apart when one of them hurts.

The control row (the old renderer's images, basic augmentation) is the same recipe as
``render`` on an old-renderer set: ``--synthetic $GALAXYSCOPE_DATA/train3k_old --rows render``.

Loaded images are cached under ``--cache`` (training tensors, keyed by folder and preprocessing)
because reading and framing 4,000 images costs more than a row's training on 2 cores. Each model's
galaxy framing is recalibrated on ``--val`` (a validation set made by the same renderer), so real
images are shown at the scale the network learnt. Selection numbers: ``experiments/real_auc.py``.
The unlabelled real folders are $GALAXYSCOPE_SHARED_DATA/gz2-kaggle and .../decals-zoobot; the
cache defaults to $GALAXYSCOPE_DATA/cache (see experiments/common.py). The paths recorded in a
model's metadata are written as ``$GALAXYSCOPE_DATA/...`` (``display_path``), never absolute.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import time
from pathlib import Path

import torch

from experiments.common import add_data_option, display_path, shared_data, shipped_model
from galaxyscope.images.imageset import ImageSet
from galaxyscope.model.adapt import AdaptConfig
from galaxyscope.model.augment import AugmentConfig
from galaxyscope.model.checkpoint import load_checkpoint, save_checkpoint
from galaxyscope.model.framing import calibrate_frame_r90
from galaxyscope.model.preprocess import Preprocessing
from galaxyscope.model.realdata import RealDataConfig, load_real_data
from galaxyscope.model.training import train_model
from galaxyscope.model.trainset import load_training_data

TARGETS = ["has_bar", "t03_bar_a06_bar_fraction", "has_arms", "has_ring"]
UNLABELLED = [str(shared_data("gz2-kaggle")), str(shared_data("decals-zoobot"))]
ROWS = ("render", "survey", "dann", "coral", "weak")


def cached(cache: Path, key: str, make):
    """``make()``'s result, kept in ``cache`` under a hash of ``key``."""
    path = cache / (hashlib.sha256(key.encode()).hexdigest()[:16] + ".pt")
    if path.exists():
        return torch.load(path, weights_only=False)
    value = make()
    cache.mkdir(parents=True, exist_ok=True)
    torch.save(value, path)
    return value


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", default="render,survey,dann,weak")
    ap.add_argument("--synthetic", required=True, help="synthetic training set")
    ap.add_argument("--val", required=True, help="synthetic validation set of the same renderer (framing)")
    ap.add_argument("--init", default=str(shipped_model()))
    ap.add_argument("--out", required=True, help="folder for the models")
    ap.add_argument("--tag", default="", help="prefix of the model names")
    add_data_option(ap, "--cache", "cache", "cache of loaded training tensors")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-unlabelled", type=int, default=600)
    ap.add_argument("--real-batch-size", type=int, default=16)
    ap.add_argument("--adapt-weight", type=float, default=0.1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--aug", default="", help="changes to the survey augmentation, e.g. greyscale=0,jpeg=0")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    cache, out = Path(args.cache), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    init = load_checkpoint(args.init, device="cpu")
    pre = Preprocessing(input_size=init.meta.preprocessing.input_size,
                        crop_fraction=init.meta.preprocessing.crop_fraction)
    val = ImageSet.open(args.val)
    frame_r90, view_range, n_framed = cached(
        cache, f"frame {Path(args.val).resolve()} {pre.crop_fraction}",
        lambda: calibrate_frame_r90((val[i] for i in range(len(val))), pre.crop_fraction))
    print(f"frame_r90 {frame_r90:.3f} (1-99 %: {view_range[0]:.2f}-{view_range[1]:.2f}, n {n_framed}) "
          f"from {args.val}", flush=True)
    data = cached(cache, f"train {Path(args.synthetic).resolve()} {pre} {TARGETS}",
                  lambda: load_training_data(args.synthetic, TARGETS, preprocessing=pre))
    print(f"{len(data)} synthetic images", flush=True)

    for spec in args.rows.split(","):
        row, _, aug = spec.partition(":")  # "dann:basic" = the dann row without survey augmentation
        if row not in ROWS or aug not in ("", "basic", "survey"):
            raise SystemExit(f"unknown row {spec!r}; rows: {', '.join(ROWS)}, optionally :basic or :survey")
        survey = aug == "survey" or (aug == "" and row != "render")
        augment = AugmentConfig.survey().with_values(args.aug) if survey else AugmentConfig()
        real = None
        if row in ("dann", "coral", "weak"):
            # read every real folder once, with its weak labels; rows without weak labels drop them
            full = RealDataConfig(unlabelled=UNLABELLED, weak=UNLABELLED, max_unlabelled=args.max_unlabelled,
                                  max_weak=args.max_unlabelled, frame_r90=frame_r90)
            loaded = cached(cache, f"real {UNLABELLED} {args.max_unlabelled} {frame_r90:.4f} {pre} "
                                   f"seed {args.seed}",
                            lambda: load_real_data(full, pre, init=init, seed=args.seed, log=print))
            cfg = dataclasses.replace(full, weak=UNLABELLED if row == "weak" else [],
                                      batch_size=args.real_batch_size,
                                      adapt=AdaptConfig("coral" if row == "coral" else "dann", args.adapt_weight))
            real = dataclasses.replace(loaded, config=cfg, weak=loaded.weak if row == "weak" else None)
        t0 = time.perf_counter()
        result = train_model(data, TARGETS, preprocessing=pre, epochs=args.epochs, patience=args.epochs,
                             lr=args.lr, seed=args.seed, device="cpu", augment=augment, init=init,
                             monitor="has_bar", real=real, log=lambda m: print(f"[{row}] {m}", flush=True))
        model = result.model
        model.meta.preprocessing = dataclasses.replace(model.meta.preprocessing, framing="galaxy",
                                                       frame_r90=round(frame_r90, 3))
        model.meta.domain = {"colour": True, "view_r90": [round(view_range[0], 3), round(view_range[1], 3)]}
        model.meta.min_bar_probability = init.meta.min_bar_probability
        model.meta.metrics["recipe"] = {"row": spec, "synthetic": display_path(args.synthetic),
                                        "init": display_path(args.init), "epochs": args.epochs,
                                        "lr": args.lr, "seed": args.seed, "frame_r90_from": display_path(args.val),
                                        "aug_changes": args.aug if survey else ""}
        name = out / f"{args.tag}{row}{'' if aug == '' else '_' + aug}_s{args.seed}.safetensors"
        save_checkpoint(model, name)
        print(json.dumps({"row": row, "model": str(name), "seconds": round(time.perf_counter() - t0),
                          "best_epoch": result.best_epoch}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
