"""``galaxyscope scan-bias DATASET --out FLAGS.ecsv``: flag images whose saliency sits off the galaxy.

Heavy imports happen inside ``run`` so that ``galaxyscope --help`` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from galaxyscope.errors import GalaxyscopeError

TABLE_FORMATS = {".ecsv": "ascii.ecsv", ".csv": "ascii.csv", ".fits": "fits"}


EXAMPLES = """\
examples:
  galaxyscope scan-bias synth_set --out flags.ecsv --montage worst.png
  galaxyscope scan-bias gz2/ --out flags.ecsv --db bars.sqlite --labels has_bar"""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``scan-bias`` subcommand."""
    from galaxyscope.bias.flags import FlagThresholds

    d = FlagThresholds()
    p = sub.add_parser(
        "scan-bias",
        help="flag images where the model's saliency lies off the galaxy (stars, companions, border)",
        description="Compute saliency for every image of DATASET, segment the galaxy, other sources and the "
        "border, and flag images whose saliency lies on another source, outside the galaxy, on the border "
        "or far from the centre. Writes one row per image (filename, flagged, score, reasons and the "
        "numbers), prints a summary with counts per reason and the flag rate per class, and optionally "
        "draws the worst cases and stores the flags in an annotation database.",
        epilog=EXAMPLES,
    )
    p.add_argument("dataset", help="folder of images (optionally with catalog.ecsv/csv) or a catalogue file")
    p.add_argument("--model", help="checkpoint (.safetensors); default: the shipped model")
    p.add_argument("--out", required=True, metavar="FLAGS.ecsv", help="flags table (.ecsv, .csv or .fits)")
    p.add_argument("--montage", metavar="PNG", help="write a montage of the worst cases to this PNG")
    p.add_argument("--worst", type=int, default=16, metavar="N", help="cases in the montage (default 16)")
    p.add_argument("--db", metavar="DB", help="also store the flags in this annotation database (SQLite)")
    p.add_argument("--set-name", help="set name for images registered in --db (default: the dataset's name)")
    p.add_argument("--labels", metavar="COL[,COL]", help="binary catalogue columns to relate the flags to "
                   "(default: the model's outputs and has_bar where present)")
    p.add_argument("--source-share", type=float, default=d.source_share, metavar="F",
                   help="flag when one other source holds this share of the saliency (default %(default)s)")
    p.add_argument("--outside-share", type=float, default=d.outside_share, metavar="F",
                   help="flag when this share lies outside the galaxy (default %(default)s)")
    p.add_argument("--border-share", type=float, default=d.border_share, metavar="F",
                   help="flag when this share lies on the border (default %(default)s)")
    p.add_argument("--offset", type=float, default=d.offset_r, metavar="R",
                   help="flag when the saliency centroid is this many galaxy radii off centre (default %(default)s)")
    p.add_argument("--device", help="cpu, cuda or mps (default: best available)")
    p.add_argument("--threads", type=int, help="CPU threads for torch (default: torch's choice)")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the saliency cache")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    from galaxyscope.images.guarded_read import add_read_limit_arguments
    from galaxyscope.saliency.cli_args import add_saliency_arguments

    add_saliency_arguments(p)
    add_read_limit_arguments(p)
    p.set_defaults(func=run)


def _check(args: argparse.Namespace) -> Path:
    out = Path(args.out)
    if out.suffix.lower() not in TABLE_FORMATS:
        raise GalaxyscopeError(f"{out}: output must end in .ecsv, .csv or .fits")
    if not out.parent.exists():
        raise GalaxyscopeError(f"{out}: folder {out.parent} does not exist")
    if args.montage and not Path(args.montage).parent.exists():
        raise GalaxyscopeError(f"--montage {args.montage}: folder {Path(args.montage).parent} does not exist")
    if args.worst < 0:
        raise GalaxyscopeError("--worst must be at least 0")
    for name in ("source_share", "outside_share", "border_share", "offset"):
        if not getattr(args, name) > 0:
            raise GalaxyscopeError(f"--{name.replace('_', '-')} must be positive")
    return out


def run(args: argparse.Namespace) -> int:
    """Scan, write the table (and montage / database flags), print the summary."""
    out = _check(args)
    from galaxyscope.images.guarded_read import limits_from_args
    from galaxyscope.saliency.cli_args import saliency_options

    saliency = saliency_options(args)

    read_limits = limits_from_args(args)
    from galaxyscope.bias.flags import FlagThresholds
    from galaxyscope.bias.montage import write_montage
    from galaxyscope.bias.scan import scan_dataset
    from galaxyscope.jobs.common import open_dataset_and_model, saliency_cache, tqdm_progress

    image_set, model = open_dataset_and_model(args.dataset, args.model, args.device, args.threads)
    thresholds = FlagThresholds(source_share=args.source_share, outside_share=args.outside_share,
                                border_share=args.border_share, offset_r=args.offset)
    labels = [c.strip() for c in args.labels.split(",") if c.strip()] if args.labels else None
    cache = saliency_cache(not args.no_cache)
    progress, close = tqdm_progress("scan-bias", disable=args.quiet)
    try:
        report = scan_dataset(image_set, model, thresholds=thresholds, method=saliency.method,
                              n_samples=saliency.n_samples, noise=saliency.noise, target=saliency.target,
                              label_columns=labels, keep_worst=args.worst if args.montage else 0,
                              cache=cache, progress=progress, read_limits=read_limits)
    except KeyError as exc:  # --labels naming a missing or non-binary column
        raise GalaxyscopeError(f"--labels: {exc.args[0] if exc.args else exc}") from None
    finally:
        close()
    report.table().write(out, format=TABLE_FORMATS[out.suffix.lower()], overwrite=True)
    for f in report.failures:
        print(f"skipped: {f}", file=sys.stderr)
    print(report.summary.text())
    print(f"wrote {out}")
    if args.montage and report.worst:
        write_montage(report.worst, args.montage)
        print(f"wrote {args.montage} ({len(report.worst)} worst cases)")
    if args.db:
        from galaxyscope.bias.store_flags import store_flags
        from galaxyscope.store import AnnotationStore

        set_name = args.set_name or Path(args.dataset).resolve().name
        with AnnotationStore(args.db) as store:
            n = store_flags(report, image_set, store, set_name=set_name)
        print(f"stored {n} flag(s) on {len(report.flagged)} image(s) in {args.db}")
    return 0 if report.rows else 2
