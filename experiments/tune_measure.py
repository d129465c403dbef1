"""Tune the bar-measurement settings on a VALIDATION synthetic set (never the test set).

    galaxyscope synth $GALAXYSCOPE_DATA/val200 --n 200 --seed 3030 --bar-fraction 0.6
    python -m experiments.tune_measure --data $GALAXYSCOPE_DATA/val200

Saliency maps are computed once per attribution (through the disk cache) and each grid
point only re-fits the bar (~ms). The criterion is the Spearman rho of
length / r90 against true length / r90 over barred galaxies: what the map knows
beyond the galaxy's size. Prints the ranking; the chosen settings become the defaults.
``--data`` defaults to $GALAXYSCOPE_DATA/val200 (see experiments/common.py).
"""

from __future__ import annotations

import argparse
import itertools
import sys

import numpy as np
from scipy.stats import spearmanr

from experiments.common import add_data_option


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_option(ap, "--data", "val200", "VALIDATION set (never the test set)")
    ap.add_argument("--model", default=None)
    ap.add_argument("--samples", type=int, default=50)
    ap.add_argument("--attributions", default="smoothgrad,smoothgrad_x_input")
    args = ap.parse_args()

    from galaxyscope.images.imageset import ImageSet
    from galaxyscope.jobs.common import resolve_model
    from galaxyscope.measure import MomentsParams, PaperParams, measure_bar
    from galaxyscope.saliency.cache import SaliencyCache

    model = resolve_model(args.model)
    pre = model.preprocessing
    s = ImageSet.open(args.data)
    has_bar = np.asarray(s.column("has_bar"), bool)
    idx = np.flatnonzero(has_bar)
    true = np.asarray(s.column("bar_length_px"), float)[idx]
    r90 = np.asarray(s.column("r90_px"), float)[idx]
    cache = SaliencyCache()
    print(f"{len(idx)} barred validation galaxies; size-only rho {spearmanr(r90, true)[0]:.3f}")
    results = []
    for attribution in args.attributions.split(","):
        maps = [cache.get_or_compute(model, s[int(i)], attribution, n_samples=args.samples).map for i in idx]
        grid = [("paper", PaperParams())]
        for t, blur, lf, mode in itertools.product((0.3, 0.4, 0.5, 0.6, 0.7, 0.8), (0.75, 1.5, 3.0),
                                                   ("extent", "axis"), ("fixed", "sweep")):
            grid.append(("moments", MomentsParams(t_start=t, blur_sigma=blur, length_from=lf,
                                                  threshold_mode=mode)))
        for method, opts in grid:
            L = np.array([measure_bar(m, method, model_input_size=pre.input_size,
                                      crop_fraction=pre.crop_fraction, options=opts).length_px for m in maps])
            ok = np.isfinite(L)
            rho = spearmanr(L[ok], true[ok])[0]
            rho_n = spearmanr(L[ok] / r90[ok], true[ok] / r90[ok])[0]
            results.append((rho_n, rho, attribution, method, opts, int(ok.sum())))
    results.sort(key=lambda r: -np.nan_to_num(r[0], nan=-9))
    for rho_n, rho, attribution, method, opts, n in results[:15]:
        short = "" if method == "paper" else (f"t={opts.t_start} blur={opts.blur_sigma} "
                                              f"{opts.length_from} {opts.threshold_mode}")
        print(f"rho/r90 {rho_n:.3f}  rho {rho:.3f}  n={n}  {attribution:20s} {method} {short}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
