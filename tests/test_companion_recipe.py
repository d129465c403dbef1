"""The bar-evidence companion's training recipe (experiments.exp_saliency masknet/export): the
augmentation it is trained with is chosen by name, kept apart on disk and written into the
exported checkpoint, so a companion trained for real-looking frames says so."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch

from experiments import exp_saliency as xs
from experiments.exp_real_noise import paired_rho_difference, parse_moments, parse_setting
from galaxyscope.model.augment import AugmentConfig
from galaxyscope.model.trainset import TrainingData


def test_the_survey_recipe_adds_survey_changes_and_the_basic_one_does_not():
    basic, survey = xs.masknet_augment("basic"), xs.masknet_augment("survey")
    assert basic == AugmentConfig() and not basic.has_survey
    assert survey.has_survey and survey.greyscale > 0 and survey.asinh > 0
    with pytest.raises(ValueError, match="use one of basic, survey"):
        xs.masknet_augment("grey")


def test_a_recipe_can_change_single_settings():
    grey = xs.masknet_augment("basic:greyscale=0.5")
    assert grey.greyscale == 0.5 and grey.asinh == 0 and grey.max_angle == AugmentConfig().max_angle
    assert xs.masknet_augment("survey:asinh=0").asinh == 0 and xs.masknet_augment("survey:asinh=0").jpeg > 0
    assert "changed: greyscale=0.5" in xs.augment_note("basic:greyscale=0.5")
    with pytest.raises(ValueError, match="greyscale"):
        xs.masknet_augment("basic:greyscale=2")


def test_each_recipe_and_seed_has_its_own_file(tmp_path):
    p = xs.Paths(tmp_path, tmp_path / "train4k", tmp_path / "v", tmp_path / "t")
    names = {xs.masknet_path(p, s, a).name for s in (0, 1) for a in (*xs.MASKNET_AUGS, "basic:greyscale=0.5")}
    assert len(names) == 6 and all("=" not in n and ":" not in n for n in names)
    assert xs.masknet_path(p).name == "masknet_s0.pt"  # the shipped companion's network keeps its name


def _tiny_training_set(work: Path, n: int = 32, size: int = 128) -> None:
    """A cached training set as ``training_data`` keeps it: noise images, a bar mask on half."""
    g = torch.Generator().manual_seed(0)
    images = (torch.rand((n, 3, size, size), generator=g) * 255).to(torch.uint8)
    masks = torch.zeros((n, 1, size, size), dtype=torch.uint8)
    masks[: n // 2, :, 60:68, 40:88] = 255
    data = TrainingData(images=images, targets=np.zeros((n, 1), np.float32), keys=[f"{i}.jpg" for i in range(n)],
                        target_names=["has_bar"], classify=True, masks=masks)
    work.mkdir(parents=True, exist_ok=True)
    torch.save(asdict(data), work / "train4k_128_masks.pt")


def test_export_writes_the_recipe_it_was_trained_with(tmp_path):
    from galaxyscope.model.checkpoint import load_checkpoint

    paths = xs.Paths(tmp_path / "work", tmp_path / "train4k", tmp_path / "v", tmp_path / "t")
    _tiny_training_set(paths.work)
    out = xs.export_companion(paths, tmp_path / "models" / "bar_evidence.safetensors", None, threads=1,
                              aug="survey", seed=3, epochs=1)
    assert xs.masknet_path(paths, 3, "survey").exists() and not xs.masknet_path(paths, 3, "basic").exists()
    companion = load_checkpoint(out, device="cpu")
    recipe = companion.meta.metrics["recipe"]
    assert (recipe["augmentation"], recipe["seed"], recipe["epochs"]) == ("survey", 3, 1)
    assert recipe["augment_config"]["greyscale"] == AugmentConfig.survey().greyscale
    assert "survey changes" in companion.meta.notes and "seed 3" in companion.meta.notes
    x = torch.rand((1, 3, 128, 128))
    assert companion.net(x).shape == (1, 1)


def test_a_real_check_setting_is_read_or_refused():
    assert parse_setting("0.1,0.4,extent,0.75") == (0.1, 0.4, "extent", 0.75)
    with pytest.raises(Exception, match="NOISE,T,LENGTH_FROM,BLUR"):
        parse_setting("0.1,0.4")
    assert parse_moments("0.3,axis,1.5") == (0.3, "axis", 1.5)
    with pytest.raises(Exception, match="T,LENGTH_FROM,BLUR"):
        parse_moments("0.3,axis")


def test_the_paired_bootstrap_resamples_the_same_galaxies_for_both_rows():
    from scipy.stats import spearmanr

    from galaxyscope.evaluate.metrics import resample_counts

    rng = np.random.default_rng(5)
    y = rng.uniform(5, 30, 19)
    good = y + rng.normal(0, 2, 19)
    poor = rng.uniform(5, 30, 19)
    poor[3] = np.nan  # a galaxy the measurement missed: left out of both rows
    d = paired_rho_difference(good, poor, y, 200, seed=1)
    assert d.shape == (200,) and np.nanmedian(d) > 0.3
    # each draw is scipy's rho difference on the resampled galaxies (the same ones for both rows)
    ok = np.isfinite(poor)
    counts = resample_counts(np.random.default_rng(1), 200, int(ok.sum()))
    for j in range(3):
        rows = np.repeat(np.arange(ok.sum()), counts[j].astype(int))
        want = spearmanr(good[ok][rows], y[ok][rows])[0] - spearmanr(poor[ok][rows], y[ok][rows])[0]
        assert d[j] == pytest.approx(want, abs=1e-9)
    assert np.allclose(paired_rho_difference(good, good, y, 50), 0.0)
