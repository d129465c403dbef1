"""Where the model looked, and how the paper's 40-pixel minimum scales to our maps.

The paper (Bhambra et al. 2022) fed the whole 424 px Galaxy Zoo frame to its network
at 224 px and stopped its threshold sweep below 40 pixels of the 224 px map.  Galaxy
Zoo frames all have the same size in units of the galaxy (0.02 x petroR90 per pixel),
so the meaningful quantity is the *area* those 40 pixels cover: a fixed fraction
40 / 224**2 of the frame.  On a saliency map on the original grid (frame side F map
pixels, F = min(H, W)) that is::

    min_pixels_map   = reference_min * (F / reference_input) ** 2          # 424 px: 143.4
    min_pixels_model = min_pixels_map / (crop_fraction * F / input_size) ** 2
                     = reference_min * (input_size / (reference_input * crop_fraction)) ** 2

The second line is the same area counted on our model's input grid (a model that sees
the central ``crop_fraction`` of the frame at ``input_size`` px): 128 px from the
central half gives 40 * (128 / 112)**2 = 52.2 px, the value a prototype found to
match the paper.  Counting 40 pixels on our own (coarser or finer) grid instead
would change the physical size of the smallest bar allowed, and a prototype found
that too small a minimum ruins the lengths.  The measurement works on the map's
grid, so it uses ``min_pixels_map``; ``min_pixels_model`` is reported alongside.
"""

from __future__ import annotations

from dataclasses import dataclass

from galaxyscope.measure.params import PAPER_INPUT_SIZE, PAPER_MIN_PIXELS


@dataclass(frozen=True)
class MinPixels:
    """The paper's minimum pixel count on the saliency map's grid and on the model's grid."""

    map: float
    model: float | None


def scaled_min_pixels(shape: tuple[int, int], *, model_input_size: int | None = None,
                      crop_fraction: float | None = None,
                      reference_min: float = PAPER_MIN_PIXELS,
                      reference_input: int = PAPER_INPUT_SIZE,
                      frame_px: float | None = None) -> MinPixels:
    """The paper's minimum (40 px at 224 px for the whole frame) as an area on this map.

    Why: the stop rule's minimum is a physical size; see the module docstring for the
    formula.  ``model_input_size`` (with ``crop_fraction``, default 1) only gives the
    equivalent count on the model's grid.
    """
    frame = float(min(shape[0], shape[1])) if frame_px is None else float(frame_px)
    on_map = float(reference_min) * (frame / float(reference_input)) ** 2
    on_model = None
    if model_input_size:
        crop = 1.0 if crop_fraction is None else float(crop_fraction)
        on_model = float(reference_min) * (float(model_input_size) / (reference_input * crop)) ** 2
    return MinPixels(map=on_map, model=on_model)


def crop_box(shape: tuple[int, int], crop_fraction: float | None) -> tuple[int, int, int, int]:
    """(row0, row1, col0, col1) of the region the model saw, in map pixels.

    Same rule as ``galaxyscope.model.preprocess.Preprocessing.crop_box`` (a central
    square of side ``crop_fraction`` x the shorter side), repeated here so that
    measuring does not import torch.  None means the whole map.
    """
    h, w = int(shape[0]), int(shape[1])
    if crop_fraction is None:
        return 0, h, 0, w
    side = max(1, int(round(min(h, w) * float(crop_fraction))))
    r0 = (h - side) // 2
    c0 = (w - side) // 2
    return r0, r0 + side, c0, c0 + side


def default_center(shape: tuple[int, int], crop_fraction: float | None = None) -> tuple[float, float]:
    """(x, y) centre of the region the model saw (pixel-centre coordinates)."""
    r0, r1, c0, c1 = crop_box(shape, crop_fraction)
    return (c0 + c1 - 1) / 2.0, (r0 + r1 - 1) / 2.0


@dataclass(frozen=True)
class MapGeometry:
    """How a saliency map relates to what the model saw; shared by both methods.

    crop_box: (row0, row1, col0, col1) of the region the model saw (whole map if unknown).
    center: (x, y) of the galaxy.
    min_pixels: resolved minimum pixel count on the map's grid.
    min_pixels_model: the same area on the model's input grid (None if its size is unknown).
    model_pixel: map pixels per model-input pixel (1.0 if unknown).
    """

    crop_box: tuple[int, int, int, int]
    center: tuple[float, float]
    min_pixels: float
    min_pixels_model: float | None
    model_pixel: float

    @classmethod
    def of(cls, shape: tuple[int, int], *, center: tuple[float, float] | None,
           model_input_size: int | None, crop_fraction: float | None, min_pixels: float | None,
           reference_min: float = PAPER_MIN_PIXELS,
           reference_input: int = PAPER_INPUT_SIZE,
           box: tuple[int, int, int, int] | None = None) -> "MapGeometry":
        """Resolve defaults: centre of the crop, the paper's scaled minimum, model pixel size.

        ``box`` is where the model looked when it was not the fixed central crop
        (galaxy framing; it may reach beyond the map). The paper's minimum then scales
        with the frame that box stands for (side / crop_fraction), not with the image.
        """
        frame_px = None
        if box is not None:
            full_side = min(box[1] - box[0], box[3] - box[2])
            frame_px = full_side / float(crop_fraction or 1.0)
            h, w = int(shape[0]), int(shape[1])
            vis = (max(0, box[0]), min(h, box[1]), max(0, box[2]), min(w, box[3]))
            centre = ((box[2] + box[3] - 1) / 2.0, (box[0] + box[1] - 1) / 2.0)
        else:
            vis = crop_box(shape, crop_fraction)
            full_side = min(vis[1] - vis[0], vis[3] - vis[2])
            centre = default_center(shape, crop_fraction)
        if center is not None:
            centre = (float(center[0]), float(center[1]))
        box = vis
        scaled = scaled_min_pixels(shape, model_input_size=model_input_size,
                                   crop_fraction=crop_fraction, reference_min=reference_min,
                                   reference_input=reference_input, frame_px=frame_px)
        side = full_side
        model_pixel = side / float(model_input_size) if model_input_size else 1.0
        if min_pixels is None:
            return cls(box, centre, scaled.map, scaled.model, model_pixel)
        model = float(min_pixels) / model_pixel**2 if model_input_size else None
        return cls(box, centre, float(min_pixels), model, model_pixel)
