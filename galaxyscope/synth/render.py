"""Render one synthetic galaxy in memory: noise-free components, PSF, noise, gri colours.

Why in memory: tests and experiments (pairs, saliency checks) need the pixels, the bar mask and
the truth without touching disk; ``dataset.py`` only writes what this returns.

Pipeline (each model evaluated once on the grid; one FFT convolution per band):
  bulge (Sersic2D), disc (Sersic2D n=1), bar (Ferrers2D, boxy / ansae), arms (irregular_arms,
  clumpy), ring (GaussianRing2D) -> dust (arm and bar lanes: every component dimmed, more in g)
  -> g, r, i by each component's colour -> + stars, companions, background galaxies, artefact
  -> PSF (astropy Moffat2DKernel, FFT convolution) -> noise (correlated like resampled survey
  images) -> make_lupton_rgb (galaxy light desaturated per survey, stars keep their colours).

Realism numbers (style constants in params.STYLE_SPECS) were set against the real cutouts in
/work/shared/data (GZ2 SDSS and DECaLS): sky level and noise correlation, colour ratios in the
galaxy, star counts; see the commit messages for the before/after measurements.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from astropy.convolution import CustomKernel, Kernel2D, Moffat2DKernel, discretize_model
from astropy.modeling.models import Sersic2D
from astropy.visualization import make_lupton_rgb
from scipy import ndimage
from scipy.signal import fftconvolve

from galaxyscope.synth.geometry import projected_bar
from galaxyscope.synth.params import COMPANION_CLEARANCE, ArtefactSpec, Colour, Companion, GalaxyParams
from galaxyscope.synth.profiles import (
    Ferrers2D,
    GaussianRing2D,
    bar_dust_lanes,
    irregular_arms,
    sersic_total_flux,
    sky_to_disc,
)
from galaxyscope.synth.truth import GalaxyTruth, compute_truth

SERSIC_B1 = 1.678347  # b_n of a Sersic n = 1 profile: r_eff = 1.678 x scale length
DUST_BAND_RATIO = np.array([1.38, 1.0, 0.77])  # A_g : A_r : A_i (Schlafly & Finkbeiner 2011, r = 1)
POISSON_GAIN = 20.0  # counts per unit of Poisson variance: var = sky_sigma**2 + signal / POISSON_GAIN


@dataclass(frozen=True)
class Components:
    """Noise-free, PSF-free r-band light of each part of the galaxy (counts per pixel)."""

    bulge: np.ndarray
    disc: np.ndarray
    bar: np.ndarray
    arms: np.ndarray
    ring: np.ndarray
    dust_tau: np.ndarray | None = None  # r-band optical depth already applied to every component

    def total(self) -> np.ndarray:
        return self.bulge + self.disc + self.bar + self.arms + self.ring


@dataclass
class SyntheticGalaxy:
    """One rendered galaxy.

    rgb: float32 (H, W, 3) in [0, 1], what the JPEG stores (before 8-bit rounding).
    bands: float32 (3, H, W) g, r, i: sky-subtracted counts with PSF and noise (what FITS stores).
    bar_mask: bool (H, W), see ``bar_mask_for``: the filled ellipse of length
        truth.bar_length_px, position angle truth.bar_pa_deg and axis ratio truth.bar_axis_ratio
        where the bar's own (PSF-free) light is above zero, plus its tip-to-tip spine.
        All False without a bar.
    components: the noise-free, PSF-free r-band parts (for tests and experiments).
    """

    rgb: np.ndarray
    bands: np.ndarray
    bar_mask: np.ndarray
    components: Components
    truth: GalaxyTruth
    params: GalaxyParams


@lru_cache(maxsize=4)
def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    x.setflags(write=False)
    y.setflags(write=False)
    return x, y


def galaxy_components(params: GalaxyParams) -> Components:
    """Evaluate each astropy model once on the frame's pixel centres.

    Disc-plane coordinates come from one ``sky_to_disc`` transform shared by bar, arms and ring,
    evaluated only in the box holding the disc out to 8 scale lengths.

    Dust (arm lanes, bar lanes) dims every component by exp(-tau) here, so the components are
    the light that is rendered and the truth (R90, fractions, bar contrast) describes it; the
    bar's own light stays > 0 exactly where it was, so the bar mask is unchanged.
    """
    x, y = _grid(params.size)
    p = params
    bulge_model = Sersic2D(
        amplitude=p.bulge_amplitude, r_eff=p.bulge_re_px, n=p.bulge_n, x_0=p.centre_x, y_0=p.centre_y,
        ellip=1.0 - p.bulge_axis_ratio, theta=math.radians(p.bulge_pa_deg),
    )
    bulge = bulge_model(x, y)
    # the bulge's cusp is much narrower than a pixel: average it over 7x7 sub-pixels near the centre
    rows, cols = _box(p.centre_x, p.centre_y, min(2.0 * p.bulge_re_px + 2.0, 12.0), p.size)
    bulge[rows, cols] = discretize_model(
        bulge_model, (cols.start, cols.stop), (rows.start, rows.stop), mode="oversample", factor=7
    )
    disc = Sersic2D(
        amplitude=p.disc_sb0 * math.exp(-SERSIC_B1), r_eff=SERSIC_B1 * p.disc_scale_px, n=1.0,
        x_0=p.centre_x, y_0=p.centre_y, ellip=1.0 - p.disc_axis_ratio, theta=math.radians(p.disc_pa_deg),
    )(x, y)
    zero = np.zeros_like(x)
    bar, arms, ring = zero, zero, zero
    if not (p.has_bar or p.has_arms or p.has_ring):
        return Components(bulge=bulge, disc=disc, bar=bar, arms=arms, ring=ring)
    # disc-plane light is negligible beyond 8 scale lengths (or outside the ring): one box
    reach = max(8.0 * p.disc_scale_px, (p.ring_radius_px + 4 * p.ring_width_px) if p.has_ring else 0.0)
    rows, cols = _box(p.centre_x, p.centre_y, reach, p.size)
    to_disc = sky_to_disc(p.centre_x, p.centre_y, math.radians(p.disc_pa_deg), p.disc_axis_ratio)
    u, v = to_disc(x[rows, cols], y[rows, cols])
    tau = np.zeros(u.shape)
    if p.has_bar:
        bar = np.zeros_like(x)
        bar[rows, cols] = Ferrers2D(
            amplitude=p.bar_amplitude, x_0=0.0, y_0=0.0, a=p.bar_a_px, b=p.bar_b_px,
            theta=math.radians(p.bar_phi_deg), n=p.bar_n, boxiness=p.bar_boxiness, ansae=p.bar_ansae,
        )(u, v)
        if p.bar_dust_tau > 0:
            tau += bar_dust_lanes(u, v, a=p.bar_a_px, b=p.bar_b_px, phi=math.radians(p.bar_phi_deg),
                                  tau=p.bar_dust_tau, winding=p.arm_pitch_deg)
    if p.has_arms:
        arms = np.zeros_like(x)
        light, arm_tau = irregular_arms(
            u, v, np.random.default_rng([p.seed, 3]), amplitude=p.arm_amplitude, r_scale=p.disc_scale_px,
            r_in=p.arm_r_in_px, pitch=math.radians(p.arm_pitch_deg), phase=math.radians(p.arm_phase_deg),
            n_arms=p.n_arms, sharpness=p.arm_sharpness, lopsided=p.arm_lopsided,
            lopsided_angle=math.radians(p.arm_lopsided_angle_deg), wobble=p.arm_wobble,
            flocculence=p.arm_flocculence, dust_tau=p.arm_dust_tau,
        )
        texture = _clump_texture(p, u.shape)
        arms[rows, cols] = light * texture
        tau += arm_tau * np.sqrt(texture)  # patchy, like the arms themselves
    if p.has_ring:
        ring = np.zeros_like(x)
        ring[rows, cols] = GaussianRing2D(
            amplitude=p.ring_amplitude, x_0=0.0, y_0=0.0, radius=p.ring_radius_px, width=p.ring_width_px,
        )(u, v)
    dust = None
    if tau.any():
        dust = np.zeros_like(x)
        dust[rows, cols] = tau
        transmission = np.exp(-tau)
        for comp in (bulge, disc, bar, arms, ring):
            if comp is not zero:
                comp[rows, cols] *= transmission
    return Components(bulge=bulge, disc=disc, bar=bar, arms=arms, ring=ring, dust_tau=dust)


def _box(x0: float, y0: float, half: float, size: int) -> tuple[slice, slice]:
    """Row and column slices of the square of half-side ``half`` about (x0, y0), clipped to the frame."""
    h = int(math.ceil(half)) + 2
    r0, r1 = max(0, int(y0) - h), min(size, int(y0) + h + 2)
    c0, c1 = max(0, int(x0) - h), min(size, int(x0) + h + 2)
    return slice(r0, r1), slice(c0, c1)


def _clump_texture(p: GalaxyParams, shape: tuple[int, ...]) -> np.ndarray:
    """Multiplicative log-normal texture for the arms, mean 1: knots about one PSF wide (star-
    forming regions) on patches three times larger (flocculent arm segments)."""
    rng = np.random.default_rng([p.seed, 1])
    field = np.zeros(shape)
    small = max(1.0, 0.6 * p.psf_fwhm_px, 1.2 * p.size / 424)
    for sigma, weight in ((small, 0.8), (3.0 * small, 0.6)):
        smooth = ndimage.gaussian_filter(rng.standard_normal(shape), sigma, mode="wrap", truncate=3.0)
        field += weight * smooth * (math.sqrt(4.0 * math.pi) * sigma)  # unit variance, then weight
    s = p.clumpiness
    return np.exp(s * field - 0.5 * s * s * (0.8**2 + 0.6**2))


def _deposit(image: np.ndarray, x: np.ndarray | float, y: np.ndarray | float, flux: np.ndarray | float) -> None:
    """Add points of ``flux`` at sub-pixel (x, y), each shared bilinearly among four pixels."""
    x, y, flux = np.broadcast_arrays(np.atleast_1d(x), np.atleast_1d(y), np.atleast_1d(flux))
    size_y, size_x = image.shape
    ix, iy = np.floor(x).astype(np.int64), np.floor(y).astype(np.int64)
    fx, fy = x - ix, y - iy
    for dx, dy, w in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)), (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
        px, py = ix + dx, iy + dy
        ok = (px >= 0) & (px < size_x) & (py >= 0) & (py < size_y)
        np.add.at(image, (py[ok], px[ok]), (flux * w)[ok])


def _spike_points(x: float, y: float, flux: float, length: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Four diffraction spikes along the frame's axes as points fading linearly over ``length`` px."""
    steps = np.arange(1, max(1, int(length)) + 1, dtype=np.float64) if length > 1 else np.zeros(0)
    weights = flux * 4e-4 * (1.0 - steps / (length + 1.0))
    xs = np.concatenate([x + steps, x - steps, np.full_like(steps, x), np.full_like(steps, x)])
    ys = np.concatenate([np.full_like(steps, y), np.full_like(steps, y), y + steps, y - steps])
    return xs, ys, np.tile(weights, 4)


