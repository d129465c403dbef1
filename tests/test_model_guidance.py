"""Saliency guidance with bar masks: masks follow the image, the penalty measures and trains the gradient."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from galaxyscope.cli import main as cli_main
from galaxyscope.images.imageset import ImageSet
from galaxyscope.model.augment import AugmentConfig, augment_batch, augment_with_masks
from galaxyscope.model.checkpoint import load_checkpoint
from galaxyscope.model.guidance import (GuidanceConfig, dilate, guidance_penalty, mask_to_model,
                                        match_distance, outside_share)
from galaxyscope.model.networks import build_network
from galaxyscope.model.preprocess import Preprocessing
from galaxyscope.model.training import train_model
from galaxyscope.model.trainset import TrainingDataError, load_training_data
from model_testdata import write_bar_dataset

PRE = Preprocessing(input_size=32, crop_fraction=0.75)


@pytest.fixture(autouse=True)
def one_thread(one_torch_thread):
    """Every test here runs torch on one thread (fixture in conftest.py)."""


@pytest.fixture(scope="module")
def masked_bars(tmp_path_factory):
    return write_bar_dataset(tmp_path_factory.mktemp("masked"), n=64, size=48, seed=3, masks=True)


def test_mask_gets_the_images_crop_and_resize():
    mask = np.zeros((100, 100), np.uint8)
    mask[45:55, 30:70] = 255  # a horizontal bar, 40 px long, at the centre
    m = mask_to_model(mask, Preprocessing(input_size=25, crop_fraction=0.5)).numpy()
    assert m.shape == (25, 25) and 0 <= m.min() and m.max() <= 1
    # crop = columns 25..74, halved: the bar's columns 30..69 become 2.5..22.5 in model pixels
    cols = np.flatnonzero(m.max(axis=0) > 0.6)
    rows = np.flatnonzero(m.max(axis=1) > 0.6)
    assert cols.min() == 3 and cols.max() == 21
    assert m[12, 2] == pytest.approx(0.5, abs=0.05) and m[12, 22] == pytest.approx(0.5, abs=0.05)
    assert rows.min() >= 10 and rows.max() <= 14


def test_outside_share_and_dilation():
    masks = torch.zeros(2, 1, 8, 8)
    masks[:, :, 3:5, 2:6] = 1
    inside = torch.zeros(2, 3, 8, 8)
    inside[:, :, 3:5, 2:6] = torch.randn(2, 3, 2, 4)
    outside = torch.randn(2, 3, 8, 8) * (1 - masks)
    assert torch.allclose(outside_share(inside, masks), torch.zeros(2))
    assert torch.allclose(outside_share(outside, masks), torch.ones(2))
    grown = dilate(masks, 1)
    assert grown.sum() > masks.sum() and bool(((grown - masks) >= 0).all())
    assert int(grown[0, 0].sum()) == 4 * 6


def test_match_distance_wants_the_whole_bar():
    masks = torch.zeros(1, 1, 16, 16)
    masks[:, :, 7:9, 2:14] = 1
    even = masks.repeat(1, 3, 1, 1) * 0.3
    centre_only = torch.zeros(1, 3, 16, 16)
    centre_only[:, :, 7:9, 7:9] = 1.0  # inside the mask, but only its middle
    off = torch.zeros(1, 3, 16, 16)
    off[:, :, 0:3, 0:3] = 1.0
    assert float(match_distance(even, masks, blur_px=0)) == pytest.approx(0.0, abs=1e-6)
    assert float(outside_share(centre_only, masks)) == pytest.approx(0.0, abs=1e-6)  # "outside" is fooled
    assert float(match_distance(centre_only, masks, blur_px=0)) > 0.8  # "match" is not
    assert float(match_distance(off, masks, blur_px=0)) == pytest.approx(1.0, abs=1e-6)
    assert float(match_distance(even, masks, blur_px=1.0)) == pytest.approx(0.0, abs=1e-6)
    assert float(match_distance(centre_only, masks, blur_px=1.0)) > 0.5
    with pytest.raises(ValueError, match="guidance kind"):
        GuidanceConfig(kind="inside")


def test_masks_move_with_the_image_and_draws_are_unchanged():
    x = torch.rand(4, 3, 24, 24)
    m = torch.zeros(4, 1, 24, 24)
    m[:, :, 10:14, 5:19] = 1.0
    x[:, 0:1] = m  # channel 0 is the mask itself
    cfg = AugmentConfig(brightness=0.0, contrast=0.0, max_shift=0.0)
    xa, ma = augment_with_masks(x, m, torch.Generator().manual_seed(7), cfg)
    assert torch.allclose(xa[:, 0:1], ma, atol=1e-5)
    assert not torch.allclose(ma, m)  # something moved (rotations, flips)
    # the same generator gives augment_batch the same images as before
    full = AugmentConfig()
    a = augment_batch(x, torch.Generator().manual_seed(3), full)
    b, _ = augment_with_masks(x, m, torch.Generator().manual_seed(3), full)
    assert torch.equal(a, b)


def test_penalty_is_zero_without_bars_and_trains_the_gradient():
    torch.manual_seed(0)
    net = build_network("small", 2, 3, widths=(4, 8), dropout=0.0)
    x = torch.rand(3, 3, 16, 16)
    cfg = GuidanceConfig(weight=1.0, noise=0.0, dilate_px=0, kind="outside")
    empty = torch.zeros(3, 1, 16, 16)
    assert float(guidance_penalty(net, x, empty, 0, cfg)) == 0.0
    m = torch.zeros(3, 1, 16, 16)
    m[:2, :, 6:10, 4:12] = 1.0
    p = guidance_penalty(net, x, m, 0, cfg)
    assert 0.5 < float(p.detach()) < 1.0  # an untrained net's gradient is mostly outside a small mask
    p.backward()
    grads = [q.grad for q in net.parameters() if q.grad is not None]
    assert grads and any(float(g.abs().sum()) > 0 for g in grads)
    assert net.training  # the penalty's eval-mode pass restores the mode


def test_masks_are_loaded_row_aligned(masked_bars):
    data = load_training_data(masked_bars, ["has_bar"], preprocessing=PRE, mask_column="bar_mask")
    assert data.masks is not None and data.masks.shape == (len(data), 1, 32, 32)
    has_mask = data.masks.flatten(1).amax(1) > 127
    assert torch.equal(has_mask, torch.from_numpy(data.targets[:, 0] == 1))
    # the mask sits on the bright bar: the masked pixels are brighter than the rest
    barred = np.flatnonzero(data.targets[:, 0] == 1)
    img = data.as_float(torch.as_tensor(barred)).mean(1, keepdim=True)
    msk = data.masks[barred].float() / 255 > 0.5
    assert float(img[msk].mean()) > float(img[~msk].mean()) + 0.2


def test_missing_mask_column_and_file(masked_bars, tmp_path):
    with pytest.raises(TrainingDataError, match="no mask column 'bar_outline'"):
        load_training_data(masked_bars, ["has_bar"], preprocessing=PRE, mask_column="bar_outline")
    root = write_bar_dataset(tmp_path / "broken", n=6, size=40, seed=1, masks=True)
    victim = sorted((root / "masks").glob("*.png"))[0]
    victim.write_bytes(b"not a png")
    data = load_training_data(root, ["has_bar"], preprocessing=PRE, mask_column="bar_mask")
    assert len(data) == 5
    assert any(victim.name in s and "bar mask unreadable" in s for s in data.skipped)


def _outside_share_of(model, images, masks) -> float:
    net = model.net.eval()
    x = torch.cat([model.preprocessing.to_model(im) for im in images]).requires_grad_(True)
    net(x)[:, 0].sum().backward()
    return float(outside_share(x.grad, masks).mean())


def test_guidance_pulls_the_saliency_onto_the_bar(masked_bars, tmp_path):
    """Same data, seed and epochs: the guided model's gradient lies much more on the bar."""
    common = dict(preprocessing=PRE, batch_size=16, lr=3e-3, epochs=6, patience=6, seed=0, device="cpu",
                  val_fraction=0.25)
    plain = train_model(masked_bars, ["has_bar"], **common).model
    cfg = GuidanceConfig(weight=5.0, noise=0.05, dilate_px=1)
    guided = train_model(masked_bars, ["has_bar"], guidance=cfg, **common)
    assert guided.history[-1].train_guidance is not None and guided.history[-1].val_guidance is not None
    assert guided.model.meta.metrics["guidance"]["weight"] == 5.0

    fresh = write_bar_dataset(tmp_path / "fresh", n=20, size=48, seed=11, masks=True)
    s = ImageSet.open(fresh)
    data = load_training_data(fresh, ["has_bar"], preprocessing=PRE, mask_column="bar_mask")
    barred = [i for i in range(len(s)) if int(s.column("has_bar")[i]) == 1]
    masks = dilate(data.masks[torch.as_tensor(barred)].float() / 255, 1)
    ims = [s[i] for i in barred]
    share_plain = _outside_share_of(plain, ims, masks)
    share_guided = _outside_share_of(guided.model, ims, masks)
    print(f"outside share: plain {share_plain:.3f}, guided {share_guided:.3f}")
    assert share_guided < share_plain - 0.15, (share_plain, share_guided)


