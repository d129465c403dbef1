"""Does the classic m=2 Fourier bar length work on saliency maps (or on the images)?

    python -m experiments.exp_fourier_length --data $GALAXYSCOPE_DATA/val200
    python -m experiments.exp_fourier_length --data $GALAXYSCOPE_DATA/eval400

Astronomers measure bars from the m=2 Fourier component of the light (Ohta et al. 1990;
Aguerri et al. 2000): a bar is a range of radii with a strong, phase-constant m=2 term.
Here the same is done on each barred galaxy's SmoothGrad map of the shipped model (and,
for reference, on its image): polar resampling about the centre
(``skimage.transform.warp_polar``), a0(r), |a2(r)| and the m=2 phase per radius, then
the bar's half-length is the radius where (relative or absolute) |a2| falls below a
fraction of its peak, or where the phase leaves the peak's phase by more than an angle.
Prints the best settings by Spearman rho against the true length, with rho of
length/r90 beside it; the size-only rho is the number to beat.  A negative result
here is the point: the map's non-axisymmetric part does not follow the bar's length.
``--data`` defaults to $GALAXYSCOPE_DATA/val200 (see experiments/common.py).
"""

from __future__ import annotations

import itertools
import sys

import numpy as np
from scipy import ndimage
from scipy.stats import spearmanr
from skimage.transform import warp_polar

from experiments.common import experiment_parser, open_barred


def m2_profiles(field: np.ndarray, sigma: float, rmax: int, n_phi: int = 180):
    """a0(r), |a2(r)| and the m=2 phase (radians) for r = 0..rmax about the frame centre."""
    f = ndimage.gaussian_filter(field.astype(np.float64), sigma) if sigma > 0 else field.astype(np.float64)
    h, w = f.shape
    polar = warp_polar(f, center=(h / 2 - 0.5, w / 2 - 0.5), radius=rmax, output_shape=(n_phi, rmax + 1),
                       order=1)
    phi = np.linspace(0.0, 2.0 * np.pi, n_phi, endpoint=False)[:, None]
    c2 = (polar * np.exp(2j * phi)).mean(axis=0)
    return polar.mean(axis=0), np.abs(c2), np.angle(c2) / 2.0


def fourier_length(a0: np.ndarray, a2: np.ndarray, phase: np.ndarray, mode: str, value: float,
                   r_min: int = 3) -> float:
    """Full bar length (2 x radius) from the m=2 profiles; see the module docstring."""
    rel = np.where(a0 > 1e-12, a2 / np.maximum(a0, 1e-12), 0.0)
    prof = a2 if mode == "abs" else rel
    k = r_min + int(np.argmax(prof[r_min:]))
    if mode == "phase":
        dphi = np.abs((phase[k:] - phase[k] + np.pi / 2) % np.pi - np.pi / 2)
        out = np.flatnonzero(dphi > np.deg2rad(value))
    else:
        out = np.flatnonzero(prof[k:] < value * prof[k])
    return 2.0 * (k + (out[0] if out.size else a0.size - 1 - k))


def main() -> int:
    args = experiment_parser(__doc__).parse_args()

    from galaxyscope.jobs.common import resolve_model
    from galaxyscope.saliency.cache import SaliencyCache

    model = resolve_model(args.model)
    bars = open_barred(args.data)
    true, r90 = bars.true, bars.r90
    cache = SaliencyCache()
    images = [bars.image(k) for k in range(len(bars))]
    sources = {
        "saliency": [cache.get_or_compute(model, im, "smoothgrad", n_samples=args.samples).map for im in images],
        "image": [im.luminance() for im in images],
    }
    rmax = int(round(model.preprocessing.crop_fraction * min(images[0].height, images[0].width) / 2))
    print(f"{args.data}: {len(bars)} barred; size-only rho {spearmanr(r90, true)[0]:.3f}; radius <= {rmax} px")
    settings = list(itertools.product(("rel", "abs"), (0.3, 0.5, 0.7, 0.85))) + [("phase", d) for d in (10, 20, 30)]
    for src, fields in sources.items():
        rows = []
        for sigma in (2.0, 5.0, 8.0):
            profiles = [m2_profiles(f, sigma, rmax) for f in fields]
            for mode, value in settings:
                L = np.array([fourier_length(*p, mode, value) for p in profiles])
                rows.append((spearmanr(L, true)[0], spearmanr(L / r90, true / r90)[0], sigma, mode, value))
        rows.sort(key=lambda r: -np.nan_to_num(r[0], nan=-9.0))
        for r in rows[:3]:
            print(f"{src:8s} rho {r[0]:.3f} rho/r90 {r[1]:.3f}  blur {r[2]} px, {r[3]} {r[4]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
