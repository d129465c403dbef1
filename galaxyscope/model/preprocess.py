"""How an image becomes the model's input, and how a map on the input goes back.

The preprocessing travels inside every checkpoint's metadata so the GUI, the
CLI and training always feed a model exactly what it was trained on.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F

from galaxyscope.images.galaxy_image import GalaxyImage


@dataclass(frozen=True)
class Preprocessing:
    """Centre crop, resize, channel handling and normalisation.

    crop_fraction: side of the central square crop as a fraction of the image's
        shorter side (Galaxy Zoo frames: the galaxy fills the central half).
    input_size: side in pixels of the square network input.
    channels: 3 (RGB; grey images are repeated) or 1 (mean over channels).
    normalisation: "per-image" scales each image to [0, 1] by its 0.5/99.5
        percentiles, which works for both JPEGs and FITS in physical units.
    """

    input_size: int = 96
    crop_fraction: float = 0.5
    channels: int = 3
    normalisation: str = "per-image"

    def crop_box(self, height: int, width: int) -> tuple[int, int, int, int]:
        """(row0, row1, col0, col1) of the central crop in original pixels."""
        side = max(1, int(round(min(height, width) * self.crop_fraction)))
        r0 = (height - side) // 2
        c0 = (width - side) // 2
        return r0, r0 + side, c0, c0 + side

    def to_model(self, image: GalaxyImage | np.ndarray) -> torch.Tensor:
        """1 x C x S x S float32 tensor for the network."""
        px = image.pixels if isinstance(image, GalaxyImage) else np.asarray(image, np.float32)
        if px.ndim == 2:
            px = px[:, :, None]
        r0, r1, c0, c1 = self.crop_box(px.shape[0], px.shape[1])
        crop = np.nan_to_num(px[r0:r1, c0:c1], nan=0.0, posinf=0.0, neginf=0.0)
        if self.channels == 1:
            crop = crop.mean(axis=2, keepdims=True)
        elif crop.shape[2] == 1:
            crop = np.repeat(crop, self.channels, axis=2)
        else:
            crop = crop[:, :, : self.channels]
        if self.normalisation == "per-image":
            lo, hi = np.percentile(crop, [0.5, 99.5])
            crop = (crop - lo) / (hi - lo) if hi > lo else crop * 0.0
            crop = np.clip(crop, 0.0, 1.0)
        t = torch.from_numpy(np.ascontiguousarray(crop.transpose(2, 0, 1), dtype=np.float32))[None]
        if t.shape[-1] != self.input_size or t.shape[-2] != self.input_size:
            t = F.interpolate(t, size=(self.input_size, self.input_size), mode="bilinear",
                              align_corners=False, antialias=True)
        return t

    def map_back(self, model_map: np.ndarray, height: int, width: int) -> np.ndarray:
        """Put an S x S map (e.g. saliency) back on the original H x W pixel grid.

        Inside the crop the map is resized bilinearly; outside it is 0 (the model
        never saw those pixels).
        """
        r0, r1, c0, c1 = self.crop_box(height, width)
        t = torch.from_numpy(np.asarray(model_map, np.float32))[None, None]
        up = F.interpolate(t, size=(r1 - r0, c1 - c0), mode="bilinear", align_corners=False)
        out = np.zeros((height, width), np.float32)
        out[r0:r1, c0:c1] = up[0, 0].numpy()
        return out

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Preprocessing":
        return cls(**{k: d[k] for k in ("input_size", "crop_fraction", "channels", "normalisation") if k in d})
