"""On-disk cache of galaxy / source / border masks, beside the saliency cache.

Why: the masks depend on the image and the model's crop box only, not on the model's
weights or the saliency, and segmenting a 424 px image costs about as much as its
SmoothGrad map. A second model scanned on the same set (or the same clean reference)
reuses them.

Key: the SHA-256 of the pixels, the known centre, the region and the mask parameters.
Entries are ``<key>.npz`` files; a damaged one is recomputed.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from galaxyscope.bias.masks import GalaxyMasks, MaskParams, galaxy_masks

#: bump when `galaxy_masks` changes what it returns for the same input
MASKS_VERSION = 1


class MaskCache:
    """``get_or_compute(image, centre, region, params)`` -> `GalaxyMasks`, cached under ``folder``."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def key(self, image: Any, centre: tuple[float, float] | None, region: Any, params: MaskParams | None) -> str:
        h = hashlib.sha256()
        px = np.ascontiguousarray(image.pixels)
        h.update(f"{MASKS_VERSION}|{px.dtype}|{px.shape}|{centre}|{tuple(region) if region else None}|"
                 f"{json.dumps(asdict(params or MaskParams()), sort_keys=True, default=str)}".encode())
        h.update(px.tobytes())
        return h.hexdigest()[:32]

    def get_or_compute(self, image: Any, centre: tuple[float, float] | None, region: Any = None,
                       params: MaskParams | None = None) -> GalaxyMasks:
        path = self.folder / f"{self.key(image, centre, region, params)}.npz"
        masks = _load(path, params)
        if masks is None:
            masks = galaxy_masks(image, centre, region=region, params=params)
            _save(path, masks)
        return masks


def _save(path: Path, m: GalaxyMasks) -> None:
    """Best effort: a cache that cannot be written only costs a recomputation."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {"source_positions": [list(map(float, p)) for p in m.source_positions],
                "centre": list(map(float, m.centre)), "radius_px": float(m.radius_px), "sky": float(m.sky),
                "sky_sigma": float(m.sky_sigma), "region": [int(v) for v in m.region]}
        tmp = path.with_name(path.name + f".partial-{os.getpid()}.npz")
        np.savez_compressed(tmp, galaxy=m.galaxy, sources=m.sources, border=m.border,
                            source_labels=m.source_labels.astype(np.int32), meta=np.array(json.dumps(meta)))
        tmp.replace(path)
    except OSError:
        pass


def _load(path: Path, params: MaskParams | None) -> GalaxyMasks | None:
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            return GalaxyMasks(galaxy=z["galaxy"].astype(bool), sources=z["sources"].astype(bool),
                               border=z["border"].astype(bool), source_labels=z["source_labels"],
                               source_positions=[tuple(p) for p in meta["source_positions"]],
                               centre=tuple(meta["centre"]), radius_px=float(meta["radius_px"]),
                               sky=float(meta["sky"]), sky_sigma=float(meta["sky_sigma"]),
                               region=tuple(meta["region"]), params=params or MaskParams())
    except (OSError, ValueError, KeyError):
        return None