def _sources_by_band(p: GalaxyParams) -> np.ndarray:
    """Stars and the artefact as (3, H, W) g, r, i counts before the PSF (colours kept vivid)."""
    out = np.zeros((3, p.size, p.size))
    for star in p.stars:
        xs, ys, fs = _spike_points(star.x, star.y, star.flux, star.spike_length)
        xs, ys, fs = np.append(xs, star.x), np.append(ys, star.y), np.append(fs, star.flux)
        for band, factor in enumerate(star.colour.band_factors()):
            _deposit(out[band], xs, ys, fs * factor)
    _add_artefact(out, p.artefact, p.size)
    return out


def _other_galaxies_by_band(p: GalaxyParams) -> np.ndarray:
    """Background galaxies and companions as (3, H, W) g, r, i counts before the PSF.

    Kept apart from the stars because galaxies take the survey's galaxy colour mapping (grey in
    DECaLS), and apart from the target's components because they are no part of its truth.
    """
    out = np.zeros((3, p.size, p.size))
    for gal in p.background_galaxies:
        half = int(math.ceil(6 * gal.r_eff)) + 1
        x0, y0 = int(round(gal.x)), int(round(gal.y))
        r0, r1 = max(0, y0 - half), min(p.size, y0 + half + 1)
        c0, c1 = max(0, x0 - half), min(p.size, x0 + half + 1)
        if r0 >= r1 or c0 >= c1:
            continue
        yy, xx = np.mgrid[r0:r1, c0:c1].astype(np.float64)
        amplitude = gal.flux / sersic_total_flux(1.0, gal.r_eff, gal.n, 1.0 - gal.ellip)
        stamp = Sersic2D(amplitude, gal.r_eff, gal.n, gal.x, gal.y, gal.ellip, math.radians(gal.theta_deg))(xx, yy)
        out[:, r0:r1, c0:c1] += gal.colour.band_factors()[:, None, None] * stamp
    for comp in p.companions:
        _add_companion(out, comp, p)
    return out


