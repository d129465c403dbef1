"""How real do the synthetic galaxies look? A yardstick for the renderer (issue 14, step 1).

    python -m benchmarks.realism --synthetic-sdss $GALAXYSCOPE_DATA/realism_before_sdss \\
        --synthetic-decals $GALAXYSCOPE_DATA/realism_before_decals --n 150 --seed 14 --label before \\
        --out docs/realism.md --json docs/realism-before.json
    # after a renderer change, the same command with --label after, a fresh --json and
    #   --compare docs/realism-before.json   (the report then shows before -> after)

Why: a network trained on synthetic galaxies meets real ones; every way the renderer differs from
a survey (sky noise, noise texture, colours, PSF, star counts, light profile, size in the frame) is
a shortcut the network can learn and a gap it falls into on real images. This report measures the
distributions astronomers use on both sides, per survey (SDSS GZ2 JPEGs, DECaLS cutouts):

- sky: level, robust noise (sigma-clipped std of background pixels), the noise's spatial
  correlation (autocorrelation at lag 1 and 2 px), its colour (channel noise ratios and the
  correlation of the channels' noise);
- colours: the galaxy's R/G and B/G flux ratios inside its segment, the inner-outer B/G gradient,
  and the sky's colour;
- PSF: FWHM of point sources (photutils DAOStarFinder + ``fit_fwhm``) and the number of point
  sources per frame;
- structure: statmorph C, A, Gini, M20, ellipticity on the greyscale (mean of channels) with a
  photutils segmentation map; R90 / frame side (``galaxyscope.images.extent.measure_extent``);
  the surface brightness inside R50 and the core's peak;
- how separable the two sets are as a whole: the cross-validated ROC AUC of a logistic regression
  on the features above and of a tiny CNN on 64x64 downsampled images (0.5 = indistinguishable),
  with bootstrap 95 % intervals.

Each feature's synthetic-vs-real gap is the two-sample KS statistic; the report ends with the
gaps ranked. Plots go to ``docs/realism/``. Pixel values are 8-bit JPEG units (0-255, "DN").

Every function that extracts a feature is importable (``tests/test_realism.py`` checks them).
The real samples come from $GALAXYSCOPE_SHARED_DATA/gz2-kaggle and .../decals-zoobot (default
../shared/data beside the checkout; experiments/common.py); synthetic folders are written into
the report as ``$GALAXYSCOPE_DATA/...`` when they lie there.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from experiments.common import REPO as ROOT
from experiments.common import DATA_NOTE, display_path, shared_data
from galaxyscope.evaluate.classification import Estimate, auc_interval
from galaxyscope.images.extent import measure_extent

DATA = shared_data()
REAL_SDSS = DATA / "gz2-kaggle"
REAL_DECALS = DATA / "decals-zoobot"

#: detection threshold (sigmas of the smoothed sky) for the segmentation, its smallest segment,
#: and the dilation (px) of the source mask that leaves only sky. 3 sigma and 20 px because the
#: real GZ2 JPEGs' sky noise is strongly correlated (lag-1 autocorrelation ~0.9): at 2 sigma and
#: 10 px hundreds of noise blobs per frame become "sources".
SEG_SIGMA = 3.0
SEG_NPIX = 20
#: statmorph runs on the greyscale binned 3x3 (9x fewer pixels; its asymmetry centre search
#: rotates the stamp dozens of times). Both sides are binned alike, so the comparison is fair;
#: on GZ2 frames (R90 ~ 50 px, ~17 binned) C, Gini and M20 move by < 0.02 against 2x2.
MORPH_BIN = 3
MASK_DILATE = 5
#: point sources: DAOStarFinder threshold in sky sigmas and its FWHM guess (px)
STAR_SIGMA = 5.0
STAR_FWHM_GUESS = 3.0
#: a JPEG pixel this bright is (near) saturated; such stars give no FWHM
SATURATED_DN = 250.0

#: feature name -> (what it is, what a renderer developer would change)
FEATURES: dict[str, tuple[str, str]] = {
    "sky_level": ("sigma-clipped mean of background pixels, grey [DN]", "sky pedestal / stretch black point"),
    "sky_noise": ("sigma-clipped std of background pixels, grey [DN]", "noise amplitude"),
    "sky_noise_mad": ("1.4826 x MAD of background pixels, grey [DN]", "noise amplitude (robust to outliers)"),
    "noise_acf1": ("background autocorrelation at lag 1 px", "noise correlation (resampling / PSF-convolved noise)"),
    "noise_acf2": ("background autocorrelation at lag 2 px", "noise correlation length"),
    "noise_rg": ("sky noise std ratio R/G", "per-band noise levels"),
    "noise_bg": ("sky noise std ratio B/G", "per-band noise levels"),
    "noise_chan_corr": ("mean correlation of the channels' sky noise", "independent vs shared noise between bands"),
    "sky_rg": ("sky colour: clipped mean R - clipped mean G of background [DN]", "sky colour balance"),
    "sky_bg": ("sky colour: clipped mean B - clipped mean G of background [DN]", "sky colour balance"),
    "gal_rg": ("galaxy flux ratio R/G inside its segment", "galaxy colour (band weights, SED)"),
    "gal_bg": ("galaxy flux ratio B/G inside its segment", "galaxy colour (band weights, SED)"),
    "gal_bg_gradient": ("B/G outside R50 minus B/G inside R50", "bulge red / disc blue colour gradient"),
    "psf_fwhm": ("median FWHM of unsaturated point sources [px]", "PSF width"),
    "n_stars": ("point sources per 424x424 frame, S/N > 5, off the galaxy", "star density"),
    "r90_frac": ("R90 / frame side (measure_extent)", "galaxy size in the frame"),
    "r50_r90": ("R50 / R90 (measure_extent)", "light concentration"),
    "sb50": ("mean sky-subtracted grey inside R50 [DN]", "galaxy brightness / stretch"),
    "core_peak": ("peak of the 3x3-smoothed grey in the galaxy [DN]", "core brightness / saturation"),
    "concentration": ("statmorph C", "bulge-to-disc, profile shape"),
    "asymmetry": ("statmorph A", "arms, clumps, noise"),
    "gini": ("statmorph Gini", "light concentration in few pixels"),
    "m20": ("statmorph M20", "bright off-centre knots"),
    "smoothness": ("statmorph smoothness S (clumpiness)", "clumps, HII regions, arm texture"),
    "ellipticity": ("statmorph ellipticity (asymmetry-based)", "inclination distribution"),
}
#: report name -> statmorph attribute
MORPH_KEYS = {"concentration": "concentration", "asymmetry": "asymmetry", "smoothness": "smoothness",
              "gini": "gini", "m20": "m20", "ellipticity": "ellipticity_asymmetry"}
FEATURE_NAMES = tuple(FEATURES)
#: the features of the galaxy itself (not sky, noise, stars): a second logistic regression uses
#: only these, to say whether the galaxy is realistic apart from its background
GALAXY_FEATURES = ("gal_rg", "gal_bg", "gal_bg_gradient", "r90_frac", "r50_r90", "sb50", "core_peak",
                   "concentration", "asymmetry", "smoothness", "gini", "m20", "ellipticity")
#: bump when a feature's definition changes: cached values of older versions are not reused
FEATURE_VERSION = 2


# --------------------------------------------------------------------------------- pixels
def load_rgb(path: str | Path) -> np.ndarray:
    """An image file as float64 HxWx3 in 8-bit units (greyscale files repeated to 3 channels)."""
    from PIL import Image

    with Image.open(path) as im:
        arr = np.asarray(im.convert("RGB"), dtype=np.float64)
    return arr


def grey(rgb: np.ndarray) -> np.ndarray:
    """Mean of the channels: what the morphology and noise numbers are measured on."""
    rgb = np.asarray(rgb, np.float64)
    return rgb if rgb.ndim == 2 else rgb.mean(axis=2)


# ------------------------------------------------------------------------------ sky, noise
def sky_stats(values: np.ndarray) -> tuple[float, float]:
    """Sigma-clipped (3 sigma) median and std: the sky level and noise without stars' tails."""
    from astropy.stats import sigma_clipped_stats

    v = np.asarray(values, np.float64).ravel()
    v = v[np.isfinite(v)]
    if v.size < 10:
        return math.nan, math.nan
    _, median, std = sigma_clipped_stats(v, sigma=3.0, maxiters=10)
    return float(median), float(std)


