"""`galaxyscope scan-bias` on Dask distributed (issue 18): a LocalCluster of 2 processes, 1 thread each.

Shown here: a scored image survives its trip through a Parquet row unchanged (scores,
grid, model output); ``--workers 2`` / ``--scheduler`` give the same flags, scores and
reasons as one process (same seeds); a rerun skips the partitions already written, also after
the command was SIGKILLed with its cluster; a bad image is a reported row, not a failed run. Tiny model (32 px input), tiny images, few
SmoothGrad samples; no timings.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from astropy.table import Table

from galaxyscope.bias.scan import ScoredImage, score_dataset
from galaxyscope.bias.score_work import ScoreWork, gather_scores, scored_from_row, scored_to_row
from galaxyscope.bias.scores import PlacementScores
from galaxyscope.cli import main
from galaxyscope.images.imageset import ImageSet
from galaxyscope.jobs.common import resolve_model
from galaxyscope.jobs.distributed import (
    compute_partition,
    plan_partitions,
    read_partitions,
    run_partitions,
)
from test_bias_scan import tiny_checkpoint
from test_bias_testdata import write_scene_dataset
from test_distributed import client  # noqa: F401 - the same 2-process LocalCluster fixture

N_IMAGES, N_BROKEN, SAMPLES = 8, 1, 2


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("scan-distributed")
    dataset = write_scene_dataset(root / "set", n=N_IMAGES, n_broken=N_BROKEN)
    return dataset, tiny_checkpoint(root / "m.safetensors")


@pytest.fixture
def torch_threads_kept():
    """The CLI runs in this process with --threads 1: give the tests after it their threads back."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def scan_args(dataset: Path, model: Path, out: Path, *extra: str) -> list[str]:
    return ["scan-bias", str(dataset), "--model", str(model), "--samples", str(SAMPLES), "--no-cache", "--quiet",
            "--threads", "1", "--device", "cpu", "--out", str(out), *extra]


def assert_scans_equal(a: Table, b: Table) -> None:
    """Same rows, flags, scores, reasons and numbers; same meta but the scan's own id."""
    assert a.colnames == b.colnames and len(a) == len(b)
    for name in a.colnames:
        x, y = np.asarray(a[name]), np.asarray(b[name])
        if x.dtype.kind == "f":
            assert np.array_equal(x, y, equal_nan=True), name
        else:
            assert (x == y).all(), name
    ma, mb = dict(a.meta), dict(b.meta)
    assert ma.pop("scan_id") != mb.pop("scan_id")
    assert ma == mb


def assert_same_scores(a: PlacementScores, b: PlacementScores) -> None:
    """Field by field, NaN equal to NaN (dataclass equality says nan != nan)."""
    ra, rb = a.to_row(), b.to_row()
    assert list(ra) == list(rb)
    for k in ra:
        assert type(ra[k]) is type(rb[k]), k
        assert ra[k] == rb[k] or (math.isnan(ra[k]) and math.isnan(rb[k])), (k, ra[k], rb[k])


# ----------------------------------------------------------------------------- rows


def test_a_scored_image_round_trips_through_its_row(data):
    dataset, model_path = data
    model = resolve_model(model_path, device="cpu")
    scored, failures = score_dataset(ImageSet.open(dataset), model, n_samples=SAMPLES,
                                     labels_by_col={"has_bar": np.arange(N_IMAGES + N_BROKEN) % 2})
    assert len(scored) == N_IMAGES and len(failures) == N_BROKEN
    for s in scored[:3]:
        back = scored_from_row(scored_to_row(s), s.index, s.labels)
        assert isinstance(back, ScoredImage)
        assert back.grid.dtype == s.grid.dtype and np.array_equal(back.grid, s.grid)
        assert (back.index, back.filename, back.path, back.labels) == (s.index, s.filename, s.path, s.labels)
        assert back.probability == s.probability and back.logit == s.logit
        assert_same_scores(back.scores, s.scores)


# ----------------------------------------------------------------------------- on the cluster


def test_scan_on_the_cluster_gives_the_single_process_scores(data, client, tmp_path, torch_threads_kept):
    """The runner with ScoreWork, gathered: the very ScoredImages score_dataset gives (one thread each)."""
    dataset, model_path = data
    model = resolve_model(model_path, device="cpu")
    image_set = ImageSet.open(dataset)
    labels = {"has_bar": np.asarray(image_set.column("has_bar")).astype(int)}
    torch.set_num_threads(1)  # as each worker: same float sums
    single, single_failures = score_dataset(image_set, model, n_samples=SAMPLES, labels_by_col=labels)
    work = ScoreWork(model_path=str(model_path), model_sha256=model.sha256, n_samples=SAMPLES, device="cpu",
                     use_cache=False)
    run = run_partitions(work, str(dataset), tmp_path / "parts", client=client, image_set=image_set,
                         partition_size=4)
    assert len(run.partitions) == 3 and len(run.written) == 3
    rows = read_partitions(run.paths()).to_pylist()
    assert len(rows) == N_IMAGES + N_BROKEN  # every image exactly once, the bad one as its error row
    assert all(len(r["image_sha256"]) == 64 for r in rows if not r["error"])
    scored, failures = gather_scores(rows, image_set, run.partitions, labels)
    assert [str(f) for f in failures] == [str(f) for f in single_failures]
    assert [s.index for s in scored] == [s.index for s in single]
    for a, b in zip(single, scored):
        assert (a.filename, a.path, a.labels, a.probability, a.logit) == (b.filename, b.path, b.labels,
                                                                          b.probability, b.logit)
        assert_same_scores(a.scores, b.scores)
        assert a.grid.dtype == b.grid.dtype and np.array_equal(a.grid, b.grid)