def test_guidance_errors(masked_bars):
    with pytest.raises(TrainingDataError, match="not among the targets"):
        train_model(masked_bars, ["has_bar"], preprocessing=PRE, epochs=1,
                    guidance=GuidanceConfig(output="has_ring"))
    with pytest.raises(TrainingDataError, match="needs a classifier"):
        train_model(masked_bars, regress="bar_length", preprocessing=PRE, epochs=1,
                    guidance=GuidanceConfig())


def test_cli_fine_tunes_with_guidance(masked_bars, tmp_path, capsys):
    first = tmp_path / "first.safetensors"
    assert cli_main(["train", str(masked_bars), "--target", "has_bar", "--size", "32", "--crop", "0.75",
                     "--epochs", "1", "--quiet", "--out", str(first)]) == 0
    second = tmp_path / "second.safetensors"
    assert cli_main(["train", str(masked_bars), "--target", "has_bar", "--size", "32", "--crop", "0.75",
                     "--epochs", "1", "--quiet", "--init", str(first), "--guide-weight", "2",
                     "--out", str(second)]) == 0
    meta = load_checkpoint(second, device="cpu").meta
    assert meta.metrics["guidance"]["weight"] == 2.0
    first_sha = load_checkpoint(first, device="cpu").sha256
    assert len(first_sha) == 64 and meta.metrics["init_from_sha256"] == first_sha
    # a starting model with other outputs is refused with a clear message
    code = cli_main(["train", str(masked_bars), "--target", "has_bar", "--target", "p_bar", "--size", "32",
                     "--crop", "0.75", "--epochs", "1", "--quiet", "--init", str(first),
                     "--out", str(tmp_path / "x.safetensors")])
    assert code == 2
    assert "starting model's outputs" in capsys.readouterr().err


