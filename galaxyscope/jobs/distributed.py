"""Batch work over an image set on Dask distributed: partitions, Parquet files, resume, retries.

Why: SmoothGrad costs about a second per image on a CPU, so a 300,000-image survey is
days on one machine. This module runs any per-image work (`ImageWork`: measure,
saliency, scan-bias) over partitions of an image set on a Dask cluster (a
``LocalCluster`` of N processes, or a running scheduler), or serially in this process
when no client is given.

- A partition is a fixed run of image entries; its Parquet file is named by a digest of
  the work's fingerprint (model sha256 and every result-defining parameter) and of its
  images' identities (relative name, size, modification time: cheap to get for a
  million files, unlike their contents), and each row records the image's content hash
  (``image_sha256``, the saliency cache's `image_fingerprint`).
- Files are written to a temporary name and moved into place with ``os.replace``: a
  partition file exists whole or not at all, so a rerun skips exactly the partitions
  written before (resume), and a run killed at any moment loses only those in flight.
- A bad image is a row with its ``error`` text, never a failed partition; a worker that
  dies mid-partition has its partition recomputed elsewhere (Dask reschedules it; a
  task raising is retried ``retries`` times); every image appears in exactly one file.
- Each worker process loads the model once per work fingerprint (`worker_state`), on its
  own best device (CUDA when it has one) unless the work names one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol, Sequence

from galaxyscope.errors import GalaxyscopeError, ImageReadError
from galaxyscope.images.guarded_read import ReadLimits

PARTITION_FORMAT = 1
#: columns the runner adds to every work's rows
BASE_COLUMNS: tuple[tuple[str, str], ...] = (("image_sha256", "str"), ("error", "str"), ("error_path", "str"))
_ARROW_TYPES = {"str": "string", "float": "float64", "int": "int64", "bool": "bool_"}
_STALE_TEMP_S = 3600.0


class ImageWork(Protocol):
    """Per-image work a partition runs; must pickle (it travels to the workers).

    ``columns``: (name, "str" | "float" | "int" | "bool") of its rows, ``filename`` first.
    ``fingerprint()``: JSON-able description of everything that defines the results
    (model sha256, parameters); part of every partition's file name.
    ``setup()``: the per-process state (a loaded model, a cache), built once per worker.
    ``rows(state, key, image)``: one image's rows; a row may carry an ``error`` text and
    ``error_path`` (e.g. one bar method failed), and raising marks the whole image as failed.
    """

    name: str
    columns: tuple[tuple[str, str], ...]

    def fingerprint(self) -> dict[str, Any]: ...

    def setup(self) -> Any: ...

    def rows(self, state: Any, key: str, image: Any) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class Partition:
    """A run of image entries (indices into the image set, and their keys) and its file name."""

    index: int
    entries: tuple[int, ...]
    keys: tuple[str, ...]
    digest: str

    @property
    def filename(self) -> str:
        return f"part-{self.index:05d}-{self.digest[:16]}.parquet"


@dataclass
class RunReport:
    """What a run did: every partition, those computed now and those found on disk."""

    folder: Path
    partitions: list[Partition]
    written: list[Partition] = field(default_factory=list)
    skipped: list[Partition] = field(default_factory=list)
    dashboard: str | None = None
    seconds: float = 0.0

    @property
    def n_images(self) -> int:
        return sum(len(p.entries) for p in self.partitions)

    def paths(self) -> list[Path]:
        return [self.folder / p.filename for p in self.partitions]


def canonical_json(obj: Any) -> str:
    """Sorted keys, no spaces: equal descriptions give equal text, hence equal digests."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)


def file_identity(path: Path) -> tuple[int, int]:
    """(size, mtime in ns) of a file, (-1, -1) when it cannot be seen."""
    try:
        st = os.stat(path)
    except OSError:
        return (-1, -1)
    return (st.st_size, st.st_mtime_ns)


def plan_partitions(image_set, size: int, fingerprint: dict[str, Any]) -> list[Partition]:
    """Split the set's entries, in order, into partitions of ``size`` images with their digests."""
    if size < 1:
        raise GalaxyscopeError(f"partition size must be at least 1, got {size}")
    work = canonical_json(fingerprint)
    parts: list[Partition] = []
    n = len(image_set.entries)
    for index, start in enumerate(range(0, n, size)):
        idx = tuple(range(start, min(n, start + size)))
        keys = tuple(image_set.entries[i].key for i in idx)
        ident = [[k, *file_identity(image_set.entries[i].path)] for i, k in zip(idx, keys)]
        desc = {"format": PARTITION_FORMAT, "work": work, "images": ident}
        digest = hashlib.sha256(canonical_json(desc).encode()).hexdigest()
        parts.append(Partition(index=index, entries=idx, keys=keys, digest=digest))
    return parts


