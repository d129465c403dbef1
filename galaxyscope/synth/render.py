"""Render one synthetic galaxy in memory: noise-free components, PSF, noise, gri colours.

Why in memory: tests and experiments (pairs, saliency checks) need the pixels, the bar mask and
the truth without touching disk; ``dataset.py`` only writes what this returns.

Pipeline (each model evaluated once on the grid; one FFT convolution per band):
  bulge (Sersic2D), disc (Sersic2D n=1), bar (Ferrers2D), arms (LogSpiralArms2D, clumpy),
  ring (GaussianRing2D) -> g, r, i by each component's colour -> + stars, background galaxies,
  artefact -> PSF (astropy Moffat2DKernel, FFT convolution) -> noise -> make_lupton_rgb.
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
from galaxyscope.synth.params import ArtefactSpec, Colour, GalaxyParams
from galaxyscope.synth.profiles import (
    Ferrers2D,
    GaussianRing2D,
    LogSpiralArms2D,
    sersic_total_flux,
    sky_to_disc,
)
from galaxyscope.synth.truth import GalaxyTruth, compute_truth

SERSIC_B1 = 1.678347  # b_n of a Sersic n = 1 profile: r_eff = 1.678 x scale length
POISSON_GAIN = 20.0  # counts per unit of Poisson variance: var = sky_sigma**2 + signal / POISSON_GAIN


@dataclass(frozen=True)
class Components:
    """Noise-free, PSF-free r-band light of each part of the galaxy (counts per pixel)."""

    bulge: np.ndarray
    disc: np.ndarray
    bar: np.ndarray
    arms: np.ndarray
    ring: np.ndarray

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
    if p.has_bar:
        bar = np.zeros_like(x)
        bar[rows, cols] = Ferrers2D(
            amplitude=p.bar_amplitude, x_0=0.0, y_0=0.0, a=p.bar_a_px, b=p.bar_b_px,
            theta=math.radians(p.bar_phi_deg), n=p.bar_n,
        )(u, v)
    if p.has_arms:
        arms = np.zeros_like(x)
        arms[rows, cols] = LogSpiralArms2D(
            amplitude=p.arm_amplitude, x_0=0.0, y_0=0.0, r_scale=p.disc_scale_px, r_in=p.arm_r_in_px,
            pitch=math.radians(p.arm_pitch_deg), phase=math.radians(p.arm_phase_deg), n_arms=p.n_arms,
            sharpness=p.arm_sharpness, lopsided=p.arm_lopsided,
            lopsided_angle=math.radians(p.arm_lopsided_angle_deg),
        )(u, v) * _clump_texture(p, u.shape)
    if p.has_ring:
        ring = np.zeros_like(x)
        ring[rows, cols] = GaussianRing2D(
            amplitude=p.ring_amplitude, x_0=0.0, y_0=0.0, radius=p.ring_radius_px, width=p.ring_width_px,
        )(u, v)
    return Components(bulge=bulge, disc=disc, bar=bar, arms=arms, ring=ring)


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
    """Stars, background galaxies and the artefact as (3, H, W) g, r, i counts before the PSF."""
    out = np.zeros((3, p.size, p.size))
    for star in p.stars:
        xs, ys, fs = _spike_points(star.x, star.y, star.flux, star.spike_length)
        xs, ys, fs = np.append(xs, star.x), np.append(ys, star.y), np.append(fs, star.flux)
        for band, factor in enumerate(star.colour.band_factors()):
            _deposit(out[band], xs, ys, fs * factor)
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
    _add_artefact(out, p.artefact, p.size)
    return out


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
    Galaxy Zoo's cutouts were), then rescaled so every output pixel has variance 1.
    """
    rng = np.random.default_rng([p.seed, 0])
    if p.noise_grain_px <= 1.0:
        return rng.standard_normal((3, p.size, p.size))
    lower, w0, w1, n = _linear_weights(p.size, p.noise_grain_px)
    coarse = rng.standard_normal((3, n, n))
    rows = coarse[:, lower, :] * w0[None, :, None] + coarse[:, lower + 1, :] * w1[None, :, None]
    return rows[:, :, lower] * w0 + rows[:, :, lower + 1] * w1


def to_rgb(signal: np.ndarray, noise: np.ndarray, p: GalaxyParams) -> np.ndarray:
    """gri counts -> float RGB in [0, 1] with make_lupton_rgb (i -> red, r -> green, g -> blue).

    The style's colour saturation pulls the noise-free ``signal`` towards grey before the noise
    is added, so that (as in DECaLS cutouts) galaxies can look grey while the sky's noise keeps
    its colours.
    """
    spec = p.style_spec
    scale = np.asarray(spec.band_scale)[:, None, None]
    scaled = signal * scale
    mean = scaled.mean(axis=0)
    g, r, i = mean + spec.colour_saturation * (scaled - mean) + noise * scale
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
    sky = _sources_by_band(params)
    for name, colour in colours.items():
        sky += colour.band_factors()[:, None, None] * getattr(comps, name)[None]
    kernel = psf_kernel(params)
    signal = convolve_psf(sky, kernel)
    sigma = np.asarray(params.sky_sigma)[:, None, None]
    noise_sd = np.sqrt(sigma**2 + np.clip(signal, 0.0, None) / POISSON_GAIN)
    noise = noise_sd * _unit_noise(params)
    bands = (signal + noise).astype(np.float32)
    rgb = to_rgb(signal, noise, params)
    bar_mask = bar_mask_for(params, comps.bar)
    truth = compute_truth(params, comps, bar_mask)
    return SyntheticGalaxy(rgb=rgb, bands=bands, bar_mask=bar_mask, components=comps, truth=truth, params=params)
