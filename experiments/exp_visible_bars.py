"""How well do saliency lengths do on the bars one can see? Test set split by bar_visibility.

    python tests/benchmarks/exp_visible_bars.py [--model M] [--threshold 0.34]

Half of the synthetic bars are nearly invisible on purpose; this reports Spearman rho (px and
/ r90) of the default moments lengths (SmoothGrad N=25, the harness's cache) separately for
bars above and below the visibility threshold, beside the galaxy-size baseline of each half.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).parent))
import exp_saliency as X  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=str(X.SHIPPED))
    ap.add_argument("--threshold", type=float, default=0.34)
    args = ap.parse_args()
    from galaxyscope.images.imageset import ImageSet
    from galaxyscope.measure import measure_bar
    from galaxyscope.model.checkpoint import load_checkpoint
    from galaxyscope.saliency.cache import SaliencyCache

    model = load_checkpoint(args.model, device="cpu")
    s = ImageSet.open(X.TEST)
    idx = np.flatnonzero(np.asarray(s.column("has_bar"), bool))
    true = np.asarray(s.column("bar_length_px"), float)[idx]
    r90 = np.asarray(s.column("r90_px"), float)[idx]
    vis = np.asarray(s.column("bar_visibility"), float)[idx]
    cache = SaliencyCache(X.ROOT / "cache")
    maps = [cache.get_or_compute(model, s[int(i)], "smoothgrad", n_samples=25).map for i in idx]
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
