"""How pixels become something to look at: stretches, intervals, channel choice (no Qt).

Why separate from the view: the same numbers feed the main image, the thumbnails
and the tests, and none of it needs a window. Everything uses
astropy.visualization, so the display matches what astronomers get from
ds9/astropy (linear, sqrt, log, asinh; min-max, percentile, zscale).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from astropy.visualization import (
    AsinhStretch,
    BaseInterval,
    BaseStretch,
    LinearStretch,
    LogStretch,
    MinMaxInterval,
    PercentileInterval,
    SqrtStretch,
    ZScaleInterval,
)

STRETCHES: dict[str, type[BaseStretch]] = {
    "linear": LinearStretch,
    "sqrt": SqrtStretch,
    "log": LogStretch,
    "asinh": AsinhStretch,
}
INTERVALS: tuple[str, ...] = ("minmax", "percentile", "zscale")

#: image colour maps offered for one-band display: label -> pyqtgraph colormap name
IMAGE_COLORMAPS: dict[str, str] = {
    "grey": "CET-L1",
    "viridis": "viridis",
    "inferno": "inferno",
    "magma": "magma",
    "plasma": "plasma",
    "cividis": "cividis",
    "turbo": "turbo",
}
#: colour maps offered for the saliency overlay
SALIENCY_COLORMAPS: dict[str, str] = {
    "inferno": "inferno",
    "magma": "magma",
    "viridis": "viridis",
    "turbo": "turbo",
    "plasma": "plasma",
    "heat": "CET-L3",
}

RGB = "rgb"
LUMINANCE = "luminance"


@dataclass(frozen=True)
class DisplaySettings:
    """What the display controls say: stretch, interval (and its percentile), channel mode.

    channel: "rgb", "luminance" or "band:<i>" (one band of a multi-band image).
    """

    stretch: str = "linear"
    interval: str = "percentile"
    percentile: float = 99.5
    channel: str = RGB


def make_interval(name: str, percentile: float = 99.5) -> BaseInterval:
    """The astropy interval object for a name in INTERVALS."""
    if name == "minmax":
        return MinMaxInterval()
    if name == "percentile":
        return PercentileInterval(float(percentile))
    if name == "zscale":
        return ZScaleInterval()
    raise ValueError(f"unknown interval {name!r}; choose from {INTERVALS}")


def make_stretch(name: str) -> BaseStretch:
    """The astropy stretch object for a name in STRETCHES."""
    try:
        return STRETCHES[name]()
    except KeyError:
        raise ValueError(f"unknown stretch {name!r}; choose from {sorted(STRETCHES)}") from None


def channel_choices(channels: int, band_names: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """(key, label) pairs for the channel chooser of an image with ``channels`` bands."""
    if channels == 1:
        return [(LUMINANCE, band_names[0] if band_names else "single band")]
    out = [(RGB, "RGB colour")] if channels >= 3 else []
    out.append((LUMINANCE, "mean of bands"))
    for i in range(channels):
        label = band_names[i] if i < len(band_names) else f"band {i}"
        out.append((f"band:{i}", label))
    return out


def select_channels(pixels: np.ndarray, channel: str) -> np.ndarray:
    """HxW (one band or the mean) or HxWx3 (RGB) view of HxWxC pixels for ``channel``.

    Falls back to the mean of the bands when the requested channel does not exist
    (e.g. "rgb" on a one-band FITS), so a remembered setting never breaks display.
    """
    px = np.asarray(pixels, dtype=np.float32)
    if px.ndim == 2:
        return px
    c = px.shape[2]
    if channel == RGB and c >= 3:
        return px[:, :, :3]
    if channel.startswith("band:"):
        try:
            i = int(channel.split(":", 1)[1])
        except ValueError:
            i = -1
        if 0 <= i < c:
            return px[:, :, i]
    if c == 1:
        return px[:, :, 0]
    with np.errstate(invalid="ignore"):
        return np.nanmean(px, axis=2).astype(np.float32)


def display_array(pixels: np.ndarray, settings: DisplaySettings = DisplaySettings()) -> np.ndarray:
    """Pixels mapped to [0, 1] for display: channel choice, interval, then stretch.

    Why one interval for all colour channels: separate limits per channel would
    change a galaxy's colours. Non-finite pixels become 0 (the readout still
    shows the stored value). Returns float32 HxW or HxWx3.
    """
    data = select_channels(pixels, settings.channel)
    finite = np.isfinite(data)
    if not finite.any():
        return np.zeros(data.shape, np.float32)
    interval = make_interval(settings.interval, settings.percentile)
    try:
        lo, hi = interval.get_limits(data[finite])
    except (ValueError, IndexError):  # zscale on very few pixels
        lo, hi = float(np.min(data[finite])), float(np.max(data[finite]))
    if not np.isfinite(lo) or not np.isfinite(hi) or hi <= lo:
        lo, hi = float(np.min(data[finite])), float(np.max(data[finite]))
    scaled = np.where(finite, data, lo)
    if hi > lo:
        scaled = (scaled - lo) / (hi - lo)
    else:
        scaled = np.zeros_like(scaled)
    scaled = np.clip(scaled, 0.0, 1.0)
    out = make_stretch(settings.stretch)(scaled, clip=True)
    return np.asarray(out, dtype=np.float32)


def thumbnail_rgb(pixels: np.ndarray, size: int = 64, settings: DisplaySettings | None = None) -> np.ndarray:
    """size x size (or smaller, aspect kept) uint8 RGB preview for the browser.

    Downsamples by block means (cheap, no aliasing sparkle) before stretching, so a
    100k-file set costs one read and a few array ops per visible row.
    """
    px = np.asarray(pixels, dtype=np.float32)
    if px.ndim == 2:
        px = px[:, :, None]
    h, w = px.shape[:2]
    step = max(1, int(np.ceil(max(h, w) / size)))
    hh, ww = (h // step) * step, (w // step) * step
    if step > 1 and hh > 0 and ww > 0:
        with np.errstate(invalid="ignore"):
            px = np.nanmean(px[:hh, :ww].reshape(hh // step, step, ww // step, step, px.shape[2]), axis=(1, 3))
    s = settings or DisplaySettings(stretch="asinh" if px.shape[2] == 1 else "linear", interval="percentile",
                                    percentile=99.5, channel=RGB)
    disp = display_array(px, s)
    if disp.ndim == 2:
        disp = np.repeat(disp[:, :, None], 3, axis=2)
    return np.ascontiguousarray((disp * 255.0 + 0.5).astype(np.uint8))


def colormap_lut(values: np.ndarray) -> np.ndarray:
    """Check and return a 256x3 (or Nx3) uint8 colour lookup table."""
    lut = np.asarray(values)
    if lut.ndim != 2 or lut.shape[1] < 3:
        raise ValueError(f"a colour lookup table is N x 3 (or N x 4), got {lut.shape}")
    return np.ascontiguousarray(lut[:, :3].astype(np.uint8))


def overlay_scale(saliency: np.ndarray, percentile: float = 99.0) -> float:
    """The saliency value shown at full colour: the ``percentile`` of the non-zero pixels.

    Why: SmoothGrad maps are heavy-tailed (the median pixel of a typical map is a
    few per cent of the peak), so mapping 0..1 linearly shows a handful of hot
    pixels and hides the rest. Scaling to a high percentile is a display stretch
    only; thresholds and the mask outline still use the raw map.
    """
    m = np.asarray(saliency, dtype=np.float32)
    values = m[np.isfinite(m) & (m > 0)]
    if values.size == 0:
        return 1.0
    top = float(np.percentile(values, percentile))
    return top if top > 0 else 1.0


def saliency_rgba(saliency: np.ndarray, lut: np.ndarray, opacity: float = 0.6,
                  floor: float = 0.1, gamma: float = 0.6, scale: float = 1.0) -> np.ndarray:
    """HxWx4 uint8 overlay: colour from ``lut``, transparency rising with saliency.

    Values are divided by ``scale`` first (see overlay_scale) and clipped to [0, 1].
    Why not one global opacity: a flat tint hides the galaxy everywhere; fading the
    low-saliency pixels out keeps the image readable and shows where the model
    looked. Scaled values at or below ``floor`` are fully transparent; ``opacity``
    is the alpha of the most salient pixels.
    """
    m = np.nan_to_num(np.asarray(saliency, dtype=np.float32), nan=0.0)
    m = np.clip(m / float(scale if scale > 0 else 1.0), 0.0, 1.0)
    lut = colormap_lut(lut)
    idx = np.clip((m * (len(lut) - 1)).round().astype(np.int64), 0, len(lut) - 1)
    rgba = np.empty(m.shape + (4,), np.uint8)
    rgba[..., :3] = lut[idx]
    ramp = np.clip((m - floor) / max(1e-6, 1.0 - floor), 0.0, 1.0) ** gamma
    rgba[..., 3] = np.clip(ramp * float(opacity) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return rgba
