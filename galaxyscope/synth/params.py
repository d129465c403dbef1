"""Everything that defines one synthetic galaxy, and how it is drawn at random.

Why a frozen dataclass: rendering is a pure function of it, so the same parameters give the same
pixels, a bar-free twin is ``dataclasses.replace(params, has_bar=False)``, and a test can build a
galaxy by hand. Lengths are in pixels of the output frame, angles in degrees with the project
convention (atan2(dy, dx) in pixel coordinates, x = column, y = row, row 0 on top).

Random streams: the galaxy, its bar, its artefact and its noise each have their own seed derived
from (dataset seed, galaxy index), so switching an artefact on or off leaves the galaxy unchanged,
and switching the bar on or off leaves disc, bulge, colours, PSF, stars and noise unchanged (arms
start at the bar's ends and rings encircle it, so those follow the bar). A bar-free twin with
*everything* else identical is ``dataclasses.replace(params, has_bar=False)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from galaxyscope.synth.bar_lengths import draw_from_quantiles
from galaxyscope.synth.geometry import projected_bar
from galaxyscope.synth.profiles import sersic_total_flux

GZ2_SIZE = 424  # Galaxy Zoo 2 cutouts are 424 x 424 px ...
GZ2_R90_FRACTION = 0.02  # ... at 0.02 x petroR90_r arcsec per pixel, so R90 = 50 px

ARTEFACT_KINDS = ("none", "star", "trail", "corner")
MAX_R90_FRACTION = 0.155  # zoomed frames keep R90 <= 0.155 x size (GZ2's largest: 65 px of 424)
COMPANION_CLEARANCE = 1.15  # companions' light is zero within this many r90_target_px of the centre
STYLES = ("sdss", "decals")


@dataclass(frozen=True)
class StyleSpec:
    """How a survey looks: native pixel, seeing, depth and the Lupton colour mapping."""

    name: str
    native_pixel_arcsec: float
    seeing_arcsec: tuple[float, float]
    sky_sigma: tuple[float, float, float]  # g, r, i noise per native pixel (counts, sky-subtracted)
    band_scale: tuple[float, float, float]  # g, r, i multipliers before make_lupton_rgb
    colour_saturation: float  # galaxy light: 1 = Lupton's colours; < 1 pulls each band towards the band mean
    lupton_stretch: float
    lupton_q: float
    lupton_minimum: tuple[float, float, float]  # i, r, g (red, green, blue); < 0 lifts the sky to grey
    n_stars: float  # mean number of stars in a 424 px frame
    n_background_galaxies: float
    source_saturation: float = 1.0  # the same for stars and background galaxies (real stars keep vivid colours)
    noise_blur_px: float = 0.0  # Gaussian smoothing of the sky noise (424 px frame): survey resampling + JPEG
    frame_zoom: tuple[float, float] = (1.0, 1.0)  # R90 on the image = 50 px x zoom (log-uniform range)
    n_companions: float = 0.6  # mean number of companion galaxies near the target


STYLE_SPECS: dict[str, StyleSpec] = {
    "sdss": StyleSpec(
        name="sdss",
        native_pixel_arcsec=0.396,
        seeing_arcsec=(1.1, 1.7),
        sky_sigma=(0.42, 0.52, 0.7),  # was (0.55, 0.7, 0.95): GZ2 sky noise is ~2/3 of ours
        band_scale=(1.27, 1.0, 0.95),  # was (1.2, 1.0, 0.85): galaxies too yellow-green vs GZ2
        colour_saturation=1.25,
        lupton_stretch=29.0,
        lupton_q=10.0,
        lupton_minimum=(-0.4, -0.4, -0.2),  # was (-1.0, -0.8, -0.5): GZ2 sky is ~(4, 4, 2) of 255
        n_stars=24.0,
        n_background_galaxies=5.0,
        source_saturation=1.25,
        noise_blur_px=1.2,
        frame_zoom=(1.0, 1.0),
        n_companions=0.6,
    ),
    "decals": StyleSpec(
        name="decals",
        native_pixel_arcsec=0.262,
        seeing_arcsec=(0.9, 1.4),
        sky_sigma=(1.6, 1.6, 1.75),  # was (2.2, 2.2, 2.4): DECaLS cutouts' sky noise is ~0.7 of ours
        band_scale=(1.4, 1.0, 0.88),  # was (1.2, 1.0, 0.85): galaxies too yellow vs DECaLS cutouts
        colour_saturation=0.45,
        lupton_stretch=29.0,
        lupton_q=10.0,
        lupton_minimum=(-1.9, -1.8, -1.65),  # was (-2.4, -2.1, -2.1): sky ~(17, 16, 16) of 255
        n_stars=18.0,
        n_background_galaxies=8.0,
        source_saturation=1.1,
        noise_blur_px=0.6,
        frame_zoom=(1.3, 2.2),
        n_companions=0.6,
    ),
}


@dataclass(frozen=True)
class Colour:
    """Colours of a component as g-r and r-i (magnitudes); red things have large values."""

    g_r: float
    r_i: float

    def band_factors(self) -> np.ndarray:
        """Flux in g, r, i relative to r."""
        return np.array([10 ** (-0.4 * self.g_r), 1.0, 10 ** (0.4 * self.r_i)])


@dataclass(frozen=True)
class PointSource:
    """A foreground star (PSF-shaped) at pixel (x, y) with total r-band counts ``flux``."""

    x: float
    y: float
    flux: float
    colour: Colour
    spike_length: float = 0.0  # diffraction spikes (px from the centre); 0 = none


@dataclass(frozen=True)
class BackgroundGalaxy:
    """A small, faint galaxy behind the target: a Sersic blob."""

    x: float
    y: float
    flux: float
    r_eff: float
    n: float
    ellip: float
    theta_deg: float
    colour: Colour


@dataclass(frozen=True)
class Companion(BackgroundGalaxy):
    """A galaxy near the target (a group member, or in a merger an interacting partner).

    Why: real cutouts often hold a neighbour, and a model that never saw one may read it as a
    bar or a spiral arm. Its light is zero within ``COMPANION_CLEARANCE x R90`` of the target, so
    it never touches the bar (whose tips lie within 1.1 x R90); it is a source like a star, not part of the target's
    components, so the target's truth (R90, fractions, bar) is unchanged by it.
    ``tail_length`` > 0: a tidal tail (mergers), a curved streak leaving the companion on the
    side away from the target, ``tail_flux`` counts in all.
    """

    tail_length: float = 0.0
    tail_flux: float = 0.0
    tail_curl_deg: float = 0.0


@dataclass(frozen=True)
class ArtefactSpec:
    """A planted artefact: kind in ARTEFACT_KINDS, its reference point (x, y), angle, brightness.

    star: a saturated star with diffraction spikes centred on (x, y).
    trail: a satellite streak crossing the frame; (x, y) is its point nearest the galaxy centre,
        ``angle_deg`` its direction; it shows in one band only (``band`` 0=g, 1=r, 2=i), which
        colours it, as in SDSS where the bands are exposed at different times.
    corner: a bright diffuse patch near the top-left corner of the central half of the frame
        (the part the default model crop sees), centred on (x, y).
    """

    kind: str = "none"
    x: float = -1.0
    y: float = -1.0
    angle_deg: float = 0.0
    flux: float = 0.0
    size_px: float = 0.0
    band: int = 1


@dataclass(frozen=True)
class GalaxyParams:
    """All parameters of one synthetic galaxy (see the module docstring for conventions).

    Brightnesses are in counts per pixel of the r band (noise-free), before the PSF. The disc,
    bar, arms and ring lie in one thin plane seen with ``disc_axis_ratio`` at ``disc_pa_deg``;
    ``bar_phi_deg`` is the bar's angle inside that plane, from the line of nodes.
    """

    size: int
    style: str
    centre_x: float
    centre_y: float
    pixel_scale_arcsec: float
    redshift: float
    ra_deg: float
    dec_deg: float
    r90_target_px: float
    inclination_deg: float
    disc_pa_deg: float
    disc_axis_ratio: float
    disc_scale_px: float
    disc_sb0: float
    bulge_re_px: float
    bulge_n: float
    bulge_axis_ratio: float
    bulge_pa_deg: float
    bulge_amplitude: float  # Sersic surface brightness at r_eff
    has_bar: bool
    bar_a_px: float
    bar_b_px: float
    bar_phi_deg: float
    bar_n: float
    bar_amplitude: float
    bar_boxiness: float  # exponent c of the bar's inner isophotes |x/a|^c + |y/b|^c; 2 = elliptical
    bar_ansae: float  # brightness of the blobs at the bar's ends, relative to its centre; 0 = none
    bar_dust_tau: float  # r-band optical depth of the dust lanes along the bar's leading edges
    has_arms: bool
    n_arms: int
    arm_pitch_deg: float
    arm_phase_deg: float
    arm_r_in_px: float
    arm_amplitude: float
    arm_sharpness: float
    arm_lopsided: float
    arm_lopsided_angle_deg: float
    clumpiness: float
    arm_wobble: float  # radians: how far each arm strays from a perfect log spiral (varying pitch)
    arm_flocculence: float  # 0 = grand design, 1 = all light in short, patchy arm segments
    arm_dust_tau: float  # r-band optical depth of the dust on the arms' inner (concave) edges
    has_ring: bool
    ring_radius_px: float
    ring_width_px: float
    ring_amplitude: float
    bulge_colour: Colour
    bar_colour: Colour
    disc_colour: Colour
    arm_colour: Colour
    psf_fwhm_px: float
    psf_beta: float
    sky_sigma: tuple[float, float, float]
    noise_grain_px: float  # native pixel size in output pixels: the noise's correlation length
    stars: tuple[PointSource, ...] = ()
    background_galaxies: tuple[BackgroundGalaxy, ...] = ()
    companions: tuple[Companion, ...] = ()
    merger: bool = False
    frame_zoom: float = 1.0  # R90 on the image relative to GZ2's 50 px framing (DECaLS cutouts are tighter)
    artefact: ArtefactSpec = field(default_factory=ArtefactSpec)
    seed: int = 0  # noise and texture seed

    @property
    def style_spec(self) -> StyleSpec:
        return STYLE_SPECS[self.style]


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(math.log(lo), math.log(hi))))


def _colour(rng: np.random.Generator, g_r: tuple[float, float], r_i: tuple[float, float]) -> Colour:
    return Colour(float(rng.uniform(*g_r)), float(rng.uniform(*r_i)))


def sample_params(
    seed: int,
    index: int,
    size: int = GZ2_SIZE,
    has_bar: bool = True,
    style: str = "mix",
    artefact: str = "none",
) -> GalaxyParams:
    """Draw galaxy ``index`` of dataset ``seed``: a GZ2-framed disc galaxy, barred or not.

    Bars: their projected end-to-end length follows Hoyle et al. 2011 (L / 2R90), except that
    15 % are drawn short (L / 2R90 in 0.08-0.25, which humans miss and the catalogue lacks);
    their amplitude spans faint to strong (log-uniform), their in-plane angle is uniform, and
    discs go up to ~80 deg inclination, so faint, short and end-on bars all occur.
    """
    if style not in (*STYLES, "mix"):
        raise ValueError(f"unknown style {style!r}; expected one of {(*STYLES, 'mix')}")
    if artefact not in ARTEFACT_KINDS:
        raise ValueError(f"unknown artefact {artefact!r}; expected one of {ARTEFACT_KINDS}")
    rng = np.random.default_rng([seed, index, 0])
    scale = size / GZ2_SIZE

    style_name = style if style != "mix" else ("sdss" if rng.random() < 0.7 else "decals")
    spec = STYLE_SPECS[style_name]
    centre = (size - 1) / 2.0
    centre_x = centre + float(rng.uniform(-1.0, 1.0)) * scale
    centre_y = centre + float(rng.uniform(-1.0, 1.0)) * scale

    redshift = max(0.01, draw_from_quantiles(rng, "redshift"))
    petro_r90_arcsec = draw_from_quantiles(rng, "r90_arcsec")
    # own stream: the survey's framing (DECaLS cutouts show galaxies larger than GZ2's 50 px R90)
    look_rng = np.random.default_rng([seed, index, 6])
    zoom = _log_uniform(look_rng, *spec.frame_zoom) if spec.frame_zoom[0] != spec.frame_zoom[1] else spec.frame_zoom[0]
    r90_gz2 = float(rng.uniform(35.0, 65.0)) * scale
    # at most MAX_R90_FRACTION x size, so that planted artefacts (1.5 R90 out) stay in the model's crop
    zoom = min(zoom, max(1.0, MAX_R90_FRACTION * size / r90_gz2))
    pixel_scale = GZ2_R90_FRACTION * petro_r90_arcsec * GZ2_SIZE / size / zoom
    r90_target = r90_gz2 * zoom

    # mostly the moderate inclinations of GZ2's bar examples (< 60 deg); 15 % steep (60-85 deg)
    steep = rng.random() < 0.15
    cos_i = float(rng.uniform(math.cos(math.radians(85.0)), 0.5) if steep else rng.uniform(0.5, 1.0))
    inclination = math.degrees(math.acos(cos_i))
    thickness = float(rng.uniform(0.12, 0.2))
    sin_i = math.sqrt(max(0.0, 1.0 - cos_i**2))
    disc_q = math.sqrt(cos_i**2 + (thickness * sin_i) ** 2)
    disc_pa = float(rng.uniform(0.0, 180.0))

    bulge_to_disc = _log_uniform(rng, 0.03, 0.8)
    sb_at_r90 = _log_uniform(rng, 4.0, 20.0)  # disc surface brightness at R90 (counts per pixel)
    bulge_re_frac = float(rng.uniform(0.06, 0.18))
    bulge_n = float(rng.uniform(1.0, 4.0))
    bulge_intrinsic_q = float(rng.uniform(0.6, 0.9))
    bulge_q = math.sqrt(cos_i**2 + (bulge_intrinsic_q * sin_i) ** 2) * float(rng.uniform(0.9, 1.0))
    bulge_pa = disc_pa + float(rng.normal(0.0, 5.0))
    # scale bulge and disc together so that their light's R90 is r90_target
    r90_unit = _r90_of_bulge_and_disc(
        1.0, disc_q, disc_pa, bulge_re_frac * 3.9, bulge_n, bulge_q, bulge_pa, bulge_to_disc
    )
    disc_scale = r90_target / r90_unit
    bulge_re = bulge_re_frac * 3.9 * disc_scale
    disc_sb0 = sb_at_r90 * math.exp(r90_target / disc_scale)
    bulge_amplitude = _bulge_amplitude(bulge_to_disc, disc_sb0, disc_scale, disc_q, bulge_re, bulge_n, bulge_q)

    has_arms = bool(rng.random() < 0.75)
    n_arms = int(rng.choice([2, 2, 2, 3, 4]))
    arm_pitch = float(rng.uniform(10.0, 30.0)) * (1 if rng.random() < 0.5 else -1)
    arm_phase = float(rng.uniform(0.0, 360.0))
    arm_amplitude = disc_sb0 * float(rng.uniform(0.5, 2.5))
    arm_sharpness = float(rng.uniform(1.5, 5.0))
    clumpiness = float(rng.uniform(0.3, 0.9))
    arm_r_in = float(rng.uniform(1.5, 3.0)) * bulge_re
    arm_start_at_bar = float(rng.uniform(0.9, 1.1))  # drawn either way: the rest stays the same
    # irregular arms: wobbling pitch, patchy (flocculent) segments, dust on the inner edges
    arm_wobble = float(look_rng.uniform(0.05, 0.45))
    arm_flocculence = float(look_rng.uniform(0.0, 1.0) ** 1.5)
    arm_dust_tau = float(look_rng.uniform(0.0, 0.8)) if look_rng.random() < 0.7 else 0.0

    bar = _sample_bar(seed, index, has_bar, r90_target, disc_pa, disc_q, disc_sb0, disc_scale, bulge_re)
    if has_bar:
        arm_r_in = bar["bar_a_px"] * arm_start_at_bar
    detail_rng = np.random.default_rng([seed, index, 3])
    has_ring = bool(detail_rng.random() < (0.25 if has_bar else 0.08))
    if has_bar:
        ring_radius = bar["bar_a_px"] * float(detail_rng.uniform(1.0, 1.25))
    else:
        ring_radius = r90_target * float(detail_rng.uniform(0.3, 0.6))
    ring_width = ring_radius * float(detail_rng.uniform(0.07, 0.15))
    ring_amplitude = disc_sb0 * math.exp(-ring_radius / disc_scale) * float(detail_rng.uniform(0.6, 2.0))

    bulge_colour = _colour(rng, (0.75, 0.95), (0.35, 0.45))
    bar_colour = Colour(bulge_colour.g_r - 0.05, bulge_colour.r_i - 0.02)
    disc_colour = _colour(rng, (0.3, 0.6), (0.15, 0.3))
    arm_colour = _colour(rng, (-0.05, 0.3), (-0.1, 0.15))

    seeing = float(rng.uniform(*spec.seeing_arcsec))
    psf_fwhm = seeing / pixel_scale
    grain = max(1.0, spec.native_pixel_arcsec / pixel_scale)
    sky_sigma = tuple(float(s) for s in spec.sky_sigma)

    stars = _sample_stars(rng, size, spec, psf_fwhm)
    background = _sample_background_galaxies(rng, size, spec, scale)
    companions, merger = _sample_companions(
        seed, index, size, spec, centre_x, centre_y, r90_target, disc_sb0, disc_scale, disc_q
    )

    artefact_spec = sample_artefact(seed, index, artefact, size, centre_x, centre_y, r90_target, psf_fwhm)

    ra = float(rng.uniform(0.0, 360.0))
    dec = math.degrees(math.asin(float(rng.uniform(-0.3, 0.95))))
    return GalaxyParams(
        size=size,
        style=style_name,
        centre_x=centre_x,
        centre_y=centre_y,
        pixel_scale_arcsec=pixel_scale,
        redshift=redshift,
        ra_deg=ra,
        dec_deg=dec,
        r90_target_px=r90_target,
        inclination_deg=inclination,
        disc_pa_deg=disc_pa % 180.0,
        disc_axis_ratio=disc_q,
        disc_scale_px=disc_scale,
        disc_sb0=disc_sb0,
        bulge_re_px=bulge_re,
        bulge_n=bulge_n,
        bulge_axis_ratio=bulge_q,
        bulge_pa_deg=bulge_pa % 180.0,
        bulge_amplitude=bulge_amplitude,
        has_bar=has_bar,
        **bar,
        has_arms=has_arms,
        n_arms=n_arms,
        arm_pitch_deg=arm_pitch,
        arm_phase_deg=arm_phase,
        arm_r_in_px=arm_r_in,
        arm_amplitude=arm_amplitude,
        arm_sharpness=arm_sharpness,
        arm_lopsided=float(detail_rng.uniform(0.0, 0.6)),
        arm_lopsided_angle_deg=float(detail_rng.uniform(0.0, 360.0)),
        clumpiness=clumpiness,
        arm_wobble=arm_wobble,
        arm_flocculence=arm_flocculence,
        arm_dust_tau=arm_dust_tau,
        has_ring=has_ring,
        ring_radius_px=ring_radius,
        ring_width_px=ring_width,
        ring_amplitude=ring_amplitude,
        bulge_colour=bulge_colour,
        bar_colour=bar_colour,
        disc_colour=disc_colour,
        arm_colour=arm_colour,
        psf_fwhm_px=psf_fwhm,
        psf_beta=float(rng.uniform(2.5, 4.0)),
        sky_sigma=sky_sigma,  # type: ignore[arg-type]
        noise_grain_px=grain,
        stars=stars,
        background_galaxies=background,
        companions=companions,
        merger=merger,
        frame_zoom=float(zoom),
        artefact=artefact_spec,
        seed=int(np.random.default_rng([seed, index, 4]).integers(0, 2**62)),
    )


def _bulge_amplitude(
    bulge_to_disc: float, disc_sb0: float, disc_scale: float, disc_q: float, re: float, n: float, q: float
) -> float:
    """Sersic I(r_eff) giving the bulge ``bulge_to_disc`` times the disc's total flux."""
    disc_flux = 2.0 * math.pi * disc_scale**2 * disc_sb0 * disc_q
    return bulge_to_disc * disc_flux / sersic_total_flux(1.0, re, n, q)


