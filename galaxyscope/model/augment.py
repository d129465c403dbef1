"""On-the-fly augmentation of a batch of model inputs, as in Bhambra et al. (2022).

A galaxy's class does not depend on its orientation, parity, exact centring or
exposure, so training sees random 90-degree rotations plus a small arbitrary
angle, flips, small shifts and brightness/contrast jitter. All geometric parts
are folded into one affine warp per image, done for the whole batch by a
single ``grid_sample`` call: cheap enough for CPU training.

Survey augmentation (``AugmentConfig.survey()``, off by default) adds what
differs between surveys rather than between galaxies: colour balance, the
display stretch (gamma, asinh), noise, resolution (PSF blur), JPEG
re-compression and greyscale frames. Why: the shipped model learnt synthetic
galaxies only and real surveys differ from them, and from each other, in
exactly these ways (Galaxy Builder frames are greyscale r-band, Galaxy Zoo
frames gri JPEGs). The photometric changes never touch bar masks.
"""

from __future__ import annotations

import io
from dataclasses import asdict, dataclass, fields, replace

import numpy as np
import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class AugmentConfig:
    """How strongly to perturb training images (all zero/False = no augmentation).

    max_angle: degrees of small rotation on top of the random multiple of 90.
    max_shift: largest shift as a fraction of the image side.
    brightness: largest additive offset (inputs are roughly in [0, 1]).
    contrast: largest relative change of contrast about the image mean.

    Survey changes, applied in this order (as a survey pipeline would) before
    brightness/contrast, each image drawing its own amounts:
    blur: Gaussian PSF sigma drawn from U(0, blur), in model pixels.
    noise: Gaussian noise sigma drawn from U(0, noise).
    colour: per-channel gain drawn from 1 + U(-colour, colour).
    gamma: display gamma exp(U(-gamma, gamma)).
    asinh: stretch strength a from U(-asinh, asinh): x -> asinh(a x) / asinh(a)
        (a < 0: sinh, which darkens the faint light instead).
    greyscale: probability that the channels become their mean (3 equal channels).
    jpeg: probability of a JPEG round trip at a quality drawn from
        [jpeg_quality_min, jpeg_quality_max] (Pillow, on the uint8 image).
    """

    rot90: bool = True
    flip: bool = True
    max_angle: float = 15.0
    max_shift: float = 0.05
    brightness: float = 0.1
    contrast: float = 0.2
    blur: float = 0.0
    noise: float = 0.0
    colour: float = 0.0
    gamma: float = 0.0
    asinh: float = 0.0
    greyscale: float = 0.0
    jpeg: float = 0.0
    jpeg_quality_min: int = 30
    jpeg_quality_max: int = 95

    def __post_init__(self) -> None:
        for name in ("blur", "noise", "colour", "gamma", "asinh", "greyscale", "jpeg"):
            if getattr(self, name) < 0:
                raise ValueError(f"augmentation {name} must not be negative")
        if self.greyscale > 1 or self.jpeg > 1:
            raise ValueError("augmentation greyscale and jpeg are probabilities (0 to 1)")
        if not 1 <= self.jpeg_quality_min <= self.jpeg_quality_max <= 100:
            raise ValueError("JPEG qualities must satisfy 1 <= jpeg_quality_min <= jpeg_quality_max <= 100")

    @classmethod
    def survey(cls, **overrides) -> "AugmentConfig":
        """The basic augmentation plus survey differences at moderate strength.

        Strengths: blur up to 1.5 model px (a 128 px view of a GZ2 frame is 0.4
        arcsec/px, so about the seeing), noise up to 3 % of the range, colour
        balance +-15 % per channel, gamma 0.74-1.35, asinh strength up to 3,
        a quarter greyscale, half JPEG-recompressed at quality 30-95.
        """
        return replace(cls(blur=1.5, noise=0.03, colour=0.15, gamma=0.3, asinh=3.0,
                           greyscale=0.25, jpeg=0.5), **overrides)

    @property
    def has_survey(self) -> bool:
        """Whether any survey change is on (they draw extra random numbers)."""
        return any((self.blur, self.noise, self.colour, self.gamma, self.asinh, self.greyscale, self.jpeg))

    def with_values(self, text: str) -> "AugmentConfig":
        """A copy with ``key=value`` settings applied, e.g. ``"greyscale=0.4,jpeg=0"`` (CLI --aug)."""
        types = {f.name: f.type for f in fields(self)}
        changes: dict = {}
        for item in filter(None, (s.strip() for s in text.split(","))):
            key, sep, value = item.partition("=")
            key = key.strip().replace("-", "_")
            if not sep or key not in types:
                raise ValueError(f"augmentation setting {item!r}: use KEY=VALUE with KEY one of "
                                 f"{', '.join(types)}")
            kind = types[key]
            try:
                if kind in (bool, "bool"):
                    if value.strip().lower() not in ("0", "1", "true", "false", "yes", "no"):
                        raise ValueError(value)
                    changes[key] = value.strip().lower() in ("1", "true", "yes")
                elif kind in (int, "int"):
                    changes[key] = int(value)
                else:
                    changes[key] = float(value)
            except ValueError:
                raise ValueError(f"augmentation setting {item!r}: {value!r} is not a valid {kind}") from None
        return replace(self, **changes)

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
    The random draws are the same as ``augment_batch``'s for the same generator,
    and without survey changes the same as before they existed (old seeds hold).
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
    if cfg.has_survey:
        x = survey_changes(x, gen, cfg)
    if cfg.brightness or cfg.contrast:
        shape = (n,) + (1,) * (x.dim() - 1)
        gain = gain.to(x.device, x.dtype).view(shape)
        offset = offset.to(x.device, x.dtype).view(shape)
        mean = x.mean(dim=tuple(range(1, x.dim())), keepdim=True)
        x = (x - mean) * gain + mean + offset
    return x, masks


