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
    yy, xx = np.mgrid[0:size, 0:size].astype(float)
    c = (size - 1) / 2 + rng.uniform(-1, 1, 2)
    dy, dx = yy - c[0], xx - c[1]
    r = np.hypot(dx, dy)
    img = 0.35 * np.exp(-r / (size / 7)) + 0.5 * np.exp(-0.5 * (r / (size / 30)) ** 2)
    if bar_half_length > 0:
        a = rng.uniform(0, np.pi)
        u = dx * np.cos(a) + dy * np.sin(a)
        v = -dx * np.sin(a) + dy * np.cos(a)
        img += 0.6 * np.exp(-0.5 * ((u / (bar_half_length / 2)) ** 2 + (v / (size / 40)) ** 2))
    else:  # a round lens of the same total flux as a bar: only the shape tells them apart
        sigma = np.sqrt(rng.uniform(size / 20, size / 8) / 2 * size / 40)
        img += 0.6 * np.exp(-0.5 * (r / sigma) ** 2)
    img = img + rng.normal(0.03, 0.02, img.shape)
    rgb = np.stack([img * 1.1, img, img * 0.85], axis=2)
    return (np.clip(rgb, 0, 1) * 255).astype(np.uint8)


def write_bar_dataset(root: Path, n: int = 40, size: int = 48, seed: int = 0, n_broken: int = 0) -> Path:
    """Folder with n PNGs (half barred) and catalog.ecsv: filename, has_bar, p_bar, bar_length, name.

    bar_length is the bar's full length in pixels (0 for unbarred discs);
    ``n_broken`` extra catalogue rows point at files that are not images.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        barred = i % 2 == 0
        half = rng.uniform(size / 10, size / 4) if barred else 0.0
        name = f"gal_{i:03d}.png"
        Image.fromarray(draw_galaxy(rng, size, half)).save(root / name)
        p = float(np.clip((0.8 if barred else 0.15) + rng.normal(0, 0.08), 0, 1))
        rows.append((name, int(barred), p, 2 * half, f"g{i}"))
    for j in range(n_broken):
        name = f"broken_{j}.png"
        (root / name).write_bytes(b"this is not a png")
        rows.append((name, j % 2, 0.5, 0.0, f"b{j}"))
    table = Table(rows=rows, names=("filename", "has_bar", "p_bar", "bar_length", "name"))
    table.write(root / "catalog.ecsv", overwrite=True)
    return root