def sky_mean(values: np.ndarray) -> float:
    """Sigma-clipped (3 sigma) mean: the reported sky level. JPEG values are integers, so a dark
    sky's median is stuck on whole DN (the SDSS sky is 2-4 DN); the clipped mean is not."""
    from astropy.stats import sigma_clipped_stats

    v = np.asarray(values, np.float64).ravel()
    v = v[np.isfinite(v)]
    if v.size < 10:
        return math.nan
    mean, _, _ = sigma_clipped_stats(v, sigma=3.0, maxiters=10)
    return float(mean)


def robust_sigma(values: np.ndarray) -> float:
    """1.4826 x median absolute deviation: a Gaussian's sigma, untouched by a few bright pixels."""
    from astropy.stats import mad_std

    v = np.asarray(values, np.float64).ravel()
    v = v[np.isfinite(v)]
    return float(mad_std(v)) if v.size >= 10 else math.nan


@dataclass
class Segmentation:
    """Sources on one frame: the label map, the central galaxy's label (0: none), the sky."""

    labels: np.ndarray
    central: int
    sky: float
    noise: float
    background: np.ndarray  # True where no (dilated) source is: sky pixels only


def _first_sky(g: np.ndarray) -> tuple[float, float]:
    """Sky level and noise from the frame's border strips (where the centred galaxy is not)."""
    from galaxyscope.images.extent import border_pixels

    med, std = sky_stats(border_pixels(g))
    if not (math.isfinite(std) and std > 0):
        std = max(robust_sigma(g), 0.5)  # a flat (quantised, clipped) sky
    return med, std


