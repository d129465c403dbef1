"""Survey augmentation: each change does what it says, masks stay put, seeds reproduce."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from galaxyscope.model.augment import (AugmentConfig, augment_batch, augment_with_masks, gaussian_blur,
                                       jpeg_roundtrip, restretch)
from model_testdata import draw_galaxy_and_mask

ONLY = dict(rot90=False, flip=False, max_angle=0.0, max_shift=0.0, brightness=0.0, contrast=0.0)


@pytest.fixture(autouse=True)
def one_thread(one_torch_thread):
    """Every test here runs torch on one thread (fixture in conftest.py)."""


@pytest.fixture(scope="module")
def galaxies():
    rng = np.random.default_rng(3)
    ims, masks = zip(*(draw_galaxy_and_mask(rng, 40, 8.0) for _ in range(6)))
    x = torch.from_numpy(np.stack(ims)).permute(0, 3, 1, 2).float() / 255.0
    m = torch.from_numpy(np.stack(masks)).float()[:, None]
    return x, m


def test_greyscale_makes_the_channels_equal(galaxies):
    x, _ = galaxies
    y = augment_batch(x, torch.Generator().manual_seed(0), AugmentConfig(greyscale=1.0, **ONLY))
    assert torch.allclose(y[:, 0], y[:, 1]) and torch.allclose(y[:, 0], y[:, 2])
    assert torch.allclose(y[:, 0], x.mean(dim=1), atol=1e-6)
    assert not torch.allclose(x[:, 0], x[:, 2])  # the input was in colour


def test_jpeg_changes_pixels_but_keeps_the_mean(galaxies):
    x, _ = galaxies
    y = augment_batch(x, torch.Generator().manual_seed(0),
                      AugmentConfig(jpeg=1.0, jpeg_quality_min=20, jpeg_quality_max=20, **ONLY))
    diff = (y - x).abs()
    assert float(diff.mean()) > 1e-3  # blocks and ringing
    assert abs(float(y.mean() - x.mean())) < 0.01
    assert ((y >= 0) & (y <= 1)).all()


def test_jpeg_of_a_grey_image_stays_grey():
    x = torch.rand(2, 1, 24, 24).expand(2, 3, 24, 24).contiguous()
    y = jpeg_roundtrip(x, torch.tensor([True, False]), torch.tensor([50, 50]))
    assert torch.equal(y[0, 0], y[0, 1]) and torch.equal(y[0, 0], y[0, 2])
    assert not torch.equal(y[0], x[0]) and torch.equal(y[1], x[1])  # only the chosen image changes


def test_blur_lowers_the_peak_and_keeps_the_flux(galaxies):
    x, _ = galaxies
    y = gaussian_blur(x, torch.tensor([0.0, 1.0, 2.0, 2.0, 0.5, 0.0]))
    assert torch.equal(y[0], x[0]) and torch.equal(y[5], x[5])  # sigma 0: unchanged
    assert float(y[2].amax()) < float(x[2].amax())
    assert float(y[2].mean()) == pytest.approx(float(x[2].mean()), rel=0.02)


def test_restretch_fixes_the_ends_and_bends_the_middle():
    x = torch.linspace(0, 1, 11).view(1, 1, 1, 11).repeat(3, 1, 1, 1)
    y = restretch(x, torch.tensor([3.0, -3.0, 0.0]))
    assert torch.allclose(y[:, ..., 0], torch.zeros(3)) and torch.allclose(y[:, ..., -1], torch.ones(3))
    mid = y[..., 5].flatten()
    assert mid[0] > 0.6 and mid[1] < 0.4 and mid[2] == pytest.approx(0.5)


def test_colour_noise_and_gamma_change_the_image(galaxies):
    x, _ = galaxies
    gen = lambda: torch.Generator().manual_seed(1)  # noqa: E731
    colour = augment_batch(x, gen(), AugmentConfig(colour=0.3, **ONLY))
    ratio = colour.mean(dim=(2, 3)) / x.mean(dim=(2, 3))
    assert float((ratio[:, 0] - ratio[:, 1]).abs().max()) > 0.02  # channels scaled differently
    noisy = augment_batch(x, gen(), AugmentConfig(noise=0.1, **ONLY))
    assert float((noisy - x).std()) > 0.005
    gamma = augment_batch(x, gen(), AugmentConfig(gamma=0.5, **ONLY))
    assert not torch.allclose(gamma, x, atol=1e-3)


def test_survey_is_seeded_and_keeps_masks_aligned(galaxies):
    x, m = galaxies
    cfg = AugmentConfig.survey()
    a, ma = augment_with_masks(x, m, torch.Generator().manual_seed(5), cfg)
    b, mb = augment_with_masks(x, m, torch.Generator().manual_seed(5), cfg)
    assert torch.equal(a, b) and torch.equal(ma, mb)
    c, _ = augment_with_masks(x, m, torch.Generator().manual_seed(6), cfg)
    assert not torch.equal(a, c)
    # the masks moved exactly as with the basic augmentation: photometric changes leave them alone
    _, m_basic = augment_with_masks(x, m, torch.Generator().manual_seed(5), AugmentConfig())
    assert torch.equal(ma, m_basic)


def test_basic_augmentation_draws_are_unchanged_by_the_survey_fields(galaxies):
    """Old seeds give the old augmentations: survey fields off means no extra draws."""
    x, _ = galaxies
    g1, g2 = torch.Generator().manual_seed(2), torch.Generator().manual_seed(2)
    augment_batch(x, g1, AugmentConfig())
    augment_batch(x, g2, AugmentConfig(greyscale=0.0, jpeg=0.0))
    assert torch.equal(torch.rand(4, generator=g1), torch.rand(4, generator=g2))


def test_settings_from_text_and_bad_values():
    cfg = AugmentConfig.survey().with_values("greyscale=0.5, jpeg=0,rot90=false,jpeg_quality_min=40")
    assert cfg.greyscale == 0.5 and cfg.jpeg == 0.0 and cfg.rot90 is False and cfg.jpeg_quality_min == 40
    assert cfg.has_survey and not AugmentConfig().has_survey
    with pytest.raises(ValueError, match="KEY=VALUE"):
        AugmentConfig().with_values("sparkle=1")
    with pytest.raises(ValueError, match="not a valid"):
        AugmentConfig().with_values("noise=lots")
    with pytest.raises(ValueError, match="probabilities"):
        AugmentConfig(greyscale=1.5)