def _add_companion(out: np.ndarray, comp: Companion, p: GalaxyParams) -> None:
    """A neighbour galaxy (Sersic, optional tidal tail), zero within the clearance radius.

    The cut-off at COMPANION_CLEARANCE x r90_target_px about the target keeps its light (before
    the PSF) off the bar, whose tips lie within 1.1 x r90_target_px.
    """
    clear = COMPANION_CLEARANCE * p.r90_target_px
    half = int(math.ceil(6 * comp.r_eff)) + 1
    x0, y0 = int(round(comp.x)), int(round(comp.y))
    r0, r1 = max(0, y0 - half), min(p.size, y0 + half + 1)
    c0, c1 = max(0, x0 - half), min(p.size, x0 + half + 1)
    colour = comp.colour.band_factors()[:, None, None]
    if r0 < r1 and c0 < c1:
        yy, xx = np.mgrid[r0:r1, c0:c1].astype(np.float64)
        amplitude = comp.flux / sersic_total_flux(1.0, comp.r_eff, comp.n, 1.0 - comp.ellip)
        stamp = Sersic2D(amplitude, comp.r_eff, comp.n, comp.x, comp.y, comp.ellip, math.radians(comp.theta_deg))(xx, yy)
        # the cusp of a small companion is narrower than a pixel: cap it at 4 x its brightness at r_eff
        stamp = np.minimum(stamp, 4.0 * amplitude)
        outside = np.hypot(xx - p.centre_x, yy - p.centre_y) - clear
        stamp *= np.clip(outside / max(comp.r_eff, 1.0), 0.0, 1.0)
        out[:, r0:r1, c0:c1] += colour * stamp
    if comp.tail_length > 0 and comp.tail_flux > 0:
        away = math.atan2(comp.y - p.centre_y, comp.x - p.centre_x)
        t = np.arange(0.0, comp.tail_length, 0.7)
        angle = away + math.radians(comp.tail_curl_deg) * t / comp.tail_length
        path = np.cumsum(0.7 * np.stack([np.cos(angle), np.sin(angle)]), axis=1)
        xs, ys = comp.x + path[0], comp.y + path[1]
        weight = np.exp(-t / (0.5 * comp.tail_length))
        width = max(1.0, 1.2 * comp.r_eff)
        nx, ny = -np.sin(angle), np.cos(angle)
        offsets = (-2, -1, 0, 1, 2)
        px = np.concatenate([xs + k * 0.5 * width * nx for k in offsets])
        py = np.concatenate([ys + k * 0.5 * width * ny for k in offsets])
        pf = np.concatenate([weight * math.exp(-0.5 * (k * 0.5) ** 2) for k in offsets])
        keep = np.hypot(px - p.centre_x, py - p.centre_y) > clear + 1.5
        pf = pf * comp.tail_flux / max(pf.sum(), 1e-12)
        for band in range(3):
            _deposit(out[band], px[keep], py[keep], pf[keep] * colour[band, 0, 0])


