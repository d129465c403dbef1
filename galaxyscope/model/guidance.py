"""Saliency guidance ("right for the right reasons", Ross et al. 2017) with bar masks.

Why: a classifier trained only on labels is free to decide "barred" from the
bulge or the galaxy's size, and its saliency then lights up the centre instead
of the bar, so lengths measured from the map track the galaxy's size. On
synthetic galaxies we know where the bar is (``synth`` writes a mask per
galaxy), so training can add a penalty on the share of the input gradient of
the bar logit that falls *outside* the (slightly dilated) bar mask. The
network then has to base its bar decision on the bar's own pixels, which is
what the saliency map is later read for.

The penalty is computed by double back-propagation (``create_graph=True``),
about 2-3x the cost of a plain training step, only on images with a bar.
Optionally the guided inputs get Gaussian noise like SmoothGrad's, so the
gradients the penalty shapes are the ones SmoothGrad later averages.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from galaxyscope.model.preprocess import Preprocessing


@dataclass(frozen=True)
class GuidanceConfig:
    """How training is steered towards bar-shaped saliency.

    weight: strength of the outside-the-mask penalty (0 = off; the penalty is a
        share in [0, 1], so weights of order 0.1-10 are comparable with BCE).
    output: name of the output whose logit gradient is guided (the bar output).
    dilate_px: grow the mask by this many model pixels (PSF, resampling).
    noise: SmoothGrad-like noise (fraction of the [0, 1] input range) added to
        the guided inputs; 0 guides the clean-input gradient.
    mask_column: catalogue column holding each galaxy's mask file (relative to
        the dataset folder; empty for galaxies without a bar).
    kind: "outside" = Ross et al.'s penalty, the share of |gradient| outside the
        mask. It has a cheap way out here: the bar mask always contains the
        galaxy's centre, so a network can put all its gradient on the bulge and
        pay nothing, which destroys the length information (we measured it).
        "match" = the total-variation distance between the (blurred) |gradient|
        distribution and the uniform distribution over the mask: zero only when
        the saliency covers the whole bar, tip to tip, and nothing else.
    blur_px: Gaussian sigma (model pixels) applied to |gradient| before
        "match" compares it with the mask (single-sample gradients are speckled).
    """

    weight: float = 1.0
    output: str = "has_bar"
    dilate_px: int = 2
    noise: float = 0.1
    mask_column: str = "bar_mask"
    kind: str = "match"
    blur_px: float = 1.5

    def __post_init__(self) -> None:
        if self.kind not in PENALTIES:
            raise ValueError(f"guidance kind must be one of {', '.join(PENALTIES)}, not {self.kind!r}")

    def to_dict(self) -> dict:
        return asdict(self)


def mask_to_model(mask: np.ndarray, preprocessing: Preprocessing) -> torch.Tensor:
    """S x S float mask in [0, 1]: the same centre crop and resize the image gets."""
    m = np.asarray(mask, np.float32)
    if m.ndim == 3:
        m = m.max(axis=2)
    if m.max() > 1.0:
        m = m / 255.0
    r0, r1, c0, c1 = preprocessing.crop_box(m.shape[0], m.shape[1])
    t = torch.from_numpy(np.ascontiguousarray(m[r0:r1, c0:c1]))[None, None]
    s = preprocessing.input_size
    if t.shape[-2:] != (s, s):
        t = F.interpolate(t, size=(s, s), mode="bilinear", align_corners=False, antialias=True)
    return t[0, 0].clamp_(0.0, 1.0)


def read_mask(path: Path, preprocessing: Preprocessing) -> torch.Tensor:
    """Read a mask image (PNG: non-zero = bar) and bring it to the model's grid."""
    with Image.open(path) as im:
        return mask_to_model(np.asarray(im.convert("L")), preprocessing)


def dilate(masks: torch.Tensor, px: int) -> torch.Tensor:
    """Grey dilation by a (2 px + 1)-square: a max filter, cheap on any device."""
    if px <= 0:
        return masks
    return F.max_pool2d(masks, kernel_size=2 * px + 1, stride=1, padding=px)


