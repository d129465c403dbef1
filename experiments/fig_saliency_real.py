"""Side-by-side SmoothGrad overlays on real barred Galaxy Zoo examples, one column per model.

    python -m experiments.fig_saliency_real --out docs/experiments/saliency_real.png \\
        resources/models/default.safetensors $GALAXYSCOPE_DATA/exp6/models/match_w1_s0.safetensors ...

Issue 6 asks to look at what a training change does to real galaxies, not only to synthetic ones:
each row is one barred example from resources/samples/gz-bar-examples (the central crop the
network sees), each column a model's SmoothGrad map (N=50) over the image, with the moments bar.
Only the models and --out are paths (exp_saliency keeps its models in $GALAXYSCOPE_DATA/exp6/models).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+")
    ap.add_argument("--out", required=True)
    ap.add_argument("--rows", type=int, default=4)
    ap.add_argument("--samples", type=int, default=50)
    args = ap.parse_args()

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch

    from galaxyscope.images.imageset import ImageSet
    from galaxyscope.measure import measure_bar
    from galaxyscope.model.checkpoint import load_checkpoint
    from galaxyscope.resources import sample_path
    from galaxyscope.saliency.attributions import compute_saliency

    torch.set_num_threads(2)
    s = ImageSet.open(sample_path("gz-bar-examples"))
    barred = [i for i in range(len(s)) if int(s.column("has_bar")[i]) == 1][: args.rows]
    models = [load_checkpoint(m, device="cpu") for m in args.models]
    fig, axes = plt.subplots(len(barred), 1 + len(models), figsize=(2.6 * (1 + len(models)), 2.6 * len(barred)))
    for r, i in enumerate(barred):
        im = s[i]
        px = im.pixels
        h, w = px.shape[:2]
        r0, r1, c0, c1 = models[0].preprocessing.crop_box(h, w)
        crop = px[r0:r1, c0:c1]
        shown = np.clip(crop / max(float(np.percentile(crop, 99.5)), 1e-9), 0, 1)
        axes[r, 0].imshow(shown)
        axes[r, 0].set_title(Path(s.entries[i].key).name, fontsize=7)
        for k, (path, model) in enumerate(zip(args.models, models)):
            res = compute_saliency(model, im, "smoothgrad", n_samples=args.samples)
            bar = measure_bar(res.map, "moments", model_input_size=model.preprocessing.input_size,
                              crop_fraction=model.preprocessing.crop_fraction)
            ax = axes[r, 1 + k]
            ax.imshow(shown.mean(axis=2) if shown.ndim == 3 else shown, cmap="gray")
            ax.imshow(res.map[r0:r1, c0:c1], cmap="inferno", alpha=0.6, vmin=0, vmax=1)
            if bar.endpoints is not None and np.all(np.isfinite(bar.endpoints)):
                (x1, y1), (x2, y2) = bar.endpoints
                ax.plot([x1 - c0, x2 - c0], [y1 - r0, y2 - r0], color="cyan", lw=1.5)
            name = Path(path).name.replace(".safetensors", "")
            ax.set_title(f"{name}\nP(bar) {res.score.probability:.2f}, {bar.length_px:.0f} px", fontsize=7)
    for ax in axes.flat:
        ax.axis("off")
    fig.tight_layout()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=90)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
