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
  galaxyscope scan-bias gz2/ --out flags.ecsv --db bars.sqlite --labels has_bar
  galaxyscope scan-bias gz2/ --out flags.ecsv --reference clean_set/ --quantile 0.995
  galaxyscope scan-bias gz2/ --out flags.ecsv --thresholds scan --k 4
  galaxyscope scan-bias gz2/ --out flags.ecsv --thresholds fixed --outside-share 0.8
  galaxyscope scan-bias gz2/ --out flags.ecsv --workers 2                  # a LocalCluster of 2 processes
  galaxyscope scan-bias gz2/ --out flags.ecsv --scheduler tcp://head:8786  # a running Dask cluster
  galaxyscope scan-bias --selftest --model bar.safetensors"""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``scan-bias`` subcommand."""
    from galaxyscope.bias.defaults import (
        DEFAULT_BROAD_FRACTION,
        DEFAULT_K,
        DEFAULT_QUANTILE,
        DEFAULT_REFERENCE_N,
        DEFAULT_SELFTEST_N,
        MODES,
    )
    from galaxyscope.bias.flags import FlagThresholds

    d = FlagThresholds()
    p = sub.add_parser(
        "scan-bias",
        help="flag images where the model's saliency lies off the galaxy (stars, companions, border)",
        description="Compute saliency for every image of DATASET, segment the galaxy, other sources and the "
        "border, and flag images whose saliency lies on another source, outside the galaxy, on the border "
        "or far from the centre - compared with how this model places its saliency on clean galaxies (a "
        "clean synthetic reference set rendered once for the images' size, or --reference DIR). Writes one "
        "row per image (filename, flagged, score, reasons and the numbers), prints what each threshold was "
        "compared with, notes on the set as a whole, counts per reason and the flag rate per class, and "
        "optionally draws the worst cases and stores the flags in an annotation database. --selftest checks "
        "the flags on the model itself with a planted star.",
        epilog=EXAMPLES,
    )
    p.add_argument("dataset", nargs="?", help="folder of images (optionally with catalog.ecsv/csv) or a "
                   "catalogue file (not needed with --selftest)")
    p.add_argument("--model", help="checkpoint (.safetensors); default: the shipped model")
    p.add_argument("--out", metavar="FLAGS.ecsv", help="flags table (.ecsv, .csv or .fits); required unless "
                   "--selftest")
    p.add_argument("--montage", metavar="PNG", help="write a montage of the worst cases to this PNG")
    p.add_argument("--worst", type=int, default=16, metavar="N", help="cases in the montage (default 16)")
    p.add_argument("--db", metavar="DB", help="also store the flags in this annotation database (SQLite)")
    p.add_argument("--set-name", help="set name for images registered in --db (default: the dataset's name)")
    p.add_argument("--labels", metavar="COL[,COL]", help="binary catalogue columns to relate the flags to "
                   "(default: the model's outputs and has_bar where present)")
    p.add_argument("--device", help="cpu, cuda or mps (default: best available)")
    p.add_argument("--threads", type=int, metavar="N",
                   help="torch CPU threads per process (default: in one process, the usable cores less the "
                   "machine's current load, at least 1; 1 per Dask worker process)")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the saliency cache (nor the "
                   "cached reference values)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    t = p.add_argument_group("thresholds (what a flag is compared with)")
    t.add_argument("--thresholds", choices=MODES, default="reference",
                   help="reference: a high quantile of each score over a clean reference set scanned with this "
                   "model (default); scan: robust outliers of the scanned set itself (median + K x MAD; cannot "
                   "see a shortcut most images carry); fixed: the absolute shares below (older scans)")
    t.add_argument("--reference", metavar="DIR", help="clean reference set (folder or catalogue) of images like "
                   "the scanned ones without the bias sought (default: a clean synthetic set of "
                   "--reference-n galaxies rendered once, seeded, at the scanned images' side, cached under "
                   "the galaxyscope cache folder)")
    t.add_argument("--reference-n", type=int, default=DEFAULT_REFERENCE_N, metavar="N",
                   help="galaxies in the synthetic reference set (default %(default)s)")
    t.add_argument("--quantile", type=float, default=DEFAULT_QUANTILE, metavar="Q",
                   help="reference quantile used as threshold, in [0.5, 1) (default %(default)s)")
    t.add_argument("--k", type=float, default=DEFAULT_K, metavar="K",
                   help="with --thresholds scan: flag above the median + K x the robust spread (default %(default)s)")
    t.add_argument("--broad-fraction", type=float, default=DEFAULT_BROAD_FRACTION, metavar="F",
                   help="a rule firing on more than this share of the set is reported once as a model-wide note "
                   "instead of flagging each image (default %(default)s)")
    t.add_argument("--source-share", type=float, metavar="F", help="with --thresholds fixed: flag when one other "
                   f"source holds this share of the saliency (default {d.source_share})")
    t.add_argument("--outside-share", type=float, metavar="F", help="with --thresholds fixed: flag when this "
                   f"share lies outside the galaxy (default {d.outside_share})")
    t.add_argument("--border-share", type=float, metavar="F", help="with --thresholds fixed: flag when this "
                   f"share lies on the border (default {d.border_share})")
    t.add_argument("--offset", type=float, metavar="R", help="with --thresholds fixed: flag when the saliency "
                   f"centroid is this many galaxy radii off centre (default {d.offset_r})")
    s = p.add_argument_group("self-test (planted shortcut)")
    s.add_argument("--selftest", action="store_true",
                   help="render a set with a saturated star on 70 %% of the barred galaxies and a clean set (once, "
                   "cached), scan both as DATASET would be scanned, and print recall and precision on the star "
                   "images and the clean set's flag rate; exit 0 when recall and precision >= 0.9 and <= 5 %% of "
                   "the clean set is flagged, else 1")
    s.add_argument("--selftest-n", type=int, default=DEFAULT_SELFTEST_N, metavar="N",
                   help="galaxies in each self-test set (default %(default)s)")
    s.add_argument("--selftest-size", type=int, metavar="PX", help="side of the self-test images (default: "
                   "DATASET's images' side, else 424)")
    from galaxyscope.images.guarded_read import add_read_limit_arguments
    from galaxyscope.jobs.cluster_args import add_cluster_arguments
    from galaxyscope.saliency.cli_args import add_saliency_arguments

    add_saliency_arguments(p)
    add_read_limit_arguments(p)
    # --workers / --scheduler: the per-image scoring (saliency, masks, scores) runs on Dask in
    # Parquet partitions beside --out (OUT.parts, a rerun resumes); thresholds, notes and the
    # montage are made here afterwards. --threads is declared above.
    add_cluster_arguments(p, threads=False)
    p.set_defaults(func=run)


FIXED_OPTIONS = ("source_share", "outside_share", "border_share", "offset")


def _check(args: argparse.Namespace) -> Path | None:
    """Check the options before anything slow runs; a bad one is a one-line GalaxyscopeError."""
    if not args.selftest and not args.dataset:
        raise GalaxyscopeError("scan-bias needs a DATASET (or --selftest)")
    if not args.selftest and not args.out:
        raise GalaxyscopeError("scan-bias needs --out FLAGS.ecsv (or --selftest)")
    out = Path(args.out) if args.out else None
    if out is not None:
        if out.suffix.lower() not in TABLE_FORMATS:
            raise GalaxyscopeError(f"{out}: output must end in .ecsv, .csv or .fits")
        if not out.parent.exists():
            raise GalaxyscopeError(f"{out}: folder {out.parent} does not exist")
    if args.montage and not Path(args.montage).parent.exists():
        raise GalaxyscopeError(f"--montage {args.montage}: folder {Path(args.montage).parent} does not exist")
    if args.worst < 0:
        raise GalaxyscopeError("--worst must be at least 0")
    for name in FIXED_OPTIONS:
        value = getattr(args, name)
        flag = f"--{name.replace('_', '-')}"
        if value is None:
            continue
        if args.thresholds != "fixed":
            raise GalaxyscopeError(f"{flag} sets a fixed threshold: use it with --thresholds fixed")
        if not value > 0:
            raise GalaxyscopeError(f"{flag} must be positive")
    if args.reference and args.thresholds != "reference":
        raise GalaxyscopeError("--reference is used only with --thresholds reference")
    if args.reference and not Path(args.reference).exists():
        raise GalaxyscopeError(f"--reference {args.reference}: no such file or folder")
    if args.reference_n < 20:
        raise GalaxyscopeError(f"--reference-n must be at least 20, got {args.reference_n}")
    if not 0.5 <= args.quantile < 1:
        raise GalaxyscopeError(f"--quantile must be in [0.5, 1), got {args.quantile}")
    if not args.k > 0:
        raise GalaxyscopeError(f"--k must be positive, got {args.k}")
    if not 0 < args.broad_fraction <= 1:
        raise GalaxyscopeError(f"--broad-fraction must be in (0, 1], got {args.broad_fraction}")
    if args.selftest_n < 10:
        raise GalaxyscopeError(f"--selftest-n must be at least 10, got {args.selftest_n}")
    if args.selftest_size is not None and args.selftest_size < 64:
        raise GalaxyscopeError(f"--selftest-size must be at least 64 px, got {args.selftest_size}")
    return out


def calibration_from_args(args: argparse.Namespace):
    """The `Calibration` the options ask for (fixed shares fill in the defaults they leave out)."""
    from galaxyscope.bias.calibrate import Calibration
    from galaxyscope.bias.flags import FlagThresholds

    d = FlagThresholds()
    fixed = FlagThresholds(
        source_share=args.source_share if args.source_share is not None else d.source_share,
        outside_share=args.outside_share if args.outside_share is not None else d.outside_share,
        border_share=args.border_share if args.border_share is not None else d.border_share,
        offset_r=args.offset if args.offset is not None else d.offset_r)
    return Calibration(mode=args.thresholds, quantile=args.quantile, k=args.k, fixed=fixed,
                       broad_fraction=args.broad_fraction)


def run(args: argparse.Namespace) -> int:
    """Scan (or self-test), write the table (and montage / database flags), print the summary."""
    out = _check(args)
    from galaxyscope.jobs.cluster_args import cluster_options

    batch = cluster_options(args)
    if batch.distributed and args.selftest:
        raise GalaxyscopeError("--selftest runs in this process: leave out --workers / --scheduler")
    from galaxyscope.images.guarded_read import limits_from_args
    from galaxyscope.saliency.cli_args import saliency_options

    sal = saliency_options(args)
    read_limits = limits_from_args(args)
    from galaxyscope.bias.calibrate import threshold_lines
    from galaxyscope.bias.scan import label_arrays, scan_dataset, scan_from_scores
    from galaxyscope.jobs.common import open_dataset_and_model, resolve_model, saliency_cache, tqdm_progress
    from galaxyscope.saliency.methods import DEFAULT_SEED

    if args.dataset:
        image_set, model = open_dataset_and_model(args.dataset, args.model, args.device, batch.threads)
    else:
        from galaxyscope.jobs.common import set_torch_threads

        set_torch_threads(batch.threads)
        image_set, model = None, resolve_model(args.model, device=args.device)
    calibration = calibration_from_args(args)
    labels = [c.strip() for c in args.labels.split(",") if c.strip()] if args.labels else None
    cache = saliency_cache(not args.no_cache)
    mask_cache = None
    if not args.no_cache:
        from galaxyscope.bias.mask_cache import MaskCache
        from galaxyscope.paths import cache_dir

        mask_cache = MaskCache(cache_dir() / "bias-masks")
    saliency = dict(method=sal.method, n_samples=sal.n_samples, noise=sal.noise, seed=DEFAULT_SEED, target=sal.target)

    def say(text: str) -> None:
        if not args.quiet:
            print(text, file=sys.stderr, flush=True)

    def reference_for(images):
        if calibration.mode != "reference":
            return None
        from galaxyscope.bias.reference import prepare_reference

        progress, close = tqdm_progress("reference", disable=args.quiet)
        try:
            return prepare_reference(images, model, reference=args.reference, saliency=saliency,
                                     n=args.reference_n, cache=cache, mask_cache=mask_cache, use_value_cache=not args.no_cache,
                                     on_stage=say, progress=progress)
        except ValueError as exc:
            raise GalaxyscopeError(f"reference: {exc}") from None
        finally:
            close()

    def scan(images, reference, *, keep_worst: int = 0, label_columns=None, name: str = "scan-bias"):
        progress, close = tqdm_progress(name, disable=args.quiet)
        try:
            return scan_dataset(images, model, calibration=calibration, reference=reference,
                                method=sal.method, n_samples=sal.n_samples, noise=sal.noise, target=sal.target,
                                label_columns=label_columns, keep_worst=keep_worst, cache=cache,
                                mask_cache=mask_cache,
                                progress=progress, read_limits=read_limits)
        except KeyError as exc:  # --labels naming a missing or non-binary column
            raise GalaxyscopeError(f"--labels: {exc.args[0] if exc.args else exc}") from None
        finally:
            close()

    if args.selftest:
        return _selftest(args, image_set, model, reference_for, scan, say)
    try:  # a bad --labels is found before any saliency is computed
        labels_by_col = label_arrays(image_set, model, labels)
    except KeyError as exc:
        raise GalaxyscopeError(f"--labels: {exc.args[0] if exc.args else exc}") from None
    reference = reference_for(image_set)
    keep_worst = args.worst if args.montage else 0
    folder = None
    if batch.distributed:
        scored = _score_on_cluster(args, batch, image_set, model, sal, read_limits, out, labels_by_col, say)
        if scored is None:
            return 130
        scored, failures, folder = scored
        report = scan_from_scores(image_set, model, scored, failures, labels_by_col=labels_by_col,
                                  calibration=calibration, reference=reference, keep_worst=keep_worst,
                                  cache=cache, **saliency)
    else:
        report = scan(image_set, reference, keep_worst=keep_worst, label_columns=labels)
    report.table().write(out, format=TABLE_FORMATS[out.suffix.lower()], overwrite=True)
    if folder is not None:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)  # the table is the result; its parts are no longer needed
    for f in report.failures:
        print(f"skipped: {f}", file=sys.stderr)
    print(f"thresholds ({calibration.mode}):")
    print("\n".join(threshold_lines(report.thresholds)))
    print(report.summary.text())
    print(f"wrote {out}")
    if args.montage and report.worst:
        from galaxyscope.bias.montage import write_montage

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


