"""Issue 20, measurable-bars.md section 6: galaxy-builder-dev's real bar sizes against the
bar_evidence noise level and the `moments` setting (the check that kept the noise at 0.1).

    python -m experiments.exp_real_noise

Prints Spearman rho (and rho of length/r90) against ``bar_Re_px`` for the 19 galaxies with a
volunteers' bar size, noise 0.07 and 0.1 crossed with six settings, and a paired bootstrap of
rho at (0.07, t=0.3 extent) minus rho at (0.1, t=0.4 extent). A development set.
"""

import numpy as np
import torch
from scipy.stats import spearmanr
from galaxyscope.images.imageset import ImageSet
from galaxyscope.model.checkpoint import load_checkpoint
from galaxyscope.saliency.attributions import compute_saliency
from galaxyscope.measure import measure_bar, MomentsParams
from experiments.common import shared_data, shipped_model


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    m = load_checkpoint(shipped_model(), device="cpu")
    st = ImageSet.open(shared_data("galaxy-builder-dev"))
    ref = np.ma.filled(np.ma.asarray(st.column("bar_Re_px"), float), np.nan)
    r90 = np.asarray(st.column("r90_px"), float)
    idx = np.flatnonzero(np.isfinite(ref)); ims = [st[int(i)] for i in idx]
    maps = {n: [compute_saliency(m, im, "bar_evidence", noise=n).map for im in ims] for n in (0.07, 0.1)}
    rng = np.random.default_rng(0)
    res = {}
    for n in (0.07, 0.1):
        for t in (0.3, 0.4, 0.5):
            for lf, blur in (("extent", 0.75), ("axis", 3.0)):
                L = np.array([measure_bar(mp, "moments", options=MomentsParams(t_start=t, blur_sigma=blur, length_from=lf), **m.preprocessing.measure_kwargs(im)).length_px for mp, im in zip(maps[n], ims)])
                res[(n, t, lf)] = L
                ok = np.isfinite(L)
                print(n, t, lf, blur, "rho %.2f rho/r90 %.2f n %d" % (spearmanr(L[ok], ref[idx][ok])[0], spearmanr(L[ok]/r90[idx][ok], ref[idx][ok]/r90[idx][ok])[0], ok.sum()), flush=True)
    a, b = res[(0.07, 0.3, "extent")], res[(0.1, 0.4, "extent")]
    y = ref[idx]; d = []
    for _ in range(2000):
        s = rng.integers(0, len(y), len(y))
        d.append(spearmanr(a[s], y[s])[0] - spearmanr(b[s], y[s])[0])
    d = np.array(d); print("paired diff new-old: median %.2f, 95%% [%.2f, %.2f], P(new<old) %.2f" % (np.nanmedian(d), *np.nanpercentile(d, [2.5, 97.5]), np.nanmean(d < 0)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
