"""Batch plumbing without a cluster (issue 18): threads, Parquet outputs in one process,
`galaxyscope saliency` filling the window's cache, Captum loaded without its package init."""

from __future__ import annotations

import argparse
import subprocess
import sys

import numpy as np
import pyarrow.parquet as pq
import pytest
from astropy.table import Table

from galaxyscope.cli import main
from galaxyscope.errors import GalaxyscopeError
from galaxyscope.jobs.cluster_args import available_cores, cluster_options, default_threads
from model_testdata import write_bar_dataset
from test_distributed import tiny_model

COMMON = ["--samples", "3", "--no-cache", "--quiet", "--min-bar-probability", "0", "--threads", "1"]


def ns(**kw) -> argparse.Namespace:
    base = dict(threads=None, workers=None, scheduler=None, partition_size=16)
    base.update(kw)
    return argparse.Namespace(**base)


def test_threads_default_to_the_idle_cores_in_one_process_and_one_per_worker(monkeypatch):
    import os

    monkeypatch.setattr(os, "getloadavg", lambda: (0.2, 0.0, 0.0))
    assert default_threads() == available_cores() >= 1  # an idle machine: every core
    monkeypatch.setattr(os, "getloadavg", lambda: (available_cores() + 4.0, 0.0, 0.0))
    assert default_threads() == 1  # a busy one: never fewer than one, never more than it can give
    assert default_threads(workers=4) == 1
    assert 1 <= cluster_options(ns()).threads <= available_cores() and not cluster_options(ns()).distributed
    opts = cluster_options(ns(workers=2))
    assert opts.distributed and opts.threads == 1
    assert cluster_options(ns(workers=2, threads=3)).threads == 3
    assert cluster_options(ns(scheduler="tcp://127.0.0.1:1")).distributed


@pytest.mark.parametrize("bad", [dict(workers=0), dict(threads=0), dict(partition_size=0)])
def test_bad_batch_options_are_one_clear_error(bad):
    with pytest.raises(GalaxyscopeError, match="must be at least 1"):
        cluster_options(ns(**bad))


def test_parquet_output_in_one_process_matches_the_table_and_resumes(tmp_path, capsys):
    data = write_bar_dataset(tmp_path / "set", n=4, size=48, seed=2, n_broken=1)
    model = tiny_model(tmp_path / "m.safetensors")
    table_out, parquet_out = tmp_path / "r.ecsv", tmp_path / "r.parquet"
    assert main(["measure", str(data), "--model", str(model), *COMMON, "--out", str(table_out)]) == 0
    assert main(["measure", str(data), "--model", str(model), *COMMON, "--partition-size", "2",
                 "--out", str(parquet_out)]) == 0
    assert "3 written, 0 already there" in capsys.readouterr().err
    files = sorted(parquet_out.glob("part-*.parquet"))
    assert len(files) == 3
    rows = pq.read_table(parquet_out).to_pylist()  # the folder reads as one dataset
    ok = [r for r in rows if not r["error"]]
    errors = [r for r in rows if r["error"]]
    assert len(errors) == 1 and errors[0]["error_path"]  # the broken catalogue row: a row, not a failure
    single = Table.read(table_out, format="ascii.ecsv")
    assert [(r["filename"], r["method"]) for r in ok] == list(zip(single["filename"], single["method"]))
    assert np.array_equal([r["bar_length_px"] for r in ok], np.asarray(single["bar_length_px"]), equal_nan=True)
    # rerun: nothing recomputed, files untouched
    stamps = [f.stat().st_mtime_ns for f in files]
    assert main(["measure", str(data), "--model", str(model), *COMMON, "--partition-size", "2",
                 "--out", str(parquet_out)]) == 0
    assert "0 written, 3 already there" in capsys.readouterr().err
    assert [f.stat().st_mtime_ns for f in files] == stamps


