"""Sanity check (cascading randomisation): layers top-down, maps change for a trained model, the
caller's model is untouched, the run is deterministic, the verdict, and the CLI."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from astropy.table import Table

from galaxyscope.bias.sanity import (
    cascading_randomisation,
    map_similarity,
    randomisable_layers,
    sanity_check_dataset,
)
from galaxyscope.errors import CancelledError, GalaxyscopeError
from galaxyscope.images.imageset import ImageSet
from galaxyscope.model.checkpoint import save_checkpoint
from galaxyscope.model.networks import build_network
from galaxyscope.model.preprocess import Preprocessing
from galaxyscope.model.training import train_model
from model_testdata import write_bar_dataset
from test_bias_scan import cli


@pytest.fixture(autouse=True)
def one_thread(one_torch_thread):
    """Every test here runs torch on one thread (fixture in conftest.py)."""


@pytest.fixture(scope="module")
def bars(tmp_path_factory):
    return write_bar_dataset(tmp_path_factory.mktemp("bars"), n=24, size=48, seed=3, n_broken=1)


@pytest.fixture(scope="module")
def trained(bars):
    torch.set_num_threads(1)
    return train_model(bars, ["has_bar"], arch_kwargs={"widths": [8, 16, 16]}, epochs=3, batch_size=8,
                       lr=3e-3, preprocessing=Preprocessing(input_size=32, crop_fraction=0.75), seed=0).model


def test_layers_run_from_the_output_down_with_batch_norm_grouped():
    net = build_network("small", 1, 3, widths=(4, 8))
    groups = randomisable_layers(net)
    assert [name for name, _ in groups] == ["head", "features.4", "features.0"]
    assert [type(m).__name__ for m in groups[1][1]] == ["Conv2d", "BatchNorm2d"]


def test_randomising_all_layers_changes_the_maps(trained, bars):
    s = ImageSet.open(bars)
    images = [s[i] for i in range(4)]
    before = {k: v.clone() for k, v in trained.net.state_dict().items()}
    report = cascading_randomisation(trained, images, n_samples=4, seed=1)
    # the caller's model is untouched
    after = trained.net.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert len(report.steps) == 1 + len(report.layers) == 5
    first, last = report.steps[0], report.steps[-1]
    assert first.spearman == pytest.approx(1.0) and first.ssim == pytest.approx(1.0)  # reproducible maps
    assert last.spearman < 0.8 and last.spearman < first.spearman - 0.2
    assert last.ssim < first.ssim
    assert last.randomised == tuple(report.layers)
    assert [s.layer for s in report.steps[1:]] == report.layers
    assert report.trusted and report.verdict.startswith("passes")
    # deterministic
    again = cascading_randomisation(trained, images, n_samples=4, seed=1)
    assert [s.spearman for s in again.steps] == [s.spearman for s in report.steps]
    t = report.table()
    assert list(t.colnames) == ["step", "layer", "n_random", "spearman", "spearman_std", "ssim", "ssim_std"]
    assert len(t) == 5 and "NOT" not in report.text()


def test_maps_that_stay_correlated_are_not_trusted(trained, bars):
    # with the limit below every possible correlation, the maps count as unchanged: the verdict turns
    s = ImageSet.open(bars)
    report = cascading_randomisation(trained, [s[0], s[1]], n_samples=2, spearman_limit=-1.0)
    assert not report.trusted and report.verdict.startswith("NOT TO BE TRUSTED")


def test_map_similarity_edge_cases():
    rng = np.random.default_rng(0)
    a = rng.random((16, 16))
    assert map_similarity(a, a) == pytest.approx((1.0, 1.0))
    assert map_similarity(a, 1 - a)[0] == pytest.approx(-1.0)
    assert map_similarity(a, np.zeros_like(a))[0] == 0.0


def test_dataset_draw_skips_broken_files_and_cancel(trained, bars):
    s = ImageSet.open(bars)
    report = sanity_check_dataset(s, trained, n_images=25, n_samples=1)
    assert len(report.images) == 24 and len(report.failures) == 1
    with pytest.raises(CancelledError):
        cascading_randomisation(trained, [s[0]], n_samples=1, cancel=lambda: True)
    with pytest.raises(GalaxyscopeError):
        cascading_randomisation(trained, [], n_samples=1)


def test_cli_prints_steps_and_verdict(trained, bars, tmp_path, capsys):
    save_checkpoint(trained, tmp_path / "m.safetensors")
    rc = cli(["sanity", str(bars), "--model", str(tmp_path / "m.safetensors"), "--n-images", "2",
              "--samples", "2", "--quiet", "--out", str(tmp_path / "s.ecsv")])
    out = capsys.readouterr().out
    assert rc == 0
    assert "cascading randomisation over 2 image(s), 4 layers" in out
    assert "head" in out and ("passes" in out or "NOT TO BE TRUSTED" in out)
    assert len(Table.read(tmp_path / "s.ecsv")) == 5
    rc = cli(["sanity", str(bars), "--model", str(tmp_path / "missing.safetensors")])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "missing.safetensors" in err
    with pytest.raises(SystemExit) as exc:
        cli(["sanity", "--help"])
    assert exc.value.code == 0 and "--n-images" in capsys.readouterr().out
