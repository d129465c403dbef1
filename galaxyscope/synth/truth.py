"""The exact truth of a synthetic galaxy: one catalogue row.

Why a dataclass of plain numbers: it becomes a row of ``catalog.ecsv`` and a FITS header as it
is, and evaluation code compares measured bars with it field by field.

Definitions (all pixel quantities in the output frame; x = column, y = row, row 0 on top,
(x, y) origin at the centre of the top-left pixel; angles = degrees(atan2(dy, dx)) mod 180):

- bar_length_px: end-to-end length of the bar *as seen on the image*: the major axis of the
  bar's projected outline (the ellipse where the Ferrers bar's light reaches zero), 2A. It is
  the intrinsic length 2a foreshortened by the disc's inclination (bar_foreshortening = 2A/2a);
  a careful human drawing tip to tip along the visible bar draws this. 0 when there is no bar.
- bar_pa_deg, bar_axis_ratio: direction and minor/major ratio of that projected outline.
- bar_x1, bar_y1, bar_x2, bar_y2: its two tips (x1 <= x2).
- r90_px: radius of the circle about the galaxy centre holding 90 % of the galaxy's noise-free,
  PSF-free r-band light in the frame (bulge + disc + bar + arms + ring; no stars).
- pixel_scale_arcsec: arcsec per pixel; GZ2 framing: 0.02 x petro_r90_arcsec x 424 / size.
- bar_length_scaled: bar_length_px / (2 r90_px), the quantity whose distribution follows
  Hoyle et al. 2011 (read as L / 2R90).
- bulge_fraction, bar_flux_fraction, arm_fraction: shares of the galaxy's r-band light.
- bar_contrast: median over the bar mask of bar light / (all other galaxy light), PSF-free.
- bar_visibility: 0-1, how obvious the bar is (see votes.bar_visibility); drives the votes.
- bar_boxiness, bar_ansae, bar_dust_tau: the bar's shape inside its outline (isophote exponent,
  2 = elliptical; tip blobs' brightness relative to its centre; optical depth of its leading-edge
  dust lanes). None changes the outline, so length, PA, axis ratio and mask are as above.
- arm_flocculence: share of the arm light in short patchy segments (0 = grand design).
- n_companions, merger: neighbour galaxies drawn near the target (their light is zero within
  1.15 x the target's intended R90, so never on the bar; not included in r90 or the fractions)
  and whether one of them is an interacting partner with a tidal tail.
- frame_zoom: R90 on the image relative to GZ2's framing (1 for SDSS; DECaLS cutouts are tighter);
  petro_r90_arcsec = pixel_scale_arcsec x size / 424 / 0.02 x frame_zoom.
- artefact_x, artefact_y: the planted artefact's reference point (see params.ArtefactSpec);
  NaN when artefact == "none".
Angles and ratios of a missing bar are NaN.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from galaxyscope.synth.geometry import enclosed_light_radius, projected_bar
from galaxyscope.synth.params import GZ2_R90_FRACTION, GZ2_SIZE, GalaxyParams
from galaxyscope.synth.votes import GZ2Votes, bar_visibility, simulate_votes

NAN = float("nan")


@dataclass(frozen=True)
class GalaxyTruth:
    """Everything known exactly about one synthetic galaxy (see the module docstring)."""

    has_bar: bool
    bar_length_px: float
    bar_pa_deg: float
    bar_axis_ratio: float
    bar_x1: float
    bar_y1: float
    bar_x2: float
    bar_y2: float
    bar_length_scaled: float
    bar_length_arcsec: float
    bar_length_kpc: float
    bar_intrinsic_length_px: float
    bar_intrinsic_axis_ratio: float
    bar_phi_deg: float
    bar_foreshortening: float
    bar_flux_fraction: float
    bar_contrast: float
    bar_visibility: float
    bar_mask_area_px: int
    bar_boxiness: float
    bar_ansae: float
    bar_dust_tau: float
    r90_px: float
    r90_arcsec: float
    petro_r90_arcsec: float
    pixel_scale_arcsec: float
    redshift: float
    ra_deg: float
    dec_deg: float
    centre_x: float
    centre_y: float
    inclination_deg: float
    disc_pa_deg: float
    disc_axis_ratio: float
    disc_scale_px: float
    bulge_fraction: float
    bulge_sersic_n: float
    bulge_re_px: float
    has_arms: bool
    n_arms: int
    arm_pitch_deg: float
    arm_fraction: float
    arm_flocculence: float
    has_ring: bool
    ring_radius_px: float
    psf_fwhm_px: float
    psf_fwhm_arcsec: float
    style: str
    n_stars: int
    n_background_galaxies: int
    n_companions: int
    merger: bool
    frame_zoom: float
    artefact: str
    artefact_x: float
    artefact_y: float
    votes: GZ2Votes

    def as_row(self) -> dict[str, Any]:
        """Flat column -> value mapping (votes inlined) for a catalogue row or a header."""
        row = asdict(self)
        row.update(row.pop("votes"))
        return row


@lru_cache(maxsize=1)
def _cosmology():
    from astropy.cosmology import FlatLambdaCDM

    return FlatLambdaCDM(H0=70, Om0=0.3)


def kpc_per_arcsec(redshift: float) -> float:
    """Proper kpc per arcsec at ``redshift`` (flat LCDM, H0 = 70, Om0 = 0.3, as the Hoyle table)."""
    import astropy.units as u

    return float(_cosmology().kpc_proper_per_arcmin(redshift).to_value(u.kpc / u.arcsec))


def compute_truth(params: GalaxyParams, comps: Any, bar_mask: np.ndarray) -> GalaxyTruth:
    """Measure the truth of a rendered galaxy from its parameters and noise-free components."""
    p = params
    total = comps.total()
    flux = float(total.sum())
    r90 = enclosed_light_radius(total, p.centre_x, p.centre_y, 0.9)
    scale_kpc = kpc_per_arcsec(p.redshift)
    if p.has_bar:
        geo = projected_bar(
            p.bar_a_px, p.bar_b_px, p.bar_phi_deg, p.disc_pa_deg, p.disc_axis_ratio, p.centre_x, p.centre_y
        )
        length, pa, ratio = geo.length_px, geo.pa_deg, geo.axis_ratio
        ends = (geo.x1, geo.y1, geo.x2, geo.y2)
        rest = total - comps.bar
        contrast = float(np.median(comps.bar[bar_mask] / np.maximum(rest[bar_mask], 1e-12))) if bar_mask.any() else 0.0
        intrinsic = 2.0 * p.bar_a_px
    else:
        length, pa, ratio, ends, contrast, intrinsic = 0.0, NAN, NAN, (NAN,) * 4, 0.0, 0.0
    visibility = bar_visibility(
        p.has_bar, length, ratio if p.has_bar else 1.0, contrast, p.psf_fwhm_px, p.inclination_deg
    )
    arm_fraction = float(comps.arms.sum()) / flux
    bulge_fraction = float(comps.bulge.sum()) / flux
    votes = simulate_votes(
        np.random.default_rng([p.seed, 2]),
        visibility=visibility,
        has_ring=p.has_ring,
        has_arms=p.has_arms,
        arm_fraction=arm_fraction,
        bulge_fraction=bulge_fraction,
        inclination_deg=p.inclination_deg,
    )
    art = p.artefact
    has_art = art.kind != "none"
    return GalaxyTruth(
        has_bar=bool(p.has_bar),
        bar_length_px=float(length),
        bar_pa_deg=float(pa),
        bar_axis_ratio=float(ratio),
        bar_x1=float(ends[0]),
        bar_y1=float(ends[1]),
        bar_x2=float(ends[2]),
        bar_y2=float(ends[3]),
        bar_length_scaled=float(length / (2.0 * r90)),
        bar_length_arcsec=float(length * p.pixel_scale_arcsec),
        bar_length_kpc=float(length * p.pixel_scale_arcsec * scale_kpc),
        bar_intrinsic_length_px=float(intrinsic),
        bar_intrinsic_axis_ratio=float(p.bar_b_px / p.bar_a_px) if p.has_bar else NAN,
        bar_phi_deg=float(p.bar_phi_deg) if p.has_bar else NAN,
        bar_foreshortening=float(length / intrinsic) if p.has_bar else NAN,
        bar_flux_fraction=float(comps.bar.sum()) / flux,
        bar_contrast=contrast,
        bar_visibility=float(visibility),
        bar_mask_area_px=int(bar_mask.sum()),
        bar_boxiness=float(p.bar_boxiness) if p.has_bar else NAN,
        bar_ansae=float(p.bar_ansae) if p.has_bar else NAN,
        bar_dust_tau=float(p.bar_dust_tau) if p.has_bar else NAN,
        r90_px=float(r90),
        r90_arcsec=float(r90 * p.pixel_scale_arcsec),
        petro_r90_arcsec=float(p.pixel_scale_arcsec * p.size / GZ2_SIZE / GZ2_R90_FRACTION * p.frame_zoom),
        pixel_scale_arcsec=float(p.pixel_scale_arcsec),
        redshift=float(p.redshift),
        ra_deg=float(p.ra_deg),
        dec_deg=float(p.dec_deg),
        centre_x=float(p.centre_x),
        centre_y=float(p.centre_y),
        inclination_deg=float(p.inclination_deg),
        disc_pa_deg=float(p.disc_pa_deg),
        disc_axis_ratio=float(p.disc_axis_ratio),
        disc_scale_px=float(p.disc_scale_px),
        bulge_fraction=bulge_fraction,
        bulge_sersic_n=float(p.bulge_n),
        bulge_re_px=float(p.bulge_re_px),
        has_arms=bool(p.has_arms),
        n_arms=int(p.n_arms) if p.has_arms else 0,
        arm_pitch_deg=float(p.arm_pitch_deg) if p.has_arms else NAN,
        arm_fraction=arm_fraction,
        arm_flocculence=float(p.arm_flocculence) if p.has_arms else NAN,
        has_ring=bool(p.has_ring),
        ring_radius_px=float(p.ring_radius_px) if p.has_ring else 0.0,
        psf_fwhm_px=float(p.psf_fwhm_px),
        psf_fwhm_arcsec=float(p.psf_fwhm_px * p.pixel_scale_arcsec),
        style=p.style,
        n_stars=len(p.stars),
        n_background_galaxies=len(p.background_galaxies),
        n_companions=len(p.companions),
        merger=bool(p.merger),
        frame_zoom=float(p.frame_zoom),
        artefact=art.kind,
        artefact_x=float(art.x) if has_art else NAN,
        artefact_y=float(art.y) if has_art else NAN,
        votes=votes,
    )

