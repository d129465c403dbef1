"""Training-free bar measurement from isophote (ellipse) fitting: the astronomers' method.

Why: an independent check on the saliency-based lengths that needs no model at all. Ellipses
are fitted to the galaxy's isophotes with ``photutils.isophote`` (Jedrzejewski 1987); a bar shows
as a local maximum of the ellipticity profile with a roughly constant position angle inside it,
followed by a drop of the ellipticity and/or a turn of the position angle where the bar ends and
the disc takes over (Wozniak et al. 1995; Erwin & Sparke 2003; Aguerri et al. 2009).
The bar's semi-major axis is the radius of the ellipticity peak (a lower limit in Erwin & Sparke's
terms); the reported length is tip to tip, 2 * a_bar, along the PA of that isophote.

Steps (``measure_isophote``): luminance (mean over channels, NaN -> median of the border) ->
sigma-clipped border sky subtracted -> centre (brightest smoothed pixel in the central box,
refined by a local centroid) -> galaxy extent (where the azimuthal mean profile sinks into the
noise) -> block-averaged so the fitted region spans at most ``target_span_px`` pixels (speed) ->
``Ellipse.fit_image`` with the centre fixed -> profile scaled back to the original pixels ->
the bar rules of ``IsophoteParams``.

Angles: photutils' ``pa`` is in radians from the array's +x axis turning towards +y, which in
this project's pixel coordinates (x = column, y = row going down) is exactly
``atan2(dy, dx)``; ``pa_deg`` here is ``degrees(pa) mod 180``, the project's convention.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np

from galaxyscope.images.extent import border_pixels, border_sky
from galaxyscope.measure.result import BarMeasurement, MeasureDiagnostics

ISOPHOTE_FAILED = "isophote_failed"
NO_BAR_ISOPHOTE = "no_bar_isophote"

ISOPHOTE_FLAG_DESCRIPTIONS: dict[str, str] = {
    ISOPHOTE_FAILED: "ellipse fitting failed (no source, no isophote converged, or photutils "
                     "raised): nothing was measured",
    NO_BAR_ISOPHOTE: "the isophotes were fitted but show no bar signature (no ellipticity peak "
                     "above min_bar_eps followed by an ellipticity drop or a PA turn)",
}

METHOD = "isophote"


@dataclass(frozen=True)
class IsophoteParams:
    """Parameters of the isophote bar measurement (lengths in pixels of the original image).

    Bar rules (Erwin & Sparke 2003; Aguerri et al. 2009; Marinova & Jogee 2007):
    min_bar_eps: the ellipticity peak must reach this (bars are elongated: eps >= ~0.25).
    min_eps_drop: ... and the ellipticity must fall by at least this outside the peak,
    min_pa_change_deg: ... or the PA must turn by at least this outside the peak (for bars in
        inclined discs whose ellipticity hardly drops). PA changes count only where
        eps >= pa_min_eps (the PA of a near-round isophote is noise).
    max_pa_twist_deg: inside the bar (sma from bar_inner_frac * a_bar to a_bar, where eps is at
        least half the peak's) the PA must stay within this of the peak's PA (spiral arms twist).
    min_eps_over_disc, min_pa_offset_disc_deg: the peak must stand out from the disc (the
        median of the usable isophotes beyond it and beyond disc_sma_frac x the outermost one):
        more elongated by min_eps_over_disc, or (disc eps >= pa_min_eps) turned from the disc's
        PA by min_pa_offset_disc_deg. Without this an inclined disc with arms passes.
    min_sma_px: isophotes inside this radius are ignored (PSF, the centre pixel).
    saturation_sma_factor: ... and inside this many times the radius of a clipped (saturated)
        plateau at the centre, whose isophotes have no shape.
    Fit:
    step: geometric growth of the semi-major axis between isophotes (photutils' ``step``).
    maxgerr: photutils' largest relative error of the radial gradient before it stops.
    maxit: photutils' iteration limit per isophote (stop code 2 beyond it).
    sclip, n_clip: photutils' sigma clipping of each ellipse's samples (rejects stars, knots).
    fix_center: fit with the centre held at the estimated centre (robust against arms).
    target_span_px: the image is block-averaged so that 2 * max_sma spans at most this.
    max_sma_frac: max_sma is at most this fraction of the shorter image side.
    extent_sigma: the galaxy extent is where the azimuthal mean profile falls below this many
        sky sigmas (max_sma = extent_factor x that radius, if max_sma is not given).
    sky_border_frac: width of the border used for the sky, as a fraction of the shorter side.
    centre_box_frac: the centre is searched in the central box of this fraction of each side.
    centre_smooth_px: Gaussian sigma used to find the brightest pixel.
    valid_stop_codes: photutils stop codes whose isophotes are used (0 normal, 1 some points
        flagged, 2 max iterations); 3, 4, 5 carry no fitted geometry.
    Length:
    upper_pa_turn_deg: the PA turn that ends the bar for the upper limit (Erwin & Sparke: 10).
    upper_eps_tol: the eps minimum after the peak is the first isophote within this of it.
    length_from: "eps_peak" (2 a_eps, the classic lower limit), "upper" (2 L_bar = the smaller
        of the sma of the eps minimum after the peak and of the PA turn) or "mean" (a_eps +
        L_bar, Erwin 2005's compromise).
    """

    min_bar_eps: float = 0.25
    min_eps_drop: float = 0.1
    min_pa_change_deg: float = 15.0
    pa_min_eps: float = 0.1
    max_pa_twist_deg: float = 10.0
    min_eps_over_disc: float = 0.1
    min_pa_offset_disc_deg: float = 10.0
    disc_sma_frac: float = 0.5
    bar_inner_frac: float = 0.5
    min_sma_px: float = 3.0
    saturation_sma_factor: float = 1.5
    step: float = 0.15
    maxgerr: float = 0.5
    maxit: int = 30
    sclip: float = 3.0
    n_clip: int = 3
    fix_center: bool = True
    target_span_px: float = 100.0
    max_sma_frac: float = 0.45
    extent_sigma: float = 2.0
    extent_factor: float = 1.0
    sky_border_frac: float = 0.1
    centre_box_frac: float = 0.2
    centre_smooth_px: float = 2.0
    valid_stop_codes: tuple[int, ...] = (0, 1, 2)
    upper_pa_turn_deg: float = 10.0
    upper_eps_tol: float = 0.03
    length_from: str = "upper"


@dataclass(frozen=True)
class IsophoteProfile:
    """The fitted isophotes in original-image pixels, sorted by semi-major axis (equal lengths).

    pa_deg: degrees(atan2(dy, dx)) mod 180 (x = column, y = row going down).
    stop_code: photutils' stop code of each isophote (0 = normal; see IsophoteParams).
    """

    sma_px: np.ndarray
    eps: np.ndarray
    pa_deg: np.ndarray
    x0: np.ndarray
    y0: np.ndarray
    intens: np.ndarray
    stop_code: np.ndarray

    def __len__(self) -> int:
        return int(self.sma_px.size)


@dataclass(frozen=True)
class IsophoteFit:
    """The isophote profile, the bar found on it (if any) and the BarMeasurement.

    bar_sma_px: semi-major axis of the bar as reported (half the length; NaN without a bar).
    bar_sma_eps_px / bar_sma_upper_px: the ellipticity-peak sma (lower limit) and Erwin &
        Sparke's upper limit; bar_sma_px is one of them or their mean (IsophoteParams.length_from).
    reason: why the fit failed or why no bar was found ("" when a bar was measured).
    scale: the block-averaging factor used for the fit.
    """

    profile: IsophoteProfile | None
    bar_sma_px: float
    measurement: BarMeasurement
    reason: str = ""
    center: tuple[float, float] = (math.nan, math.nan)
    max_sma_px: float = math.nan
    scale: int = 1
    bar_index: int | None = field(default=None, compare=False)
    bar_sma_eps_px: float = math.nan
    bar_sma_upper_px: float = math.nan

    @property
    def ok(self) -> bool:
        """True when a bar length was measured."""
        return self.measurement.ok


# --------------------------------------------------------------------------- helpers


def _luminance(image) -> np.ndarray:
    """Float64 channel mean of a GalaxyImage or an array, the same way for both.

    Why not GalaxyImage.luminance(): it averages in float32, and photutils' ellipse
    fitter can take another path on a last-bit difference, so the same pixels
    measured as an image or as an array gave different bars.
    """
    from galaxyscope.images.galaxy_image import GalaxyImage

    arr = np.asarray(image.pixels if isinstance(image, GalaxyImage) else image, dtype=np.float64)
    if arr.ndim == 3:
        with warnings.catch_warnings(), np.errstate(invalid="ignore"):
            warnings.simplefilter("ignore")
            lum = arr[:, :, 0] if arr.shape[2] == 1 else np.nanmean(arr, axis=2)
    elif arr.ndim == 2:
        lum = arr
    else:
        raise ValueError(f"image must be HxW or HxWxC, got shape {arr.shape}")
    return np.asarray(lum, dtype=np.float64)


def _saturated_radius(image, centre: tuple[float, float], p: "IsophoteParams") -> float:
    """Radius (px) of the clipped plateau at the centre (JPEG cores at 255), 0 if none.

    Isophotes inside it are flat and their shapes meaningless. (Masking the pixels instead
    makes photutils ~10x slower: it then works on numpy masked arrays.)"""
    from scipy import ndimage

    sat = _saturated(image)
    if sat is None:
        return 0.0
    labels, _ = ndimage.label(sat)
    h, w = sat.shape
    yy, xx = np.nonzero(sat)
    d = np.hypot(xx - centre[0], yy - centre[1])
    near = np.unique(labels[yy[d <= 3.0], xx[d <= 3.0]])
    if near.size == 0:
        return 0.0
    keep = np.isin(labels[yy, xx], near)
    return float(np.max(d[keep]) + 0.5)


def _saturated(image) -> np.ndarray | None:
    """bool HxW of a clipped plateau (>= 5 pixels at the image's maximum in any channel), or None."""
    from galaxyscope.images.galaxy_image import GalaxyImage

    px = image.pixels if isinstance(image, GalaxyImage) else np.asarray(image, dtype=np.float64)
    top = px if px.ndim == 2 else np.max(px, axis=2)
    finite = np.isfinite(top)
    if not finite.any():
        return None
    vmax = float(np.max(top[finite]))
    sat = finite & (top >= vmax - 1e-6 * max(1.0, abs(vmax)))
    return sat if np.count_nonzero(sat) >= 5 else None


def _find_centre(data: np.ndarray, p: IsophoteParams) -> tuple[float, float]:
    """Brightest smoothed pixel in the central box, refined by a 5x5 centroid."""
    from scipy import ndimage

    h, w = data.shape
    smooth = ndimage.gaussian_filter(data, p.centre_smooth_px, mode="nearest")
    hy = max(1, int(round(h * p.centre_box_frac / 2)))
    hx = max(1, int(round(w * p.centre_box_frac / 2)))
    cy, cx = (h - 1) // 2, (w - 1) // 2
    r0, r1, c0, c1 = max(0, cy - hy), min(h, cy + hy + 1), max(0, cx - hx), min(w, cx + hx + 1)
    box = smooth[r0:r1, c0:c1]
    j = int(np.argmax(box))
    py, px = r0 + j // box.shape[1], c0 + j % box.shape[1]
    y0, y1, x0, x1 = max(0, py - 2), min(h, py + 3), max(0, px - 2), min(w, px + 3)
    win = smooth[y0:y1, x0:x1]
    wgt = np.clip(win - win.min(), 0, None)
    if wgt.sum() <= 0:
        return float(px), float(py)
    yy, xx = np.mgrid[y0:y1, x0:x1]
    return float((wgt * xx).sum() / wgt.sum()), float((wgt * yy).sum() / wgt.sum())


def _extent(data: np.ndarray, centre: tuple[float, float], noise: float, p: IsophoteParams) -> float:
    """Radius where the azimuthal mean profile first falls below extent_sigma x noise."""
    h, w = data.shape
    yy, xx = np.indices(data.shape)
    r = np.hypot(xx - centre[0], yy - centre[1]).astype(int).ravel()
    counts = np.bincount(r)
    sums = np.bincount(r, weights=data.ravel())
    prof = sums / np.maximum(counts, 1)
    rmax = int(min(h, w) / 2)
    below = np.flatnonzero(prof[1:rmax] < p.extent_sigma * noise)
    return float(below[0] + 1) if below.size else float(rmax)


def _angle_diff(a: np.ndarray | float, b: float) -> np.ndarray:
    """|a - b| for axial angles in degrees (mod 180), in [0, 90]."""
    d = np.abs((np.asarray(a, float) - b) % 180.0)
    return np.minimum(d, 180.0 - d)


def _axial_median(pa_deg: np.ndarray) -> float:
    """Median direction of axial angles (degrees mod 180), via the doubled-angle mean."""
    t = np.radians(np.asarray(pa_deg, float) * 2.0)
    mean = math.degrees(math.atan2(np.mean(np.sin(t)), np.mean(np.cos(t)))) / 2.0
    d = (np.asarray(pa_deg, float) - mean + 90.0) % 180.0 - 90.0
    return float((mean + np.median(d)) % 180.0)


def _empty_mask(shape: tuple[int, int]) -> np.ndarray:
    return np.zeros(shape, dtype=bool)


def _no_length(shape, flag: str, stop: str, params, centre) -> BarMeasurement:
    return BarMeasurement(
        length_px=math.nan, width_px=math.nan, pa_deg=math.nan, endpoints=None,
        mask=_empty_mask(shape), method=METHOD, flags=(flag,), params=params,
        center=(float(centre[0]), float(centre[1])), diagnostics=MeasureDiagnostics(stop_reason=stop),
    )


def ellipse_mask(shape: tuple[int, int], x0: float, y0: float, sma: float, eps: float,
                 pa_deg: float) -> np.ndarray:
    """bool HxW: pixel centres inside the ellipse (semi-axes sma, sma*(1-eps), PA pa_deg)."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    c, s = math.cos(math.radians(pa_deg)), math.sin(math.radians(pa_deg))
    along = (xx - x0) * c + (yy - y0) * s
    across = -(xx - x0) * s + (yy - y0) * c
    b = max(sma * (1.0 - eps), 0.5)
    return (along / max(sma, 1e-9)) ** 2 + (across / b) ** 2 <= 1.0


# --------------------------------------------------------------------------- bar rules


def find_bar(profile: IsophoteProfile, p: IsophoteParams,
             min_sma_px: float | None = None) -> tuple[int | None, str]:
    """Index of the bar's isophote on ``profile`` (None, reason if there is no bar).

    min_sma_px: overrides p.min_sma_px (measure_isophote raises it past a saturated core)."""
    inner_limit = p.min_sma_px if min_sma_px is None else min_sma_px
    good = np.isin(profile.stop_code, p.valid_stop_codes) & (profile.sma_px >= inner_limit)
    good &= np.isfinite(profile.eps) & np.isfinite(profile.pa_deg)
    idx = np.flatnonzero(good)
    if idx.size < 4:
        return None, f"too few usable isophotes ({idx.size})"
    sma, eps, pa = profile.sma_px[idx], profile.eps[idx], profile.pa_deg[idx]
    top = int(np.argmax(eps))
    if eps[top] < p.min_bar_eps:
        return None, (f"ellipticity never exceeds {p.min_bar_eps:.2f} "
                      f"(max {eps[top]:.2f} at sma {sma[top]:.1f} px)")
    best: int | None = None
    why: list[str] = []
    n = eps.size
    for i in range(1, n - 1):
        if not (eps[i] >= p.min_bar_eps and eps[i] >= eps[i - 1] and eps[i] > eps[i + 1]):
            continue
        # outside the peak: up to where the ellipticity climbs above the peak again
        j = i + 1
        while j < n and eps[j] <= eps[i]:
            j += 1
        after = slice(i + 1, j)
        drop = float(eps[i] - np.min(eps[after]))
        meaningful = eps[after] >= p.pa_min_eps
        turn = float(np.max(_angle_diff(pa[after][meaningful], pa[i]))) if meaningful.any() else 0.0
        # inside the bar the PA must stay put
        inner = (sma >= p.bar_inner_frac * sma[i]) & (sma <= sma[i]) & (eps >= 0.5 * eps[i])
        twist = float(np.max(_angle_diff(pa[inner], pa[i]))) if inner.any() else 0.0
        if twist > p.max_pa_twist_deg:
            why.append(f"peak {eps[i]:.2f} at {sma[i]:.1f} px: PA twists {twist:.0f} deg inside")
            continue
        outer = np.flatnonzero((sma > sma[i]) & (sma >= p.disc_sma_frac * sma[-1]))
        if outer.size == 0:
            outer = np.arange(i + 1, n)
        eps_disc = float(np.median(eps[outer]))
        pa_disc = _axial_median(pa[outer])
        offset = float(_angle_diff(pa[i], pa_disc)) if eps_disc >= p.pa_min_eps else 0.0
        if eps[i] - eps_disc < p.min_eps_over_disc and offset < p.min_pa_offset_disc_deg:
            why.append(f"peak {eps[i]:.2f} at {sma[i]:.1f} px is like the disc (eps {eps_disc:.2f}, "
                       f"PA offset {offset:.0f} deg)")
            continue
        if drop >= p.min_eps_drop or turn >= p.min_pa_change_deg:
            if best is None or eps[i] > eps[best]:
                best = i
        else:
            why.append(f"peak {eps[i]:.2f} at {sma[i]:.1f} px: eps drop {drop:.2f} < "
                       f"{p.min_eps_drop:.2f} and PA turn {turn:.0f} < {p.min_pa_change_deg:.0f} deg")
    if best is not None:
        return int(idx[best]), ""
    if not why:
        return None, (f"no ellipticity peak above {p.min_bar_eps:.2f} with isophotes outside it "
                      f"(ellipticity rises to {eps[top]:.2f} at sma {sma[top]:.1f} px: a disc, "
                      "not a bar)")
    return None, "no bar signature: " + "; ".join(why[:3])


def bar_upper_sma(profile: IsophoteProfile, k: int, p: IsophoteParams) -> float:
    """Erwin & Sparke (2003)'s upper limit on the bar's semi-major axis: the smaller of the sma
    of the (first) ellipticity minimum outside the peak ``k`` (before eps rises above the peak)
    and the first sma where the PA has turned by ``upper_pa_turn_deg`` from the peak's."""
    good = np.isin(profile.stop_code, p.valid_stop_codes) & np.isfinite(profile.eps)
    idx = np.flatnonzero(good & (np.arange(len(profile)) > k))
    if idx.size == 0:
        return float(profile.sma_px[k])
    eps, pa, sma = profile.eps[idx], profile.pa_deg[idx], profile.sma_px[idx]
    stop = np.flatnonzero(eps > profile.eps[k])
    end = int(stop[0]) if stop.size else idx.size
    if end == 0:
        return float(profile.sma_px[k])
    # the first isophote that comes within upper_eps_tol of the minimum (argmin alone wanders
    # along the flat, noisy profile of a face-on disc)
    seg = np.concatenate([[profile.eps[k]], eps[:end]])
    radii = np.concatenate([[profile.sma_px[k]], sma[:end]])
    a_min = _crossing(radii, seg, seg[1:].min() + p.upper_eps_tol, falling=True)
    turn = np.concatenate([[0.0], _angle_diff(pa[:end], float(profile.pa_deg[k]))])
    turn[1:][eps[:end] < p.pa_min_eps] = 0.0  # the PA of a near-round isophote is noise
    a_turn = _crossing(radii, turn, p.upper_pa_turn_deg, falling=False)
    return min(a_min, a_turn)


def _crossing(radii: np.ndarray, values: np.ndarray, level: float, falling: bool) -> float:
    """First radius where ``values`` reaches ``level`` (linear between isophotes); inf if never."""
    hit = np.flatnonzero(values <= level if falling else values >= level)
    if hit.size == 0:
        return math.inf
    j = int(hit[0])
    if j == 0:
        return float(radii[0])
    v0, v1 = float(values[j - 1]), float(values[j])
    t = 1.0 if v1 == v0 else float(np.clip((level - v0) / (v1 - v0), 0.0, 1.0))
    return float(radii[j - 1] + t * (radii[j] - radii[j - 1]))


# --------------------------------------------------------------------------- main entry


def _moments_guess(data: np.ndarray, x0: float, y0: float, radius: float) -> tuple[float, float]:
    """(eps, pa_rad) of the light inside ``radius`` about (x0, y0) from its second moments."""
    h, w = data.shape
    r = int(math.ceil(radius))
    r0, r1, c0, c1 = max(0, int(y0) - r), min(h, int(y0) + r + 2), max(0, int(x0) - r), min(w, int(x0) + r + 2)
    yy, xx = np.mgrid[r0:r1, c0:c1]
    dx, dy = xx - x0, yy - y0
    win = np.ma.filled(data[r0:r1, c0:c1], 0.0)
    wgt = np.where(dx * dx + dy * dy <= radius * radius, np.clip(win, 0.0, None), 0.0)
    tot = wgt.sum()
    if not tot > 0:
        return 0.1, 1.0
    mxx, myy, mxy = (wgt * dx * dx).sum() / tot, (wgt * dy * dy).sum() / tot, (wgt * dx * dy).sum() / tot
    half_diff = math.hypot((mxx - myy) / 2.0, mxy)
    l1, l2 = (mxx + myy) / 2.0 + half_diff, max((mxx + myy) / 2.0 - half_diff, 1e-12)
    eps = float(np.clip(1.0 - math.sqrt(l2 / l1), 0.05, 0.7))
    pa = 0.5 * math.atan2(2.0 * mxy, mxx - myy) % math.pi
    return eps, (pa if pa > 0.05 else pa + 0.05)  # photutils dislikes a start at exactly 0


def _fit(data: np.ndarray, x0: float, y0: float, max_sma: float, p: IsophoteParams,
         min_sma: float = 1.0):
    """photutils fit on ``data`` (already block-averaged); the best list of isophotes or [].

    photutils gives up when the first isophote fails and carries on with unconverged geometry
    when it does not converge, so a few starts are tried (a moments guess first) and the list
    with the most normally converged isophotes is kept; the first start that converges well
    on most isophotes ends the search.
    """
    from photutils.isophote import Ellipse, EllipseGeometry

    sma_a = min(max(4.0, 0.2 * max_sma), 0.8 * max_sma)
    eps_m, pa_m = _moments_guess(data, x0, y0, sma_a)
    starts = [(sma_a, eps_m, pa_m),
              (min(max(3.0, 0.1 * max_sma), 0.8 * max_sma), 0.1, pa_m + 0.5),
              (min(max(6.0, 0.35 * max_sma), 0.9 * max_sma), 0.3, (pa_m + math.pi / 2) % math.pi + 0.01)]
    best, best_good = [], -1
    for sma0, eps0, pa0 in starts:
        geometry = EllipseGeometry(x0=x0, y0=y0, sma=sma0, eps=eps0, pa=pa0, astep=p.step)
        ellipse = Ellipse(data, geometry=geometry)
        isolist = ellipse.fit_image(sma0=sma0, minsma=min_sma, maxsma=max_sma, step=p.step,
                                    maxgerr=p.maxgerr, maxit=p.maxit, sclip=p.sclip, n_clip=p.n_clip,
                                    fix_center=p.fix_center)
        if len(isolist) == 0:
            continue
        good = int(np.count_nonzero(np.asarray(isolist.stop_code) == 0))
        if good > best_good:
            best, best_good = isolist, good
        if good >= 0.7 * len(isolist):
            break
    return best


def measure_isophote(image, *, center: tuple[float, float] | None = None, max_sma: float | None = None,
                     options: IsophoteParams | None = None) -> IsophoteFit:
    """Measure the bar of ``image`` (GalaxyImage or HxW / HxWxC array) from its isophotes.

    center: (x, y) in pixels (default: the brightest smoothed pixel near the image centre).
    max_sma: outermost semi-major axis to fit, pixels (default: the galaxy's extent, at most
        max_sma_frac x the shorter side). Never raises for bad pixels: failures come back as an
        IsophoteFit with a NaN length, flag "isophote_failed" and a reason.
    """
    from skimage.transform import downscale_local_mean

    p = options or IsophoteParams()
    lum = _luminance(image)
    shape = (int(lum.shape[0]), int(lum.shape[1]))
    h, w = shape
    fallback_centre = center if center is not None else ((w - 1) / 2.0, (h - 1) / 2.0)

    def failed(reason: str, centre=fallback_centre, profile=None, mx=math.nan, f=1) -> IsophoteFit:
        return IsophoteFit(profile, math.nan, _no_length(shape, ISOPHOTE_FAILED, "fit_failed", p, centre),
                           reason, (float(centre[0]), float(centre[1])), mx, f)

    if min(shape) < 16:
        return failed(f"image too small ({w}x{h} px)")
    finite = np.isfinite(lum)
    if not finite.any():
        return failed("no finite pixels")
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        border = border_pixels(lum, p.sky_border_frac)
        border = border[np.isfinite(border)]
        fill = float(np.median(border)) if border.size else float(np.median(lum[finite]))
        lum = np.where(finite, lum, fill)
        sky, std = border_sky(lum, p.sky_border_frac)
        data = lum - sky
        peak = float(np.max(data))
        if not peak > 0 or float(np.ptp(data)) <= 0:
            return failed("image is flat: nothing brighter than the sky")
        noise = std if std > 1e-4 * peak else 0.01 * peak
        centre = (float(center[0]), float(center[1])) if center is not None else _find_centre(data, p)
        if center is None and float(data[int(round(centre[1])), int(round(centre[0]))]) < 3.0 * noise:
            return failed(f"no source at the centre (centre {data[int(round(centre[1])), int(round(centre[0]))] / noise:.1f} "
                          "sky sigmas)", centre)
        cap = p.max_sma_frac * min(h, w)
        if max_sma is None:
            mx = min(cap, p.extent_factor * _extent(data, centre, noise, p))
        else:
            mx = float(max_sma)
        if not mx >= max(2.0 * p.min_sma_px, 6.0):
            return failed(f"galaxy too small to fit (extent {mx:.1f} px)", centre, mx=mx)
        f = max(1, int(math.ceil(2.0 * mx / p.target_span_px)))
        if f > 1:
            hh, ww = (h // f) * f, (w // f) * f
            small = downscale_local_mean(data[:hh, :ww], (f, f))
        else:
            small = data
        r_sat = _saturated_radius(image, centre, p)
        off = (f - 1) / 2.0
        xs, ys, mxs = (centre[0] - off) / f, (centre[1] - off) / f, mx / f
        from astropy import log as astropy_log

        level = astropy_log.level
        astropy_log.setLevel("ERROR")  # photutils' fitter logs "Improper input" warnings
        try:
            isolist = _fit(small, xs, ys, mxs, p, max(1.0, 0.8 * p.min_sma_px / f))
        except Exception as exc:  # photutils raises a variety of errors on odd data
            return failed(f"photutils failed: {type(exc).__name__}: {exc}", centre, mx=mx, f=f)
        finally:
            astropy_log.setLevel(level)
    if len(isolist) == 0:
        return failed("no isophote could be fitted (photutils: no meaningful fit)", centre, mx=mx, f=f)
    sma = np.asarray(isolist.sma, float)
    order = np.argsort(sma)
    prof = IsophoteProfile(
        sma_px=sma[order] * f,
        eps=np.asarray(isolist.eps, float)[order],
        pa_deg=np.degrees(np.asarray(isolist.pa, float)[order]) % 180.0,
        x0=np.asarray(isolist.x0, float)[order] * f + off,
        y0=np.asarray(isolist.y0, float)[order] * f + off,
        intens=np.asarray(isolist.intens, float)[order],
        stop_code=np.asarray(isolist.stop_code, int)[order],
    )
    if not np.any(np.isin(prof.stop_code, p.valid_stop_codes)):
        return failed("no isophote converged (stop codes "
                      f"{sorted(set(int(c) for c in prof.stop_code))})", centre, prof, mx, f)
    k, reason = find_bar(prof, p, max(p.min_sma_px, p.saturation_sma_factor * r_sat))
    if k is None:
        meas = _no_length(shape, NO_BAR_ISOPHOTE, "no_bar", p, centre)
        return IsophoteFit(prof, math.nan, meas, reason, centre, mx, f)
    a_eps, e, pa = float(prof.sma_px[k]), float(prof.eps[k]), float(prof.pa_deg[k])
    a_up = bar_upper_sma(prof, k, p)
    a = {"eps_peak": a_eps, "upper": a_up, "mean": 0.5 * (a_eps + a_up)}[p.length_from]
    bx, by = float(prof.x0[k]), float(prof.y0[k])
    c, s = math.cos(math.radians(pa)), math.sin(math.radians(pa))
    ends = sorted([(bx - a * c, by - a * s), (bx + a * c, by + a * s)])
    mask = ellipse_mask(shape, bx, by, a, e, pa)
    meas = BarMeasurement(
        length_px=2.0 * a, width_px=2.0 * a * (1.0 - e), pa_deg=pa,
        endpoints=(ends[0], ends[1]), mask=mask, method=METHOD, flags=(),
        n_pixels=int(mask.sum()), elongation=1.0 - (1.0 - e) ** 2, params=p, center=(bx, by),
        diagnostics=MeasureDiagnostics(stop_reason="eps_peak"),
    )
    return IsophoteFit(prof, a, meas, "", centre, mx, f, bar_index=k, bar_sma_eps_px=a_eps,
                       bar_sma_upper_px=a_up)
