"""Pixel lengths to angles and physical sizes (astropy.units, astropy.cosmology).

Why a separate step: the core measures in map pixels; what leaves the core carries
units.  arcsec come from the image's pixel scale, kpc from the angular diameter
distance at the galaxy's redshift (proper kpc; Planck18 unless told otherwise).
Anything that is not known becomes None, never a made-up number.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from typing import TYPE_CHECKING

import astropy.units as u

if TYPE_CHECKING:  # importing astropy.cosmology takes seconds: only when a length goes to kpc
    from astropy.cosmology import Cosmology

PIX = u.pix


@dataclass(frozen=True)
class BarLengths:
    """A bar's sizes with units: pixels always, arcsec with a pixel scale, kpc with a redshift too."""

    length: u.Quantity
    width: u.Quantity
    length_err: u.Quantity
    length_arcsec: u.Quantity | None
    width_arcsec: u.Quantity | None
    length_err_arcsec: u.Quantity | None
    length_kpc: u.Quantity | None
    width_kpc: u.Quantity | None
    length_err_kpc: u.Quantity | None
    pixel_scale: u.Quantity | None
    redshift: float | None
    cosmology: str | None


def _as_pixel_scale(pixel_scale: u.Quantity) -> u.Quantity:
    if not isinstance(pixel_scale, u.Quantity):
        raise TypeError(f"pixel_scale must be an astropy Quantity (e.g. 0.396 * u.arcsec / u.pix), "
                        f"got {type(pixel_scale).__name__}")
    if pixel_scale.unit.is_equivalent(u.arcsec):
        pixel_scale = pixel_scale / PIX
    return pixel_scale.to(u.arcsec / PIX)


def default_cosmology() -> Cosmology:
    """astropy's Planck18, the default for angle-to-kpc conversion."""
    from astropy.cosmology import Planck18

    return Planck18


def kpc_per_arcsec(redshift: float, cosmology: Cosmology | None = None) -> u.Quantity:
    """Proper kpc per arcsec at ``redshift`` (angular diameter distance x 1 arcsec in radians)."""
    if redshift <= 0:
        raise ValueError(f"redshift must be positive for a physical size, got {redshift}")
    cosmo = cosmology if cosmology is not None else default_cosmology()
    return cosmo.kpc_proper_per_arcmin(redshift).to(u.kpc / u.arcsec)


def to_units(length_px: float, width_px: float, length_err_px: float,
             pixel_scale: u.Quantity | None, redshift: float | None,
             cosmology: Cosmology | None = None) -> BarLengths:
    """Attach units to pixel lengths; arcsec need a pixel scale, kpc a positive finite redshift too.

    ``pixel_scale`` is an angle per pixel (a bare angle is read as per pixel).
    A redshift that is None or not finite is unknown (kpc become None); zero or
    negative raises ValueError.
    """
    px = (float(length_px) * PIX, float(width_px) * PIX, float(length_err_px) * PIX)
    arcsec: tuple = (None, None, None)
    kpc: tuple = (None, None, None)
    scale = None
    cosmo = cosmology if cosmology is not None else default_cosmology()
    z = None if redshift is None or not math.isfinite(float(redshift)) else float(redshift)
    if pixel_scale is not None:
        scale = _as_pixel_scale(pixel_scale)
        arcsec = tuple((q * scale).to(u.arcsec) for q in px)
        if z is not None:
            per = kpc_per_arcsec(z, cosmo)
            kpc = tuple((a * per).to(u.kpc) for a in arcsec)
    return BarLengths(length=px[0], width=px[1], length_err=px[2],
                      length_arcsec=arcsec[0], width_arcsec=arcsec[1], length_err_arcsec=arcsec[2],
                      length_kpc=kpc[0], width_kpc=kpc[1], length_err_kpc=kpc[2],
                      pixel_scale=scale, redshift=z,
                      cosmology=(getattr(cosmo, "name", None) or repr(cosmo)) if kpc[0] is not None else None)


def to_pixels(length: u.Quantity | None, pixel_scale: u.Quantity | None, redshift: float | None,
              cosmology: Cosmology | None = None) -> u.Quantity | None:
    """A length in pixels of this image, from pixels, an angle, or a physical length, or None.

    Why: reference lengths come in their source's unit (Hoyle et al. 2011: kpc / h); to
    draw them on an image or compare them with a drawn line they must be pixels. An
    angle needs the pixel scale; a physical length also a positive redshift (proper
    kpc, Planck18 unless told; ``kpc / littleh`` takes h from the same cosmology).
    None where what is needed is unknown.
    """
    if length is None or not math.isfinite(float(length.value)):
        return None
    if length.unit.is_equivalent(PIX):
        return length.to(PIX)
    if pixel_scale is None:
        return None
    scale = _as_pixel_scale(pixel_scale)
    if length.unit.is_equivalent(u.arcsec):
        return (length / scale).to(PIX)
    cosmo = cosmology if cosmology is not None else default_cosmology()
    if redshift is None or not math.isfinite(float(redshift)) or float(redshift) <= 0:
        return None
    from astropy.cosmology import units as cu

    try:
        kpc = length.to(u.kpc, cu.with_H0(cosmo.H0))
    except u.UnitConversionError:
        return None
    return (kpc / kpc_per_arcsec(float(redshift), cosmo) / scale).to(PIX)
