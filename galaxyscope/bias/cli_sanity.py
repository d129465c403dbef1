"""``galaxyscope sanity DATASET``: does the saliency change when the model's weights are randomised?

Heavy imports happen inside ``run`` so that ``galaxyscope --help`` stays fast.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from galaxyscope.errors import GalaxyscopeError


EXAMPLES = """\
examples:
  galaxyscope sanity synth_set
  galaxyscope sanity gz2/ --model my.safetensors --n-images 16 --attribution ig --out sanity.ecsv"""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``sanity`` subcommand."""
    p = sub.add_parser(
        "sanity",
        help="saliency sanity check: randomise the model's layers top-down and see if the maps change",
        description="Cascading model randomisation (Adebayo et al. 2018): re-initialise the model's layers "
        "from the output down, one more at a time, recompute the saliency of K images and report how much "
        "it changed (Spearman rank correlation and SSIM against the trained model's maps). If the maps "
        "barely change once most layers are random, the saliency is not to be trusted. Deterministic "
        "(seeded); the model file is not changed.",
        epilog=EXAMPLES,
    )
    p.add_argument("dataset", help="folder of images (optionally with catalog.ecsv/csv) or a catalogue file")
    p.add_argument("--model", help="checkpoint (.safetensors); default: the shipped model")
    p.add_argument("--n-images", type=int, default=8, metavar="K", help="images to average over (default 8)")
    p.add_argument("--seed", type=int, default=0, help="seed for the image draw, the weights and the noise")
    p.add_argument("--limit", type=float, default=0.8,
                   help="Spearman above which the maps count as unchanged (default %(default)s)")
    p.add_argument("--out", metavar="TABLE", help="also write the steps as a table (.ecsv or .csv)")
    p.add_argument("--device", help="cpu, cuda or mps (default: best available)")
    p.add_argument("--threads", type=int, help="CPU threads for torch (default: torch's choice)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    from galaxyscope.saliency.cli_args import add_saliency_arguments

    add_saliency_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the cascade and print the per-step table and the verdict."""
    if args.n_images < 1:
        raise GalaxyscopeError("--n-images must be at least 1")
    from galaxyscope.saliency.cli_args import saliency_options

    saliency = saliency_options(args)
    out = Path(args.out) if args.out else None
    if out is not None and out.suffix.lower() not in (".ecsv", ".csv"):
        raise GalaxyscopeError(f"{out}: the table must end in .ecsv or .csv")
    from galaxyscope.bias.sanity import sanity_check_dataset
    from galaxyscope.jobs.common import open_dataset_and_model, tqdm_progress

    image_set, model = open_dataset_and_model(args.dataset, args.model, args.device, args.threads)
    progress, close = tqdm_progress("sanity", disable=args.quiet)
    try:
        report = sanity_check_dataset(image_set, model, n_images=args.n_images, seed=args.seed,
                                      method=saliency.method, n_samples=saliency.n_samples, noise=saliency.noise,
                                      target=saliency.target, spearman_limit=args.limit, progress=progress)
    finally:
        close()
    print(report.text())
    if out is not None:
        fmt = "ascii.ecsv" if out.suffix.lower() == ".ecsv" else "ascii.csv"
        report.table().write(out, format=fmt, overwrite=True)
        print(f"wrote {out}")
    return 0