def _r90_of_bulge_and_disc(
    disc_scale: float, disc_q: float, disc_pa: float, bulge_re: float, bulge_n: float, bulge_q: float,
    bulge_pa: float, bulge_to_disc: float,
) -> float:
    """R90 (circular apertures) of a bulge + exponential disc, integrated on a polar grid.

    Log-spaced radii resolve even an n = 4 cusp, which a pixel grid would not.
    """
    from astropy.modeling.models import Sersic2D

    edges = np.geomspace(1e-4, 20.0, 401) * disc_scale
    radius = np.sqrt(edges[:-1] * edges[1:])
    phi = (np.arange(72) + 0.5) * (2.0 * math.pi / 72)
    x = radius[:, None] * np.cos(phi)[None, :]
    y = radius[:, None] * np.sin(phi)[None, :]
    disc = Sersic2D(1.0, 1.678347 * disc_scale, 1.0, 0.0, 0.0, 1.0 - disc_q, math.radians(disc_pa))(x, y)
    amp = _bulge_amplitude(bulge_to_disc, math.exp(1.678347), disc_scale, disc_q, bulge_re, bulge_n, bulge_q)
    bulge = Sersic2D(amp, bulge_re, bulge_n, 0.0, 0.0, 1.0 - bulge_q, math.radians(bulge_pa))(x, y)
    ring_flux = (disc + bulge).mean(axis=1) * 2.0 * math.pi * radius * np.diff(edges)
    cumulative = np.concatenate([[0.0], np.cumsum(ring_flux)])
    return float(np.interp(0.9 * cumulative[-1], cumulative, edges))


