"""Issue 20, measurable-bars.md sections 6 and 7: galaxy-builder-dev's real bar sizes against the
bar_evidence companion, its noise level and the `moments` setting (the check that kept the noise at
0.1, and that judges a retrained companion).

    python -m experiments.exp_real_noise
    python -m experiments.exp_real_noise --model resources/models/default.safetensors \\
        --model CANDIDATE/default.safetensors --noises 0.07,0.1 --candidate 0.1,0.4,extent,0.75

Prints Spearman rho (and rho of length/r90) against ``bar_Re_px`` for the 19 galaxies with a
volunteers' bar size, for each classifier checkpoint (``--model``, repeatable: its ``bar_evidence``
companion is what is explained) crossed with each noise level and six settings (more with
``--setting``; the candidate's is always measured), and a paired
bootstrap of rho for the candidate (the LAST model at ``--candidate NOISE,T,LENGTH_FROM,BLUR``)
minus rho for the shipped configuration (the FIRST model at noise 0.1, t=0.4, extent, blur 0.75).
A development set: the numbers guide, the kept-back half tests.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from scipy.stats import spearmanr

from experiments.common import shared_data, shipped_model
from galaxyscope.evaluate.metrics import bootstrap_draws, resample_counts

SHIPPED_SETTING = (0.1, 0.4, "extent", 0.75)
SETTINGS = [(t, lf, blur) for t in (0.3, 0.4, 0.5) for lf, blur in (("extent", 0.75), ("axis", 3.0))]


def parse_setting(text: str) -> tuple[float, float, str, float]:
    """``NOISE,T,LENGTH_FROM,BLUR`` -> a tuple (argparse type): a noise level before a moments setting."""
    noise, _, rest = text.partition(",")
    try:
        return (float(noise), *parse_moments(rest))
    except (ValueError, argparse.ArgumentTypeError):
        raise argparse.ArgumentTypeError(f"{text!r}: use NOISE,T,LENGTH_FROM,BLUR, e.g. 0.1,0.4,extent,0.75") from None


def paired_rho_difference(a: np.ndarray, b: np.ndarray, y: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """Bootstrap draws of rho(a, y) - rho(b, y), both on the SAME resampled galaxies.

    Paired, because both rows measure the same 19 bars: the difference's interval can be much narrower
    than the two rows' own intervals suggest. Galaxies where either length is missing are left out.
    """
    ok = np.isfinite(a) & np.isfinite(b) & np.isfinite(y)
    counts = resample_counts(np.random.default_rng(seed), k, int(ok.sum()))
    return (bootstrap_draws(a[ok], y[ok], counts)["spearman_rho"]
            - bootstrap_draws(b[ok], y[ok], counts)["spearman_rho"])


def parse_moments(text: str) -> tuple[float, str, float]:
    """``T,LENGTH_FROM,BLUR`` -> a tuple (argparse type)."""
    try:
        t, lf, blur = text.split(",")
        return float(t), lf.strip(), float(blur)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: use T,LENGTH_FROM,BLUR, e.g. 0.3,extent,0.75") from None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--model", action="append", default=None,
                    help="classifier checkpoint whose bar_evidence companion is measured (repeat; "
                         "default the shipped one)")
    ap.add_argument("--noises", default="0.07,0.1", help="SmoothGrad noise levels, comma-separated")
    ap.add_argument("--candidate", type=parse_setting, default=(0.07, 0.3, "extent", 0.75),
                    help="the last model's setting compared with the shipped one: NOISE,T,LENGTH_FROM,BLUR")
    ap.add_argument("--setting", action="append", type=parse_moments, default=[],
                    help="a moments setting T,LENGTH_FROM,BLUR measured besides the six (repeat), "
                         "e.g. each companion's own validation-chosen one")
    ap.add_argument("--boot", type=int, default=2000)
    args = ap.parse_args(argv)
    from galaxyscope.images.imageset import ImageSet
    from galaxyscope.measure import MomentsParams, measure_bar
    from galaxyscope.model.checkpoint import load_checkpoint
    from galaxyscope.saliency.attributions import compute_saliency

    torch.set_num_threads(args.threads)
    models = args.model or [str(shipped_model())]
    noises = sorted({float(n) for n in args.noises.split(",") if n} | {SHIPPED_SETTING[0], args.candidate[0]})
    st = ImageSet.open(shared_data("galaxy-builder-dev"))
    ref = np.ma.filled(np.ma.asarray(st.column("bar_Re_px"), float), np.nan)
    r90 = np.asarray(st.column("r90_px"), float)
    idx = np.flatnonzero(np.isfinite(ref))
    ims = [st[int(i)] for i in idx]
    y, yr = ref[idx], ref[idx] / r90[idx]
    settings = list(dict.fromkeys([*SETTINGS, *args.setting, args.candidate[1:]]))
    res: dict[tuple, np.ndarray] = {}
    for k, path in enumerate(models):
        m = load_checkpoint(path, device="cpu")
        for n in noises:
            maps = [compute_saliency(m, im, "bar_evidence", noise=n).map for im in ims]
            for t, lf, blur in settings:
                opts = MomentsParams(t_start=t, blur_sigma=blur, length_from=lf)
                L = np.array([measure_bar(mp, "moments", options=opts, **m.preprocessing.measure_kwargs(im)).length_px
                              for mp, im in zip(maps, ims)])
                res[(k, n, t, lf, blur)] = L
                ok = np.isfinite(L)
                print(f"model {k} noise {n:g} t {t} {lf} blur {blur}: rho {spearmanr(L[ok], y[ok])[0]:.2f} "
                      f"rho/r90 {spearmanr(L[ok] / r90[idx][ok], yr[ok])[0]:.2f} n {ok.sum()}", flush=True)
    a, b = res[(len(models) - 1, *args.candidate)], res[(0, *SHIPPED_SETTING)]
    d = paired_rho_difference(a, b, y, args.boot)
    print(f"paired difference, candidate (model {len(models) - 1} at {args.candidate}) minus shipped: median "
          f"{np.nanmedian(d):.2f}, 95 % [{np.nanpercentile(d, 2.5):.2f}, {np.nanpercentile(d, 97.5):.2f}], "
          f"P(candidate < shipped) {np.nanmean(d < 0):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
