"""``galaxyscope train``: train a bar classifier (or a direct bar-length regressor).

Example::

    galaxyscope train synth_set/ --target has_bar --out bar.safetensors
    galaxyscope train synth_set/ --regress bar_length_px --out length.safetensors --epochs 30

    galaxyscope train synth/ --target has_bar --init resources/models/default.safetensors \
        --augment survey --unlabelled gz2-kaggle/ --adapt dann --weak decals-zoobot/ --out ft.safetensors

Defaults suit a laptop CPU (96 px input, small network, 15 epochs with early
stopping); use --arch resnet --size 224 --device cuda on a GPU. With --init,
--size, --crop and --channels default to the starting model's.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from galaxyscope.errors import GalaxyscopeError
from galaxyscope.model.network_names import DEFAULT_NETWORK, NETWORK_NAMES  # torch-free copy of the registry

DEFAULTS = dict(size=96, crop=0.5, channels=3, epochs=15, batch_size=32, lr=2e-3, seed=0, patience=4,
                val_fraction=0.2)


EXAMPLES = """\
examples:
  galaxyscope train synth_set --target has_bar --out bar.safetensors
  galaxyscope train synth_set --regress bar_length_px --out length.safetensors --epochs 30
  galaxyscope train synth_set --target has_bar --init resources/models/default.safetensors \\
      --augment survey --unlabelled gz2-kaggle/ --adapt dann --weak decals-zoobot/ --out ft.safetensors"""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train",
        help="train a CNN on catalogue columns of an image set and write a .safetensors model",
        description="Train a network on an image set (a folder with catalog.ecsv, or a catalogue "
                    "file) and write MODEL.safetensors (+ MODEL.safetensors.json). Classification: "
                    "--target columns hold 0/1 labels or vote fractions (sigmoid outputs, BCE loss). "
                    "Regression: --regress COL learns the column directly (MSE), by default on rows "
                    "with COL > 0 only (barred galaxies).",
        epilog=EXAMPLES,
    )
    p.add_argument("dataset", help="folder with catalog.ecsv, or a catalogue file naming the images")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--target", action="append", metavar="COL",
                      help="catalogue column to classify (0/1 or vote fraction); repeat for several outputs")
    what.add_argument("--regress", metavar="COL",
                      help="catalogue column to regress (e.g. bar_length_px of a galaxyscope synth set)")
    p.add_argument("--out", required=True, metavar="MODEL.safetensors", help="checkpoint to write")
    p.add_argument("--epochs", type=int, default=DEFAULTS["epochs"], help="most epochs (default %(default)s)")
    p.add_argument("--size", type=int, default=None, metavar="PX",
                   help=f"network input side in pixels (default {DEFAULTS['size']}, or the --init model's)")
    p.add_argument("--crop", type=float, default=None, metavar="F",
                   help=f"central crop as a fraction of the image side (default {DEFAULTS['crop']}, "
                        "or the --init model's)")
    p.add_argument("--channels", type=int, choices=(1, 3), default=None,
                   help="input channels (default 3, or the --init model's)")
    p.add_argument("--arch", choices=NETWORK_NAMES, default=DEFAULT_NETWORK,
                   help="network (default %(default)s; resnet wants a GPU)")
    p.add_argument("--batch-size", type=int, default=DEFAULTS["batch_size"], metavar="B",
                   help="images per training step (default %(default)s)")
    p.add_argument("--lr", type=float, default=DEFAULTS["lr"], help="learning rate (default %(default)s)")
    p.add_argument("--monitor", metavar="OUTPUT",
                   help="pick the epoch and stop early on this output's validation AUC (RMSE for "
                        "regression) instead of the summed validation loss of all outputs")
    p.add_argument("--patience", type=int, default=DEFAULTS["patience"],
                   help="stop after this many epochs without a better validation loss (or --monitor score) "
                        "(default %(default)s)")
    p.add_argument("--val-fraction", type=float, default=DEFAULTS["val_fraction"],
                   help="share of images held out for validation (default %(default)s)")
    p.add_argument("--loss", choices=("bce", "mse"), default="bce",
                   help="classification loss: bce (default) or mse on the sigmoid (as the paper)")
    p.add_argument("--all-rows", action="store_true",
                   help="with --regress: also train on rows where the column is <= 0")
    p.add_argument("--no-augment", action="store_true", help="turn off rotation/flip/shift/brightness augmentation")
    p.add_argument("--augment", choices=("basic", "survey"), default="basic",
                   help="basic: rotation, flip, shift, brightness/contrast (default); survey: also colour "
                        "balance, gamma/asinh re-stretch, noise, blur, JPEG re-compression and greyscale")
    p.add_argument("--aug", action="append", default=[], metavar="KEY=VALUE",
                   help="change one augmentation setting, e.g. --aug greyscale=0.5 --aug jpeg=0 "
                        "(keys: the fields of model.augment.AugmentConfig); repeatable")
    p.add_argument("--seed", type=int, default=DEFAULTS["seed"],
                   help="seed of the initial weights, the validation split, the batch order and the "
                        "augmentation; on a CPU the same seed gives the same weights (default %(default)s)")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N or mps (default: best available)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch (default: torch's choice)")
    p.add_argument("--init", metavar="MODEL", default=None,
                   help="start from this model's weights (fine-tuning; same outputs and preprocessing)")
    g = p.add_argument_group("saliency guidance (bar masks, e.g. from galaxyscope synth)")
    g.add_argument("--guide-weight", type=float, default=0.0, metavar="W",
                   help="penalise the share of the bar output's input gradient outside each galaxy's "
                        "bar mask with this weight (default 0 = off)")
    g.add_argument("--guide-output", default="has_bar", metavar="COL", help="guided output (default %(default)s)")
    g.add_argument("--guide-mask-column", default="bar_mask", metavar="COL",
                   help="catalogue column naming each mask file (default %(default)s)")
    g.add_argument("--guide-noise", type=float, default=0.1, metavar="F",
                   help="SmoothGrad-like noise on the guided inputs (default %(default)s)")
    g.add_argument("--guide-kind", choices=("match", "outside", "evidence"), default="match",
                   help="match: the saliency should cover the mask evenly (default); outside: only "
                        "penalise saliency outside the mask (Ross et al. 2017); evidence: supervise the "
                        "evidence map of --arch evidence with the masks")
    g.add_argument("--guide-blur", type=float, default=1.5, metavar="PX",
                   help="blur |gradient| by this sigma before matching (default %(default)s)")
    g.add_argument("--guide-dilate", type=int, default=2, metavar="PX",
                   help="grow masks by PX model pixels (default %(default)s)")
    r = p.add_argument_group("real images (domain adaptation and weak labels; read with galaxy framing)")
    r.add_argument("--unlabelled", action="append", default=[], metavar="DIR",
                   help="folder of real images without labels for domain adaptation; repeatable")
    r.add_argument("--max-unlabelled", type=int, default=None, metavar="N",
                   help="use at most N images of each --unlabelled folder (seeded sample; default all)")
    r.add_argument("--adapt", choices=("dann", "coral", "mmd"), default=None,
                   help="domain adaptation on the pooled features: dann (domain classifier behind gradient "
                        "reversal), coral (match feature covariances) or mmd; needs --unlabelled or --weak")
    r.add_argument("--adapt-weight", type=float, default=0.1, metavar="W",
                   help="weight of the adaptation loss (default %(default)s)")
    r.add_argument("--weak", action="append", default=[], metavar="DIR",
                   help="folder of real images with weak labels (class subfolders such as spiral/ "
                        "non_spiral/, or numeric [0, 1] columns of its catalog.csv) trained as extra "
                        "outputs weak_* after the targets; repeatable")
    r.add_argument("--weak-column", action="append", default=None, metavar="COL",
                   help="use only these catalogue columns as weak labels (default: every numeric one in [0, 1])")
    r.add_argument("--max-weak", type=int, default=None, metavar="N",
                   help="use at most N labelled images of each --weak folder (seeded sample; default all)")
    r.add_argument("--weak-weight", type=float, default=1.0, metavar="W",
                   help="weight of the weak outputs' loss (default %(default)s)")
    r.add_argument("--real-batch-size", type=int, default=None, metavar="B",
                   help="real images per step from each source (default: half of --batch-size)")
    r.add_argument("--frame-r90", type=float, default=None, metavar="F",
                   help="frame real images at F x the galaxy's R90 (default: the --init model's calibrated "
                        "value, else 3.006 x crop/0.5)")
    p.add_argument("--quiet", action="store_true", help="no progress bars or per-epoch lines")
    p.set_defaults(func=run)


def _check_args(args: argparse.Namespace) -> Path:
    out = Path(args.out)
    if out.suffix != ".safetensors":
        raise GalaxyscopeError(f"--out {out}: the model file must end in .safetensors")
    if not out.parent.exists():
        raise GalaxyscopeError(f"--out {out}: folder {out.parent} does not exist")
    if args.epochs < 1 or args.batch_size < 1 or (args.size is not None and args.size < 16):
        raise GalaxyscopeError("--epochs and --batch-size must be at least 1 and --size at least 16")
    if args.crop is not None and not 0 < args.crop <= 1:
        raise GalaxyscopeError("--crop must be in (0, 1]")
    if not 0 <= args.val_fraction < 1:
        raise GalaxyscopeError("--val-fraction must be in [0, 1)")
    if args.guide_weight < 0 or args.guide_noise < 0 or args.guide_dilate < 0:
        raise GalaxyscopeError("--guide-weight, --guide-noise and --guide-dilate must not be negative")
    if args.guide_weight > 0 and args.regress:
        raise GalaxyscopeError("saliency guidance (--guide-weight) needs --target, not --regress")
    if args.init and not Path(args.init).exists():
        raise GalaxyscopeError(f"--init {args.init}: no such file")
    for flag, folders in (("--unlabelled", args.unlabelled), ("--weak", args.weak)):
        for folder in folders:
            if not Path(folder).is_dir():
                raise GalaxyscopeError(f"{flag} {folder}: no such folder")
    if args.adapt and not (args.unlabelled or args.weak):
        raise GalaxyscopeError("--adapt needs real images: give --unlabelled DIR or --weak DIR")
    if args.weak and args.regress:
        raise GalaxyscopeError("--weak adds classification outputs: it needs --target, not --regress")
    if args.adapt_weight < 0 or args.weak_weight < 0:
        raise GalaxyscopeError("--adapt-weight and --weak-weight must not be negative")
    if args.frame_r90 is not None and not args.frame_r90 > 0:
        raise GalaxyscopeError("--frame-r90 must be positive")
    for flag in ("max_unlabelled", "max_weak", "real_batch_size"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            raise GalaxyscopeError(f"--{flag.replace('_', '-')} must be at least 1")
    if args.weak_column and not args.weak:
        raise GalaxyscopeError("--weak-column needs --weak DIR")
    return out


def augment_config(args: argparse.Namespace):
    """The run's augmentation from --no-augment, --augment and --aug (None: off)."""
    from galaxyscope.model.augment import AugmentConfig

    if args.no_augment:
        if args.augment != "basic" or args.aug:
            raise GalaxyscopeError("--no-augment cannot be combined with --augment survey or --aug")
        return None
    cfg = AugmentConfig.survey() if args.augment == "survey" else AugmentConfig()
    try:
        for text in args.aug:
            cfg = cfg.with_values(text)
    except ValueError as exc:
        raise GalaxyscopeError(f"--aug: {exc}") from None
    return cfg


