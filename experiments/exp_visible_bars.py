"""How well do saliency lengths do on the bars one can see? Test set split by bar_visibility.

    python -m experiments.exp_visible_bars [--model M] [--threshold 0.34] [--test DIR] [--work DIR]

Half of the synthetic bars are nearly invisible on purpose; this reports Spearman rho (px and
/ r90) of the default moments lengths (SmoothGrad N=25, the harness's cache) separately for
bars above and below the visibility threshold, beside the galaxy-size baseline of each half.
``--test`` defaults to $GALAXYSCOPE_DATA/eval400, the cache folder ``--work`` to $GALAXYSCOPE_DATA/exp6
(exp_saliency's; see experiments/common.py).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from scipy.stats import spearmanr

from experiments.common import add_data_option, open_barred, shipped_model


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(shipped_model()))
    ap.add_argument("--threshold", type=float, default=0.34)
    add_data_option(ap, "--test", "eval400", "TEST set")
    add_data_option(ap, "--work", "exp6", "experiment folder whose cache/ holds the saliency maps")
    args = ap.parse_args(argv)
    from galaxyscope.measure import measure_bar
    from galaxyscope.model.checkpoint import load_checkpoint
    from galaxyscope.saliency.cache import SaliencyCache

    model = load_checkpoint(args.model, device="cpu")
    bars = open_barred(args.test)
    true, r90, vis = bars.true, bars.r90, bars.vis
    cache = SaliencyCache(args.work / "cache")
    maps = [cache.get_or_compute(model, bars.image(k), "smoothgrad", n_samples=25).map for k in range(len(bars))]
    pre = model.preprocessing
    L = np.array([measure_bar(m, "moments", model_input_size=pre.input_size,
                              crop_fraction=pre.crop_fraction).length_px for m in maps])
    for name, sel in (("all", np.ones_like(vis, bool)), (f"visibility >= {args.threshold}", vis >= args.threshold),
                      (f"visibility < {args.threshold}", vis < args.threshold)):
        ok = sel & np.isfinite(L)
        print(f"{name:20s} n={ok.sum():3d}  rho {spearmanr(L[ok], true[ok])[0]:.2f}  "
              f"rho/r90 {spearmanr(L[ok] / r90[ok], true[ok] / r90[ok])[0]:.2f}  "
              f"size-only rho {spearmanr(r90[ok], true[ok])[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