def _sample_bar(
    seed: int, index: int, has_bar: bool, r90_target: float, disc_pa: float, disc_q: float,
    disc_sb0: float, disc_scale: float, bulge_re: float,
) -> dict[str, float]:
    """Bar parameters (zeros when there is none), from their own random stream."""
    if not has_bar:
        return dict(bar_a_px=0.0, bar_b_px=0.0, bar_phi_deg=0.0, bar_n=1.0, bar_amplitude=0.0,
                    bar_boxiness=2.0, bar_ansae=0.0, bar_dust_tau=0.0)
    rng = np.random.default_rng([seed, index, 2])
    if rng.random() < 0.15:
        length_scaled = float(rng.uniform(0.08, 0.25))
    else:
        length_scaled = draw_from_quantiles(rng, "length_scaled")
    target_length = length_scaled * 2.0 * r90_target  # projected, end to end
    axis_ratio = float(rng.uniform(0.2, 0.45))
    phi = float(rng.uniform(0.0, 180.0))
    unit = projected_bar(1.0, axis_ratio, phi, disc_pa, disc_q, 0.0, 0.0)
    a = target_length / unit.length_px  # unit.length_px = projected length of a bar with a = 1
    a = float(np.clip(a, max(1.2 * bulge_re, 3.0 * r90_target / 50.0), 1.1 * r90_target))
    bar_n = float(rng.uniform(0.3, 1.5))
    b = max(a * axis_ratio, 1.0 * r90_target / 50.0)  # at least ~1 px at GZ2 scale
    # bar light as a fraction of the disc's: faint (3 %) to strong (35 %), log-uniform;
    # a Ferrers bar holds pi a b / (n + 1) x amplitude, an exponential disc 2 pi h^2 Sigma0
    bar_to_disc = _log_uniform(rng, 0.03, 0.35)
    amplitude = bar_to_disc * 2.0 * disc_scale**2 * disc_sb0 * (bar_n + 1.0) / (a * b)
    # real bars: boxy ends (60 %), bright ansae at the tips (30 %), dust lanes on the leading
    # edges of strong bars (50 %); all inside the outline, so the truth (length, mask) is unchanged
    boxiness = float(rng.uniform(2.5, 4.5)) if rng.random() < 0.6 else 2.0
    ansae = float(rng.uniform(0.3, 1.2)) if rng.random() < 0.3 else 0.0
    dust_tau = float(rng.uniform(0.3, 1.2)) if rng.random() < 0.5 else 0.0
    return dict(bar_a_px=a, bar_b_px=b, bar_phi_deg=phi, bar_n=bar_n, bar_amplitude=amplitude,
                bar_boxiness=boxiness, bar_ansae=ansae, bar_dust_tau=dust_tau)