def input_preprocessing(args: argparse.Namespace, init):
    """--size/--crop/--channels, each defaulting to the starting model's (else the built-in default)."""
    from galaxyscope.model.preprocess import Preprocessing

    base = init.meta.preprocessing if init is not None else None
    size = args.size if args.size is not None else (base.input_size if base else DEFAULTS["size"])
    crop = args.crop if args.crop is not None else (base.crop_fraction if base else DEFAULTS["crop"])
    channels = args.channels if args.channels is not None else (base.channels if base else DEFAULTS["channels"])
    return Preprocessing(input_size=size, crop_fraction=crop, channels=channels)


def run(args: argparse.Namespace) -> int:
    """Train, print the summary, write the checkpoint; user errors raise GalaxyscopeError."""
    out = _check_args(args)
    import torch
    from tqdm import tqdm

    from galaxyscope.model.adapt import AdaptConfig
    from galaxyscope.model.checkpoint import carry_bar_evidence, load_checkpoint, save_checkpoint
    from galaxyscope.model.guidance import GuidanceConfig
    from galaxyscope.model.realdata import RealDataConfig, load_real_data
    from galaxyscope.model.training import train_model

    if args.threads:
        torch.set_num_threads(args.threads)
    bars: dict[str, tqdm] = {}

    def bar_for(name: str):
        def update(done: int, total: int) -> None:
            bar = bars.get(name)
            if bar is None:
                bar = bars[name] = tqdm(total=total, desc=name, unit="batch" if name == "training" else "img",
                                        file=sys.stderr, disable=args.quiet, leave=False)
            if bar.disable or bar.n >= bar.total:  # finished (or quiet): nothing to draw
                return
            bar.total = total
            bar.update(done - bar.n)
            if done >= total:
                bar.close()
        return update

    def log(msg: str) -> None:
        if not args.quiet:
            (tqdm.write if bars else print)(msg, file=sys.stderr)

    augment = augment_config(args)
    init = load_checkpoint(args.init, device="cpu") if args.init else None
    pre = input_preprocessing(args, init)
    guidance = GuidanceConfig(weight=args.guide_weight, output=args.guide_output, dilate_px=args.guide_dilate,
                              noise=args.guide_noise, mask_column=args.guide_mask_column,
                              kind=args.guide_kind, blur_px=args.guide_blur) \
        if args.guide_weight > 0 else None
    real_cfg = RealDataConfig(unlabelled=list(args.unlabelled), weak=list(args.weak),
                              max_unlabelled=args.max_unlabelled, max_weak=args.max_weak,
                              weak_columns=args.weak_column, frame_r90=args.frame_r90,
                              batch_size=args.real_batch_size, weak_weight=args.weak_weight,
                              adapt=AdaptConfig(args.adapt, args.adapt_weight) if args.adapt else None)
    try:
        real = load_real_data(real_cfg, pre, init=init, seed=args.seed, progress_for=bar_for, log=log) \
            if real_cfg.active else None
        result = train_model(
            args.dataset, targets=args.target, regress=args.regress, architecture=args.arch,
            preprocessing=pre, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
            val_fraction=args.val_fraction, patience=args.patience, seed=args.seed, device=args.device,
            loss=args.loss, augment=augment,
            positive_only=not args.all_rows, guidance=guidance, init=init, monitor=args.monitor, real=real,
            progress=bar_for("training"),
            load_progress=bar_for("loading"), log=log)
    finally:
        for bar in bars.values():
            bar.close()
    if init is not None and carry_bar_evidence(init, result.model, out):
        log(f"the bar-evidence companion {result.model.meta.bar_evidence} goes with it (same preprocessing)")
    digest = save_checkpoint(result.model, out)
    print(result.summary())
    print(f"wrote {out} (sha256 {digest[:12]}...) and {out.name}.json")
    return 0