# ----------------------------------------------------------------------------- worker side

_STATE_LOCK = threading.Lock()
_WORKER_STATE: dict[str, tuple[Any, Any]] = {}
#: states a worker keeps (a long-lived cluster serving several runs must not pile up models)
MAX_WORKER_STATES = 2


def worker_state(work: ImageWork, dataset: str) -> tuple[Any, Any]:
    """(work state, ImageSet) for this process: built on first use, then reused.

    Why: a worker runs many partitions; loading the model (and listing the set) once per
    process, not once per partition, keeps a partition's overhead to its images. The key
    is the whole work (``repr``: execution settings such as the device included) and the set.
    """
    from galaxyscope.images.imageset import ImageSet

    key = hashlib.sha256(canonical_json([work.name, work.fingerprint(), repr(work), str(dataset)]).encode()
                         ).hexdigest()
    with _STATE_LOCK:
        if key not in _WORKER_STATE:
            while len(_WORKER_STATE) >= MAX_WORKER_STATES:
                _WORKER_STATE.pop(next(iter(_WORKER_STATE)))
            _WORKER_STATE[key] = (work.setup(), ImageSet.open(dataset))
        return _WORKER_STATE[key]


def compute_partition(work: ImageWork, dataset: str, partition: Partition, folder: str,
                      read_limits: ReadLimits | None = ReadLimits(), events: str | None = None) -> dict[str, Any]:
    """Run ``work`` over one partition and write its Parquet file atomically; returns a summary.

    Runs on a Dask worker (or in this process). Every image gives its rows or one error
    row; ``events`` names a Dask event topic that gets one message per finished image
    (the client's progress bar).
    """
    from galaxyscope.jobs.measure_job import guarded
    from galaxyscope.saliency.cache import image_fingerprint

    t0 = time.perf_counter()
    state, image_set = worker_state(work, dataset)
    log = _event_logger(events)
    rows: list[dict[str, Any]] = []
    n_failed = 0
    for i, key in zip(partition.entries, partition.keys):
        entry = image_set.entries[i] if i < len(image_set.entries) else None
        if entry is None or entry.key != key:
            raise GalaxyscopeError(f"{dataset}: the image set changed since the run was planned "
                                   f"(entry {i} is no longer {key!r}); start the run again")
        failures: list[ImageReadError] = []
        image_rows: list[dict[str, Any]] = []
        try:
            image = image_set.read(i, read_limits)
        except ImageReadError as err:
            failures.append(err)
        else:
            sha = image_fingerprint(image)
            image_rows = guarded(image, key, failures, lambda: work.rows(state, key, image))
            for r in image_rows:
                r.setdefault("image_sha256", sha)
        for f in failures:
            image_rows.append({"filename": key, "error": f.reason, "error_path": str(f.path)})
        n_failed += bool(failures) or any(r.get("error") for r in image_rows)
        rows.extend(image_rows)
        if log is not None:
            log(1)
    path = Path(folder) / partition.filename
    write_partition(rows, work, partition, path)
    return {"index": partition.index, "n_images": len(partition.entries), "n_failed": int(n_failed),
            "seconds": time.perf_counter() - t0, "file": str(path), "pid": os.getpid()}


def _event_logger(topic: str | None) -> Callable[[int], None] | None:
    """``log(n)`` sending a Dask event on ``topic`` from this worker; None outside a worker."""
    if not topic:
        return None
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):
        return None
    return lambda n: worker.log_event(topic, {"images": n})


def arrow_schema(work: ImageWork, partition: Partition | None = None):
    """The Parquet schema of ``work``'s partitions (its columns, then `BASE_COLUMNS`)."""
    import pyarrow as pa

    cols = list(work.columns) + [c for c in BASE_COLUMNS if c[0] not in dict(work.columns)]
    meta = {"galaxyscope": canonical_json({
        "format": PARTITION_FORMAT, "work": work.name, "fingerprint": work.fingerprint(),
        "partition": None if partition is None else partition.index,
        "digest": None if partition is None else partition.digest,
    })}
    return pa.schema([(name, getattr(pa, _ARROW_TYPES[kind])()) for name, kind in cols], metadata=meta)