def _sample_stars(rng: np.random.Generator, size: int, spec: StyleSpec, psf_fwhm: float) -> tuple[PointSource, ...]:
    """Foreground stars: Poisson number, power-law fluxes (a few bright, saturated, spiky ones)."""
    area = (size / GZ2_SIZE) ** 2
    count = int(rng.poisson(spec.n_stars * area))
    sigma_psf = psf_fwhm / 2.355
    faintest = 4.0 * spec.sky_sigma[1] * 2.0 * math.pi * sigma_psf**2  # peak ~ 4 sky sigma
    stars = []
    for _ in range(count):
        flux = faintest * float(rng.random()) ** (-1.0 / 0.5)  # N(>F) ~ F^-0.5
        flux = min(flux, faintest * 1e4)
        peak = flux / (2.0 * math.pi * sigma_psf**2)
        spikes = 3.0 * psf_fwhm * math.log10(peak / 2000.0) if peak > 4000.0 else 0.0
        colour = _star_colour(rng)
        if peak > 2000.0:  # saturated on the detector in every band: a white core, as in real fields
            fade = max(0.25, 1.0 - 0.5 * math.log10(peak / 2000.0))
            colour = Colour(colour.g_r * fade + 0.3 * (1 - fade), colour.r_i * fade + 0.1 * (1 - fade))
        stars.append(
            PointSource(
                x=float(rng.uniform(0, size - 1)),
                y=float(rng.uniform(0, size - 1)),
                flux=flux,
                colour=colour,
                spike_length=spikes,
            )
        )
    return tuple(stars)


