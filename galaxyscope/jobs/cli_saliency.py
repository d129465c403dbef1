"""`galaxyscope saliency`: precompute saliency maps of a dataset into the window's cache."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from galaxyscope.errors import GalaxyscopeError

EXAMPLES = """\
examples:
  galaxyscope saliency synth_set                                  # into the window's cache, this process
  galaxyscope saliency gz2 --model gz2_bar.safetensors --workers 4   # LocalCluster of 4 processes
  galaxyscope saliency gz2 --scheduler tcp://head:8786 --out /shared/cache/saliency   # a running cluster"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "saliency",
        help="precompute saliency maps of a dataset into the window's on-disk cache",
        description="Compute the saliency map (SmoothGrad by default) of every image of DATASET and store it "
        "in the saliency cache the window reads, keyed by image pixels, model, method, target and "
        "parameters; images already cached are skipped. One Parquet record per partition of images "
        "(CACHE/_runs/) makes a rerun resume where a killed run stopped. Bad files are reported and skipped. "
        "With --out DIR/saliency, run the window with GALAXYSCOPE_CACHE=DIR to open these maps.",
        epilog=EXAMPLES,
    )
    p.add_argument("dataset", help="folder of images (optionally with catalog.ecsv/csv) or a catalogue file")
    p.add_argument("--model", help="checkpoint (.safetensors); default: the shipped model")
    p.add_argument("--out", metavar="CACHE",
                   help="cache folder (default: the window's, $GALAXYSCOPE_CACHE/saliency or "
                        "~/.cache/galaxyscope/saliency)")
    p.add_argument("--device", help="cpu, cuda or mps (default: each process's best available)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    from galaxyscope.images.guarded_read import add_read_limit_arguments
    from galaxyscope.jobs.cluster_args import add_cluster_arguments
    from galaxyscope.saliency.cli_args import add_saliency_arguments

    add_saliency_arguments(p)
    add_cluster_arguments(p)
    add_read_limit_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from galaxyscope.images.guarded_read import limits_from_args
    from galaxyscope.jobs.cli_measure import dataset_for_workers, print_skipped, terminate_as_interrupt
    from galaxyscope.jobs.cluster_args import cluster_options
    from galaxyscope.jobs.common import open_dataset_and_model, tqdm_progress, work_sha256
    from galaxyscope.jobs.distributed import dashboard_link, dask_client, read_partitions, run_partitions
    from galaxyscope.jobs.saliency_job import SaliencyWork
    from galaxyscope.paths import saliency_cache_dir
    from galaxyscope.saliency.cli_args import saliency_options

    saliency = saliency_options(args)
    batch = cluster_options(args)
    read_limits = limits_from_args(args)
    cache = Path(args.out).expanduser().resolve() if args.out else saliency_cache_dir()
    if cache.exists() and not cache.is_dir():
        raise GalaxyscopeError(f"{cache}: exists and is not a folder (--out names the cache folder)")
    image_set, model = open_dataset_and_model(args.dataset, args.model, "cpu", threads=batch.threads)
    if getattr(model.meta, "task", "classify") == "regress":
        raise GalaxyscopeError(f"{model.path}: a bar-length regressor has no saliency to precompute")
    from galaxyscope.saliency.attributions import resolve_request

    resolve_request(model, saliency.method, target=saliency.target)  # a bad --target fails here, not per image
    for text in getattr(image_set, "warnings", []):
        print(f"warning: {text}", file=sys.stderr)
    work = SaliencyWork(model_path=str(Path(model.path).resolve()) if model.path else "",
                        model_sha256=work_sha256(model, saliency.method), method=saliency.method, n_samples=saliency.n_samples,
                        noise=saliency.noise, target=saliency.target, cache_root=str(cache), device=args.device,
                        threads=batch.threads)
    folder = cache / "_runs"
    progress, close = tqdm_progress("saliency", disable=args.quiet)
    client_cm = dask_client(batch.workers, batch.scheduler) if batch.distributed else contextlib.nullcontext(None)
    try:
        with terminate_as_interrupt(), client_cm as client:
            if client is not None and not args.quiet:
                where = batch.scheduler or f"LocalCluster of {batch.workers} processes x {batch.threads} thread(s)"
                link = dashboard_link(client)
                print(f"dask: {where}" + (f"; dashboard {link}" if link else ""), file=sys.stderr)
            run_report = run_partitions(work, dataset_for_workers(args.dataset), folder, client=client,
                                        image_set=image_set,
                                        partition_size=batch.partition_size, read_limits=read_limits,
                                        progress=progress)
    except KeyboardInterrupt:
        close()
        print(f"interrupted: finished partitions are recorded in {folder}; the same command resumes",
              file=sys.stderr)
        return 130
    close()
    rows = read_partitions(run_report.paths()).to_pylist() if run_report.partitions else []
    failures = [GalaxyscopeError(f"{r.get('error_path') or r['filename']}: {r['error']}") for r in rows
                if r.get("error")]
    ok = [r for r in rows if not r.get("error")]
    print_skipped(failures + list(image_set.failures))
    fresh = sum(1 for r in ok if not r["from_cache"])
    print(f"partitions: {len(run_report.written)} computed, {len(run_report.skipped)} already there, "
          f"{len(run_report.partitions)} in all", file=sys.stderr)
    print(f"{len(ok)} of {len(image_set)} maps in {cache} ({fresh} computed, {len(ok) - fresh} already "
          "cached when their partition ran)")
    if cache != saliency_cache_dir():
        hint = (f"GALAXYSCOPE_CACHE={cache.parent} galaxyscope gui {args.dataset}" if cache.name == "saliency"
                else "name the folder 'saliency' and set GALAXYSCOPE_CACHE to its parent")
        print(f"the window reads this cache with: {hint}")
    return 0 if ok else 2
