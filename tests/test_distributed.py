"""Batch work on Dask distributed (issue 18): a LocalCluster of 2 processes, 1 thread each.

Shown here: the distributed measure gives exactly the single-process table; a worker
SIGKILLed in the middle of a partition costs nothing (the partition runs again
elsewhere, every image exactly once); a run SIGKILLed half-way and started again writes
only the partitions that were missing; a bad image is an error row, not a failed
partition. Tiny model (32 px input), tiny images, few SmoothGrad samples; no timings.
"""

from __future__ import annotations

import faulthandler
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cloudpickle
import numpy as np
import pytest
import torch

from galaxyscope.images.imageset import ImageSet
from galaxyscope.jobs.common import resolve_model
from galaxyscope.jobs.distributed import (
    dask_client,
    partition_is_written,
    plan_partitions,
    read_partitions,
    run_partitions,
)
from galaxyscope.jobs.distributed_measure import MeasureWork, gather_measure, measure_distributed
from galaxyscope.jobs.measure_job import measure_dataset
from galaxyscope.model.checkpoint import save_checkpoint
from galaxyscope.model.loaded import LoadedModel, ModelMeta
from galaxyscope.model.networks import build_network
from galaxyscope.model.preprocess import Preprocessing
from model_testdata import write_bar_dataset

# the test's own work classes travel to the workers by value (the workers cannot import tests/)
cloudpickle.register_pickle_by_value(sys.modules[__name__])

N_IMAGES, N_BROKEN, SAMPLES = 8, 1, 3
#: a hung cluster must fail the run, not stall it
HANG_GUARD_S = 420


def tiny_model(path: Path) -> Path:
    torch.manual_seed(0)
    net = build_network("small", n_outputs=1, in_channels=3)
    meta = ModelMeta(architecture="small", output_names=["has_bar"], sigmoid_outputs=[True],
                     preprocessing=Preprocessing(input_size=32, crop_fraction=0.5))
    save_checkpoint(LoadedModel(net=net, meta=meta), path)
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("distributed")
    dataset = write_bar_dataset(root / "set", n=N_IMAGES, size=48, seed=3, n_broken=N_BROKEN)
    return dataset, tiny_model(root / "m.safetensors")


@pytest.fixture(scope="module")
def client():
    faulthandler.dump_traceback_later(HANG_GUARD_S, exit=True)
    try:
        with dask_client(workers=2, threads_per_worker=1, dashboard=False, timeout_s=120) as c:
            c.wait_for_workers(2, timeout=120)
            yield c
    finally:
        faulthandler.cancel_dump_traceback_later()


def work_for(model_path: Path, **kw) -> MeasureWork:
    model = resolve_model(model_path, device="cpu")
    return MeasureWork(model_path=str(model_path), model_sha256=model.sha256, n_samples=SAMPLES,
                       min_bar_probability=0.0, use_cache=False, device="cpu", threads=1, **kw)


def assert_tables_equal(a, b) -> None:
    assert a.colnames == b.colnames
    assert len(a) == len(b)
    for name in a.colnames:
        x, y = np.asarray(a[name]), np.asarray(b[name])
        if x.dtype.kind == "f":
            assert np.array_equal(x, y, equal_nan=True), name
        else:
            assert (x == y).all(), name
    assert dict(a.meta) == dict(b.meta)


def images_once(table) -> None:
    """Every (image, method) row exactly once."""
    pairs = list(zip(table["filename"], table["method"]))
    assert len(pairs) == len(set(pairs))


def test_distributed_measure_equals_the_single_process_table(data, client, tmp_path):
    dataset, model_path = data
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # same threads as each worker: same float sums
    try:
        model = resolve_model(model_path, device="cpu")
        single = measure_dataset(ImageSet.open(dataset), model, n_samples=SAMPLES, min_bar_probability=0.0,
                                 cache=None)
    finally:
        torch.set_num_threads(threads)
    image_set = ImageSet.open(dataset)
    report, run = measure_distributed(image_set, model, work_for(model_path), str(dataset), tmp_path / "parts",
                                      client=client, partition_size=3)
    assert len(run.partitions) == 3 and len(run.written) == 3 and not run.skipped
    assert_tables_equal(single.table, report.table)
    images_once(report.table)
    assert len(set(report.table["filename"])) == N_IMAGES
    # the broken catalogue row is a reported failure with its path and reason, as in one process
    assert sorted(str(f) for f in report.failures) == sorted(str(f) for f in single.failures)
    assert len(report.failures) == N_BROKEN
    # each row carries the image's content hash
    rows = read_partitions(run.paths()).to_pylist()
    assert all(len(r["image_sha256"]) == 64 for r in rows if not r["error"])


