"""`GalaxyImage`: the one in-memory form of a galaxy picture.

Every reader returns it and every later step (model input, saliency, bar
measurement, GUI) takes it, so formats never leak past ``images/``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np


@dataclass
class GalaxyImage:
    """Pixels plus what is known about where they came from.

    pixels: float32, shape (H, W, C), row-major (row = y). Raster files are
        scaled to [0, 1] by their bit depth; FITS keep physical values
        (BSCALE/BZERO applied), NaN/inf kept.
    pixel_scale: arcsec per pixel as an astropy Quantity, or None if unknown.
    id: a stable name (file stem, or the catalogue's id as text: never float).
    meta: the joined catalogue row, column -> value (ids stay int64 / str).
    """

    pixels: np.ndarray
    id: str
    path: Path | None = None
    pixel_scale: u.Quantity | None = None
    header: Any = None  # astropy.io.fits.Header for FITS
    wcs: Any = None  # astropy.wcs.WCS with celestial axes, or None
    band_names: tuple[str, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        px = np.asarray(self.pixels)
        if px.ndim == 2:
            px = px[:, :, None]
        if px.ndim != 3:
            raise ValueError(f"pixels must be HxW or HxWxC, got shape {px.shape}")
        self.pixels = px.astype(np.float32, copy=False)

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def channels(self) -> int:
        return int(self.pixels.shape[2])

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.pixels.shape)  # type: ignore[return-value]

    @property
    def nan_count(self) -> int:
        """Pixels (over all channels) that are NaN or infinite."""
        return int(np.count_nonzero(~np.isfinite(self.pixels)))

    def luminance(self) -> np.ndarray:
        """HxW float32 mean over channels (NaNs ignored); for masks and stats."""
        with np.errstate(invalid="ignore"):
            if self.channels == 1:
                return self.pixels[:, :, 0]
            return np.nanmean(self.pixels, axis=2).astype(np.float32)

    def pixel_scale_arcsec(self) -> float | None:
        if self.pixel_scale is None:
            return None
        return float(self.pixel_scale.to_value(u.arcsec / u.pixel))