def segment(g: np.ndarray) -> Segmentation:
    """photutils segmentation of the greyscale frame (smoothed, SEG_SIGMA, SEG_NPIX) and a sky mask.

    The central segment is the one under the frame's centre, or the nearest within a quarter of
    the frame (cutouts are centred on their target). The sky is re-estimated from the pixels
    outside every dilated segment, which is where the noise statistics are taken.
    """
    from photutils.segmentation import detect_sources, make_2dgaussian_kernel
    from scipy import ndimage

    g = np.asarray(g, np.float64)
    h, w = g.shape
    sky0, std0 = _first_sky(g)
    data = g - sky0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kernel = np.asarray(make_2dgaussian_kernel(2.0, size=5).array, np.float64)
        smooth = ndimage.convolve(data, kernel / kernel.sum(), mode="nearest")
        # the smoothed noise is lower than the raw one: threshold on the smoothed map's own sigma
        _, s_std = sky_stats(smooth[np.abs(data) < 3 * std0])
        s_std = s_std if math.isfinite(s_std) and s_std > 0 else std0
        segm = detect_sources(smooth, SEG_SIGMA * s_std, npixels=SEG_NPIX)
    labels = np.zeros((h, w), np.int32) if segm is None else np.asarray(segm.data, np.int32)
    central = int(labels[h // 2, w // 2])
    if central == 0 and labels.any():
        idx = np.arange(1, labels.max() + 1)
        com = ndimage.center_of_mass(np.ones_like(g), labels, idx)
        d = np.array([math.hypot(cx - (w - 1) / 2, cy - (h - 1) / 2) for cy, cx in com])
        j = int(np.argmin(d))
        if d[j] <= 0.25 * min(h, w):
            central = int(idx[j])
    src = labels > 0
    if MASK_DILATE > 0 and src.any():
        yy, xx = np.mgrid[-MASK_DILATE:MASK_DILATE + 1, -MASK_DILATE:MASK_DILATE + 1]
        src = ndimage.binary_dilation(src, structure=(xx**2 + yy**2) <= MASK_DILATE**2)
    background = ~src & np.isfinite(g)
    if background.sum() < 100:  # a frame full of galaxy: fall back to the border
        background = np.zeros_like(src)
        from galaxyscope.images.extent import SKY_BORDER

        b = max(2, int(round(min(h, w) * SKY_BORDER)))
        background[:b] = background[-b:] = True
        background[:, :b] = background[:, -b:] = True
    sky, noise = sky_stats(g[background])
    if not (math.isfinite(noise) and noise > 0):
        sky, noise = sky0, std0
    return Segmentation(labels, central, sky, noise, background)


def noise_autocorr(g: np.ndarray, mask: np.ndarray, lag: int, clip: float = 4.0) -> float:
    """Normalised autocorrelation of the sky residuals at ``lag`` px (mean of x and y shifts).

    Why: white noise gives 0; noise that was resampled or convolved (drizzled survey images,
    a renderer that blurs after adding noise) is correlated over a few pixels, a texture a CNN
    sees at once. Only pairs with both pixels in ``mask`` and within ``clip`` robust sigmas count.
    """
    g = np.asarray(g, np.float64)
    m = np.asarray(mask, bool) & np.isfinite(g)
    if m.sum() < 50:
        return math.nan
    med = float(np.median(g[m]))
    x = g - med
    sig = robust_sigma(x[m])
    if not (math.isfinite(sig) and sig > 0):
        return math.nan
    m = m & (np.abs(x) < clip * sig)
    vals = []
    for a, b, ma, mb in ((x[:, :-lag], x[:, lag:], m[:, :-lag], m[:, lag:]),
                         (x[:-lag, :], x[lag:, :], m[:-lag, :], m[lag:, :])):
        ok = ma & mb
        if ok.sum() < 30:
            continue
        u, v = a[ok], b[ok]
        u = u - u.mean()
        v = v - v.mean()
        den = math.sqrt(float((u * u).sum()) * float((v * v).sum()))
        if den > 0:
            vals.append(float((u * v).sum()) / den)
    return float(np.mean(vals)) if vals else math.nan


def channel_noise(rgb: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """Noise of each channel in the sky (R/G and B/G std ratios), how much of it the channels
    share (mean pairwise correlation), and the sky's colour (median R-G, B-G).

    Why: independent noise per band shows as coloured speckle (real gri composites); a renderer
    that adds one noise field to all bands gives grey noise and a correlation near 1. The sky
    colour uses clipped means (see ``sky_mean``), the noise the clipped std.
    """
    m = np.asarray(mask, bool)
    ch = [np.asarray(rgb[..., i], np.float64)[m] for i in range(3)]
    out = {"noise_rg": math.nan, "noise_bg": math.nan, "noise_chan_corr": math.nan,
           "sky_rg": math.nan, "sky_bg": math.nan}
    if ch[0].size < 50:
        return out
    meds, sigs = [], []
    for c in ch:
        md, sd = sky_stats(c)
        meds.append(md)
        sigs.append(sd)
    means = [sky_mean(c) for c in ch]
    out["sky_rg"] = means[0] - means[1]
    out["sky_bg"] = means[2] - means[1]
    if sigs[1] > 0:
        out["noise_rg"] = sigs[0] / sigs[1]
        out["noise_bg"] = sigs[2] / sigs[1]
    keep = np.ones(ch[0].size, bool)
    for c, md, sd in zip(ch, meds, sigs):
        if sd > 0:
            keep &= np.abs(c - md) < 4 * sd
    if keep.sum() > 50:
        r = np.corrcoef(np.vstack([c[keep] for c in ch]))
        vals = [r[0, 1], r[0, 2], r[1, 2]]
        vals = [v for v in vals if np.isfinite(v)]
        out["noise_chan_corr"] = float(np.mean(vals)) if vals else math.nan
    return out


# ------------------------------------------------------------------------ galaxy colours
def galaxy_colours(rgb: np.ndarray, segmask: np.ndarray, sky_rgb: tuple[float, float, float],
                   centre: tuple[float, float] | None = None, r50: float | None = None) -> dict[str, float]:
    """R/G and B/G of the sky-subtracted flux inside the galaxy's segment; with ``centre`` and
    ``r50`` also B/G outside R50 minus B/G inside (positive: a bluer disc around a redder bulge).
    """
    seg = np.asarray(segmask, bool)
    out = {"gal_rg": math.nan, "gal_bg": math.nan, "gal_bg_gradient": math.nan}
    if seg.sum() < 5:
        return out
    flux = [float((rgb[..., i][seg] - sky_rgb[i]).sum()) for i in range(3)]
    if flux[1] > 0:
        out["gal_rg"] = flux[0] / flux[1]
        out["gal_bg"] = flux[2] / flux[1]
    if centre is not None and r50 is not None and math.isfinite(r50) and r50 > 0:
        h, w = seg.shape
        yy, xx = np.mgrid[:h, :w]
        rr = np.hypot(xx - centre[0], yy - centre[1])
        parts = []
        for region in (seg & (rr <= r50), seg & (rr > r50)):
            g_ = float((rgb[..., 1][region] - sky_rgb[1]).sum())
            b_ = float((rgb[..., 2][region] - sky_rgb[2]).sum())
            parts.append(b_ / g_ if region.sum() >= 5 and g_ > 0 else math.nan)
        out["gal_bg_gradient"] = parts[1] - parts[0]
    return out


# ----------------------------------------------------------------------------- stars, PSF
@dataclass
class PointSources:
    """Point sources off the galaxy: positions (x, y), peak [DN] and FWHM [px] (NaN: not fit)."""

    x: np.ndarray
    y: np.ndarray
    peak: np.ndarray
    fwhm: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def n(self) -> int:
        return int(self.x.size)

    def median_fwhm(self) -> float:
        f = self.fwhm[np.isfinite(self.fwhm)]
        return float(np.median(f)) if f.size else math.nan


def find_point_sources(g: np.ndarray, sky: float, noise: float, exclude: np.ndarray | None = None,
                       snr: float = STAR_SIGMA, fwhm_guess: float = STAR_FWHM_GUESS,
                       border: int = 6, fit: bool = True) -> PointSources:
    """DAOStarFinder peaks above ``snr`` sky sigmas, off ``exclude`` (the galaxy) and the border;
    FWHM by photutils' ``fit_fwhm`` (a circular Gaussian) for the unsaturated ones.

    Why: the stars in a frame show the survey's PSF directly, and their number per frame is a
    property the renderer must match (a network can count stars to tell the two sets apart).
    """
    from photutils.detection import DAOStarFinder

    g = np.asarray(g, np.float64)
    h, w = g.shape
    data = g - sky
    empty = PointSources(np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0))
    if not (math.isfinite(noise) and noise > 0):
        return empty
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        finder = DAOStarFinder(threshold=snr * noise, fwhm=fwhm_guess, exclude_border=True)
        tab = finder(data)
    if tab is None or len(tab) == 0:
        return empty
    xcol, ycol = ("x_centroid", "y_centroid") if "x_centroid" in tab.colnames else ("xcentroid", "ycentroid")
    x = np.asarray(tab[xcol], float)
    y = np.asarray(tab[ycol], float)
    peak = np.asarray(tab["peak"], float) + sky
    keep = (x >= border) & (x < w - border) & (y >= border) & (y < h - border)
    if exclude is not None:
        ix = np.clip(np.round(x).astype(int), 0, w - 1)
        iy = np.clip(np.round(y).astype(int), 0, h - 1)
        keep &= ~np.asarray(exclude, bool)[iy, ix]
    x, y, peak = x[keep], y[keep], peak[keep]
    fwhm = np.full(x.size, np.nan)
    if fit and x.size:
        from photutils.psf import fit_fwhm

        ok = peak < SATURATED_DN
        # isolated: no other detection within 8 px (blends widen the fit)
        if x.size > 1:
            d = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :])
            np.fill_diagonal(d, np.inf)
            ok &= d.min(axis=1) > 8
        idx = np.flatnonzero(ok)
        idx = idx[np.argsort(-peak[idx])][:10]  # the 10 brightest unsaturated: enough for a median
        if idx.size:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    f = fit_fwhm(data, xypos=np.column_stack([x[idx], y[idx]]), fwhm=fwhm_guess, fit_shape=7)
                    f = np.asarray(f, float)
                    f[(f <= 0.5) | (f > 15)] = np.nan
                    fwhm[idx] = f
                except Exception:  # noqa: BLE001 - a failed fit is no PSF number, not a crash
                    pass
    return PointSources(x, y, peak, fwhm)


