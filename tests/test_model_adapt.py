"""Domain adaptation: gradient reversal, CORAL, MMD, and DANN training with real images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from galaxyscope.model.adapt import (AdaptConfig, DomainAdapter, coral_loss, dann_strength, grad_reverse,
                                     mmd_loss)
from galaxyscope.model.checkpoint import load_checkpoint, save_checkpoint
from galaxyscope.model.networks import build_network, logits_and_features
from galaxyscope.model.preprocess import Preprocessing
from galaxyscope.model.real_images import load_real_folder, real_preprocessing
from galaxyscope.model.realdata import RealDataConfig, load_real_data
from galaxyscope.model.training import train_model
from galaxyscope.model.trainset import TrainingDataError
from model_testdata import draw_galaxy, write_bar_dataset

PRE = Preprocessing(input_size=32, crop_fraction=0.75)
FAST = dict(preprocessing=PRE, batch_size=8, lr=3e-3, epochs=2, patience=5, seed=0, device="cpu")


@pytest.fixture(autouse=True)
def one_thread(one_torch_thread):
    """Every test here runs torch on one thread (fixture in conftest.py)."""


def write_real_folder(root: Path, n: int = 10, size: int = 64, seed: int = 1, broken: int = 0) -> Path:
    """A folder of real-looking JPEGs (grey-ish, bigger frame) without labels."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        rgb = draw_galaxy(rng, size, 6.0 if i % 2 else 0.0)
        Image.fromarray(rgb).save(root / f"real_{i:02d}.jpg", quality=80)
    for j in range(broken):
        (root / f"broken_{j}.jpg").write_bytes(b"not a jpeg")
    return root


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    return write_bar_dataset(tmp_path_factory.mktemp("synth"), n=24, size=48, seed=0)


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    return write_real_folder(tmp_path_factory.mktemp("real") / "unlab", broken=1)


def test_gradient_reversal_flips_the_gradient_sign():
    x = torch.randn(5, 3, requires_grad=True)
    (grad_reverse(x, 0.7) * torch.arange(3.0)).sum().backward()
    assert torch.allclose(x.grad, -0.7 * torch.arange(3.0).expand(5, 3))
    assert torch.equal(grad_reverse(x, 0.7), x)  # the forward pass is the identity
    assert dann_strength(0.0) == 0.0 and dann_strength(1.0) == pytest.approx(1.0, abs=1e-4)
    assert 0 < dann_strength(0.1) < dann_strength(0.5) < 1


def test_coral_and_mmd_are_zero_for_equal_sets_and_positive_otherwise():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(64, 8, generator=g)
    assert float(coral_loss(a, a)) == pytest.approx(0.0, abs=1e-9)
    assert float(coral_loss(a, 3.0 * torch.randn(64, 8, generator=g))) > 0.01
    assert float(coral_loss(a, a + 5.0)) == pytest.approx(0.0, abs=1e-6)  # CORAL sees covariance, not means
    assert float(mmd_loss(a, a)) == pytest.approx(0.0, abs=1e-6)
    assert float(mmd_loss(a, a + 2.0)) > 0.05


def test_coral_gradient_pulls_covariances_together():
    g = torch.Generator().manual_seed(1)
    src = torch.randn(50, 4, generator=g)
    tgt = (2.5 * torch.randn(50, 4, generator=g)).requires_grad_(True)
    before = float(coral_loss(src, tgt.detach()))
    coral_loss(src, tgt).backward()
    with torch.no_grad():
        after = float(coral_loss(src, tgt - 0.5 * tgt.grad / tgt.grad.abs().max()))
    assert after < before


def test_dann_head_is_trained_by_the_optimiser_and_reported():
    ad = DomainAdapter(AdaptConfig("dann", weight=0.5), n_features=6)
    assert len(ad.parameters()) == 4  # two linear layers
    feats = torch.randn(8, 6, requires_grad=True)
    loss = ad.loss(feats, 4, progress=1.0)
    loss.backward()
    assert feats.grad is not None and all(p.grad is not None for p in ad.parameters())
    s = ad.epoch_summary()
    assert set(s) == {"loss", "domain_accuracy", "strength"} and ad.epoch_summary() is None
    assert DomainAdapter(AdaptConfig("coral"), 6).parameters() == []
    with pytest.raises(ValueError, match="dann, coral, mmd"):
        AdaptConfig("wasserstein")


