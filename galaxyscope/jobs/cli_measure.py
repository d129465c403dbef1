"""`galaxyscope measure`: saliency bar lengths for every image of a dataset."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from galaxyscope.errors import GalaxyscopeError


EXAMPLES = """\
examples:
  galaxyscope measure synth_set --out results.ecsv       # paper, moments and isophote; the shipped model
  galaxyscope measure synth_set --method moments --attribution bar_evidence --out bars.ecsv  # maps that follow the bar
  galaxyscope measure gz2/catalog.csv --method moments --attribution ig --keep dr7objid \\
      --model my.safetensors --out gz2.ecsv
  galaxyscope measure synth_set --threads 1 --out results.ecsv     # one torch thread (beside other work)
  galaxyscope measure gz2 --workers 4 --out gz2_bars.parquet       # LocalCluster of 4 processes; rerun resumes
  galaxyscope measure gz2 --scheduler tcp://head:8786 --out gz2_bars.ecsv  # a running Dask cluster"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "measure",
        help="measure bar lengths from saliency maps over a dataset",
        description="Compute saliency (SmoothGrad by default) for every image of DATASET and measure "
        "the bar with the paper's method and/or ours ('moments'). Writes one row per image and method. "
        "Bad files are skipped and reported.",
        epilog=EXAMPLES,
    )
    p.add_argument("dataset", help="folder of images (optionally with catalog.ecsv/csv) or a catalogue file")
    p.add_argument("--model", help="checkpoint (.safetensors); default: the shipped model")
    p.add_argument("--method", default="all",
                   help="paper, moments, isophote (ellipse fits, no network) or all (default all), comma-separated")
    p.add_argument("--out", required=True,
                   help="results table (.ecsv, .csv or .fits), or a folder ending in .parquet (one Parquet "
                        "file per partition; a rerun resumes)")
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
    from galaxyscope.images.guarded_read import add_read_limit_arguments
    from galaxyscope.jobs.cluster_args import add_cluster_arguments
    from galaxyscope.saliency.cli_args import add_saliency_arguments

    add_saliency_arguments(p)
    add_cluster_arguments(p)
    add_read_limit_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from galaxyscope.jobs.common import open_dataset_and_model, saliency_cache, tqdm_progress
    from galaxyscope.jobs.measure_job import check_keep_columns, measure_dataset
    from galaxyscope.measure import BAR_METHODS, METHODS, resolve_method
    from galaxyscope.saliency.cli_args import saliency_options

    saliency = saliency_options(args)
    try:
        methods = (BAR_METHODS + ("isophote",) if args.method == "all"
                   else tuple("isophote" if m.strip().lower() == "isophote" else resolve_method(m)
                              for m in args.method.split(",")))
    except GalaxyscopeError as exc:
        raise GalaxyscopeError(f"--method: {exc} (choose from {sorted(METHODS) + ['isophote']} or all)") from None
    if args.min_bar_probability is not None and not 0.0 <= args.min_bar_probability <= 1.0:
        raise GalaxyscopeError(f"--min-bar-probability must lie in [0, 1], got {args.min_bar_probability}")
    from galaxyscope.images.guarded_read import limits_from_args

    from galaxyscope.jobs.cluster_args import cluster_options

    read_limits = limits_from_args(args)
    batch = cluster_options(args)
    out = Path(args.out)
    if out.suffix.lower() not in (".ecsv", ".csv", ".fits", ".parquet"):
        raise GalaxyscopeError(f"{out}: output must end in .ecsv, .csv, .fits or .parquet (a folder)")
    if batch.distributed or out.suffix.lower() == ".parquet":
        return run_partitioned(args, batch, methods, saliency, read_limits, out)
    image_set, model = open_dataset_and_model(args.dataset, args.model, args.device, threads=batch.threads)
    if args.framing != "model":
        from galaxyscope.model.framing import set_framing

        set_framing(model, args.framing)
    check_keep_columns(image_set, args.keep)
    for text in getattr(image_set, "warnings", []):
        print(f"warning: {text}", file=sys.stderr)
    cache = saliency_cache(not args.no_cache)
    progress, close = tqdm_progress("measure", disable=args.quiet)
    partial = PartialRows(partial_path(out))
    try:
        with terminate_as_interrupt():
            report = measure_dataset(image_set, model, methods=methods, attribution=saliency.method,
                                     n_samples=saliency.n_samples, noise=saliency.noise, target=saliency.target,
                                     cache=cache, keep_columns=args.keep, progress=progress,
                                     min_bar_probability=args.min_bar_probability,
                                     check_agreement=not args.no_agreement, on_rows=partial.write,
                                     read_limits=read_limits)
    except BaseException as exc:  # interrupted or failed: keep every finished image's rows
        close()
        n_kept = _write_finished(partial, out)
        if isinstance(exc, KeyboardInterrupt):
            print(f"interrupted: {n_kept} finished image(s) written to {out}", file=sys.stderr)
            return 130
        raise
    close()
    out.parent.mkdir(parents=True, exist_ok=True)
    fmt = {".ecsv": "ascii.ecsv", ".csv": "ascii.csv", ".fits": "fits"}[out.suffix.lower()]
    report.table.write(out, format=fmt, overwrite=True)
    partial.remove()
    print_skipped(report.failures)
    n_ok = len(set(report.table["filename"])) if len(report.table) else 0
    print(f"measured {n_ok} of {report.n_images} images with {', '.join(methods)} -> {out}")
    if len(report.table) and "min_bar_probability" in report.table.meta:
        flags = [str(f) for f in report.table["flags"]]
        n_nobar = sum("no_bar" in f.split(",") for f in flags)
        print(f"P(bar) threshold {report.table.meta['min_bar_probability']:.2f}: {n_nobar} of {len(flags)} rows "
              f"say 'no bar'; framing {report.table.meta['framing']}")
    return 0 if n_ok else 2