def test_saliency_command_fills_the_cache_the_window_reads(tmp_path, capsys, monkeypatch):
    from galaxyscope.images.imageset import ImageSet
    from galaxyscope.jobs.common import resolve_model
    from galaxyscope.saliency.cache import SaliencyCache

    data = write_bar_dataset(tmp_path / "set", n=3, size=48, seed=4, n_broken=1)
    model_path = tiny_model(tmp_path / "m.safetensors")
    monkeypatch.setenv("GALAXYSCOPE_CACHE", str(tmp_path / "cache"))
    rc = main(["saliency", str(data), "--model", str(model_path), "--samples", "4", "--threads", "1", "--quiet"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    assert "3 of 4 maps" in out.out and "skipped" in out.err  # the broken file is reported
    # the window's request (its default cache, the same parameters) is a hit
    cache, model = SaliencyCache(), resolve_model(model_path, device="cpu")
    image_set = ImageSet.open(data)
    for _, image in image_set.iter_images():
        hit = cache.get(cache.key(model, image, "smoothgrad", n_samples=4, noise=0.1))
        assert hit is not None and hit.map.shape == (image.height, image.width)
    # a rerun finds every partition written
    assert main(["saliency", str(data), "--model", str(model_path), "--samples", "4", "--threads", "1",
                 "--quiet"]) == 0
    assert "0 computed, 1 already there" in capsys.readouterr().err


def test_saliency_command_refuses_an_unknown_target(tmp_path, capsys):
    data = write_bar_dataset(tmp_path / "set", n=1, size=48, seed=4)
    model_path = tiny_model(tmp_path / "m.safetensors")
    rc = main(["saliency", str(data), "--model", str(model_path), "--target", "nope", "--out",
               str(tmp_path / "c"), "--quiet"])
    assert rc == 2 and "nope" in capsys.readouterr().err


def test_captum_classes_load_without_captum_package_init():
    """The classes come from their own modules: Captum's __init__ (LLM attribution,
    visualisation) never runs, and a later public import still works and agrees."""
    code = (
        "import sys\n"
        "from galaxyscope.saliency.attributions import captum_class, CAPTUM_HOMES\n"
        "cls = {n: captum_class(n) for n in CAPTUM_HOMES}\n"
        "print(sorted(m for m in sys.modules if m.startswith('captum')))\n"
        "import captum.attr\n"
        "print(all(getattr(captum.attr, n).__qualname__ == c.__qualname__ for n, c in cls.items()))\n"
        "print('captum.attr._core.llm_attr' in sys.modules)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    loaded, agree, public_loaded = res.stdout.strip().splitlines()
    assert loaded == "[]"  # nothing of Captum left behind: a later import runs its real initialisers
    assert agree == "True" and public_loaded == "True"


def test_smoothgrad_is_the_same_through_either_captum_import():
    import torch

    from galaxyscope.saliency import attributions

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 2, 3), torch.nn.Flatten(), torch.nn.LazyLinear(1))
    x = torch.rand(1, 3, 16, 16)
    net(x)
    a = attributions.smoothgrad_attribution(net, x.clone().requires_grad_(True), 0, n_samples=4, stdev=0.1,
                                            chunk=2, seed=0)
    from captum.attr import NoiseTunnel, Saliency

    with attributions._seeded(0, x.device):
        b = NoiseTunnel(Saliency(net)).attribute(x.clone().requires_grad_(True), nt_type="smoothgrad",
                                                 nt_samples=4, nt_samples_batch_size=2, stdevs=0.1, abs=True,
                                                 target=0)
    assert torch.allclose(a, b, atol=1e-6)


def test_an_unreachable_scheduler_is_one_clear_error():
    from galaxyscope.jobs.distributed import dask_client

    with pytest.raises(GalaxyscopeError, match="--scheduler tcp://127.0.0.1:1: cannot connect"):
        with dask_client(scheduler="tcp://127.0.0.1:1", timeout_s=3):
            pass