def survey_changes(x: torch.Tensor, gen: torch.Generator, cfg: AugmentConfig) -> torch.Tensor:
    """Blur, noise, colour balance, re-stretch, greyscale and JPEG (cfg's survey part) on
    N x C x S x S images in [0, 1]; returns new images in [0, 1].

    All random numbers are drawn from ``gen`` up front, in a fixed order, whether
    or not an image ends up using them, so one setting's value never shifts
    another's draws.
    """
    n, c = x.shape[0], x.shape[1]
    sigma = torch.rand(n, generator=gen) * cfg.blur
    noise_sd = torch.rand(n, generator=gen) * cfg.noise
    noise = torch.randn(x.shape, generator=gen) if cfg.noise else None
    gains = 1.0 + _uniform(n * c, cfg.colour, gen).view(n, c)
    gamma = torch.exp(_uniform(n, cfg.gamma, gen))
    strength = _uniform(n, cfg.asinh, gen)
    grey = torch.rand(n, generator=gen) < cfg.greyscale
    use_jpeg = torch.rand(n, generator=gen) < cfg.jpeg
    quality = torch.randint(cfg.jpeg_quality_min, cfg.jpeg_quality_max + 1, (n,), generator=gen)

    dev, dt = x.device, x.dtype
    x = x.clamp(0.0, 1.0)
    if cfg.blur:
        x = gaussian_blur(x, sigma.to(dev, dt))
    if noise is not None:
        x = x + noise.to(dev, dt) * noise_sd.to(dev, dt).view(n, 1, 1, 1)
    if cfg.colour:
        x = x * gains.to(dev, dt).view(n, c, 1, 1)
    x = x.clamp(0.0, 1.0)
    if cfg.gamma:
        x = x.clamp_min(1e-6).pow(gamma.to(dev, dt).view(n, 1, 1, 1))
    if cfg.asinh:
        x = restretch(x, strength.to(dev, dt))
    if cfg.greyscale and bool(grey.any()):
        g = grey.to(dev).view(n, 1, 1, 1)
        x = torch.where(g, x.mean(dim=1, keepdim=True).expand_as(x), x)
    if cfg.jpeg and bool(use_jpeg.any()):
        x = jpeg_roundtrip(x, use_jpeg, quality)
    return x.clamp(0.0, 1.0)