def run_partitioned(args: argparse.Namespace, batch, methods, saliency, read_limits, out: Path) -> int:
    """``measure`` in Parquet partitions: on a Dask cluster (--workers / --scheduler), or in this
    process for a ``.parquet`` output; the table formats are gathered from the partitions."""
    import contextlib

    from galaxyscope.jobs.common import open_dataset_and_model, tqdm_progress, work_sha256
    from galaxyscope.jobs.distributed import dask_client
    from galaxyscope.jobs.distributed_measure import MeasureWork, keep_kinds, measure_distributed
    from galaxyscope.jobs.measure_job import check_keep_columns

    parquet = out.suffix.lower() == ".parquet"
    folder = out if parquet else out.with_name(out.name + ".parts")
    if parquet and out.exists() and not out.is_dir():
        raise GalaxyscopeError(f"{out}: exists and is not a folder (a .parquet output is a folder of partitions)")
    # the client plans with the model on the CPU: the workers pick their own devices
    image_set, model = open_dataset_and_model(args.dataset, args.model, "cpu", threads=batch.threads)
    if args.framing != "model":
        from galaxyscope.model.framing import set_framing

        set_framing(model, args.framing)
    check_keep_columns(image_set, args.keep)
    for text in getattr(image_set, "warnings", []):
        print(f"warning: {text}", file=sys.stderr)
    work = MeasureWork(
        model_path=str(Path(model.path).resolve()) if model.path else "", model_sha256=work_sha256(model, saliency.method),
        methods=tuple(methods), attribution=saliency.method, n_samples=saliency.n_samples, noise=saliency.noise,
        target=saliency.target, min_bar_probability=args.min_bar_probability,
        check_agreement=not args.no_agreement, framing=args.framing, keep=keep_kinds(image_set, args.keep),
        device=args.device, threads=batch.threads, use_cache=not args.no_cache)
    progress, close = tqdm_progress("measure", disable=args.quiet)
    client_cm = (dask_client(batch.workers, batch.scheduler) if batch.distributed
                 else contextlib.nullcontext(None))
    try:
        with terminate_as_interrupt(), client_cm as client:
            if client is not None and not args.quiet:
                where = batch.scheduler or f"LocalCluster of {batch.workers} processes x {batch.threads} thread(s)"
                from galaxyscope.jobs.distributed import dashboard_link

                link = dashboard_link(client)
                print(f"dask: {where}" + (f"; dashboard {link}" if link else ""), file=sys.stderr)
            report, run = measure_distributed(image_set, model, work, dataset_for_workers(args.dataset), folder,
                                              client=client,
                                              partition_size=batch.partition_size, keep_columns=args.keep,
                                              read_limits=read_limits, progress=progress)
    except KeyboardInterrupt:
        close()
        print(f"interrupted: finished partitions are kept in {folder}; the same command resumes",
              file=sys.stderr)
        return 130
    close()
    print(f"partitions: {len(run.written)} written, {len(run.skipped)} already there, "
          f"{len(run.partitions)} in all ({folder})", file=sys.stderr)
    if not parquet:
        out.parent.mkdir(parents=True, exist_ok=True)
        fmt = {".ecsv": "ascii.ecsv", ".csv": "ascii.csv", ".fits": "fits"}[out.suffix.lower()]
        report.table.write(out, format=fmt, overwrite=True)
        import shutil

        shutil.rmtree(folder, ignore_errors=True)  # the table is the result; its parts are no longer needed
    print_skipped(report.failures)
    n_ok = len(set(report.table["filename"])) if len(report.table) else 0
    print(f"measured {n_ok} of {report.n_images} images with {', '.join(methods)} -> {out}")
    return 0 if n_ok else 2


