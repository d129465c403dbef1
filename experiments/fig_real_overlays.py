"""SmoothGrad overlays of real barred and unbarred galaxies from each survey, one column per model.

    python -m experiments.fig_real_overlays --out docs/real-models.png \
        before=resources/models/default.safetensors after=/path/new.safetensors

Why: issue 14 asks to look at what a training change does to real galaxies, not only at AUCs.
Rows: an SDSS and a DECaLS Galaxy Zoo example with a bar and without (gz-bar-examples), and the
Galaxy Builder development galaxies with the highest and the lowest GZ2 p_bar. Each panel shows
the view the model frames (its own framing), the SmoothGrad map (N=50) and the `moments` bar;
below the model's P(bar) gate the title says "no bar" and no line is drawn, as in the window.
The real sets are read from $GALAXYSCOPE_SHARED_DATA (default ../shared/data; experiments/common.py).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from experiments.common import shared_data

EXAMPLES = ("sdss/sloan-2_a-0_1.jpg", "sdss/sloan-2_a-1_0.jpg", "decals/decals-2_a-0_0.jpg",
            "decals/decals-2_a-1_0.jpg")


def pick_images():
    """(label, GalaxyImage) for each row."""
    from galaxyscope.images.imageset import ImageSet

    rows = []
    ex = ImageSet.open(shared_data("gz-bar-examples"))
    by_key = {e.key: i for i, e in enumerate(ex.entries)}
    for key in EXAMPLES:
        barred = "_a-0_" in key
        rows.append((f"{Path(key).stem} ({'bar' if barred else 'no bar'})", ex[by_key[key]]))
    gb = ImageSet.open(shared_data("galaxy-builder-dev"))
    p = np.ma.filled(np.ma.asarray(gb.catalogue["p_bar"], dtype=float), np.nan)
    for i, what in ((int(np.nanargmax(p)), "highest"), (int(np.nanargmin(p)), "lowest")):
        rows.append((f"GB {Path(gb.entries[i].key).stem} (p_bar {p[i]:.2f}, {what})", gb[i]))
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+", help="LABEL=PATH checkpoints, one column each")
    ap.add_argument("--out", required=True)
    ap.add_argument("--samples", type=int, default=50)
    args = ap.parse_args()

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch

    from galaxyscope.measure import measure_bar
    from galaxyscope.model.checkpoint import load_checkpoint
    from galaxyscope.saliency.attributions import compute_saliency

    torch.set_num_threads(2)
    specs = [m.partition("=")[::2] if "=" in m else (Path(m).stem, m) for m in args.models]
    models = [(label, load_checkpoint(path, device="cpu")) for label, path in specs]
    rows = pick_images()
    fig, axes = plt.subplots(len(rows), len(models), figsize=(2.8 * len(models), 2.8 * len(rows)),
                             squeeze=False)
    for r, (label, im) in enumerate(rows):
        px = im.pixels.astype(float)
        for k, (name, model) in enumerate(models):
            pre = model.preprocessing
            box = pre.box_for(im)  # (row0, row1, col0, col1), may reach beyond the image
            res = compute_saliency(model, im, "smoothgrad", n_samples=args.samples)
            prob = float(res.score.probability)
            gate = float(model.meta.min_bar_probability or 0.0)
            r0, r1 = max(0, box[0]), min(im.height, box[1])
            c0, c1 = max(0, box[2]), min(im.width, box[3])
            crop = px[r0:r1, c0:c1]
            grey = crop.mean(axis=2) if crop.ndim == 3 else crop
            lo, hi = np.percentile(grey, [1, 99.5])
            ax = axes[r, k]
            ax.imshow(np.clip((grey - lo) / max(hi - lo, 1e-9), 0, 1), cmap="gray")
            ax.imshow(res.map[r0:r1, c0:c1], cmap="inferno", alpha=0.55, vmin=0, vmax=1)
            title = f"{name}: P(bar) {prob:.2f}"
            if prob < gate:
                title += f"\nno bar (< {gate:.2f})"
            else:
                bar = measure_bar(res.map, "moments", crop_box=box,
                                  model_input_size=pre.input_size, crop_fraction=pre.crop_fraction)
                if bar.endpoints is not None and np.all(np.isfinite(bar.endpoints)):
                    (xa, ya), (xb, yb) = bar.endpoints
                    ax.plot([xa - c0, xb - c0], [ya - r0, yb - r0], color="cyan", lw=1.5)
                title += f"\nmoments {bar.length_px:.0f} px"
            ax.set_title(title, fontsize=7)
            if k == 0:
                ax.set_ylabel(label, fontsize=7)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=90)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
