"""Side-by-side mosaic of real Galaxy Zoo examples and synthetic galaxies, for the docs.

Why: the generator is only useful if its galaxies look like the real ones; a labelled mosaic is
the quickest honest check. Rebuild with ``python -m tools.mosaic`` from the repository root (writes
docs/mosaic.png; needs nothing but the package and the bundled real examples). It lives in tools/,
not in the package, because it writes into the repository's docs/.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from galaxyscope.resources import resources_dir
from galaxyscope.synth.dataset import rgb_to_uint8
from galaxyscope.synth.params import sample_params
from galaxyscope.synth.render import render_galaxy

REPO = Path(__file__).resolve().parents[1]  # the source checkout: where docs/ lives
REAL_DIR = resources_dir() / "samples" / "gz-bar-examples"  # Galaxy Zoo examples, Apache-2.0


@dataclass(frozen=True)
class Tile:
    """One labelled picture of the mosaic."""

    pixels: np.ndarray  # uint8 (H, W, 3)
    label: str
    real: bool


def real_tiles(folder: Path | None = None) -> list[Tile]:
    """The Galaxy Zoo example JPEGs (file ``*-2_a-0_*`` = bar, ``*-2_a-1_*`` = no bar)."""
    folder = folder or REAL_DIR
    if not folder.is_dir():
        return []
    tiles = []
    for path in sorted(folder.glob("*/*.jpg")):
        survey = "SDSS" if "sloan" in path.name else "DECaLS"
        kind = "bar" if "_a-0_" in path.name else "no bar"
        tiles.append(Tile(np.asarray(Image.open(path).convert("RGB")), f"real {survey}, {kind}", True))
    return tiles


def synthetic_tiles(n_sdss: int = 10, n_decals: int = 12, seed: int = 1) -> list[Tile]:
    """``n_sdss + n_decals`` synthetic galaxies, alternately barred and unbarred."""
    tiles = []
    for k in range(n_sdss + n_decals):
        style = "sdss" if k < n_sdss else "decals"
        galaxy = render_galaxy(sample_params(seed, k, 424, has_bar=k % 2 == 0, style=style))
        t = galaxy.truth
        kind = f"bar {t.bar_length_px:.0f}px" if t.has_bar else "no bar"
        tiles.append(Tile(rgb_to_uint8(galaxy.rgb), f"synthetic {style}, {kind}", False))
    return tiles


def build_mosaic(tiles: list[Tile], columns: int = 8, tile_px: int = 160) -> Image.Image:
    """Grid of tiles, each resized to ``tile_px`` with its label underneath (real = orange)."""
    font = ImageFont.load_default()
    label_h = 14
    rows = (len(tiles) + columns - 1) // columns
    canvas = Image.new("RGB", (columns * tile_px, rows * (tile_px + label_h)), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    for k, tile in enumerate(tiles):
        x = (k % columns) * tile_px
        y = (k // columns) * (tile_px + label_h)
        canvas.paste(Image.fromarray(tile.pixels).resize((tile_px, tile_px), Image.LANCZOS), (x, y))
        colour = (170, 80, 0) if tile.real else (0, 70, 160)
        draw.text((x + 3, y + tile_px + 1), tile.label, fill=colour, font=font)
    return canvas


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the real-vs-synthetic mosaic (docs/mosaic.png).")
    parser.add_argument("--out", default=str(REPO / "docs" / "mosaic.png"))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--tile", type=int, default=160, help="tile side in pixels")
    parser.add_argument("--real", default=str(REAL_DIR), help="folder with sdss/ and decals/ example JPEGs")
    args = parser.parse_args(argv)
    tiles = real_tiles(Path(args.real))
    n_real = len(tiles)
    tiles += synthetic_tiles(seed=args.seed)
    # real examples fill whole rows first, synthetic ones start on a new row
    columns = 8
    pad = (-n_real) % columns
    blank = Tile(np.full((8, 8, 3), 255, np.uint8), "", True)
    tiles = tiles[:n_real] + [blank] * pad + tiles[n_real:]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    build_mosaic(tiles, columns=columns, tile_px=args.tile).save(args.out, optimize=True)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
