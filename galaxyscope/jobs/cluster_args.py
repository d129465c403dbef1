"""The batch options every long command shares: ``--threads``, ``--workers``, ``--scheduler``, ``--partition-size``.

Why one home: ``measure``, ``saliency`` (and ``scan-bias`` once wired) choose their
threads and their Dask cluster the same way. No dask or torch here: ``register()``
runs for ``--help``.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass

from galaxyscope.errors import GalaxyscopeError

#: images per Parquet partition of a distributed run (one Dask task each)
DEFAULT_PARTITION_SIZE = 16


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask, not the machine's total)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def idle_cores() -> int:
    """Usable cores minus the machine's recent load (1-minute load average), at least 1.

    Why: torch takes every core by default; beside other work that oversubscribes the CPU
    (measured on 2 shared cores at load 6: one process with 2 threads ran 2.9-3.9x slower
    than with 1, docs/cluster.md).
    """
    cores = available_cores()
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # Windows
        return cores
    return max(1, min(cores, cores - int(load)))


def default_threads(workers: int | None = None) -> int:
    """Torch CPU threads per process when not told: the cores the machine can give one
    process now (`idle_cores`), and one per Dask worker process (N workers x 1 thread
    never oversubscribes N cores)."""
    return 1 if workers else idle_cores()


@dataclass(frozen=True)
class ClusterOptions:
    """What the command line asked for. ``distributed`` is False: run in this process, as before."""

    threads: int
    workers: int | None = None
    scheduler: str | None = None
    partition_size: int = DEFAULT_PARTITION_SIZE

    @property
    def distributed(self) -> bool:
        return bool(self.workers or self.scheduler)


def add_cluster_arguments(parser: argparse.ArgumentParser, *, threads: bool = True) -> argparse._ArgumentGroup:
    """Add ``--threads``, ``--workers``, ``--scheduler`` and ``--partition-size`` (a "batch" group).

    ``threads=False`` leaves ``--threads`` out, for a command that already declares it
    (`cluster_options` reads ``args.threads`` either way).
    """
    g = parser.add_argument_group("batch (threads, Dask distributed; docs/cluster.md)")
    if threads:
        g.add_argument("--threads", type=int, metavar="N",
                       help="torch CPU threads per process (default: in one process, the usable cores less "
                            "the machine's current load, at least 1; 1 per Dask worker process)")
    cluster = g.add_mutually_exclusive_group()
    cluster.add_argument("--workers", type=int, metavar="N",
                         help="run on a Dask LocalCluster of N worker processes on this machine")
    cluster.add_argument("--scheduler", metavar="ADDRESS",
                         help="run on a running Dask scheduler, e.g. tcp://host:8786 (workers must see "
                              "the dataset and the model at the same paths)")
    g.add_argument("--partition-size", type=int, default=DEFAULT_PARTITION_SIZE, metavar="N",
                   help="images per partition (one task, one Parquet file) of a distributed run "
                        "(default %(default)s)")
    return g


def cluster_options(args: argparse.Namespace) -> ClusterOptions:
    """The parsed batch options, checked; a bad value is a GalaxyscopeError naming its flag."""
    workers = getattr(args, "workers", None)
    scheduler = getattr(args, "scheduler", None) or None
    if workers is not None and workers < 1:
        raise GalaxyscopeError(f"--workers must be at least 1, got {workers}")
    threads = getattr(args, "threads", None)
    if threads is not None and threads < 1:
        raise GalaxyscopeError(f"--threads must be at least 1, got {threads}")
    size = getattr(args, "partition_size", DEFAULT_PARTITION_SIZE)
    if size < 1:
        raise GalaxyscopeError(f"--partition-size must be at least 1, got {size}")
    distributed = bool(workers or scheduler)
    return ClusterOptions(threads=threads or default_threads(1 if distributed else None), workers=workers,
                          scheduler=scheduler, partition_size=size)
