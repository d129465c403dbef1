"""``galaxyscope finetune``: fine-tune a model on the annotation database's labels of a dataset.

Why on the command line: the window's "Improve model" action runs the same core function
(`finetune.core.finetune_from_database`); the command line makes it scriptable and prints
the before/after numbers on held-out labels.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

HELP = "fine-tune a model on the bar / no-bar labels and drawn bars in an annotation database"

EXAMPLES = """\
examples:
  galaxyscope finetune my_set --db bars.sqlite --out my_set.safetensors
  galaxyscope finetune my_set --db bars.sqlite --model resources/models/default.safetensors \\
      --out v2.safetensors --epochs 12 --test-fraction 0.3 --name "after 200 labels"
  galaxyscope finetune my_set --db bars.sqlite --out noguide.safetensors --guide-weight 0"""

DEFAULTS = dict(epochs=8, batch_size=16, lr=3e-4, val_fraction=0.2, test_fraction=0.25, patience=3,
                guide_weight=1.0, width_fraction=0.3, samples=16, seed=0, min_images=8)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``finetune`` command."""
    p = subparsers.add_parser(
        "finetune", help=HELP,
        description=(
            "Fine-tune a model on the labels an annotation database holds for DATASET's images: "
            "every annotator's bar / no-bar answer (the window's 'no bar' key, drawn bars, or "
            "'annotations import --dataset') trains the bar output on the share of annotators who "
            "see a bar; each drawn bar (line and width) becomes a bar mask that guides the bar "
            "output's saliency; the model's other outputs keep the base model's predictions. A "
            "seeded, stratified share of the labelled images (--test-fraction) is held out: never "
            "trained on nor used to stop early; on it the base and the fine-tuned model are compared "
            "(P(bar) AUC, and Spearman rho of the measured bar length against the annotators' "
            "lengths, each with a 95 % bootstrap interval and a paired gain). The new model is "
            "written to --out and recorded in the database as a model version (which labels, the "
            "base model's SHA-256, the numbers); 'galaxyscope annotations versions DB' lists them."),
        epilog=EXAMPLES,
    )
    p.add_argument("dataset", metavar="DATASET", help="the image folder (or catalogue) whose labels to learn")
    p.add_argument("--db", type=Path, metavar="DB",
                   help="annotation database (default: $GALAXYSCOPE_DB, else the window's "
                        "~/.local/share/galaxyscope/annotations.sqlite)")
    p.add_argument("--model", metavar="M", help="model to start from (default: the shipped model)")
    p.add_argument("--out", required=True, type=Path, metavar="M2.safetensors", help="fine-tuned model to write")
    p.add_argument("--name", help="name of the model version in the database (default v<N>)")
    p.add_argument("--note", help="free text stored with the model version")
    p.add_argument("--label-output", action="append", metavar="OUTPUT",
                   help="output that learns the labels (default: the bar output, e.g. has_bar); repeatable")
    p.add_argument("--epochs", type=int, default=DEFAULTS["epochs"], help="most epochs (default %(default)s)")
    p.add_argument("--batch-size", type=int, default=DEFAULTS["batch_size"], metavar="B",
                   help="images per step (default %(default)s)")
    p.add_argument("--lr", type=float, default=DEFAULTS["lr"], help="learning rate (default %(default)s)")
    p.add_argument("--patience", type=int, default=DEFAULTS["patience"],
                   help="stop after this many epochs without a better validation score (default %(default)s)")
    p.add_argument("--val-fraction", type=float, default=DEFAULTS["val_fraction"],
                   help="share of the training images used for early stopping (default %(default)s)")
    p.add_argument("--test-fraction", type=float, default=DEFAULTS["test_fraction"],
                   help="share of the labelled images held out for the before/after comparison "
                        "(default %(default)s; 0: train on all, no comparison)")
    p.add_argument("--guide-weight", type=float, default=DEFAULTS["guide_weight"], metavar="W",
                   help="weight of the saliency guidance towards the drawn bars (default %(default)s; 0: off)")
    p.add_argument("--guide-kind", choices=("match", "outside"), default="match",
                   help="match: the saliency should cover the drawn bar evenly (default); outside: only "
                        "penalise saliency outside it")
    p.add_argument("--width-fraction", type=float, default=DEFAULTS["width_fraction"], metavar="F",
                   help="width of a drawn bar without a width line, as a share of its length "
                        "(default %(default)s)")
    p.add_argument("--no-augment", action="store_true", help="no rotation/flip/shift/brightness augmentation")
    p.add_argument("--samples", type=int, default=DEFAULTS["samples"], metavar="N",
                   help="SmoothGrad samples per image when comparing bar lengths (default %(default)s)")
    p.add_argument("--min-images", type=int, default=DEFAULTS["min_images"], metavar="N",
                   help="refuse to fine-tune on fewer labelled images (default %(default)s)")
    p.add_argument("--seed", type=int, default=DEFAULTS["seed"],
                   help="seed of the held-out split, the batches and the augmentation (default %(default)s)")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N or mps (default: best available)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch (default: torch's choice)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or per-epoch lines")
    p.set_defaults(func=run)


def _check(args: argparse.Namespace) -> None:
    from galaxyscope.errors import GalaxyscopeError

    if args.out.suffix != ".safetensors":
        raise GalaxyscopeError(f"--out {args.out}: the model file must end in .safetensors")
    if not 0 <= args.test_fraction < 1 or not 0 <= args.val_fraction < 1:
        raise GalaxyscopeError("--test-fraction and --val-fraction must be in [0, 1)")
    if args.epochs < 1 or args.batch_size < 2 or args.samples < 1 or args.min_images < 2:
        raise GalaxyscopeError("--epochs and --samples must be at least 1, --batch-size and --min-images at least 2")
    if args.guide_weight < 0 or args.width_fraction <= 0:
        raise GalaxyscopeError("--guide-weight must not be negative and --width-fraction must be positive")
    if not Path(args.dataset).exists():
        raise GalaxyscopeError(f"{args.dataset}: no such file or folder")


def run(args: argparse.Namespace) -> int:
    """Fine-tune, print the before/after report, write and record the model."""
    _check(args)
    from galaxyscope.errors import GalaxyscopeError
    from galaxyscope.finetune.core import FinetuneSettings, finetune_from_database
    from galaxyscope.jobs.common import default_model_path, set_torch_threads, tqdm_progress
    from galaxyscope.paths import default_database_path

    set_torch_threads(args.threads)
    db = args.db or default_database_path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    if not Path(db).exists():
        raise GalaxyscopeError(f"{db}: no annotation database here (label images in the window, or "
                               "'galaxyscope annotations import DB FILE --dataset DIR')")
    settings = FinetuneSettings(
        label_outputs=tuple(args.label_output) if args.label_output else None, epochs=args.epochs,
        batch_size=args.batch_size, lr=args.lr, val_fraction=args.val_fraction, patience=args.patience,
        seed=args.seed, guide_weight=args.guide_weight, guide_kind=args.guide_kind,
        width_fraction=args.width_fraction, augment=not args.no_augment, device=args.device,
        test_fraction=args.test_fraction, n_samples=args.samples, min_images=args.min_images)
    progress, close = tqdm_progress("finetune", disable=args.quiet)

    def log(message: str) -> None:
        if not args.quiet:
            print(message, file=sys.stderr)

    try:
        outcome = finetune_from_database(args.dataset, db, args.model or default_model_path(), args.out,
                                         settings, name=args.name, note=args.note, progress=progress, log=log)
    finally:
        close()
    print(outcome.summary())
    return 0