def test_features_are_what_the_head_reads():
    net = build_network("small", 3).eval()
    x = torch.rand(2, 3, 32, 32)
    out, f = logits_and_features(net, x)
    assert f.shape == (2, 128) and torch.allclose(out, net(x))
    ev = build_network("evidence", 2).eval()
    out, f = logits_and_features(ev, x)
    assert f.shape == (2, 64) and torch.allclose(out, ev(x))


def test_real_folder_is_galaxy_framed_and_skips_bad_files(real):
    pre = real_preprocessing(PRE, 3.0)
    imgs = load_real_folder(real, pre)
    assert len(imgs) == 10 and imgs.n_listed == 11
    assert len(imgs.skipped) == 1 and "broken_0.jpg" in imgs.skipped[0]
    assert imgs.images.shape == (10, 3, 32, 32) and imgs.images.dtype == torch.uint8
    fixed = load_real_folder(real, PRE)  # the fixed crop shows another part of the frame
    assert not torch.equal(fixed.images, imgs.images)
    sample = load_real_folder(real, pre, max_images=4, seed=3)
    assert sample.n_sampled == 4 and len(sample) + len(sample.skipped) == 4  # sampled, then read
    assert sample.keys == load_real_folder(real, pre, max_images=4, seed=3).keys
    assert sample.keys != load_real_folder(real, pre, max_images=4, seed=4).keys


def test_empty_folder_is_refused_with_its_name(tmp_path):
    empty = tmp_path / "nothing_here"
    empty.mkdir()
    (empty / "readme.txt").write_text("no images")
    with pytest.raises(TrainingDataError, match="nothing_here: no images found"):
        load_real_folder(empty, PRE)
    with pytest.raises(TrainingDataError, match="needs real images"):
        RealDataConfig(adapt=AdaptConfig("dann"))


@pytest.mark.parametrize("method", ["dann", "coral"])
def test_adaptation_training_runs_and_records_the_domain_metrics(synth, real, method, tmp_path):
    cfg = RealDataConfig(unlabelled=[str(real)], adapt=AdaptConfig(method, 0.5), frame_r90=3.0)
    result = train_model(synth, ["has_bar"], real=cfg, **FAST)
    rec = result.model.meta.metrics["real"]
    assert rec["adapt"]["method"] == method and rec["n_unlabelled"] == 10
    assert rec["unlabelled"][0]["n_skipped"] == 1 and rec["framing"]["frame_r90"] == 3.0
    hist = rec["adapt"]["history"]
    assert len(hist) == len(result.history) and all(np.isfinite(h["loss"]) for h in hist)
    if method == "dann":
        assert 0 <= hist[-1]["domain_accuracy"] <= 1 and hist[-1]["strength"] > hist[0]["strength"]
        assert "domain accuracy" in result.history[0].describe(2)
    assert "10 unlabelled" in result.summary()
    # the domain head is not part of the model; the model frames real images as they were read
    meta = result.model.meta
    assert meta.output_names == ["has_bar"]
    assert meta.preprocessing.framing == "galaxy" and meta.preprocessing.frame_r90 == 3.0
    out = tmp_path / "m.safetensors"
    save_checkpoint(result.model, out)
    loaded = load_checkpoint(out, device="cpu")
    assert set(loaded.net.state_dict()) == set(build_network("small", 1).state_dict())


def test_adaptation_changes_training_and_is_seeded(synth, real):
    cfg = RealDataConfig(unlabelled=[str(real)], adapt=AdaptConfig("dann", 1.0))
    data = load_real_data(cfg, PRE, seed=0)
    a = train_model(synth, ["has_bar"], real=data, **FAST)
    b = train_model(synth, ["has_bar"], real=data, **FAST)
    plain = train_model(synth, ["has_bar"], **FAST)
    wa = a.model.net.state_dict()["head.weight"]
    assert torch.equal(wa, b.model.net.state_dict()["head.weight"])
    assert not torch.equal(wa, plain.model.net.state_dict()["head.weight"])
    assert plain.model.meta.metrics["real"] is None
