"""How an image becomes the model's input, and how a map on the input goes back.

The preprocessing travels inside every checkpoint's metadata so the GUI, the
CLI and training always feed a model exactly what it was trained on.
"""

from __future__ import annotations

import warnings
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
    framing: "fixed" (the central ``crop_fraction`` of every frame) or "galaxy"
        (a square of side ``frame_r90`` x the galaxy's R90 measured on the image,
        centred on the frame, padded with sky where it is larger than the image).
        Why: surveys frame galaxies differently; the network should see the
        galaxy at the scale it learnt (see ``galaxyscope.images.extent``).
    frame_r90: crop side in units of the measured R90 that matches the training
        frames (``calibrate_frame_r90``); 0 means not calibrated (framing "galaxy"
        then falls back to "fixed").
    """

    input_size: int = 96
    crop_fraction: float = 0.5
    channels: int = 3
    normalisation: str = "per-image"
    framing: str = "fixed"
    frame_r90: float = 0.0

    def __post_init__(self) -> None:
        """Refuse values no image can be framed with (a checkpoint's metadata arrives here).

        Why here: a NaN crop or a 10^6-pixel input fails much later, deep in a
        worker or a batch, with a traceback; this says which field is wrong at once.
        """
        if not _is_int(self.input_size) or not MIN_INPUT_SIZE <= self.input_size <= MAX_INPUT_SIZE:
            raise ValueError(f"input_size must be a whole number of pixels from {MIN_INPUT_SIZE} to "
                             f"{MAX_INPUT_SIZE}, got {self.input_size!r}")
        if not _is_number(self.crop_fraction) or not 0.0 < self.crop_fraction <= MAX_CROP_FRACTION:
            raise ValueError(f"crop_fraction must be a number above 0 and at most {MAX_CROP_FRACTION:g}, "
                             f"got {self.crop_fraction!r}")
        if not _is_int(self.channels) or self.channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {self.channels!r}")
        if self.normalisation not in NORMALISATIONS:
            raise ValueError(f"normalisation must be one of {NORMALISATIONS}, got {self.normalisation!r}")
        if self.framing not in FRAMINGS:
            raise ValueError(f"framing must be one of {FRAMINGS}, got {self.framing!r}")
        if not _is_number(self.frame_r90) or not 0.0 <= self.frame_r90 <= MAX_FRAME_R90:
            raise ValueError(f"frame_r90 must be a number from 0 to {MAX_FRAME_R90:g}, got {self.frame_r90!r}")

    def crop_box(self, height: int, width: int) -> tuple[int, int, int, int]:
        """(row0, row1, col0, col1) of the fixed central crop in original pixels."""
        side = max(1, int(round(min(height, width) * self.crop_fraction)))
        r0 = (height - side) // 2
        c0 = (width - side) // 2
        return r0, r0 + side, c0, c0 + side

    @property
    def uses_galaxy_framing(self) -> bool:
        return self.framing == "galaxy" and self.frame_r90 > 0

    def box_for(self, image: GalaxyImage | np.ndarray) -> tuple[int, int, int, int]:
        """(row0, row1, col0, col1) of the square the network sees, in original pixels.

        With galaxy framing it may reach beyond the image (padded with sky); where the
        galaxy's extent cannot be measured it falls back to the fixed crop.
        """
        px = image.pixels if isinstance(image, GalaxyImage) else np.asarray(image)
        h, w = int(px.shape[0]), int(px.shape[1])
        if not self.uses_galaxy_framing:
            return self.crop_box(h, w)
        ext = self.extent_of(image)
        if not ext.ok:
            return self.crop_box(h, w)
        side = int(round(self.frame_r90 * ext.r90_px))
        side = int(np.clip(side, min(16, min(h, w)), 4 * max(h, w)))
        r0 = (h - side) // 2
        c0 = (w - side) // 2
        return r0, r0 + side, c0, c0 + side

    @staticmethod
    def extent_of(image: GalaxyImage | np.ndarray):
        """The galaxy's measured extent (cached on a GalaxyImage)."""
        from galaxyscope.images.extent import image_extent, measure_extent

        return image_extent(image) if isinstance(image, GalaxyImage) else measure_extent(image)

    def describe_box(self, image: GalaxyImage | np.ndarray) -> str:
        """One line saying how the network framed this image (for tables and the GUI)."""
        r0, r1, c0, c1 = self.box_for(image)
        side = r1 - r0
        if not self.uses_galaxy_framing:
            return f"fixed {self.crop_fraction:g} of the frame ({side} px)"
        ext = self.extent_of(image)
        if not ext.ok:
            return f"fixed {self.crop_fraction:g} of the frame ({side} px): {ext.reason}"
        return f"galaxy {self.frame_r90:.2f} x R90 ({ext.r90_px:.1f} px) = {side} px"

    def measure_kwargs(self, image: GalaxyImage | np.ndarray) -> dict:
        """Keyword arguments for ``galaxyscope.measure.measure_bar``: how the model saw this image."""
        kw: dict = {"model_input_size": self.input_size, "crop_fraction": self.crop_fraction}
        if self.uses_galaxy_framing:
            kw["crop_box"] = self.box_for(image)
        return kw

    def with_framing(self, framing: str) -> "Preprocessing":
        """The same preprocessing with another framing ("fixed" or "galaxy")."""
        from dataclasses import replace

        return replace(self, framing=framing)

    def to_model(self, image: GalaxyImage | np.ndarray) -> torch.Tensor:
        """1 x C x S x S float32 tensor for the network."""
        px = image.pixels if isinstance(image, GalaxyImage) else np.asarray(image, np.float32)
        if px.ndim == 2:
            px = px[:, :, None]
        box = self.box_for(image)
        crop = np.nan_to_num(padded_crop(px, box), nan=0.0, posinf=0.0, neginf=0.0)
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

    def map_back(self, model_map: np.ndarray, height: int, width: int,
                 box: tuple[int, int, int, int] | None = None) -> np.ndarray:
        """Put an S x S map (e.g. saliency) back on the original H x W pixel grid.

        ``box`` is where the network looked (``box_for``; default the fixed crop).
        Inside it the map is resized bilinearly; outside it is 0 (the model never saw
        those pixels), and the part of the box beyond the image is dropped.
        """
        r0, r1, c0, c1 = self.crop_box(height, width) if box is None else box
        t = torch.from_numpy(np.asarray(model_map, np.float32))[None, None]
        up = F.interpolate(t, size=(r1 - r0, c1 - c0), mode="bilinear", align_corners=False)[0, 0].numpy()
        out = np.zeros((height, width), np.float32)
        vr0, vr1, vc0, vc1 = visible_box((r0, r1, c0, c1), height, width)
        out[vr0:vr1, vc0:vc1] = up[vr0 - r0:vr1 - r0, vc0 - c0:vc1 - c0]
        return out

    def to_dict(self) -> dict:
        d = asdict(self)
        if self.framing == "fixed" and not self.frame_r90:
            # old checkpoints and cache keys stay what they were
            d.pop("framing")
            d.pop("frame_r90")
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Preprocessing":
        """From a checkpoint's JSON; raises ValueError naming the field for anything invalid."""
        if not isinstance(d, dict):
            raise ValueError(f"must be a JSON object with input_size, crop_fraction, ...; got {d!r:.60}")
        return cls(**{k: d[k] for k in ("input_size", "crop_fraction", "channels", "normalisation",
                                        "framing", "frame_r90") if k in d})


FRAMINGS = ("fixed", "galaxy")
#: "per-image": 0.5/99.5 percentiles to [0, 1]; "none": pixel values as they are
NORMALISATIONS = ("per-image", "none")
MIN_INPUT_SIZE = 4
MAX_INPUT_SIZE = 2048
MAX_CROP_FRACTION = 4.0
MAX_FRAME_R90 = 1000.0


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _is_number(value: object) -> bool:
    return (isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
            and bool(np.isfinite(value)))


def visible_box(box: tuple[int, int, int, int], height: int, width: int) -> tuple[int, int, int, int]:
    """The part of a (row0, row1, col0, col1) box that lies on an H x W image."""
    r0, r1, c0, c1 = box
    return max(0, r0), min(height, r1), max(0, c0), min(width, c1)


def padded_crop(px: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The box's pixels; where it reaches beyond the image, sky: the border's median per
    channel plus Gaussian noise of the border's robust spread (fixed seed, so the same
    image always gives the same input). Why: padding with zeros or edge copies draws a
    frame the network never saw in training."""
    h, w, c = px.shape
    r0, r1, c0, c1 = box
    vr0, vr1, vc0, vc1 = visible_box(box, h, w)
    if (vr0, vr1, vc0, vc1) == (r0, r1, c0, c1):
        return px[r0:r1, c0:c1]
    b = max(1, min(h, w) // 10)
    border = np.concatenate([px[:b].reshape(-1, c), px[-b:].reshape(-1, c),
                             px[:, :b].reshape(-1, c), px[:, -b:].reshape(-1, c)])
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        med = np.nan_to_num(np.nanmedian(border, axis=0))
        mad = np.nan_to_num(np.nanmedian(np.abs(border - med), axis=0)) * 1.4826
    rng = np.random.default_rng(0)
    out = (med[None, None, :] + rng.standard_normal((r1 - r0, c1 - c0, c)) * mad[None, None, :]).astype(np.float32)
    if vr1 > vr0 and vc1 > vc0:
        out[vr0 - r0:vr1 - r0, vc0 - c0:vc1 - c0] = px[vr0:vr1, vc0:vc1]
    return out
