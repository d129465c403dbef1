"""Tiny on-disk datasets for the model tests: discs with or without a bright bar.

Drawn with numpy, written as PNGs (Pillow) plus a catalog.ecsv (astropy), the
layout `galaxyscope synth` produces and `ImageSet.open` reads.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.table import Table
from PIL import Image


def draw_galaxy(rng: np.random.Generator, size: int, bar_half_length: float) -> np.ndarray:
    """size x size x 3 uint8: exponential disc + bulge + (if bar_half_length > 0) a bar at a random angle."""
    return draw_galaxy_and_mask(rng, size, bar_half_length)[0]


def draw_galaxy_and_mask(rng: np.random.Generator, size: int,
                         bar_half_length: float) -> tuple[np.ndarray, np.ndarray]:
    """As ``draw_galaxy``, plus the bar mask (bool; where the bar is above 20 % of its peak)."""
    mask = np.zeros((size, size), bool)
    yy, xx = np.mgrid[0:size, 0:size].astype(float)
    c = (size - 1) / 2 + rng.uniform(-1, 1, 2)
    dy, dx = yy - c[0], xx - c[1]
    r = np.hypot(dx, dy)
    img = 0.35 * np.exp(-r / (size / 7)) + 0.5 * np.exp(-0.5 * (r / (size / 30)) ** 2)
    if bar_half_length > 0:
        a = rng.uniform(0, np.pi)
        u = dx * np.cos(a) + dy * np.sin(a)
        v = -dx * np.sin(a) + dy * np.cos(a)
        bar = np.exp(-0.5 * ((u / (bar_half_length / 2)) ** 2 + (v / (size / 40)) ** 2))
        img += 0.6 * bar
        mask = bar > 0.2
    else:  # a round lens of the same total flux as a bar: only the shape tells them apart
        sigma = np.sqrt(rng.uniform(size / 20, size / 8) / 2 * size / 40)
        img += 0.6 * np.exp(-0.5 * (r / sigma) ** 2)
    img = img + rng.normal(0.03, 0.02, img.shape)
    rgb = np.stack([img * 1.1, img, img * 0.85], axis=2)
    return (np.clip(rgb, 0, 1) * 255).astype(np.uint8), mask


def write_bar_dataset(root: Path, n: int = 40, size: int = 48, seed: int = 0, n_broken: int = 0,
                      masks: bool = False) -> Path:
    """Folder with n PNGs (half barred) and catalog.ecsv: filename, has_bar, p_bar, bar_length, name.

    bar_length is the bar's full length in pixels (0 for unbarred discs);
    ``n_broken`` extra catalogue rows point at files that are not images.
    ``masks`` also writes masks/<name>_bar.png and a ``bar_mask`` column
    ("" for unbarred discs), like ``galaxyscope synth``.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        barred = i % 2 == 0
        half = rng.uniform(size / 10, size / 4) if barred else 0.0
        name = f"gal_{i:03d}.png"
        rgb, mask = draw_galaxy_and_mask(rng, size, half)
        Image.fromarray(rgb).save(root / name)
        p = float(np.clip((0.8 if barred else 0.15) + rng.normal(0, 0.08), 0, 1))
        mask_name = ""
        if masks and barred:
            mask_name = f"masks/{name[:-4]}_bar.png"
            (root / "masks").mkdir(exist_ok=True)
            Image.fromarray(mask.astype(np.uint8) * 255).save(root / mask_name)
        rows.append((name, int(barred), p, 2 * half, f"g{i}", mask_name))
    for j in range(n_broken):
        name = f"broken_{j}.png"
        (root / name).write_bytes(b"this is not a png")
        rows.append((name, j % 2, 0.5, 0.0, f"b{j}", ""))
    table = Table(rows=rows, names=("filename", "has_bar", "p_bar", "bar_length", "name", "bar_mask"))
    if not masks:
        table.remove_column("bar_mask")
    table.write(root / "catalog.ecsv", overwrite=True)
    return root