def outside_share(grad: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Per image, the share of |gradient| (summed over channels) outside the mask.

    grad: N x C x S x S; masks: N x 1 x S x S in [0, 1]. Returns N values in [0, 1].
    """
    energy = grad.abs().sum(dim=1, keepdim=True)
    total = energy.flatten(1).sum(1)
    outside = (energy * (1.0 - masks)).flatten(1).sum(1)
    return outside / (total + 1e-12)


def _gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of N x 1 x S x S maps (differentiable, zero padding)."""
    if sigma <= 0:
        return x
    r = max(1, int(math.ceil(3 * sigma)))
    t = torch.arange(-r, r + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    x = F.conv2d(x, k.view(1, 1, 1, -1), padding=(0, r))
    return F.conv2d(x, k.view(1, 1, -1, 1), padding=(r, 0))


def match_distance(grad: torch.Tensor, masks: torch.Tensor, blur_px: float = 1.5) -> torch.Tensor:
    """Per image, total-variation distance between |gradient| and the mask, both blurred
    alike and normalised to unit sum: 0 = saliency spread evenly over the bar, 1 = entirely off it."""
    energy = _gaussian_blur(grad.abs().sum(dim=1, keepdim=True), blur_px).flatten(1)
    p = energy / (energy.sum(1, keepdim=True) + 1e-12)
    q = _gaussian_blur(masks, blur_px).flatten(1)
    q = q / (q.sum(1, keepdim=True) + 1e-12)
    return 0.5 * (p - q).abs().sum(1)


PENALTIES = ("match", "outside", "evidence")


def evidence_loss(net: torch.nn.Module, x: torch.Tensor, masks: torch.Tensor, output_index: int) -> torch.Tensor:
    """BCE between a network's evidence map for one output and the bar masks (all images:
    a galaxy without a bar should show no bar evidence anywhere). Needs ``net.evidence``."""
    maps = net.evidence(x)[:, output_index:output_index + 1]
    target = F.adaptive_avg_pool2d(masks, maps.shape[-2:])  # the mask's cover of each map pixel
    return F.binary_cross_entropy_with_logits(maps, target)


def guidance_penalty(net: torch.nn.Module, x: torch.Tensor, masks: torch.Tensor, output_index: int,
                     cfg: GuidanceConfig, gen: torch.Generator | None = None) -> torch.Tensor:
    """Mean penalty (``cfg.kind``) over the images whose mask is not empty.

    ``kind="evidence"`` instead supervises the network's own evidence map on
    every image (see :func:`evidence_loss`); it needs no double back-propagation.

    Differentiable in the network's parameters (double back-propagation), so
    adding ``cfg.weight * penalty`` to the loss trains the saliency itself.
    Returns 0 (still a graph-free tensor) when no image in the batch has a bar.
    """
    if cfg.kind == "evidence":
        if not hasattr(net, "evidence"):
            raise ValueError("guidance kind 'evidence' needs a network with evidence maps (--arch evidence)")
        return evidence_loss(net, x, dilate(masks, cfg.dilate_px), output_index)
    has = masks.flatten(1).amax(1) > 0.5
    if not bool(has.any()):
        return x.new_zeros(())
    xb = x[has].detach()
    if cfg.noise > 0:
        noise = torch.randn(xb.shape, generator=gen).to(xb.device, xb.dtype) if gen is not None \
            else torch.randn_like(xb)
        xb = xb + cfg.noise * noise
    xb.requires_grad_(True)
    was_training = net.training
    net.eval()  # as at inference: BatchNorm running statistics, no dropout (and no stats update)
    try:
        logit = net(xb)[:, output_index]
        (grad,) = torch.autograd.grad(logit.sum(), xb, create_graph=True)
    finally:
        net.train(was_training)
    target = dilate(masks[has], cfg.dilate_px)
    if cfg.kind == "outside":
        return outside_share(grad, target).mean()
    return match_distance(grad, target, cfg.blur_px).mean()
