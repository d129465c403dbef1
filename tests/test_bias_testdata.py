"""Scenes for the bias tests (a central galaxy, optionally a star), and a net that looks at stars.

Imported by the other test_bias_* files; the tests here check that the scenes are what they claim.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from astropy.table import Table
from PIL import Image
from torch import nn

from galaxyscope.model.loaded import LoadedModel, ModelMeta
from galaxyscope.model.preprocess import Preprocessing

SIZE = 64
STAR_XY = (50.0, 13.0)  # upper right, well off a galaxy of radius ~8 px at the centre


def draw_scene(size: int = SIZE, *, seed: int = 0, galaxy: bool = True, star_xy: tuple[float, float] | None = None,
               galaxy_scale: float = 4.0, noise: float = 0.01) -> np.ndarray:
    """size x size float image in [0, 1]: exponential disc at the centre, a PSF-like star, sky noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(float)
    c = (size - 1) / 2
    img = np.full((size, size), 0.05)
    if galaxy:
        r = np.hypot((xx - c) / 1.0, (yy - c) / 0.7)
        img += 0.6 * np.exp(-r / galaxy_scale)
    if star_xy is not None:
        img += 0.9 * np.exp(-0.5 * ((xx - star_xy[0]) ** 2 + (yy - star_xy[1]) ** 2) / 1.2 ** 2)
    img += rng.normal(0, noise, img.shape)
    return np.clip(img, 0, 1).astype(np.float32)


def write_scene_dataset(root: Path, n: int = 8, *, size: int = SIZE, seed: int = 0, n_broken: int = 0) -> Path:
    """n PNGs + catalog.ecsv (filename, has_bar, star, centre_x, centre_y): the barred half carries a star."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    c = (size - 1) / 2
    for i in range(n):
        barred = i % 2 == 0
        img = draw_scene(size, seed=seed * 1000 + i, star_xy=STAR_XY if barred else None)
        name = f"scene_{i:02d}.png"
        Image.fromarray((np.repeat(img[:, :, None], 3, axis=2) * 255).astype(np.uint8)).save(root / name)
        rows.append((name, int(barred), int(barred), c, c))
    for j in range(n_broken):
        name = f"broken_{j}.png"
        (root / name).write_bytes(b"not a png at all")
        rows.append((name, 0, 0, c, c))
    Table(rows=rows, names=("filename", "has_bar", "star", "centre_x", "centre_y")).write(
        root / "catalog.ecsv", overwrite=True)
    return root


class StarLooker(nn.Module):
    """A 'shortcut' net: its logit is mostly the bright pixels of the upper-right quadrant (where the
    star sits), plus a little of the galaxy's centre (the whole
    galaxy lies outside that corner). Its saliency lands on the star when there is one,
    on the galaxy otherwise."""

    def __init__(self, size: int, threshold: float = 0.5, galaxy_weight: float = 0.03) -> None:
        super().__init__()
        q = size // 8
        quad = torch.zeros(size, size)
        quad[: size // 2 - q, size // 2 + q:] = 1.0  # the upper-right corner, clear of the galaxy
        core = torch.zeros(size, size)
        core[size // 2 - q: size // 2 + q, size // 2 - q: size // 2 + q] = galaxy_weight
        self.register_buffer("quad", quad)
        self.register_buffer("core", core)
        self.threshold = threshold

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lum = x.mean(dim=1)
        star = (torch.relu(lum - self.threshold) * self.quad).sum(dim=(1, 2))
        gal = (lum * self.core).sum(dim=(1, 2))
        return (star + gal)[:, None]


def star_looker_model(size: int = SIZE) -> LoadedModel:
    """StarLooker wrapped as a model seeing the whole frame at full resolution."""
    meta = ModelMeta(architecture="test", output_names=["has_bar"], sigmoid_outputs=[True],
                     preprocessing=Preprocessing(input_size=size, crop_fraction=1.0))
    return LoadedModel(net=StarLooker(size), meta=meta)


def test_scene_has_galaxy_at_centre_and_star_where_asked():
    img = draw_scene(star_xy=STAR_XY)
    c = SIZE // 2
    assert img[c, c] > 0.5
    assert img[int(STAR_XY[1]), int(STAR_XY[0])] > 0.8
    assert img[5, 5] < 0.15  # sky


def test_star_looker_logit_rises_with_a_star():
    model = star_looker_model()
    with_star = torch.from_numpy(np.repeat(draw_scene(star_xy=STAR_XY)[None, None], 3, axis=1))
    without = torch.from_numpy(np.repeat(draw_scene()[None, None], 3, axis=1))
    assert float(model.net(with_star)) > float(model.net(without)) + 0.5