def gaussian_blur(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Blur each image with its own Gaussian sigma (pixels; 0 = unchanged), separably.

    One grouped convolution per axis for the whole batch (reflect padding, so the
    frame's edge does not darken).
    """
    n, c, h, w = x.shape
    radius = int(np.ceil(3.0 * float(sigma.max()))) if len(sigma) else 0
    if radius < 1:
        return x
    t = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
    s = sigma.clamp_min(1e-3).view(n, 1)
    k = torch.exp(-0.5 * (t.view(1, -1) / s) ** 2)
    k = torch.where(sigma.view(n, 1) > 1e-3, k, (t.view(1, -1) == 0).to(x.dtype))  # sigma 0: identity
    k = (k / k.sum(dim=1, keepdim=True)).repeat_interleave(c, dim=0)  # (n*c) x (2r+1)
    pad = min(radius, h - 1, w - 1)
    if pad < radius:  # reflect padding needs the image larger than the kernel: shrink the kernel
        k = k[:, radius - pad:radius + pad + 1]
        k = k / k.sum(dim=1, keepdim=True)
    y = x.reshape(1, n * c, h, w)
    y = F.conv2d(F.pad(y, (pad, pad, 0, 0), mode="reflect"), k.view(n * c, 1, 1, -1), groups=n * c)
    y = F.conv2d(F.pad(y, (0, 0, pad, pad), mode="reflect"), k.view(n * c, 1, -1, 1), groups=n * c)
    return y.view(n, c, h, w)


def restretch(x: torch.Tensor, strength: torch.Tensor) -> torch.Tensor:
    """x -> asinh(a x) / asinh(a) per image (a > 0 lifts faint light, a < 0 uses sinh and
    lowers it, a = 0 is the identity); maps [0, 1] onto [0, 1]."""
    out = x.clone()
    for sel, fn in ((strength > 1e-3, torch.asinh), (strength < -1e-3, torch.sinh)):
        idx = torch.nonzero(sel).flatten()
        if len(idx):  # only the images that need it: the transcendental functions are the cost
            a = strength[idx].abs().view(-1, *([1] * (x.dim() - 1)))
            a = a if fn is torch.asinh else -a
            out[idx] = fn(a * x[idx]) / fn(a)
    return out


def jpeg_roundtrip(x: torch.Tensor, which: torch.Tensor, quality: torch.Tensor) -> torch.Tensor:
    """Encode and decode the chosen images as JPEG (Pillow, uint8) at their quality.

    About 1 ms per 128 px image on one CPU core. Greyscale images (equal
    channels) are coded as one-channel JPEGs, so they stay exactly grey.
    """
    from PIL import Image

    out = x.clone()
    idx = torch.nonzero(which).flatten().tolist()
    arr = (x[idx].detach().float().clamp(0, 1).mul(255.0).round().to(torch.uint8)
           .permute(0, 2, 3, 1).cpu().numpy())
    for row, i in enumerate(idx):
        im = arr[row]
        if im.shape[2] == 1 or (np.array_equal(im[:, :, 0], im[:, :, 1]) and np.array_equal(im[:, :, 0], im[:, :, 2])):
            pil = Image.fromarray(np.ascontiguousarray(im[:, :, 0]))  # 2-D uint8: mode L
        else:
            pil = Image.fromarray(np.ascontiguousarray(im[:, :, :3]))  # H x W x 3 uint8: RGB
        buf = io.BytesIO()
        pil.save(buf, format="JPEG", quality=int(quality[i]))
        buf.seek(0)
        dec = np.asarray(Image.open(buf), dtype=np.uint8)
        if dec.ndim == 2:
            dec = np.repeat(dec[:, :, None], x.shape[1], axis=2)
        out[i] = torch.from_numpy(np.ascontiguousarray(dec.transpose(2, 0, 1))).to(x.device, x.dtype) / 255.0
    return out