@dataclass(frozen=True)
class DieOnce:
    """The measure work, except that the first process to reach ``victim`` SIGKILLs itself."""

    inner: MeasureWork
    victim: str
    marker: str
    name: str = "measure"

    @property
    def columns(self):
        return self.inner.columns

    def fingerprint(self):
        return self.inner.fingerprint()

    def setup(self):
        return self.inner.setup()

    def rows(self, state, key, image):
        if key == self.victim:
            try:
                fd = os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                pass
            else:
                os.write(fd, str(os.getpid()).encode())
                os.close(fd)
                os.kill(os.getpid(), signal.SIGKILL)
        return self.inner.rows(state, key, image)


def test_a_worker_killed_mid_partition_costs_nothing(data, client, tmp_path):
    dataset, model_path = data
    image_set = ImageSet.open(dataset)
    victim = image_set.entries[4].key  # in the middle of partition 1 (entries 3, 4, 5)
    marker = tmp_path / "killed.pid"
    work = DieOnce(work_for(model_path), victim=victim, marker=str(marker))
    run = run_partitions(work, str(dataset), tmp_path / "parts", client=client, image_set=image_set,
                         partition_size=3, retries=1)
    assert marker.exists(), "the victim image was never reached"
    dead = int(marker.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(dead, 0)  # that worker process is gone
    assert len(run.written) == 3 and all(partition_is_written(p) for p in run.paths())
    model = resolve_model(model_path, device="cpu")
    report = gather_measure(run, image_set, model, work.inner)
    images_once(report.table)
    assert sorted(set(report.table["filename"])) == sorted(e.key for e in image_set.entries
                                                           if e.key in set(report.table["filename"]))
    assert len(set(report.table["filename"])) == N_IMAGES
    assert victim in set(report.table["filename"])


def test_a_killed_run_resumes_with_only_the_missing_partitions(data, client, tmp_path):
    dataset, model_path = data
    out = tmp_path / "res.parquet"
    cmd = [sys.executable, "-m", "galaxyscope", "measure", str(dataset), "--model", str(model_path),
           "--samples", str(SAMPLES), "--no-cache", "--quiet", "--min-bar-probability", "0", "--threads", "1",
           "--device", "cpu", "--partition-size", "1", "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 180
    try:
        while not list(out.glob("part-*.parquet")):
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "no partition written in time"
            time.sleep(0.02)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the run dies at once, mid-partition
        proc.wait(timeout=60)
        proc.stderr.close()
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("part-*.parquet")}
    n_partitions = N_IMAGES + N_BROKEN
    assert 0 < len(before) < n_partitions, "the run was not killed half-way"
    assert all(p.name.startswith((".part-", "part-")) for p in out.iterdir())  # whole files or temporaries

    # the same run, now on the cluster: the partition names agree, the written ones are kept
    image_set = ImageSet.open(dataset)
    model = resolve_model(model_path, device="cpu")
    from galaxyscope.measure import BAR_METHODS

    work = work_for(model_path, methods=BAR_METHODS + ("isophote",))  # what --method all asks for
    report, run = measure_distributed(image_set, model, work, str(dataset), out, client=client, partition_size=1)
    assert sorted(p.filename for p in run.skipped) == sorted(before)
    assert sorted(p.filename for p in run.written) == sorted(
        p.filename for p in run.partitions if p.filename not in before)
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("part-*.parquet") if p.name in before} == before
    images_once(report.table)
    assert len(set(report.table["filename"])) == N_IMAGES and len(report.failures) == N_BROKEN


def test_partition_names_follow_the_work_and_the_images(data):
    dataset, model_path = data
    image_set = ImageSet.open(dataset)
    a = plan_partitions(image_set, 4, work_for(model_path).fingerprint())
    b = plan_partitions(image_set, 4, work_for(model_path, attribution="ig").fingerprint())
    assert [len(p.entries) for p in a] == [4, 4, 1]
    assert [p.keys for p in a] == [p.keys for p in b]
    assert not {p.filename for p in a} & {p.filename for p in b}  # other parameters, other files
    assert [p.filename for p in a] == [p.filename for p in plan_partitions(image_set, 4,
                                                                            work_for(model_path).fingerprint())]


def test_measure_command_on_a_running_scheduler_gathers_the_same_table(data, client, tmp_path, capsys):
    from astropy.table import Table

    from galaxyscope.cli import main

    dataset, model_path = data
    common = ["measure", str(dataset), "--model", str(model_path), "--samples", str(SAMPLES), "--no-cache",
              "--quiet", "--min-bar-probability", "0", "--threads", "1", "--device", "cpu"]
    assert main([*common, "--out", str(tmp_path / "one.ecsv")]) == 0
    out = tmp_path / "many.ecsv"
    assert main([*common, "--scheduler", client.scheduler.address, "--partition-size", "4", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "3 written, 0 already there, 3 in all" in err
    assert not (tmp_path / "many.ecsv.parts").exists()  # the table is the result; its parts are gone
    assert_tables_equal(Table.read(tmp_path / "one.ecsv"), Table.read(out))
