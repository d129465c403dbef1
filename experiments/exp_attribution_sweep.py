"""Which attribution (method, output, noise) of a model gives the best saliency bar lengths?

An attribution is a JSON object of ``compute_saliency`` arguments; ``"targets": [A, B]``
computes one map per output and measures the bar on their mean.  Tuned on a VALIDATION set only; carry the winner to the test set with ``--test``.

    galaxyscope synth $GALAXYSCOPE_DATA/val200 --n 200 --seed 3030 --bar-fraction 0.6
    python -m experiments.exp_attribution_sweep --data $GALAXYSCOPE_DATA/val200
    python -m experiments.exp_attribution_sweep --data $GALAXYSCOPE_DATA/eval400 --test \
        --attribution '{"method": "smoothgrad", "target": "t03_bar_a06_bar_fraction"}' \
        --moments 0.3,3.0,axis

For each attribution the maps of the barred galaxies come from the saliency disk cache
(computed once), and each of 37 measurement settings (the paper's rule and a grid of
moments thresholds, blurs and length definitions) only re-fits the bar.  Prints the
three best settings by Spearman rho against the true length, with rho of length/r90
(what the map knows beyond the galaxy's size) beside it, and the size-only rho.
With ``--test`` it measures one chosen setting and splits the result by bar
visibility (the synthetic set hides half its bars on purpose).
``--data`` defaults to $GALAXYSCOPE_DATA/val200 (see experiments/common.py).
"""

from __future__ import annotations

import itertools
import json
import sys
import time

import numpy as np
from scipy.stats import spearmanr

from experiments.common import experiment_parser, open_barred

DEFAULT_ATTRIBUTIONS = [
    {"method": "smoothgrad"},
    {"method": "smoothgrad", "target": "t03_bar_a06_bar_fraction"},
    {"method": "smoothgrad", "noise": 0.05},
    {"method": "smoothgrad", "noise": 0.2},
    {"method": "gradcam"},
    {"method": "occlusion"},
    {"method": "occlusion", "window_fraction": 0.0625},
    {"method": "occlusion", "window_fraction": 0.25},
]


def rho(a: np.ndarray, b: np.ndarray) -> float:
    return float(spearmanr(a, b)[0])


def main() -> int:
    ap = experiment_parser(__doc__)
    ap.add_argument("--attribution", action="append", type=json.loads,
                    help="JSON of compute_saliency arguments (repeatable; default: a sweep of 8)")
    ap.add_argument("--test", action="store_true", help="measure one setting (--moments) and stop")
    ap.add_argument("--moments", default="0.5,3.0,axis", help="t_start,blur_sigma,length_from for --test")
    args = ap.parse_args()

    from galaxyscope.jobs.common import resolve_model
    from galaxyscope.measure import MomentsParams, PaperParams, measure_bar
    from galaxyscope.saliency.cache import SaliencyCache

    model = resolve_model(args.model)
    pre = model.preprocessing
    bars = open_barred(args.data)
    true, r90, vis = bars.true, bars.r90, bars.vis
    cache = SaliencyCache()
    print(f"{args.data}: {len(bars)} barred galaxies; size-only rho {rho(r90, true):.3f}", flush=True)

    def lengths(maps: list, method: str, opts: object) -> np.ndarray:
        return np.array([measure_bar(m, method, model_input_size=pre.input_size,
                                     crop_fraction=pre.crop_fraction, options=opts).length_px for m in maps])

    for attribution in args.attribution or DEFAULT_ATTRIBUTIONS:
        req = dict(attribution)
        method = req.pop("method")
        if method.startswith("smoothgrad"):
            req.setdefault("n_samples", args.samples)
        t0 = time.perf_counter()
        targets = req.pop("targets", None)  # several outputs: bars are measured on their mean map
        if targets:
            maps = [[cache.get_or_compute(model, bars.image(k), method, target=t, **req).map for t in targets]
                    for k in range(len(bars))]
        else:
            maps = [cache.get_or_compute(model, bars.image(k), method, **req).map for k in range(len(bars))]
        per_image = (time.perf_counter() - t0) / len(bars)
        if args.test:
            t, blur, length_from = args.moments.split(",")
            L = lengths(maps, "moments", MomentsParams(t_start=float(t), blur_sigma=float(blur),
                                                       length_from=length_from))
            ok = np.isfinite(L)
            v = (vis >= 0.34) & ok
            f = (vis < 0.34) & ok
            print(f"{attribution} moments {args.moments}: n={ok.sum()} rho {rho(L[ok], true[ok]):.3f} "
                  f"rho/r90 {rho(L[ok] / r90[ok], true[ok] / r90[ok]):.3f} | size {rho(r90, true):.3f}; "
                  f"visible bars (n={v.sum()}) rho {rho(L[v], true[v]):.3f} vs size {rho(r90[v], true[v]):.3f}; "
                  f"faint (n={f.sum()}) rho {rho(L[f], true[f]):.3f} vs size {rho(r90[f], true[f]):.3f}")
            continue
        grid = [("paper", PaperParams())] + [
            ("moments", MomentsParams(t_start=t, blur_sigma=b, length_from=lf))
            for t, b, lf in itertools.product((0.2, 0.3, 0.4, 0.5, 0.6, 0.7), (1.5, 3.0, 5.0),
                                              ("extent", "axis"))]
        rows = []
        for name, opts in grid:
            L = lengths(maps, name, opts)
            ok = np.isfinite(L)
            label = name if name == "paper" else f"t={opts.t_start} blur={opts.blur_sigma} {opts.length_from}"
            rows.append((rho(L[ok], true[ok]), rho(L[ok] / r90[ok], true[ok] / r90[ok]), int(ok.sum()), label))
        rows.sort(key=lambda r: -np.nan_to_num(r[0], nan=-9.0))
        best = " | ".join(f"rho {a:.3f} rho/r90 {b:.3f} n={n} {lab}" for a, b, n, lab in rows[:3])
        print(f"{attribution} ({per_image:.2f} s/image incl. cache): {best}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