def _star_colour(rng: np.random.Generator) -> Colour:
    """A star on the SDSS stellar locus: mostly G/K stars, some blue turn-off stars, red M dwarfs.

    Why: uniform g-r with uncorrelated r-i gave every star the same pale yellow; real fields
    show blue-white and deep red stars (r-i rises steeply for g-r > 1.3, Covey et al. 2007).
    """
    g_r = float(np.clip(rng.normal(0.75, 0.4), -0.1, 1.6))
    if g_r > 1.3 or rng.random() < 0.1:  # M dwarfs: saturated g-r, red r-i
        g_r = max(g_r, 1.3 + 0.15 * float(rng.random()))
        r_i = float(rng.uniform(0.5, 1.1))
    else:
        r_i = 0.38 * g_r - 0.02 + float(rng.normal(0.0, 0.04))
    return Colour(g_r, r_i)


def _sample_companions(
    seed: int, index: int, size: int, spec: StyleSpec, centre_x: float, centre_y: float, r90: float,
    disc_sb0: float, disc_scale: float, disc_q: float,
) -> tuple[tuple[Companion, ...], bool]:
    """Neighbours of the target (own stream): Poisson number, 8 % of galaxies in a merger.

    Each sits 2-3.5 of its own r_eff beyond COMPANION_CLEARANCE x R90 (plus up to 2 R90 more unless
    it is a merger partner) and its light is cut off inside that radius, so it never reaches the
    bar (whose tips lie within 1.1 R90). In a merger one bright partner (8-40 % of the disc's
    flux) carries a tidal tail pointing away from the target.
    """
    rng = np.random.default_rng([seed, index, 5])
    merger = bool(rng.random() < 0.08)
    count = int(rng.poisson(spec.n_companions)) + (1 if merger else 0)
    disc_flux = 2.0 * math.pi * disc_scale**2 * disc_sb0 * disc_q
    out = []
    for k in range(count):
        partner = merger and k == 0
        angle = float(rng.uniform(0.0, 2.0 * math.pi))
        flux = disc_flux * (_log_uniform(rng, 0.08, 0.4) if partner else _log_uniform(rng, 0.01, 0.12))
        r_eff = r90 * (_log_uniform(rng, 0.12, 0.3) if partner else _log_uniform(rng, 0.05, 0.2))
        # its light is cut off COMPANION_CLEARANCE x R90 from the target's centre (see render)
        gap = r_eff * float(rng.uniform(2.0, 3.5)) + (0.0 if partner else r90 * float(rng.uniform(0.0, 2.0)))
        distance = COMPANION_CLEARANCE * r90 + gap
        x, y = centre_x + distance * math.cos(angle), centre_y + distance * math.sin(angle)
        tail = r90 * float(rng.uniform(0.8, 2.0)) if partner else 0.0
        out.append(
            Companion(
                x=x, y=y, flux=flux, r_eff=r_eff, n=float(rng.uniform(0.7, 3.5)), ellip=float(rng.uniform(0.0, 0.6)),
                theta_deg=float(rng.uniform(0.0, 180.0)),
                colour=_colour(rng, (0.3, 0.95), (0.15, 0.45)),
                tail_length=tail, tail_flux=flux * float(rng.uniform(0.1, 0.3)) if partner else 0.0,
                tail_curl_deg=float(rng.uniform(-60.0, 60.0)) if partner else 0.0,
            )
        )
    return tuple(out), merger


