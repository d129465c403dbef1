"""`galaxyscope measure`: saliency bar lengths for every image of a dataset."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from galaxyscope.errors import GalaxyscopeError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "measure",
        help="measure bar lengths from saliency maps over a dataset",
        description="Compute saliency (SmoothGrad by default) for every image of DATASET and measure "
        "the bar with the paper's method and/or ours ('moments'). Writes one row per image and method. "
        "Bad files are skipped and reported.",
    )
    p.add_argument("dataset", help="folder of images (optionally with catalog.ecsv/csv) or a catalogue file")
    p.add_argument("--model", help="checkpoint (.safetensors); default: the shipped model")
    p.add_argument("--method", default="all",
                   help="paper, moments, isophote (ellipse fits, no network) or all (default all), comma-separated")
    p.add_argument("--attribution", default="smoothgrad", help="saliency method (default smoothgrad)")
    p.add_argument("--samples", type=int, default=50, help="SmoothGrad samples N (default 50)")
    p.add_argument("--noise", type=float, default=0.1, help="noise sigma as a fraction of the input range")
    p.add_argument("--target", help="model output to explain (default: the bar output)")
    p.add_argument("--out", required=True, help="results table (.ecsv, .csv or .fits)")
    p.add_argument("--device", help="cpu, cuda or mps (default: best available)")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the saliency cache")
    p.add_argument("--keep", action="append", default=[], metavar="COL",
                   help="copy this catalogue column into the results (repeatable; e.g. dr7objid, ra, dec)")
    p.add_argument("--min-bar-probability", type=float, metavar="P",
                   help="report no bar (length NaN, flag no_bar) where the model's P(bar) is below P "
                        "(default: the value stored with the model, chosen on validation data)")
    p.add_argument("--framing", choices=("model", "fixed", "galaxy"), default="model",
                   help="how the network sees each image: 'galaxy' crops to a multiple of the galaxy's "
                        "measured R90, 'fixed' takes the central crop_fraction of the frame (default: "
                        "what the model's checkpoint says)")
    p.add_argument("--no-agreement", action="store_true",
                   help="skip the isophote cross-check (no methods_disagree flags; faster)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from galaxyscope.jobs.common import open_dataset_and_model, saliency_cache, tqdm_progress
    from galaxyscope.jobs.measure_job import BAR_METHODS_DEFAULT, check_keep_columns, measure_dataset

    from galaxyscope.measure import METHODS, resolve_method

    try:
        methods = (BAR_METHODS_DEFAULT + ("isophote",) if args.method == "all"
                   else tuple("isophote" if m.strip().lower() == "isophote" else resolve_method(m)
                              for m in args.method.split(",")))
    except GalaxyscopeError as exc:
        raise GalaxyscopeError(f"--method: {exc} (choose from {sorted(METHODS) + ['isophote']} or all)") from None
    if args.min_bar_probability is not None and not 0.0 <= args.min_bar_probability <= 1.0:
        raise GalaxyscopeError(f"--min-bar-probability must lie in [0, 1], got {args.min_bar_probability}")
    out = Path(args.out)
    if out.suffix.lower() not in (".ecsv", ".csv", ".fits"):
        raise GalaxyscopeError(f"{out}: output must end in .ecsv, .csv or .fits")
    image_set, model = open_dataset_and_model(args.dataset, args.model, args.device)
    if args.framing != "model":
        from galaxyscope.model.framing import set_framing

        set_framing(model, args.framing)
    check_keep_columns(image_set, args.keep)
    cache = saliency_cache(not args.no_cache)
    progress, close = tqdm_progress("measure", disable=args.quiet)
    try:
        report = measure_dataset(image_set, model, methods=methods, attribution=args.attribution,
                                 n_samples=args.samples, noise=args.noise, target=args.target,
                                 cache=cache, keep_columns=args.keep, progress=progress,
                                 min_bar_probability=args.min_bar_probability,
                                 check_agreement=not args.no_agreement)
    finally:
        close()
    out.parent.mkdir(parents=True, exist_ok=True)
    fmt = {".ecsv": "ascii.ecsv", ".csv": "ascii.csv", ".fits": "fits"}[out.suffix.lower()]
    report.table.write(out, format=fmt, overwrite=True)
    for f in report.failures:
        print(f"skipped: {f}", file=sys.stderr)
    n_ok = len(set(report.table["filename"])) if len(report.table) else 0
    print(f"measured {n_ok} of {report.n_images} images with {', '.join(methods)} -> {out}")
    if len(report.table) and "min_bar_probability" in report.table.meta:
        flags = [str(f) for f in report.table["flags"]]
        n_nobar = sum("no_bar" in f.split(",") for f in flags)
        print(f"P(bar) threshold {report.table.meta['min_bar_probability']:.2f}: {n_nobar} of {len(flags)} rows "
              f"say 'no bar'; framing {report.table.meta['framing']}")
    return 0 if n_ok else 2
