"""``galaxyscope train``: train a bar classifier (or a direct bar-length regressor).

Example::

    galaxyscope train synth_set/ --target has_bar --out bar.safetensors
    galaxyscope train gz2/catalog.ecsv --regress bar_length --out length.safetensors --epochs 30

Defaults suit a laptop CPU (96 px input, small network, 15 epochs with early
stopping); use --arch resnet --size 224 --device cuda on a GPU.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from galaxyscope.errors import GalaxyscopeError
from galaxyscope.model.networks import available_networks

DEFAULTS = dict(size=96, crop=0.5, epochs=15, batch_size=32, lr=2e-3, seed=0, patience=4, val_fraction=0.2)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train",
        help="train a CNN on catalogue columns of an image set and write a .safetensors model",
        description="Train a network on an image set (a folder with catalog.ecsv, or a catalogue "
                    "file) and write MODEL.safetensors (+ MODEL.safetensors.json). Classification: "
                    "--target columns hold 0/1 labels or vote fractions (sigmoid outputs, BCE loss). "
                    "Regression: --regress COL learns the column directly (MSE), by default on rows "
                    "with COL > 0 only (barred galaxies).",
    )
    p.add_argument("dataset", help="folder with catalog.ecsv, or a catalogue file naming the images")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--target", action="append", metavar="COL",
                      help="catalogue column to classify (0/1 or vote fraction); repeat for several outputs")
    what.add_argument("--regress", metavar="COL", help="catalogue column to regress (e.g. bar_length)")
    p.add_argument("--out", required=True, metavar="MODEL.safetensors", help="checkpoint to write")
    p.add_argument("--epochs", type=int, default=DEFAULTS["epochs"], help="most epochs (default %(default)s)")
    p.add_argument("--size", type=int, default=DEFAULTS["size"], metavar="PX",
                   help="network input side in pixels (default %(default)s)")
    p.add_argument("--crop", type=float, default=DEFAULTS["crop"], metavar="F",
                   help="central crop as a fraction of the image side (default %(default)s)")
    p.add_argument("--channels", type=int, choices=(1, 3), default=3, help="input channels (default 3)")
    p.add_argument("--arch", choices=available_networks(), default="small",
                   help="network (default %(default)s; resnet wants a GPU)")
    p.add_argument("--batch-size", type=int, default=DEFAULTS["batch_size"], metavar="B")
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
    p.add_argument("--seed", type=int, default=DEFAULTS["seed"])
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
    p.add_argument("--quiet", action="store_true", help="no progress bars or per-epoch lines")
    p.set_defaults(func=run)


def _check_args(args: argparse.Namespace) -> Path:
    out = Path(args.out)
    if out.suffix != ".safetensors":
        raise GalaxyscopeError(f"--out {out}: the model file must end in .safetensors")
    if not out.parent.exists():
        raise GalaxyscopeError(f"--out {out}: folder {out.parent} does not exist")
    if args.epochs < 1 or args.batch_size < 1 or args.size < 16:
        raise GalaxyscopeError("--epochs and --batch-size must be at least 1 and --size at least 16")
    if not 0 < args.crop <= 1:
        raise GalaxyscopeError("--crop must be in (0, 1]")
    if not 0 <= args.val_fraction < 1:
        raise GalaxyscopeError("--val-fraction must be in [0, 1)")
    if args.guide_weight < 0 or args.guide_noise < 0 or args.guide_dilate < 0:
        raise GalaxyscopeError("--guide-weight, --guide-noise and --guide-dilate must not be negative")
    if args.guide_weight > 0 and args.regress:
        raise GalaxyscopeError("saliency guidance (--guide-weight) needs --target, not --regress")
    if args.init and not Path(args.init).exists():
        raise GalaxyscopeError(f"--init {args.init}: no such file")
    return out


def run(args: argparse.Namespace) -> int:
    """Train, print the summary, write the checkpoint; user errors raise GalaxyscopeError."""
    out = _check_args(args)
    import torch
    from tqdm import tqdm

    from galaxyscope.model.augment import AugmentConfig
    from galaxyscope.model.checkpoint import load_checkpoint, save_checkpoint
    from galaxyscope.model.guidance import GuidanceConfig
    from galaxyscope.model.preprocess import Preprocessing
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

    pre = Preprocessing(input_size=args.size, crop_fraction=args.crop, channels=args.channels)
    init = load_checkpoint(args.init, device="cpu") if args.init else None
    guidance = GuidanceConfig(weight=args.guide_weight, output=args.guide_output, dilate_px=args.guide_dilate,
                              noise=args.guide_noise, mask_column=args.guide_mask_column,
                              kind=args.guide_kind, blur_px=args.guide_blur) \
        if args.guide_weight > 0 else None
    try:
        result = train_model(
            args.dataset, targets=args.target, regress=args.regress, architecture=args.arch,
            preprocessing=pre, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
            val_fraction=args.val_fraction, patience=args.patience, seed=args.seed, device=args.device,
            loss=args.loss, augment=None if args.no_augment else AugmentConfig(),
            positive_only=not args.all_rows, guidance=guidance, init=init, monitor=args.monitor,
            progress=bar_for("training"),
            load_progress=bar_for("loading"), log=log)
    finally:
        for bar in bars.values():
            bar.close()
    digest = save_checkpoint(result.model, out)
    print(result.summary())
    print(f"wrote {out} (sha256 {digest[:12]}...) and {out.name}.json")
    return 0