def dataset_for_workers(dataset: str) -> str:
    """The dataset as an absolute path: workers (other processes, other machines) do not share
    this process's working folder, only the file system."""
    return str(Path(dataset).expanduser().resolve())


#: skipped files listed one per line before the rest is only counted
MAX_SKIP_LINES = 50


def print_skipped(failures, limit: int = MAX_SKIP_LINES, file=None) -> None:
    """One ``skipped: PATH: REASON`` line per failure up to ``limit``, then a count by reason.

    Why: a catalogue naming a million missing files must not print a million lines and
    bury the summary.
    """
    from collections import Counter

    file = file or sys.stderr
    for f in failures[:limit]:
        print(f"skipped: {f}", file=file)
    rest = failures[limit:]
    if rest:
        reasons: Counter[str] = Counter()
        for f in rest:
            reasons[getattr(f, "kind", getattr(f, "reason", str(f)))] += getattr(f, "count", 1)
        common = "; ".join(f"{n} x {r}" for r, n in reasons.most_common(3))
        more = f"; {len(reasons) - 3} other reasons" if len(reasons) > 3 else ""
        n_rest = sum(getattr(f, "count", 1) for f in rest)
        print(f"skipped: ... and {n_rest} more ({common}{more})", file=file)
    if failures:
        # a failure may stand for many catalogue rows (``count``: the rows only counted at open)
        print(f"skipped {sum(getattr(f, 'count', 1) for f in failures)} file(s) in all", file=file)


def partial_path(out: Path) -> Path:
    """Where finished rows are appended while a run goes on: ``OUT.partial.csv``."""
    return out.with_name(out.name + ".partial.csv")


class PartialRows:
    """Appends each finished image's rows to a CSV as soon as they exist.

    Why: a batch killed half-way (SIGKILL, a power cut) must keep the images it
    finished; the partial file is what remains then. A normal end writes ``OUT``
    and removes it.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows: list[dict] = []
        self._fh = None
        self._writer = None

    def write(self, rows: list[dict]) -> None:
        import csv

        from galaxyscope.jobs.measure_job import COLUMNS

        self.rows.extend(rows)
        if self._fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "w", newline="", encoding="utf-8")
            self._writer = csv.DictWriter(self._fh, fieldnames=list(COLUMNS), extrasaction="ignore")
            self._writer.writeheader()
        self._writer.writerows(rows)
        self._fh.flush()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def remove(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)


def _write_finished(partial: PartialRows, out: Path) -> int:
    """After an interruption: the finished rows as ``OUT`` (format by suffix); images kept."""
    from astropy.table import Table

    from galaxyscope.jobs.measure_job import COLUMNS

    partial.close()
    if not partial.rows:
        partial.remove()
        return 0
    table = Table(rows=partial.rows, names=COLUMNS)
    table.meta["partial"] = "interrupted before every image was measured"
    fmt = {".ecsv": "ascii.ecsv", ".csv": "ascii.csv", ".fits": "fits"}[out.suffix.lower()]
    try:
        table.write(out, format=fmt, overwrite=True)
    except Exception:  # noqa: BLE001 - the partial CSV stays as the record
        return len({r["filename"] for r in partial.rows})
    partial.remove()
    return len({r["filename"] for r in partial.rows})


class terminate_as_interrupt:
    """SIGTERM (``kill``, ``timeout``) raises KeyboardInterrupt, so finished rows get written.

    Only in the main thread; restores the previous handler on exit.
    """

    def __enter__(self):
        import signal
        import threading

        self._old = None
        if threading.current_thread() is threading.main_thread():
            def _handler(signum, frame):
                raise KeyboardInterrupt(f"signal {signum}")

            self._old = signal.signal(signal.SIGTERM, _handler)
        return self

    def __exit__(self, *exc) -> None:
        import signal

        if self._old is not None:
            signal.signal(signal.SIGTERM, self._old)