def test_evidence_network_learns_where_the_bar_is(masked_bars, tmp_path):
    """--arch evidence with kind="evidence": its has_bar evidence map lands on the bar masks."""
    cfg = GuidanceConfig(weight=1.0, kind="evidence", dilate_px=0)
    result = train_model(masked_bars, ["has_bar"], architecture="evidence", preprocessing=PRE, batch_size=16,
                         lr=3e-3, epochs=8, patience=8, seed=0, device="cpu", val_fraction=0.25, guidance=cfg)
    net = result.model.net.eval()
    data = load_training_data(masked_bars, ["has_bar"], preprocessing=PRE, mask_column="bar_mask")
    barred = torch.as_tensor(np.flatnonzero(data.targets[:, 0] == 1))
    with torch.no_grad():
        ev = net.evidence(data.as_float(barred))[:, 0:1]
    cover = torch.nn.functional.adaptive_avg_pool2d(data.masks[barred].float() / 255, ev.shape[-2:])
    on, off = ev[cover > 0.5].mean(), ev[cover == 0].mean()
    assert float(on) > float(off) + 1.0, (float(on), float(off))
    with pytest.raises(ValueError, match="needs a network with evidence maps"):
        guidance_penalty(build_network("small", 1, 3, widths=(4, 8)), torch.rand(2, 3, 16, 16),
                         torch.ones(2, 1, 16, 16), 0, cfg)
