"""Synthetic validation galaxies: image, true bar mask, then SmoothGrad (N=25) of each model with its
moments length (title).

    python -m experiments.fig_saliency_synth OUT.png smoothgrad MODEL... [--val DIR] [--work DIR]

``--val`` (default $GALAXYSCOPE_DATA/val200) is the validation set; maps are cached in
``--work``/cache (default $GALAXYSCOPE_DATA/exp6, exp_saliency's cache); see experiments/common.py.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from experiments.common import add_data_option


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", help="PNG to write")
    ap.add_argument("attribution", help="saliency method, e.g. smoothgrad")
    ap.add_argument("models", nargs="+", help="checkpoints, one column each")
    add_data_option(ap, "--val", "val200", "VALIDATION set")
    add_data_option(ap, "--work", "exp6", "experiment folder whose cache/ holds the saliency maps")
    args = ap.parse_args(argv)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch
    from PIL import Image

    from galaxyscope.images.imageset import ImageSet
    from galaxyscope.measure import measure_bar
    from galaxyscope.model.checkpoint import load_checkpoint
    from galaxyscope.saliency.cache import SaliencyCache

    torch.set_num_threads(2)
    s = ImageSet.open(args.val)
    idx = np.flatnonzero(np.asarray(s.column("has_bar"), bool))[:6]
    models = args.models
    cache = SaliencyCache(args.work / "cache")
    fig, ax = plt.subplots(len(idx), 2 + len(models), figsize=(3 * (2 + len(models)), 3 * len(idx)))
    for r, i in enumerate(idx):
        im = s[int(i)]
        p = im.pixels
        h = p.shape[0]
        c0, c1 = h // 4, 3 * h // 4
        ax[r, 0].imshow(np.clip(p[c0:c1, c0:c1] / np.percentile(p, 99.5), 0, 1))
        ax[r, 0].set_title(f"L={s.column('bar_length_px')[i]:.0f}")
        m = np.asarray(Image.open(Path(args.val) / str(s.column("bar_mask")[i])))
        ax[r, 1].imshow(m[c0:c1, c0:c1])
        for k, path in enumerate(models):
            model = load_checkpoint(path, device="cpu")
            sal = cache.get_or_compute(model, im, args.attribution, n_samples=25).map
            L = measure_bar(sal, "moments", model_input_size=128, crop_fraction=0.5).length_px
            ax[r, 2 + k].imshow(sal[c0:c1, c0:c1], cmap="inferno")
            ax[r, 2 + k].set_title(f"{Path(path).name[:12]} {L:.0f}")
    for a in ax.flat:
        a.axis("off")
    plt.tight_layout()
    plt.savefig(args.out, dpi=50)
    return 0


if __name__ == "__main__":
    sys.exit(main())