def write_partition(rows: Sequence[dict[str, Any]], work: ImageWork, partition: Partition, path: Path) -> Path:
    """Write rows as one Parquet file: temporary name in the same folder, fsync, ``os.replace``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = arrow_schema(work, partition)
    clean = [{name: _cell(r.get(name), schema.field(name).type) for name in schema.names} for r in rows]
    table = pa.Table.from_pylist(clean, schema=schema)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        pq.write_table(table, tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _cell(value: Any, arrow_type) -> Any:
    """A row value as its column's type wants it (None stays missing; numpy scalars unwrapped)."""
    import pyarrow as pa

    if value is None:
        return None
    if pa.types.is_string(arrow_type):
        return str(value)
    if pa.types.is_floating(arrow_type):
        return float(value)
    if pa.types.is_integer(arrow_type):
        return int(value)
    if pa.types.is_boolean(arrow_type):
        return bool(value)
    return value


# ----------------------------------------------------------------------------- client side


def partition_is_written(path: Path) -> bool:
    """True when a whole, readable Parquet file is there; an unreadable one is removed (recomputed)."""
    if not path.exists():
        return False
    try:
        import pyarrow.parquet as pq

        pq.read_metadata(path)
        return True
    except Exception:  # noqa: BLE001 - any damage means: compute it again
        path.unlink(missing_ok=True)
        return False


