"""Synthetic validation galaxies: image, true bar mask, then SmoothGrad (N=25) of each model with its
moments length (title). Usage: python tests/benchmarks/fig_saliency_synth.py OUT.png smoothgrad MODEL...
"""
import sys, numpy as np, torch, matplotlib; matplotlib.use("Agg"); import matplotlib.pyplot as plt
sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent)); import exp_saliency as X
from galaxyscope.model.checkpoint import load_checkpoint
from galaxyscope.saliency.cache import SaliencyCache
from galaxyscope.images.imageset import ImageSet
from galaxyscope.measure import measure_bar
from PIL import Image
torch.set_num_threads(2)
s = ImageSet.open(X.VAL); hb = np.asarray(s.column("has_bar"), bool); idx = np.flatnonzero(hb)[:6]
models = sys.argv[3:]; cache = SaliencyCache(X.ROOT / "cache")
fig, ax = plt.subplots(len(idx), 2 + len(models), figsize=(3 * (2 + len(models)), 3 * len(idx)))
for r, i in enumerate(idx):
    im = s[int(i)]; p = im.pixels; h = p.shape[0]; c0, c1 = h // 4, 3 * h // 4
    ax[r, 0].imshow(np.clip(p[c0:c1, c0:c1] / np.percentile(p, 99.5), 0, 1)); ax[r, 0].set_title(f"L={s.column('bar_length_px')[i]:.0f}")
    m = np.asarray(Image.open(X.VAL / str(s.column("bar_mask")[i])))
    ax[r, 1].imshow(m[c0:c1, c0:c1])
    for k, path in enumerate(models):
        model = load_checkpoint(path, device="cpu")
        sal = cache.get_or_compute(model, im, sys.argv[2], n_samples=25).map
        L = measure_bar(sal, "moments", model_input_size=128, crop_fraction=0.5).length_px
        ax[r, 2 + k].imshow(sal[c0:c1, c0:c1], cmap="inferno"); ax[r, 2 + k].set_title(f"{path.split('/')[-1][:12]} {L:.0f}")
for a in ax.flat: a.axis("off")
plt.tight_layout(); plt.savefig(sys.argv[1], dpi=50)