def test_scan_bias_with_workers_writes_the_single_process_table(data, tmp_path, capsys, torch_threads_kept):
    """--workers 2 (a LocalCluster of the command's own): the same table, flags and printed summary."""
    dataset, model_path = data
    fixed = ("--thresholds", "fixed", "--outside-share", "0.01")  # a random net's diffuse maps flag
    assert main(scan_args(dataset, model_path, tmp_path / "one.ecsv", *fixed)) == 0
    one_out = capsys.readouterr().out
    out = tmp_path / "many.ecsv"
    assert main(scan_args(dataset, model_path, out, *fixed, "--workers", "2", "--partition-size", "3")) == 0
    cap = capsys.readouterr()
    assert "3 written, 0 already there, 3 in all" in cap.err
    assert "skipped:" in cap.err and "broken_0.png" in cap.err  # the bad image is reported, the run goes on
    assert not Path(str(out) + ".parts").exists()  # the table is the result; its parts are gone
    one, many = Table.read(tmp_path / "one.ecsv"), Table.read(out)
    assert_scans_equal(one, many)
    assert len(many) == N_IMAGES and many["flagged"].any() and any(str(r) for r in many["reasons"])
    # the printed thresholds, notes and summary are the same too
    assert one_out.replace("one.ecsv", "X") == cap.out.replace("many.ecsv", "X")


def test_scan_bias_reference_mode_on_a_scheduler(data, client, tmp_path, capsys, torch_threads_kept):
    """Reference thresholds and the recurring-spot rule (each image's off-galaxy grid) from the
    workers' rows: the same table as one process."""
    dataset, model_path = data
    reference = write_scene_dataset(tmp_path / "ref", n=6, seed=7)
    ref = ("--thresholds", "reference", "--reference", str(reference))
    assert main(scan_args(dataset, model_path, tmp_path / "one.ecsv", *ref)) == 0
    one_out = capsys.readouterr().out
    out = tmp_path / "many.ecsv"
    assert main(scan_args(dataset, model_path, out, *ref, "--scheduler", client.scheduler.address)) == 0
    cap = capsys.readouterr()
    assert "1 written, 0 already there, 1 in all" in cap.err
    assert_scans_equal(Table.read(tmp_path / "one.ecsv"), Table.read(out))
    assert one_out.replace("one.ecsv", "X") == cap.out.replace("many.ecsv", "X")


def test_scan_bias_rerun_skips_the_partitions_already_written(data, client, tmp_path, capsys,
                                                                torch_threads_kept):
    """A run that died after two of its three partitions: the same command (on a running scheduler)
    computes only the third and gives the full table."""
    dataset, model_path = data
    thresholds = ("--thresholds", "scan")
    assert main(scan_args(dataset, model_path, tmp_path / "one.ecsv", *thresholds)) == 0
    capsys.readouterr()
    out = tmp_path / "resumed.ecsv"
    folder = Path(str(out) + ".parts")
    model = resolve_model(model_path, device="cpu")
    # what the command plans (device, threads and caches are not part of the names)
    work = ScoreWork(model_path=str(model_path.resolve()), model_sha256=model.sha256, n_samples=SAMPLES,
                     device="cpu", use_cache=False)
    image_set = ImageSet.open(dataset)
    parts = plan_partitions(image_set, 3, work.fingerprint())
    assert len(parts) == 3
    torch.set_num_threads(1)
    for p in (parts[0], parts[2]):
        compute_partition(work, str(dataset.resolve()), p, str(folder))
    before = {p.name: p.stat().st_mtime_ns for p in folder.glob("part-*.parquet")}
    assert len(before) == 2
    assert main(scan_args(dataset, model_path, out, *thresholds, "--scheduler", client.scheduler.address,
                          "--partition-size", "3")) == 0
    cap = capsys.readouterr()
    assert "1 written, 2 already there, 3 in all" in cap.err, cap.err
    assert_scans_equal(Table.read(tmp_path / "one.ecsv"), Table.read(out))


def test_selftest_refuses_a_cluster(tmp_path, capsys):
    rc = main(["scan-bias", "--selftest", "--workers", "2"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "--selftest runs in this process" in err


def test_a_killed_scan_resumes_with_only_the_missing_partitions(data, client, tmp_path, capsys,
                                                                  torch_threads_kept):
    """scan-bias --workers 1 SIGKILLed (with its cluster) once a partition is on disk: the same
    command on a running scheduler keeps the written partitions and computes the rest."""
    import os
    import signal
    import subprocess
    import sys
    import time

    dataset, model_path = data
    out = tmp_path / "killed.ecsv"
    folder = Path(str(out) + ".parts")
    cmd = [sys.executable, "-m", "galaxyscope", *scan_args(dataset, model_path, out, "--thresholds", "scan"),
           "--workers", "1", "--partition-size", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 180
    try:
        while not list(folder.glob("part-*.parquet")):
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "no partition written in time"
            time.sleep(0.02)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the command and its LocalCluster die at once
        proc.wait(timeout=60)
        proc.stderr.close()
    before = sorted(p.name for p in folder.glob("part-*.parquet"))
    n_partitions = N_IMAGES + N_BROKEN
    assert 0 < len(before) < n_partitions, "the run was not killed half-way"
    assert not out.exists()
    assert main(scan_args(dataset, model_path, out, "--thresholds", "scan", "--scheduler",
                          client.scheduler.address, "--partition-size", "1")) == 0
    cap = capsys.readouterr()
    assert (f"{n_partitions - len(before)} written, {len(before)} already there, {n_partitions} in all"
            in cap.err), cap.err
    assert main(scan_args(dataset, model_path, tmp_path / "one.ecsv", "--thresholds", "scan")) == 0
    assert_scans_equal(Table.read(tmp_path / "one.ecsv"), Table.read(out))
