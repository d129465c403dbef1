"""On-the-fly augmentation of a batch of model inputs, as in Bhambra et al. (2022).

A galaxy's class does not depend on its orientation, parity, exact centring or
exposure, so training sees random 90-degree rotations plus a small arbitrary
angle, flips, small shifts and brightness/contrast jitter. All geometric parts
are folded into one affine warp per image, done for the whole batch by a
single ``grid_sample`` call: cheap enough for CPU training.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class AugmentConfig:
    """How strongly to perturb training images (all zero/False = no augmentation).

    max_angle: degrees of small rotation on top of the random multiple of 90.
    max_shift: largest shift as a fraction of the image side.
    brightness: largest additive offset (inputs are roughly in [0, 1]).
    contrast: largest relative change of contrast about the image mean.
    """

    rot90: bool = True
    flip: bool = True
    max_angle: float = 15.0
    max_shift: float = 0.05
    brightness: float = 0.1
    contrast: float = 0.2

    def to_dict(self) -> dict:
        return asdict(self)


def _uniform(n: int, half_width: float, gen: torch.Generator) -> torch.Tensor:
    return (torch.rand(n, generator=gen) * 2.0 - 1.0) * half_width


def augment_batch(x: torch.Tensor, gen: torch.Generator, cfg: AugmentConfig = AugmentConfig()) -> torch.Tensor:
    """A randomly perturbed copy of ``x`` (N x C x S x S, float), drawn from ``gen``.

    Random numbers come from the CPU generator ``gen`` (so a seed gives the same
    augmentations on any device); the warp itself runs on ``x``'s device.
    """
    return augment_with_masks(x, None, gen, cfg)[0]


def augment_with_masks(x: torch.Tensor, masks: torch.Tensor | None, gen: torch.Generator,
                       cfg: AugmentConfig = AugmentConfig()) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Like :func:`augment_batch`, and moves ``masks`` (N x K x S x S) with the same warp.

    Why: saliency guidance needs each training image's bar mask to stay on the
    bar after rotation, flip and shift; masks get no brightness/contrast change
    and are resampled with zero padding (nothing of the bar comes in from the edge).
    The random draws are the same as ``augment_batch``'s for the same generator.
    """
    n = x.shape[0]
    quarter = torch.randint(0, 4, (n,), generator=gen).float() if cfg.rot90 else torch.zeros(n)
    angle = torch.deg2rad(quarter * 90.0 + _uniform(n, cfg.max_angle, gen))
    mirror = torch.where(torch.rand(n, generator=gen) < 0.5, -1.0, 1.0) if cfg.flip else torch.ones(n)
    shift = torch.stack([_uniform(n, 2.0 * cfg.max_shift, gen),  # affine_grid spans [-1, 1]: side = 2
                         _uniform(n, 2.0 * cfg.max_shift, gen)], dim=1)
    gain = 1.0 + _uniform(n, cfg.contrast, gen)
    offset = _uniform(n, cfg.brightness, gen)

    if cfg.rot90 or cfg.flip or cfg.max_angle or cfg.max_shift:
        cos, sin = torch.cos(angle), torch.sin(angle)
        theta = torch.stack([torch.stack([cos * mirror, -sin, shift[:, 0]], dim=1),
                             torch.stack([sin * mirror, cos, shift[:, 1]], dim=1)], dim=1)
        theta = theta.to(device=x.device, dtype=x.dtype)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
        if masks is not None:
            masks = F.grid_sample(masks.to(x.dtype), grid, mode="bilinear", padding_mode="zeros",
                                  align_corners=False)
    if cfg.brightness or cfg.contrast:
        shape = (n,) + (1,) * (x.dim() - 1)
        gain = gain.to(x.device, x.dtype).view(shape)
        offset = offset.to(x.device, x.dtype).view(shape)
        mean = x.mean(dim=tuple(range(1, x.dim())), keepdim=True)
        x = (x - mean) * gain + mean + offset
    return x, masks

