"""Write a synthetic galaxy as FITS: r band in the primary HDU, g and i as extensions, truth in the header.

Why r in the primary: every FITS reader (ours, ds9, astropy) sees one 2-D image with a full
celestial WCS, like the real SDSS cutouts; the other bands are there for colour work.

Layout: primary HDU = r band (float32, sky-subtracted counts in arbitrary units; SKYSIGG/R/I
give each band's sky noise), extensions "G" and "I" the same for g and i. Array rows are the
JPEG's rows (data[0] is the JPEG's top row), so the truth's pixel coordinates apply to both
files unchanged; the WCS (TAN, north up and east left on the JPEG) accounts for that, and its
pixel scale equals pixel_scale_arcsec. Truth keywords (8 characters) are listed in
TRUTH_KEYWORDS; undefined ones (bar angles without a bar, artefact position without an
artefact) are left out.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

from galaxyscope.synth.render import SyntheticGalaxy

# header keyword -> (truth attribute, comment)
TRUTH_KEYWORDS: dict[str, tuple[str, str]] = {
    "HASBAR": ("has_bar", "galaxy has a bar"),
    "BARLEN": ("bar_length_px", "[pix] bar tip-to-tip length on image"),
    "BARPA": ("bar_pa_deg", "[deg] atan2(dy,dx) mod 180, row 0 on top"),
    "BARQ": ("bar_axis_ratio", "bar minor/major axis ratio on image"),
    "BARX1": ("bar_x1", "[pix] bar tip 1 x (0 = 1st pixel centre)"),
    "BARY1": ("bar_y1", "[pix] bar tip 1 y (0 = top row centre)"),
    "BARX2": ("bar_x2", "[pix] bar tip 2 x"),
    "BARY2": ("bar_y2", "[pix] bar tip 2 y"),
    "R90PX": ("r90_px", "[pix] radius with 90% of galaxy light"),
    "PIXSCALE": ("pixel_scale_arcsec", "[arcsec/pix] pixel scale"),
    "REDSHIFT": ("redshift", "redshift"),
    "INCLIN": ("inclination_deg", "[deg] disc inclination"),
    "BULGEFR": ("bulge_fraction", "bulge share of the galaxy light"),
    "GALX": ("centre_x", "[pix] galaxy centre x"),
    "GALY": ("centre_y", "[pix] galaxy centre y"),
    "PSFFWHM": ("psf_fwhm_px", "[pix] PSF FWHM"),
    "ARTEFACT": ("artefact", "planted artefact kind"),
    "ARTX": ("artefact_x", "[pix] artefact x (NaN if none)"),
    "ARTY": ("artefact_y", "[pix] artefact y (NaN if none)"),
}


def galaxy_wcs(galaxy: SyntheticGalaxy) -> WCS:
    """TAN WCS centred on the galaxy at its seeded (ra, dec), pixel scale = pixel_scale_arcsec."""
    p = galaxy.params
    scale_deg = p.pixel_scale_arcsec / 3600.0
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.cunit = ["deg", "deg"]
    wcs.wcs.crpix = [p.centre_x + 1.0, p.centre_y + 1.0]  # FITS pixels count from 1
    wcs.wcs.crval = [p.ra_deg, p.dec_deg]
    # array row index grows downwards on the JPEG, where north is up: dDec/drow < 0; east left
    wcs.wcs.cd = np.array([[-scale_deg, 0.0], [0.0, -scale_deg]])
    wcs.wcs.radesys = "ICRS"
    return wcs


def _header_value(value: object) -> object:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    return value


def write_fits(path: str | Path, galaxy: SyntheticGalaxy, galaxy_id: str) -> None:
    """Write ``galaxy`` to ``path`` (overwriting); deterministic bytes (no dates, no checksums)."""
    header = galaxy_wcs(galaxy).to_header()
    header["OBJECT"] = (galaxy_id, "synthetic galaxy id")
    header["BUNIT"] = ("count", "sky-subtracted, arbitrary zero point")
    for band, sigma in zip("GRI", galaxy.params.sky_sigma):
        header[f"SKYSIG{band}"] = (float(sigma), f"sky noise per pixel, {band.lower()} band")
    header["FILTER"] = ("r", "g and i are in extensions G and I")
    header["ORIGIN"] = ("galaxyscope.synth", "synthetic image, not an observation")
    header["SURVSTYL"] = (galaxy.params.style, "survey look imitated")
    truth = galaxy.truth
    for key, (attr, comment) in TRUTH_KEYWORDS.items():
        value = getattr(truth, attr)
        if isinstance(value, float) and not math.isfinite(value):
            continue  # FITS has no NaN cards: undefined quantities (no bar, no artefact) are left out
        header[key] = (_header_value(value), comment)
    primary = fits.PrimaryHDU(data=galaxy.bands[1].astype(np.float32), header=header)
    hdus = [primary]
    for band_index, name in ((0, "G"), (2, "I")):
        ext_header = galaxy_wcs(galaxy).to_header()
        ext_header["FILTER"] = (name.lower(), "band of this HDU")
        ext_header["BUNIT"] = ("count", "sky-subtracted, arbitrary zero point")
        hdus.append(fits.ImageHDU(data=galaxy.bands[band_index].astype(np.float32), header=ext_header, name=name))
    fits.HDUList(hdus).writeto(path, overwrite=True)