# ------------------------------------------------------------------------------ morphology
def bin_image(a: np.ndarray, k: int) -> np.ndarray:
    """Sum ``k`` x ``k`` blocks (the frame trimmed to a multiple of ``k``)."""
    if k <= 1:
        return np.asarray(a)
    h, w = (a.shape[0] // k) * k, (a.shape[1] // k) * k
    return np.asarray(a)[:h, :w].reshape(h // k, k, w // k, k).sum(axis=(1, 3))


def morphology(g: np.ndarray, labels: np.ndarray, label: int, noise: float, sky: float = 0.0,
               binning: int = MORPH_BIN) -> dict[str, float]:
    """statmorph C, A, S, Gini, M20, ellipticity of segment ``label`` (other segments masked).

    The weight map is the sky noise everywhere (JPEGs carry no per-pixel errors; the sky
    dominates the noise of all but the brightest pixels). statmorph's flag >= 2 (bad) gives NaN.
    With ``binning`` k the image is summed in k x k blocks first (noise x k, labels by majority
    of the block's pixels being in the segment).
    """
    out = {k: math.nan for k in MORPH_KEYS}
    if label <= 0 or not (math.isfinite(noise) and noise > 0):
        return out
    data = np.asarray(g, np.float64) - sky
    labels = np.asarray(labels)
    if binning > 1:
        k = binning
        data = bin_image(data, k)
        noise = noise * k  # white-noise scaling; only sets statmorph's S/N weights
        mine = bin_image((labels == label).astype(np.int32), k) * 2 > k * k
        other = bin_image(((labels > 0) & (labels != label)).astype(np.int32), k) * 2 > k * k
        labels = np.where(mine, label, np.where(other, label + 1, 0))
    ys, xs = np.nonzero(labels == label)
    if ys.size < 10:
        return out
    # crop to statmorph's own stamp (2.5 x the segment's box) first: less work on whole frames
    pad = max(24, int(0.75 * max(np.ptp(ys), np.ptp(xs))) + 2)
    y0, y1 = max(0, ys.min() - pad), min(data.shape[0], ys.max() + pad + 1)
    x0, x1 = max(0, xs.min() - pad), min(data.shape[1], xs.max() + pad + 1)
    cut = data[y0:y1, x0:x1]
    lab = labels[y0:y1, x0:x1]
    seg = np.where(lab == label, 1, 0).astype(np.int32)
    mask = (lab > 0) & (lab != label)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            m = _lean_morphology_class()(cut, seg, 1, mask=mask, weightmap=np.full(cut.shape, float(noise)))
            vals = {key: float(getattr(m, attr)) for key, attr in MORPH_KEYS.items()}
        except Exception:  # noqa: BLE001 - statmorph raises on odd segments; that galaxy gives NaN
            return out
    if getattr(m, "flag", 4) >= 2:
        return out
    return {k: (v if math.isfinite(v) else math.nan) for k, v in vals.items()}


_LEAN = None


class _CoarseFmin:
    """scipy.optimize as statmorph sees it, but fmin stops at 0.01 px instead of 1e-6 px.

    Why: statmorph finds the asymmetry centre with Nelder-Mead to xtol = 1e-6 px, ~150
    rotations of the stamp per galaxy and most of its run time; 0.01 px changes A by far less
    than the spread between galaxies and takes a third of the steps.
    """

    def __init__(self, opt):
        self._opt = opt

    def __getattr__(self, name):
        return getattr(self._opt, name)

    def fmin(self, func, x0, *args, xtol: float = 1e-4, **kwargs):
        return self._opt.fmin(func, x0, *args, xtol=max(xtol, 0.01), **kwargs)


def _lean_morphology_class():
    """statmorph.SourceMorphology computing only what the report uses (no Sersic fit, no MID),
    with a coarser asymmetry-centre search (``_CoarseFmin``).

    Why: the Sersic fit and the centre search are most of statmorph's time; the reported
    quantities and statmorph's own quality checks (background subtraction, segmap overlap,
    centre drift) are unchanged.
    """
    global _LEAN
    if _LEAN is None:
        import statmorph
        import statmorph.statmorph as sm_module

        class LeanMorphology(statmorph.SourceMorphology):
            def _calculate_morphology(self):
                saved = getattr(sm_module, "opt", None)
                if saved is not None:
                    sm_module.opt = _CoarseFmin(saved)
                try:
                    for q in ("xc_centroid", "yc_centroid", *MORPH_KEYS.values(), "sky_mean", "sky_sigma"):
                        _ = self[q]
                finally:
                    if saved is not None:
                        sm_module.opt = saved

        _LEAN = LeanMorphology
    return _LEAN


# ----------------------------------------------------------------------------- per image
def extract_features(rgb: np.ndarray, with_morphology: bool = True) -> dict[str, float]:
    """Every scalar feature of FEATURES for one 8-bit RGB frame (NaN where it is undefined)."""
    rgb = np.asarray(rgb, np.float64)
    if rgb.ndim == 2:
        rgb = np.repeat(rgb[..., None], 3, axis=2)
    g = grey(rgb)
    h, w = g.shape
    seg = segment(g)
    f: dict[str, float] = {k: math.nan for k in FEATURE_NAMES}
    bg = seg.background
    # seg.sky (a clipped median) is what gets subtracted everywhere; the reported level is the
    # clipped mean, which JPEG's whole-DN steps do not quantise
    f["sky_level"], f["sky_noise"] = sky_mean(g[bg]), seg.noise
    f["sky_noise_mad"] = robust_sigma(g[bg])
    f["noise_acf1"] = noise_autocorr(g, bg, 1)
    f["noise_acf2"] = noise_autocorr(g, bg, 2)
    f.update(channel_noise(rgb, bg))
    sky_rgb = tuple(sky_stats(rgb[..., i][bg])[0] for i in range(3))

    ext = measure_extent(g.astype(np.float32))
    centre = ext.centre if ext.ok else None
    r50 = ext.r50_px if ext.ok else None
    if ext.ok:
        f["r90_frac"] = ext.r90_px / float(min(h, w))
        f["r50_r90"] = ext.r50_px / ext.r90_px if ext.r90_px > 0 else math.nan
        yy, xx = np.mgrid[:h, :w]
        inner = np.hypot(xx - ext.centre[0], yy - ext.centre[1]) <= ext.r50_px
        if inner.any():
            f["sb50"] = float(np.mean(g[inner] - seg.sky))

    galaxy = seg.labels == seg.central if seg.central > 0 else np.zeros((h, w), bool)
    f.update(galaxy_colours(rgb, galaxy, sky_rgb, centre, r50))
    if galaxy.any():
        from scipy import ndimage

        f["core_peak"] = float(ndimage.uniform_filter(g, 3)[galaxy].max())

    # stars: anything off the (dilated) galaxy segment
    excl = galaxy
    if galaxy.any():
        from scipy import ndimage

        excl = ndimage.binary_dilation(galaxy, iterations=3)
    stars = find_point_sources(g, seg.sky, seg.noise, exclude=excl)
    f["n_stars"] = stars.n * (424.0 * 424.0) / float(h * w)
    f["psf_fwhm"] = stars.median_fwhm()

    if with_morphology:
        f.update(morphology(g, seg.labels, seg.central, seg.noise, seg.sky))
    return f


# ------------------------------------------------------------------------ image samples
def sample_real_sdss(n: int, seed: int) -> tuple[list[Path], list[str]]:
    """A seeded random sample of GZ2 Kaggle JPEGs from spiral/ and non_spiral/ with the weak label."""
    files = sorted((REAL_SDSS / "spiral").glob("*.jpg")) + sorted((REAL_SDSS / "non_spiral").glob("*.jpg"))
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(files), size=min(n, len(files)), replace=False)
    chosen = [files[i] for i in sorted(pick)]
    return chosen, [p.parent.name for p in chosen]


def sample_real_decals(n: int, seed: int) -> tuple[list[Path], list[str]]:
    """A seeded random sample of the DECaLS cutouts; weak label from the spiral-arms votes (the
    set's galaxies are all featured-or-disk >= 0.5, so that vote would not split it)."""
    import csv

    with open(REAL_DECALS / "catalog.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    rows.sort(key=lambda r: r["filename"])
    rng = np.random.default_rng(seed + 1)
    pick = sorted(rng.choice(len(rows), size=min(n, len(rows)), replace=False))
    paths = [REAL_DECALS / rows[i]["filename"] for i in pick]
    labels = ["no_arms" if float(rows[i]["has-spiral-arms_no_fraction"]) >= 0.5 else "arms" for i in pick]
    return paths, labels


def synthetic_files(folder: Path, n: int, seed: int, wait_s: float = 600.0) -> list[Path]:
    """Up to ``n`` images of a ``galaxyscope synth`` folder (seeded sample when it has more).

    Waits for ``catalog.ecsv`` (written last) so a set still being rendered is not read half-done.
    """
    cat = folder / "catalog.ecsv"
    t0 = time.time()
    while not cat.exists():
        if time.time() - t0 > wait_s:
            raise SystemExit(f"{folder}: no catalog.ecsv after {wait_s:.0f} s (is it a galaxyscope synth folder?)")
        time.sleep(5)
    from galaxyscope.synth import read_catalog

    table = read_catalog(cat)
    files = [folder / str(fn) for fn in table["filename"]]
    files = [p if p.exists() else folder / "images" / p.name for p in files]
    files = [p for p in files if p.exists()]
    if len(files) > n:
        rng = np.random.default_rng(seed + 2)
        files = [files[i] for i in sorted(rng.choice(len(files), size=n, replace=False))]
    return files


def render_synthetic(style: str, n: int, seed: int, tmp: Path) -> Path:
    """A fresh synthetic set in ``tmp`` (galaxyscope.synth, fixed seed) when none is given."""
    from galaxyscope.synth import generate_dataset

    out = tmp / f"synth_{style}"
    generate_dataset(out, n=n, seed=seed, style=style, fmt="jpeg")
    return out


# --------------------------------------------------------------------------- classifiers
def stratified_folds(y: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Fold index per row, each class spread evenly over the ``k`` folds (shuffled, seeded)."""
    y = np.asarray(y).astype(int)
    rng = np.random.default_rng(seed)
    folds = np.empty(y.size, int)
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        rng.shuffle(idx)
        folds[idx] = np.arange(idx.size) % k
    return folds


def _fit_logistic(X: np.ndarray, y: np.ndarray, l2: float, iters: int = 50) -> np.ndarray:
    """L2-regularised logistic regression by Newton steps (weights, last one the intercept)."""
    Xb = np.column_stack([X, np.ones(len(X))])
    wvec = np.zeros(Xb.shape[1])
    reg = np.full(Xb.shape[1], l2)
    reg[-1] = 0.0
    for _ in range(iters):
        z = np.clip(Xb @ wvec, -30, 30)
        p = 1.0 / (1.0 + np.exp(-z))
        grad = Xb.T @ (p - y) + reg * wvec
        hess = (Xb * (p * (1 - p))[:, None]).T @ Xb + np.diag(reg) + 1e-9 * np.eye(Xb.shape[1])
        step = np.linalg.solve(hess, grad)
        wvec -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    return wvec


def logistic_cv_scores(X: np.ndarray, y: np.ndarray, k: int = 5, seed: int = 0, l2: float = 1.0) -> np.ndarray:
    """Out-of-fold P(synthetic) of a logistic regression (features standardised and NaN imputed
    with the training folds' medians), so the AUC measures separability, not memorisation."""
    X = np.asarray(X, np.float64)
    y = np.asarray(y, np.float64)
    folds = stratified_folds(y, k, seed)
    scores = np.full(y.size, np.nan)
    for f in range(k):
        tr, te = folds != f, folds == f
        med = np.nanmedian(X[tr], axis=0)
        med = np.where(np.isfinite(med), med, 0.0)
        Xtr = np.where(np.isfinite(X[tr]), X[tr], med)
        Xte = np.where(np.isfinite(X[te]), X[te], med)
        mu, sd = Xtr.mean(axis=0), Xtr.std(axis=0)
        sd = np.where(sd > 0, sd, 1.0)
        wvec = _fit_logistic((Xtr - mu) / sd, y[tr], l2)
        z = np.column_stack([(Xte - mu) / sd, np.ones(te.sum())]) @ wvec
        scores[te] = 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))
    return scores


def logistic_weights(X: np.ndarray, y: np.ndarray, names: list[str], l2: float = 1.0) -> dict[str, float]:
    """Standardised weights of the logistic regression on all rows: which features separate."""
    X = np.asarray(X, np.float64)
    med = np.nanmedian(X, axis=0)
    med = np.where(np.isfinite(med), med, 0.0)
    Xf = np.where(np.isfinite(X), X, med)
    mu, sd = Xf.mean(axis=0), Xf.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    wvec = _fit_logistic((Xf - mu) / sd, np.asarray(y, float), l2)
    return {n: float(v) for n, v in zip(names, wvec[:-1])}


def thumbnail(rgb: np.ndarray, size: int = 64) -> np.ndarray:
    """An 8-bit RGB frame box-averaged to ``size`` x ``size``, CHW float32 in [0, 1] (CNN input)."""
    from PIL import Image

    im = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8))
    small = np.asarray(im.resize((size, size), Image.Resampling.BOX), np.float32) / 255.0
    return np.ascontiguousarray(small.transpose(2, 0, 1))