def run_partitions(
    work: ImageWork,
    dataset: str,
    folder: str | Path,
    *,
    client=None,
    image_set=None,
    partition_size: int = 16,
    retries: int = 2,
    read_limits: ReadLimits | None = ReadLimits(),
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> RunReport:
    """Run ``work`` over every image of ``dataset``; one Parquet file per partition in ``folder``.

    ``client``: a ``distributed.Client`` (tasks on its cluster), or None (partitions run here,
    one after another, with the same files and resume). Partitions already in ``folder``
    are skipped. ``progress(done, total)`` counts images; ``cancel()`` stops between
    partitions (here) or cancels the pending tasks (cluster) and raises `CancelledError`.
    A partition that still fails after ``retries`` raises `GalaxyscopeError` naming it;
    the files written so far stay, so the same command resumes.
    """
    from galaxyscope.errors import CancelledError

    t0 = time.perf_counter()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(folder)
    if image_set is None:
        from galaxyscope.images.imageset import ImageSet

        image_set = ImageSet.open(dataset)
    parts = plan_partitions(image_set, partition_size, work.fingerprint())
    report = RunReport(folder=folder, partitions=parts, dashboard=dashboard_link(client))
    todo = [p for p in parts if not partition_is_written(folder / p.filename)]
    report.skipped = [p for p in parts if p not in todo]
    total = report.n_images
    done = sum(len(p.entries) for p in report.skipped)
    if progress:
        progress(done, total)
    if client is None:
        for p in todo:
            if cancel is not None and cancel():
                raise CancelledError(f"stopped after {len(report.written)} of {len(todo)} partitions")
            compute_partition(work, str(dataset), p, str(folder), read_limits)
            report.written.append(p)
            done += len(p.entries)
            if progress:
                progress(done, total)
        report.seconds = time.perf_counter() - t0
        return report
    report.written = _run_on_cluster(client, work, str(dataset), todo, folder, retries, read_limits,
                                     done, total, progress, cancel)
    report.seconds = time.perf_counter() - t0
    return report


def _run_on_cluster(client, work: ImageWork, dataset: str, todo: list[Partition], folder: Path, retries: int,
                    read_limits: ReadLimits | None, done: int, total: int,
                    progress: Callable[[int, int], None] | None,
                    cancel: Callable[[], bool] | None) -> list[Partition]:
    """Submit one task per partition, follow them (progress from the workers' events), collect."""
    from distributed import wait

    from galaxyscope.errors import CancelledError

    if not todo:
        return []
    topic = f"galaxyscope-progress-{uuid.uuid4().hex[:12]}"
    live = {"images": 0}
    lock = threading.Lock()

    def on_event(event) -> None:  # runs on the client's event loop thread
        _, msg = event
        with lock:
            live["images"] += int(msg.get("images", 0)) if isinstance(msg, dict) else 0

    subscribed = False
    try:
        client.subscribe_topic(topic, on_event)
        subscribed = True
    except Exception:  # noqa: BLE001 - progress then moves per partition only
        pass
    run_id = uuid.uuid4().hex[:8]
    by_key = {}
    futures = []
    for p in todo:
        fut = client.submit(compute_partition, work, dataset, p, str(folder), read_limits,
                            topic if subscribed else None, key=f"{work.name}-{run_id}-part-{p.index:05d}",
                            retries=retries, pure=False)
        by_key[fut.key] = p
        futures.append(fut)
    written: list[Partition] = []
    finished = 0
    pending = set(futures)
    try:
        while pending:
            if cancel is not None and cancel():
                raise CancelledError(f"stopped after {len(written)} of {len(todo)} partitions")
            with contextlib.suppress(TimeoutError):
                wait(list(pending), timeout=0.5, return_when="FIRST_COMPLETED")
            for fut in [f for f in pending if f.done()]:
                pending.discard(fut)
                p = by_key[fut.key]
                try:
                    fut.result()
                except Exception as exc:  # noqa: BLE001 - named and re-raised as one clear error
                    raise GalaxyscopeError(
                        f"partition {p.index} ({p.keys[0]} ... {p.keys[-1]}) failed after {retries} "
                        f"retries: {type(exc).__name__}: {exc}; finished partitions are kept in {folder}, "
                        "run the same command again to resume") from exc
                written.append(p)
                finished += len(p.entries)
            if progress:
                with lock:
                    running = live["images"]
                progress(min(total, done + max(finished, running)), total)
    finally:
        if pending:
            client.cancel(list(pending))
        if subscribed:
            with contextlib.suppress(Exception):
                client.unsubscribe_topic(topic)
    return sorted(written, key=lambda p: p.index)


def read_partitions(paths: Sequence[Path]):
    """The rows of the given partition files, in order, as one ``pyarrow.Table``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    tables = []
    for path in paths:
        try:
            tables.append(pq.read_table(path))
        except Exception as exc:  # noqa: BLE001 - one clear line naming the file
            raise GalaxyscopeError(f"{path}: cannot read this partition ({exc}); delete it and rerun") from exc
    if not tables:
        raise GalaxyscopeError("no partitions to read")
    return pa.concat_tables(tables, promote_options="default")


def dashboard_link(client) -> str | None:
    """The Dask dashboard's address when the cluster serves one, else None.

    A LocalCluster's dashboard needs bokeh in this environment (without it the page only
    says so: no link then); a remote scheduler's link is printed whenever it has one.
    """
    if client is None:
        return None
    cluster = getattr(client, "cluster", None)
    if cluster is not None and not getattr(cluster, "_galaxyscope_dashboard", True):
        return None
    try:
        services = client.scheduler_info().get("services", {})
        return client.dashboard_link if "dashboard" in services else None
    except Exception:  # noqa: BLE001 - a missing link is not an error
        return None


@contextlib.contextmanager
def dask_client(workers: int | None = None, scheduler: str | None = None, *, threads_per_worker: int = 1,
                dashboard: bool = True, timeout_s: float = 60.0) -> Iterator[Any]:
    """A ``distributed.Client``: on a new ``LocalCluster`` of ``workers`` processes (bound to
    127.0.0.1), or connected to ``scheduler``; closed (and the cluster shut down) on exit."""
    import importlib.util
    import logging

    import dask
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout=f"{int(timeout_s)}s")
        except (OSError, TimeoutError) as exc:
            raise GalaxyscopeError(f"--scheduler {scheduler}: cannot connect ({exc})") from None
        try:
            yield client
        finally:
            client.close()
        return
    if not workers or workers < 1:
        raise GalaxyscopeError(f"--workers must be at least 1, got {workers}")
    # the scheduler serves HTTP in any case (a "bokeh missing" page without bokeh): on a free
    # local port, never the fixed 8787 that a second run or another user would collide on
    with dask.config.set({"distributed.nanny.pre-spawn-environ": worker_environment()}):
        cluster = LocalCluster(n_workers=int(workers), threads_per_worker=int(threads_per_worker),
                               processes=True, host="127.0.0.1", dashboard_address="127.0.0.1:0",
                               silence_logs=logging.ERROR)
    cluster._galaxyscope_dashboard = dashboard and importlib.util.find_spec("bokeh") is not None
    try:
        client = Client(cluster, timeout=f"{int(timeout_s)}s")
        try:
            yield client
        finally:
            client.close()
    finally:
        cluster.close()


def worker_environment() -> dict[str, Any]:
    """The environment Dask's nannies give new worker processes, less ``MALLOC_TRIM_THRESHOLD_``.

    Why: Dask sets it to 64 KiB so workers hand memory back to the OS at once; that also
    switches off glibc's adaptive mmap threshold, so every large array of SmoothGrad and
    the isophote fits is a fresh mmap with its page faults. Measured with the measure
    work on this machine: 2.54 CPU s an image with it, 1.60 without (system time 7.2 s
    against 1.9 s for six images). The thread caps (OMP/MKL/OpenBLAS = 1) stay.
    """
    import dask

    env = dict(dask.config.get("distributed.nanny.pre-spawn-environ", default={}) or {})
    env.pop("MALLOC_TRIM_THRESHOLD_", None)
    return env


def _remove_stale_temps(folder: Path) -> None:
    """Temporary files older than an hour are leftovers of a killed write."""
    now = time.time()
    for p in folder.glob(".part-*.tmp"):
        with contextlib.suppress(OSError):
            if now - p.stat().st_mtime > _STALE_TEMP_S:
                p.unlink(missing_ok=True)
