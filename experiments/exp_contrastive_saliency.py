"""Contrastive saliency: does subtracting another output's map leave the bar?

    python -m experiments.exp_contrastive_saliency --data $GALAXYSCOPE_DATA/val200

Every output's SmoothGrad map of the shipped model is a blob the size of the galaxy; if that
common blob is what makes bar lengths track size, then |grad has_bar| - a |grad other|
(clipped at zero, divided by its peak) should keep the part that is about the bar.  Measured
with moments over a small grid on a VALIDATION set; prints the best rows and the size-only rho.
``--data`` defaults to $GALAXYSCOPE_DATA/val200 (see experiments/common.py).
"""

from __future__ import annotations

import itertools
import sys

import numpy as np
from scipy.stats import spearmanr

from experiments.common import experiment_parser, open_barred


def main() -> int:
    args = experiment_parser(__doc__).parse_args()

    from galaxyscope.jobs.common import resolve_model
    from galaxyscope.measure import MomentsParams, measure_bar
    from galaxyscope.saliency.cache import SaliencyCache

    model = resolve_model(args.model)
    pre = model.preprocessing
    bars = open_barred(args.data)
    true, r90, n = bars.true, bars.r90, len(bars)
    cache = SaliencyCache()
    maps = {t: [cache.get_or_compute(model, bars.image(k), "smoothgrad", n_samples=args.samples, target=t).map
                .astype(np.float64) for k in range(n)] for t in ("has_bar", "has_arms", "has_ring")}
    print(f"{args.data}: {n} barred; size-only rho {spearmanr(r90, true)[0]:.3f}")
    rows = []
    for other, a in itertools.product(("has_arms", "has_ring", "both"), (0.3, 0.6, 1.0)):
        diff = []
        for k in range(n):
            o = 0.5 * (maps["has_arms"][k] + maps["has_ring"][k]) if other == "both" else maps[other][k]
            d = np.clip(maps["has_bar"][k] - a * o, 0.0, None)
            diff.append(d / d.max() if d.max() > 0 else d)
        for t, b, lf in itertools.product((0.2, 0.3, 0.5), (1.5, 3.0, 5.0), ("extent", "axis")):
            opts = MomentsParams(t_start=t, blur_sigma=b, length_from=lf)
            L = np.array([measure_bar(m, "moments", model_input_size=pre.input_size,
                                      crop_fraction=pre.crop_fraction, options=opts).length_px for m in diff])
            ok = np.isfinite(L)
            rows.append((spearmanr(L[ok], true[ok])[0], spearmanr(L[ok] / r90[ok], true[ok] / r90[ok])[0],
                         other, a, t, b, lf))
    rows.sort(key=lambda r: -np.nan_to_num(r[0], nan=-9.0))
    for r in rows[:5]:
        print("rho %.3f rho/r90 %.3f  has_bar - %.1f x %s, t=%s blur=%s %s" % (r[0], r[1], r[3], r[2], r[4], r[5], r[6]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