def cnn_cv_scores(images: np.ndarray, y: np.ndarray, k: int = 5, seed: int = 0, epochs: int = 12,
                  batch: int = 32, lr: float = 3e-3) -> np.ndarray:
    """Out-of-fold P(synthetic) of a tiny CNN (three conv blocks, global pooling) on CPU.

    Why: the hand-made features only see what we thought of; a CNN finds whatever else differs
    (texture, JPEG artefacts, profile shape). Flips and 90-degree turns augment the training
    folds so orientation carries no information.
    """
    import torch
    from torch import nn

    torch.set_num_threads(1)
    x_all = torch.as_tensor(np.asarray(images, np.float32))
    y_all = torch.as_tensor(np.asarray(y, np.float32))
    folds = stratified_folds(np.asarray(y), k, seed)
    scores = np.full(len(y_all), np.nan)
    for f in range(k):
        torch.manual_seed(seed * 100 + f)
        tr = torch.as_tensor(np.flatnonzero(folds != f))
        te = torch.as_tensor(np.flatnonzero(folds == f))
        net = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 1),
        )
        opt = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=1e-4)
        loss_fn = nn.BCEWithLogitsLoss()
        gen = torch.Generator().manual_seed(seed * 100 + f)
        for _ in range(epochs):
            net.train()
            perm = tr[torch.randperm(len(tr), generator=gen)]
            for i in range(0, len(perm), batch):
                idx = perm[i:i + batch]
                xb = x_all[idx]
                if torch.rand(1, generator=gen).item() < 0.5:
                    xb = xb.flip(3)
                xb = torch.rot90(xb, int(torch.randint(0, 4, (1,), generator=gen)), dims=(2, 3))
                opt.zero_grad()
                loss = loss_fn(net(xb).squeeze(1), y_all[idx])
                loss.backward()
                opt.step()
        net.eval()
        with torch.no_grad():
            scores[te.numpy()] = torch.sigmoid(net(x_all[te]).squeeze(1)).numpy()
    return scores


# ------------------------------------------------------------------------ statistics
def summarise(values: np.ndarray) -> dict[str, float]:
    """Median, 16th and 84th percentiles and the count of finite values."""
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return {"median": math.nan, "p16": math.nan, "p84": math.nan, "n": 0}
    p16, med, p84 = np.percentile(v, [16, 50, 84])
    return {"median": float(med), "p16": float(p16), "p84": float(p84), "n": int(v.size)}