ARTEFACT_COLOURS = {"star": Colour(0.3, 0.1), "corner": Colour(1.0, 0.5)}


def _add_artefact(out: np.ndarray, art: ArtefactSpec, size: int) -> None:
    if art.kind == "none":
        return
    if art.kind == "star":
        xs, ys, fs = _spike_points(art.x, art.y, art.flux, art.size_px)
        xs, ys, fs = np.append(xs, art.x), np.append(ys, art.y), np.append(fs, art.flux)
        for band, factor in enumerate(ARTEFACT_COLOURS["star"].band_factors()):
            _deposit(out[band], xs, ys, fs * factor)
    elif art.kind == "trail":
        x, y = _grid(size)
        theta = math.radians(art.angle_deg)
        distance = np.abs(-(x - art.x) * math.sin(theta) + (y - art.y) * math.cos(theta))
        out[art.band] += art.flux * np.clip(1.0 - distance / art.size_px, 0.0, None)
    elif art.kind == "corner":
        x, y = _grid(size)
        patch = art.flux * np.exp(-0.5 * ((x - art.x) ** 2 + (y - art.y) ** 2) / art.size_px**2)
        out += ARTEFACT_COLOURS["corner"].band_factors()[:, None, None] * patch


def psf_kernel(p: GalaxyParams) -> CustomKernel:
    """The Moffat PSF (FWHM ``psf_fwhm_px``, index ``psf_beta``) out to 6 FWHM.

    The kernel is tapered smoothly to zero over its outer third so that the wings of bright
    stars fade in a circle rather than stopping at the kernel's square edge.
    """
    beta = p.psf_beta
    gamma = p.psf_fwhm_px / (2.0 * math.sqrt(2.0 ** (1.0 / beta) - 1.0))
    half = int(min(math.ceil(6.0 * p.psf_fwhm_px), p.size // 2 - 1))
    moffat = Moffat2DKernel(gamma=gamma, alpha=beta, x_size=2 * half + 1, y_size=2 * half + 1)
    yy, xx = np.indices(moffat.shape) - half
    r = np.hypot(xx, yy) / (half + 0.5)
    taper = np.where(r < 2 / 3, 1.0, np.where(r < 1, 0.5 * (1 + np.cos(np.pi * (r - 2 / 3) * 3)), 0.0))
    tapered = CustomKernel(moffat.array * taper)
    tapered.normalize()
    return tapered


def convolve_psf(bands: np.ndarray, kernel: Kernel2D) -> np.ndarray:
    """Convolve each (H, W) plane of ``bands`` with the normalised kernel; zero outside the frame.

    Same result as astropy's ``convolve_fft(boundary="fill", fill_value=0)`` per band, but with
    scipy's real FFT on all bands at once and the kernel transformed once (~5x faster).
    """
    k = kernel.array / kernel.array.sum()
    return fftconvolve(bands, k[None], mode="same", axes=(-2, -1))


def _linear_weights(size: int, grain: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Bilinear resampling of an n-sample axis onto ``size`` output pixels of 1/grain samples.

    Returns (lower index, weight of lower, weight of upper, n); the weights are scaled so that
    resampling unit white noise gives unit variance at every output pixel.
    """
    n = int(math.ceil(size / grain)) + 2
    coords = (np.arange(size) + 0.5) / grain
    lower = np.floor(coords).astype(np.int64)
    t = coords - lower
    norm = np.sqrt((1.0 - t) ** 2 + t**2)
    return lower, (1.0 - t) / norm, t / norm, n


def _unit_noise(p: GalaxyParams) -> np.ndarray:
    """(3, H, W) unit-variance noise, correlated over one native survey pixel.

    White noise on the survey's native pixel grid, bilinearly resampled to the output grid (as
    Galaxy Zoo's cutouts were), then rescaled so every output pixel has variance 1; then smoothed
    by the style's ``noise_blur_px`` and rescaled to unit variance again.
    """
    rng = np.random.default_rng([p.seed, 0])
    if p.noise_grain_px <= 1.0:
        noise = rng.standard_normal((3, p.size, p.size))
    else:
        lower, w0, w1, n = _linear_weights(p.size, p.noise_grain_px)
        coarse = rng.standard_normal((3, n, n))
        rows = coarse[:, lower, :] * w0[None, :, None] + coarse[:, lower + 1, :] * w1[None, :, None]
        noise = rows[:, :, lower] * w0 + rows[:, :, lower + 1] * w1
    blur = p.style_spec.noise_blur_px * p.size / 424.0
    if blur > 0.05:
        # the real cutouts' sky is blotchy (lag-1 correlation 0.6-0.9): survey resampling and JPEG
        noise = ndimage.gaussian_filter(noise, (0.0, blur, blur), mode="wrap", truncate=3.0)
        noise /= noise.std(axis=(1, 2), keepdims=True)
    return noise


def to_rgb(galaxy: np.ndarray, sources: np.ndarray, noise: np.ndarray, p: GalaxyParams) -> np.ndarray:
    """gri counts -> float RGB in [0, 1] with make_lupton_rgb (i -> red, r -> green, g -> blue).

    The style's colour saturation pulls the noise-free ``galaxy`` light towards grey and the
    ``sources`` (stars, companions, background galaxies, artefact; all PSF-convolved) by their
    own saturation, before the noise is added: in DECaLS cutouts galaxies look grey while stars
    stay vivid orange or blue, and the sky's noise keeps its colours.
    """
    spec = p.style_spec
    scale = np.asarray(spec.band_scale)[:, None, None]
    mixed = noise * scale
    for part, saturation in ((galaxy, spec.colour_saturation), (sources, spec.source_saturation)):
        scaled = part * scale
        mean = scaled.mean(axis=0)
        mixed = mixed + mean + saturation * (scaled - mean)
    g, r, i = mixed
    rgb = make_lupton_rgb(
        i, r, g, minimum=spec.lupton_minimum, stretch=spec.lupton_stretch, Q=spec.lupton_q,
        output_dtype=np.float64,
    )
    return rgb.astype(np.float32)


def bar_mask_for(params: GalaxyParams, bar_light: np.ndarray) -> np.ndarray:
    """The bar mask: pixels whose centre lies inside the bar's outline on the image (its Ferrers
    light is above zero there), plus the pixels its major axis passes through (centre within
    0.5 px of the tip-to-tip segment), so that a bar thinner than a pixel stays connected from
    tip to tip. All False without a bar."""
    if not params.has_bar:
        return np.zeros(bar_light.shape, dtype=bool)
    geo = projected_bar(
        params.bar_a_px, params.bar_b_px, params.bar_phi_deg, params.disc_pa_deg, params.disc_axis_ratio,
        params.centre_x, params.centre_y,
    )
    x, y = _grid(params.size)
    ux, uy = math.cos(math.radians(geo.pa_deg)), math.sin(math.radians(geo.pa_deg))
    along = (x - params.centre_x) * ux + (y - params.centre_y) * uy
    across = -(x - params.centre_x) * uy + (y - params.centre_y) * ux
    spine = (np.abs(across) <= 0.5) & (np.abs(along) <= geo.semi_major_px)
    return (bar_light > 0) | spine


def render_galaxy(params: GalaxyParams) -> SyntheticGalaxy:
    """Render ``params`` to pixels, bar mask and truth (deterministic: same params, same pixels)."""
    comps = galaxy_components(params)
    colours = {
        "bulge": params.bulge_colour, "disc": params.disc_colour, "bar": params.bar_colour,
        "arms": params.arm_colour, "ring": params.arm_colour,
    }
    sources = _sources_by_band(params)
    light = np.zeros_like(sources)
    for name, colour in colours.items():
        light += colour.band_factors()[:, None, None] * getattr(comps, name)[None]
    if comps.dust_tau is not None:  # components hold r-band dimming; g loses more, i less
        light *= np.exp(-comps.dust_tau[None] * (DUST_BAND_RATIO[:, None, None] - 1.0))
    light += _other_galaxies_by_band(params)
    kernel = psf_kernel(params)
    spec = params.style_spec
    if spec.colour_saturation == spec.source_saturation:  # one colour mapping: one convolution
        signal = convolve_psf(light + sources, kernel)
        galaxy, stars = signal, np.zeros_like(signal)
    else:
        both = convolve_psf(np.concatenate([light, sources]), kernel)
        galaxy, stars = both[:3], both[3:]
        signal = galaxy + stars
    sigma = np.asarray(params.sky_sigma)[:, None, None]
    noise_sd = np.sqrt(sigma**2 + np.clip(signal, 0.0, None) / POISSON_GAIN)
    noise = noise_sd * _unit_noise(params)
    bands = (signal + noise).astype(np.float32)
    rgb = to_rgb(galaxy, stars, noise, params)
    bar_mask = bar_mask_for(params, comps.bar)
    truth = compute_truth(params, comps, bar_mask)
    return SyntheticGalaxy(rgb=rgb, bands=bands, bar_mask=bar_mask, components=comps, truth=truth, params=params)
