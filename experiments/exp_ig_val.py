"""Validation-only check (issue 6): Integrated Gradients with a blurred, bar-free baseline on the shipped model.

    python tests/benchmarks/exp_ig_val.py

Tunes the measurement on val200 exactly as exp_saliency.py does and prints the best rho / r90 and rho.
"""
import sys, numpy as np, torch
sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
import exp_saliency as X
from galaxyscope.model.checkpoint import load_checkpoint
from galaxyscope.saliency.cache import SaliencyCache
from galaxyscope.images.imageset import ImageSet
torch.set_num_threads(1)
s = ImageSet.open(X.VAL); hb = np.asarray(s.column("has_bar"), bool); idx = np.flatnonzero(hb)
true = np.asarray(s.column("bar_length_px"), float)[idx]; r90 = np.asarray(s.column("r90_px"), float)[idx]
cache = SaliencyCache(X.ROOT / "cache")
model = load_checkpoint(X.SHIPPED, device="cpu"); pre = model.preprocessing
for bf in (0.03125, 0.0625):
    maps = [cache.get_or_compute(model, s[int(i)], "ig", n_steps=25, baseline="blur", blur_fraction=bf).map for i in idx]
    res = []
    for method, opts, label in X.measure_grid():
        L = X.lengths(maps, method, opts, pre.input_size, pre.crop_fraction)
        res.append((X._rho(L / r90, true / r90), X._rho(L, true), label))
    res.sort(key=lambda r: -np.nan_to_num(r[0], nan=-9))
    print(f"ig blur {bf}: best rho/r90 {res[0][0]:.3f} rho {res[0][1]:.3f} [{res[0][2]}]; best rho {max(r[1] for r in res):.3f}", flush=True)