def ks_gap(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Two-sample KS statistic and p-value on the finite values (NaN if either side has < 5)."""
    from scipy.stats import ks_2samp

    a = np.asarray(a, float)
    b = np.asarray(b, float)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if a.size < 5 or b.size < 5:
        return math.nan, math.nan
    r = ks_2samp(a, b)
    return float(r.statistic), float(r.pvalue)


def _est_dict(e: Estimate) -> dict[str, float]:
    return {"auc": e.value, "low": e.low, "high": e.high, "n": e.n}


# ------------------------------------------------------------------------------- runner
@dataclass
class SurveyResult:
    """Everything measured for one survey: per-image features of both sides and the summaries."""

    survey: str
    synthetic_dir: str
    synth_files: list[str]
    real_files: list[str]
    real_classes: list[str]
    synth_feats: dict[str, list[float]]
    real_feats: dict[str, list[float]]
    features: dict[str, dict]
    classifiers: dict[str, dict]
    weights: dict[str, float]
    seconds: float
    cached: int = 0  # images whose features came from the cache


#: classifier key -> what it sees
CLASSIFIERS = {
    "logistic_features": "logistic regression, all features",
    "logistic_galaxy": "logistic regression, galaxy features only (no sky, noise, stars)",
    "cnn_64px": "tiny CNN, whole frame at 64x64",
}


class FeatureCache:
    """Features per image file on disk, keyed by path, size, mtime and FEATURE_VERSION.

    Why: the real samples are the same in the before and the after run (same seed and n); with
    the cache the after run measures only the new synthetic images (half the time).
    """

    def __init__(self, folder: Path | None):
        self.path = None if folder is None else Path(folder) / f"features-v{FEATURE_VERSION}.json"
        self.data: dict[str, dict[str, float]] = {}
        if self.path is not None and self.path.exists():
            try:
                self.data = json.loads(self.path.read_text())
            except (OSError, ValueError):
                self.data = {}

    @staticmethod
    def key(p: Path) -> str:
        st = p.stat()
        return f"{p.resolve()}|{st.st_size}|{st.st_mtime_ns}"

    def get(self, p: Path) -> dict[str, float] | None:
        got = self.data.get(self.key(p))
        if got is None or set(got) != set(FEATURE_NAMES):
            return None
        return {k: (math.nan if v is None else float(v)) for k, v in got.items()}

    def put(self, p: Path, f: dict[str, float]) -> None:
        self.data[self.key(p)] = {k: (v if math.isfinite(v) else None) for k, v in f.items()}

    def save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data))
        tmp.replace(self.path)


def _features_of(paths: list[Path], label: str, log, cache: FeatureCache | None = None
                 ) -> tuple[dict[str, list[float]], list[np.ndarray], int]:
    feats: dict[str, list[float]] = {k: [] for k in FEATURE_NAMES}
    thumbs = []
    t0 = time.time()
    hits = 0
    for i, p in enumerate(paths):
        rgb = load_rgb(p)
        f = cache.get(p) if cache is not None else None
        if f is not None:
            hits += 1
        else:
            try:
                f = extract_features(rgb)
            except Exception as exc:  # noqa: BLE001 - one bad image must not stop the report
                log(f"  {p.name}: features failed ({exc})")
                f = {k: math.nan for k in FEATURE_NAMES}
            if cache is not None:
                cache.put(p, f)
        for k in FEATURE_NAMES:
            feats[k].append(float(f[k]))
        thumbs.append(thumbnail(rgb))
        if (i + 1) % 50 == 0:
            log(f"  {label}: {i + 1}/{len(paths)} images ({hits} cached), {time.time() - t0:.0f} s")
    if cache is not None:
        cache.save()
    return feats, thumbs, hits


def run_survey(survey: str, synth_dir: Path, n: int, seed: int, cnn_epochs: int, log,
               cache: FeatureCache | None = None) -> SurveyResult:
    """Features of both sides, per-feature summaries and KS, and both classifiers' AUCs."""
    t0 = time.time()
    s_files = synthetic_files(synth_dir, n, seed)
    r_files, r_classes = (sample_real_sdss if survey == "sdss" else sample_real_decals)(n, seed)
    log(f"{survey}: {len(s_files)} synthetic from {synth_dir}, {len(r_files)} real")
    s_feats, s_thumbs, s_hits = _features_of(s_files, f"{survey} synthetic", log, cache)
    r_feats, r_thumbs, r_hits = _features_of(r_files, f"{survey} real", log, cache)
    features = {}
    for k in FEATURE_NAMES:
        ks, p = ks_gap(s_feats[k], r_feats[k])
        features[k] = {"synthetic": summarise(s_feats[k]), "real": summarise(r_feats[k]), "ks": ks, "ks_p": p}
    X = np.array([[s_feats[k][i] for k in FEATURE_NAMES] for i in range(len(s_files))]
                 + [[r_feats[k][i] for k in FEATURE_NAMES] for i in range(len(r_files))])
    y = np.r_[np.ones(len(s_files)), np.zeros(len(r_files))]
    usable = [j for j, k in enumerate(FEATURE_NAMES) if np.isfinite(X[:, j]).sum() >= 10]
    lr = logistic_cv_scores(X[:, usable], y, k=5, seed=seed)
    weights = logistic_weights(X[:, usable], y, [FEATURE_NAMES[j] for j in usable])
    # the galaxy alone: can it be told apart once sky and noise are left out?
    gal = [j for j in usable if FEATURE_NAMES[j] in GALAXY_FEATURES]
    lr_gal = logistic_cv_scores(X[:, gal], y, k=5, seed=seed)
    log(f"{survey}: logistic regression done; CNN ({cnn_epochs} epochs x 5 folds)")
    cnn = cnn_cv_scores(np.stack(s_thumbs + r_thumbs), y, k=5, seed=seed, epochs=cnn_epochs)
    classifiers = {
        "logistic_features": _est_dict(auc_interval(lr, y.astype(bool), seed=seed)),
        "logistic_galaxy": _est_dict(auc_interval(lr_gal, y.astype(bool), seed=seed)),
        "cnn_64px": _est_dict(auc_interval(cnn, y.astype(bool), seed=seed)),
    }
    return SurveyResult(survey, str(synth_dir), [str(p) for p in s_files], [str(p) for p in r_files], r_classes,
                        s_feats, r_feats, features, classifiers, weights, time.time() - t0, s_hits + r_hits)


def ranked_gaps(features: dict[str, dict]) -> list[tuple[str, dict]]:
    """Features by KS statistic, largest gap first (undefined ones last)."""
    return sorted(features.items(), key=lambda kv: -(kv[1]["ks"] if math.isfinite(kv[1]["ks"]) else -1))


# -------------------------------------------------------------------------------- plots
def plot_features(res: SurveyResult, path: Path, before: dict | None = None) -> None:
    """One grid of histograms per survey: synthetic vs real (and the before-synthetic outline)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [k for k, _ in ranked_gaps(res.features)]
    ncol = 5
    nrow = math.ceil(len(names) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.2 * ncol, 2.5 * nrow))
    for ax, k in zip(axes.ravel(), names):
        s = np.asarray(res.synth_feats[k], float)
        r = np.asarray(res.real_feats[k], float)
        s, r = s[np.isfinite(s)], r[np.isfinite(r)]
        both = np.r_[s, r]
        prev = None
        if before is not None and k in before.get("synth_values", {}):
            prev = np.asarray(before["synth_values"][k], float)
            prev = prev[np.isfinite(prev)]
        if both.size == 0:
            ax.set_title(f"{k}: no values", fontsize=8)
            continue
        lo, hi = np.percentile(both if prev is None else np.r_[both, prev], [1, 99])
        if not hi > lo:
            lo, hi = lo - 0.5, hi + 0.5
        bins = np.linspace(lo, hi, 26)
        ax.hist(np.clip(r, lo, hi), bins=bins, alpha=0.55, color="tab:blue", label=f"real ({r.size})", density=True)
        ax.hist(np.clip(s, lo, hi), bins=bins, alpha=0.55, color="tab:orange", label=f"synthetic ({s.size})",
                density=True)
        if prev is not None and prev.size:
            ax.hist(np.clip(prev, lo, hi), bins=bins, histtype="step", color="k", lw=1.0, label="synthetic before",
                    density=True)
        ks = res.features[k]["ks"]
        ax.set_title(f"{k}  KS {ks:.2f}" if math.isfinite(ks) else k, fontsize=9)
        ax.tick_params(labelsize=7)
        ax.set_yticks([])
    for ax in axes.ravel()[len(names):]:
        ax.axis("off")
    axes.ravel()[0].legend(fontsize=7)
    fig.suptitle(f"{res.survey.upper()}: synthetic vs real, features ranked by KS statistic", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


#: feature pairs drawn as scatter plots: a gap can hide in the joint distribution when each
#: feature alone is close (the galaxy-only logistic regression leans on R/G and B/G together)
SCATTER_PAIRS = (("gal_rg", "gal_bg"), ("sky_noise", "noise_acf1"), ("r90_frac", "concentration"),
                 ("sb50", "core_peak"))


def plot_scatter(res: SurveyResult, path: Path, before: dict | None = None) -> None:
    """Synthetic vs real in the planes of SCATTER_PAIRS (colour-colour, noise, size-profile)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(SCATTER_PAIRS), figsize=(3.6 * len(SCATTER_PAIRS), 3.4))
    for ax, (a, b) in zip(np.atleast_1d(axes), SCATTER_PAIRS):
        if before is not None and a in before.get("synth_values", {}):
            ax.scatter(np.asarray(before["synth_values"][a], float), np.asarray(before["synth_values"][b], float),
                       s=6, c="0.6", marker="x", lw=0.6, label="synthetic before")
        ax.scatter(res.real_feats[a], res.real_feats[b], s=7, c="tab:blue", alpha=0.7, label="real")
        ax.scatter(res.synth_feats[a], res.synth_feats[b], s=7, c="tab:orange", alpha=0.7, label="synthetic")
        vals = {k: np.asarray(res.real_feats[k] + res.synth_feats[k], float) for k in (a, b)}
        for k, setter in ((a, ax.set_xlim), (b, ax.set_ylim)):
            v = vals[k][np.isfinite(vals[k])]
            if v.size:
                lo, hi = np.percentile(v, [1, 99])
                pad = 0.05 * (hi - lo) if hi > lo else 0.5
                setter(lo - pad, hi + pad)
        ax.set_xlabel(a, fontsize=8)
        ax.set_ylabel(b, fontsize=8)
        ax.tick_params(labelsize=7)
    np.atleast_1d(axes)[0].legend(fontsize=7)
    fig.suptitle(f"{res.survey.upper()}: joint distributions", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def plot_examples(res: SurveyResult, path: Path, k: int = 6) -> None:
    """``k`` images of each side, so the numbers can be held against the pictures."""
    from PIL import Image

    tile = 128
    canvas = Image.new("RGB", (tile * k, tile * 2), "white")
    for row, files in enumerate((res.real_files, res.synth_files)):
        # evenly spaced through the list: the real SDSS sample is sorted spiral/ then non_spiral/
        picks = [files[int(j)] for j in np.linspace(0, len(files) - 1, min(k, len(files)))] if files else []
        for i, f in enumerate(picks):
            with Image.open(f) as im:
                canvas.paste(im.convert("RGB").resize((tile, tile), Image.Resampling.LANCZOS), (i * tile, row * tile))
    canvas.save(path, quality=88)  # a JPEG: noisy sky compresses badly as PNG


# ------------------------------------------------------------------------------ report
def _fmt(v: float, digits: int = 3) -> str:
    if v is None or not math.isfinite(v):
        return "n/a"
    a = abs(v)
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    return f"{v:.{digits}g}"


def _band(s: dict) -> str:
    return f"{_fmt(s['median'])} [{_fmt(s['p16'])}, {_fmt(s['p84'])}]"


def _auc(c: dict) -> str:
    return f"{c['auc']:.3f} [{c['low']:.3f}, {c['high']:.3f}]" if math.isfinite(c["auc"]) else "n/a"


def _class_medians(res: SurveyResult, feature: str) -> str:
    vals = np.asarray(res.real_feats[feature], float)
    cls = np.asarray(res.real_classes)
    parts = []
    for c in sorted(set(res.real_classes)):
        v = vals[(cls == c) & np.isfinite(vals)]
        parts.append(f"{c} {_fmt(float(np.median(v))) if v.size else 'n/a'}")
    return ", ".join(parts)


def write_markdown(results: list[SurveyResult], out: Path, label: str, command: str, seconds: float,
                   before: dict | None, plot_dir: Path) -> None:
    """docs/realism.md: classifier AUCs, per-feature tables, ranked gaps (and before -> after)."""
    rel = plot_dir.relative_to(out.parent) if plot_dir.is_relative_to(out.parent) else plot_dir
    L = [f"# Realism of the synthetic galaxies ({label})", "",
         "Generated by `python -m benchmarks.realism`; do not edit by hand. Command:", "", "```", command, "```",
         "", DATA_NOTE, "",
         f"Runtime {seconds:.0f} s ({sum(r.cached for r in results)} of "
         f"{sum(len(r.synth_files) + len(r.real_files) for r in results)} images' features from the feature "
         "cache; measuring costs about 0.5 CPU-s per image). Pixel values are 8-bit JPEG units (DN, 0-255); the greyscale is the mean of "
         "the channels. Synthetic vs real per survey: SDSS = the GZ2 Kaggle JPEGs (spiral/ and non_spiral/, a "
         "seeded random sample), DECaLS = the Galaxy Zoo DECaLS cutouts of zoobot (seeded sample). The "
         "synthetic sets are disc galaxies only, the real samples the natural mix: the last column gives the "
         "real median per weak class (GZ2 folder spiral/non_spiral; DECaLS spiral-arms vote: no_arms when "
         "has-spiral-arms_no >= 0.5) so a gap that is only a population difference can be told from a "
         "rendering one.", "",
         "**AUC**: cross-validated (5 stratified folds, out-of-fold scores) ROC AUC of a classifier told to "
         "pick the synthetic image, bootstrap 95 % interval; 0.5 = indistinguishable, 1.0 = trivially told "
         "apart. **KS**: two-sample Kolmogorov-Smirnov statistic of the feature (0 = same distribution, "
         "1 = disjoint). Values are median [16th, 84th percentile].", ""]
    prev = {s["survey"]: s for s in before.get("surveys", [])} if before else {}
    if before:
        L += [f"Compared with `{before.get('label', 'before')}` ({before.get('json_path', 'the --compare file')}). "
              "The histograms draw the before-synthetic distribution as a black outline.", ""]
    L += ["## Summary", ""]
    if before:
        L += ["| survey | classifier | AUC before | AUC now |", "|---|---|---|---|"]
    else:
        L += ["| survey | classifier | AUC |", "|---|---|---|"]
    for r in results:
        for key, what in CLASSIFIERS.items():
            now = r.classifiers.get(key)
            if now is None:
                continue
            if before:
                was = prev.get(r.survey, {}).get("classifiers", {}).get(key)
                L.append(f"| {r.survey} | {what} | {_auc(was) if was else 'n/a'} | {_auc(now)} |")
            else:
                L.append(f"| {r.survey} | {what} | {_auc(now)} |")
    L.append("")
    for r in results:
        p = prev.get(r.survey)
        L += [f"## {r.survey.upper()}", "",
              f"Synthetic: `{display_path(r.synthetic_dir)}` ({len(r.synth_files)} images); real: {len(r.real_files)} images "
              f"({', '.join(f'{c} {r.real_classes.count(c)}' for c in sorted(set(r.real_classes)))}). "
              f"{r.seconds:.0f} s ({r.cached} of {len(r.synth_files) + len(r.real_files)} images' features "
              "from the cache).", "",
              f"![{r.survey} features]({rel}/{r.survey}_features.png)", "",
              f"![{r.survey} joint distributions]({rel}/{r.survey}_scatter.png)", "",
              f"![{r.survey} examples: top real, bottom synthetic]({rel}/{r.survey}_examples.jpg)", "",
              "Top row real, bottom row synthetic.", ""]
        if p and sorted(p.get("real_files", [])) != sorted(r.real_files):
            L += ["**Warning**: the real sample differs from the compared run's (another --n or --seed), so "
                  "before and after KS are not measured against the same real galaxies.", ""]
        if p:
            head = "| feature | synthetic before | synthetic now | real | KS before | KS now | real by class |"
        else:
            head = "| feature | synthetic | real | KS | p | real median by class |"
        L += [head, "|" + "---|" * (head.count("|") - 1)]
        for k, v in ranked_gaps(r.features):
            if p and k in p["features"]:
                pv = p["features"][k]
                L.append(f"| {k} | {_band(pv['synthetic'])} | {_band(v['synthetic'])} | {_band(v['real'])} | "
                         f"{_fmt(pv['ks'], 2)} | {_fmt(v['ks'], 2)} | {_class_medians(r, k)} |")
            else:
                L.append(f"| {k} | {_band(v['synthetic'])} | {_band(v['real'])} | {_fmt(v['ks'], 2)} | "
                         f"{v['ks_p']:.1e} | {_class_medians(r, k)} |" if math.isfinite(v["ks_p"]) else
                         f"| {k} | {_band(v['synthetic'])} | {_band(v['real'])} | n/a | n/a | {_class_medians(r, k)} |")
        top_w = sorted(r.weights.items(), key=lambda kv: -abs(kv[1]))[:6]
        L += ["", "Logistic regression, standardised weights (+: pushes towards synthetic), largest: "
              + ", ".join(f"{k} {w:+.2f}" for k, w in top_w) + ".", ""]
    L += ["## Largest gaps", "",
          "Ranked by KS statistic per survey: all features (top 10), then the galaxy's own features alone "
          "(top 5; sky, noise and stars left out). What to change is a hint; the histograms say which way.", ""]

    def gap_line(r: SurveyResult, i: int, k: str, v: dict) -> str:
        s_med, r_med = v["synthetic"]["median"], v["real"]["median"]
        way = "higher" if s_med > r_med else "lower" if s_med < r_med else "equal"
        desc, hint = FEATURES[k]
        was = ""
        if r.survey in prev and k in prev[r.survey]["features"]:
            was = f" (before: KS {_fmt(prev[r.survey]['features'][k]['ks'], 2)})"
        return (f"{i}. **{k}** — KS {_fmt(v['ks'], 2)}{was}: synthetic median {_fmt(s_med)} vs real "
                f"{_fmt(r_med)} (synthetic {way}). {desc}; change: {hint}.")

    for r in results:
        ranked = ranked_gaps(r.features)
        L += [f"### {r.survey.upper()}", ""]
        L += [gap_line(r, i, k, v) for i, (k, v) in enumerate(ranked[:10], start=1)]
        L += ["", f"{r.survey.upper()}, the galaxy alone:", ""]
        galaxy = [(k, v) for k, v in ranked if k in GALAXY_FEATURES][:5]
        L += [gap_line(r, i, k, v) for i, (k, v) in enumerate(galaxy, start=1)]
        L.append("")
    out.write_text("\n".join(L))


def result_json(results: list[SurveyResult], label: str, args: argparse.Namespace, seconds: float,
                json_path: Path) -> dict:
    """All numbers (and the per-image feature values, for before/after histograms) as a dict."""
    def clean(o):
        if isinstance(o, float):
            return float(f"{o:.6g}") if math.isfinite(o) else None
        if isinstance(o, dict):
            return {k: clean(v) for k, v in o.items()}
        if isinstance(o, list):
            return [clean(v) for v in o]
        return o

    return clean({
        "label": label, "json_path": display_path(json_path), "seed": args.seed, "n": args.n, "seconds": seconds,
        "feature_descriptions": {k: v[0] for k, v in FEATURES.items()},
        "surveys": [{
            "survey": r.survey, "synthetic_dir": display_path(r.synthetic_dir), "n_synthetic": len(r.synth_files),
            "n_real": len(r.real_files), "classifiers": r.classifiers, "features": r.features,
            "ranked_gaps": [k for k, _ in ranked_gaps(r.features)], "logistic_weights": r.weights,
            "synth_values": r.synth_feats, "real_values": r.real_feats,
            "synth_files": [display_path(f) for f in r.synth_files], "real_files": r.real_files, "real_classes": r.real_classes,
        } for r in results],
    })


def _load_before(path: Path) -> dict:
    d = json.loads(path.read_text())

    def unnull(o):
        if o is None:
            return math.nan
        if isinstance(o, dict):
            return {k: unnull(v) for k, v in o.items()}
        if isinstance(o, list):
            return [unnull(v) for v in o]
        return o

    return unnull(d)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--synthetic-sdss", type=Path, help="galaxyscope synth folder, --style sdss (default: render one)")
    p.add_argument("--synthetic-decals", type=Path, help="galaxyscope synth folder, --style decals (default: render)")
    p.add_argument("--surveys", default="sdss,decals", help="comma-separated subset of sdss,decals")
    p.add_argument("--n", type=int, default=150, help="images per set (synthetic and real), default 150")
    p.add_argument("--seed", type=int, default=14, help="seed of the real samples, folds and rendering")
    p.add_argument("--label", default="before", help="name of this run in the report (before, after, ...)")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "realism.md")
    p.add_argument("--json", type=Path, default=None, help="machine-readable numbers (default docs/realism-LABEL.json)")
    p.add_argument("--compare", type=Path, default=None, help="JSON of an earlier run: show before -> after")
    p.add_argument("--cnn-epochs", type=int, default=12)
    p.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "galaxyscope" / "realism",
                   help="per-image feature cache (keyed by path, size, mtime and the feature code's version)")
    p.add_argument("--no-cache", action="store_true", help="measure every image again")
    args = p.parse_args(argv)

    t0 = time.time()
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    out = args.out.resolve()
    json_path = (args.json or out.parent / f"realism-{args.label}.json").resolve()
    plot_dir = out.parent / "realism"
    plot_dir.mkdir(parents=True, exist_ok=True)
    before = _load_before(args.compare) if args.compare else None
    prev = {s["survey"]: s for s in before["surveys"]} if before else {}
    surveys = [s.strip() for s in args.surveys.split(",") if s.strip()]
    cache = None if args.no_cache else FeatureCache(args.cache)
    results = []
    with tempfile.TemporaryDirectory(prefix="realism_") as tmp:
        for survey in surveys:
            given = args.synthetic_sdss if survey == "sdss" else args.synthetic_decals
            if given is None:
                log(f"{survey}: no synthetic folder given, rendering {args.n} with seed {args.seed}")
                given = render_synthetic(survey, args.n, args.seed, Path(tmp))
            res = run_survey(survey, given, args.n, args.seed, args.cnn_epochs, log, cache)
            plot_features(res, plot_dir / f"{survey}_features.png", prev.get(survey))
            plot_examples(res, plot_dir / f"{survey}_examples.jpg")
            plot_scatter(res, plot_dir / f"{survey}_scatter.png", prev.get(survey))
            results.append(res)
            c = res.classifiers
            log(f"{survey}: logistic AUC {_auc(c['logistic_features'])}, CNN AUC {_auc(c['cnn_64px'])}, "
                f"{res.seconds:.0f} s")
    seconds = time.time() - t0
    shown = [display_path(a) if Path(a).is_absolute() else a for a in (argv if argv is not None else sys.argv[1:])]
    command = "python -m benchmarks.realism " + " ".join(shown)
    write_markdown(results, out, args.label, command, seconds, before, plot_dir)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(result_json(results, args.label, args, seconds, json_path), indent=1))
    log(f"wrote {out}, {json_path} and {plot_dir}/ in {seconds:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