def _sample_background_galaxies(
    rng: np.random.Generator, size: int, spec: StyleSpec, scale: float
) -> tuple[BackgroundGalaxy, ...]:
    area = (size / GZ2_SIZE) ** 2
    count = int(rng.poisson(spec.n_background_galaxies * area))
    out = []
    for _ in range(count):
        r_eff = _log_uniform(rng, 0.7, 3.5) * scale
        out.append(
            BackgroundGalaxy(
                x=float(rng.uniform(0, size - 1)),
                y=float(rng.uniform(0, size - 1)),
                flux=_log_uniform(rng, 150.0, 1500.0) * scale**2,
                r_eff=r_eff,
                n=float(rng.uniform(0.8, 3.0)),
                ellip=float(rng.uniform(0.0, 0.6)),
                theta_deg=float(rng.uniform(0.0, 180.0)),
                colour=_colour(rng, (0.5, 1.3), (0.25, 0.55)),
            )
        )
    return tuple(out)


def sample_artefact(
    seed: int, index: int, kind: str, size: int, centre_x: float, centre_y: float, r90: float, psf_fwhm: float
) -> ArtefactSpec:
    """Place artefact ``kind`` in its fixed region of the frame (see ArtefactSpec), off the galaxy.

    The regions are chosen so that all lie inside the central half of the frame (what a model
    that crops the central 50 % sees) and always in the same part of it, so a CNN can learn
    them as a shortcut: star upper right, trail lower left, patch upper left.
    """
    if kind == "none":
        return ArtefactSpec()
    rng = np.random.default_rng([seed, index, 1])
    if kind == "star":
        radius = float(rng.uniform(max(0.17 * size, 1.5 * r90), max(0.235 * size, 1.5 * r90 + 1)))
        angle = math.radians(float(rng.uniform(-60.0, -30.0)))  # up-right (y grows downwards)
        return ArtefactSpec(
            kind="star",
            x=centre_x + radius * math.cos(angle),
            y=centre_y + radius * math.sin(angle),
            # peak 5-15x the level where make_lupton_rgb saturates (~1e4): a blown-out star
            flux=float(rng.uniform(5e4, 1.5e5)) * 2.0 * math.pi * (psf_fwhm / 2.355) ** 2,
            size_px=0.09 * size,  # spike length
        )
    if kind == "trail":
        distance = float(rng.uniform(max(0.12 * size, 1.3 * r90), max(0.2 * size, 1.3 * r90 + 1)))
        direction = math.radians(float(rng.uniform(120.0, 150.0)))  # towards lower left
        x = centre_x + distance * math.cos(direction)
        y = centre_y + distance * math.sin(direction)
        angle = math.degrees(direction) + 90.0 + float(rng.normal(0.0, 10.0))
        return ArtefactSpec(
            kind="trail",
            x=x,
            y=y,
            angle_deg=angle % 180.0,
            flux=float(rng.uniform(40.0, 90.0)),
            size_px=1.0,
            band=int(rng.integers(0, 3)),
        )
    # corner
    x = float(rng.uniform(0.27, 0.31)) * size
    y = float(rng.uniform(0.27, 0.31)) * size
    return ArtefactSpec(
        kind="corner",
        x=x,
        y=y,
        flux=float(rng.uniform(25.0, 45.0)),
        size_px=float(rng.uniform(0.03, 0.045)) * size,
    )