def _score_on_cluster(args, batch, image_set, model, sal, read_limits, out: Path, labels_by_col, say):
    """Score every image on Dask (--workers / --scheduler) in Parquet partitions under ``OUT.parts``.

    Returns (scored, failures, folder) as `score_dataset` gives them, or None when
    interrupted (the finished partitions stay: the same command resumes).
    """
    from galaxyscope.bias.score_work import ScoreWork, gather_scores
    from galaxyscope.jobs.common import tqdm_progress
    from galaxyscope.jobs.distributed import dashboard_link, dask_client, read_partitions, run_partitions
    from galaxyscope.saliency.methods import DEFAULT_SEED

    folder = Path(str(out) + ".parts")
    if folder.exists() and not folder.is_dir():
        raise GalaxyscopeError(f"{folder}: exists and is not a folder (the scan's partitions go there)")
    work = ScoreWork(model_path=str(Path(model.path).resolve()) if model.path else "",
                     model_sha256=model.sha256 or "", method=sal.method, n_samples=sal.n_samples, noise=sal.noise,
                     seed=DEFAULT_SEED, target=sal.target, device=args.device, threads=batch.threads,
                     use_cache=not args.no_cache)
    # workers (other processes, other machines) share the file system, not this working folder
    dataset = str(Path(args.dataset).expanduser().resolve())
    progress, close = tqdm_progress("scan-bias", disable=args.quiet)
    try:
        with dask_client(batch.workers, batch.scheduler) as client:
            where = batch.scheduler or f"LocalCluster of {batch.workers} processes x {batch.threads} thread(s)"
            link = dashboard_link(client)
            say(f"dask: {where}" + (f"; dashboard {link}" if link else ""))
            run = run_partitions(work, dataset, folder, client=client, image_set=image_set,
                                 partition_size=batch.partition_size, read_limits=read_limits, progress=progress)
    except KeyboardInterrupt:
        close()
        print(f"interrupted: finished partitions are kept in {folder}; the same command resumes", file=sys.stderr)
        return None
    close()
    print(f"partitions: {len(run.written)} written, {len(run.skipped)} already there, "
          f"{len(run.partitions)} in all ({folder})", file=sys.stderr)
    rows = read_partitions(run.paths()).to_pylist() if run.partitions else []
    scored, failures = gather_scores(rows, image_set, run.partitions, labels_by_col)
    return scored, failures, folder


def _selftest(args, image_set, model, reference_for, scan, say) -> int:
    """The planted-shortcut check: render (once) a star set and a clean set, scan both, print the numbers."""
    from galaxyscope.bias.reference import FALLBACK_SIDE, reference_root, typical_side
    from galaxyscope.bias.selftest import run_selftest

    side = args.selftest_size or (typical_side(image_set) if image_set is not None else FALLBACK_SIDE)
    root = reference_root().parent / "bias-selftest"
    say(f"self-test sets: {args.selftest_n} galaxies of {side} px each under {root} (rendered once)")
    state: dict = {}

    def scan_one(images):
        if "reference" not in state:  # the same reference the scan of DATASET (or of these images' side) uses
            state["reference"] = reference_for(image_set if image_set is not None else images)
        return scan(images, state["reference"], name="self-test")

    result = run_selftest(model, scan_one, root=root, side=side, n=args.selftest_n)
    print(result.text())
    if args.out:
        import json

        Path(args.out).with_suffix(".json").write_text(json.dumps(result.as_dict(), indent=2))
        print(f"wrote {Path(args.out).with_suffix('.json')}")
    return 0 if result.passed() else 1
