"""Issue 20: SmoothGrad of a mask-trained network's pooled bar evidence, and that score as a classifier.

    python -m experiments.exp_evidence_saliency --masknet $GALAXYSCOPE_DATA/exp20/models/masknet_s0.pt \
        --val $GALAXYSCOPE_DATA/val300 --work $GALAXYSCOPE_DATA/exp20/evidence_sg
    python -m experiments.exp_measurable score --data $GALAXYSCOPE_DATA/val300 \
        --work $GALAXYSCOPE_DATA/exp20/evidence_sg --variants sg

The network's bar score is the log-mean-exp of its per-pixel bar logits; its SmoothGrad map
(N=25) on every measurable bar of the VALIDATION set goes to WORK/maps_sg.npz in
exp_measurable's format. It also prints the pooled score's P(bar) AUC beside the shipped
classifier's on the validation set (measurable bars against unbarred), the 22 real examples and
galaxy-builder-dev (p_bar >= 0.5 against < 0.2).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from experiments.common import measurable_bars, shared_data, shipped_model


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--masknet", type=Path, required=True)
    ap.add_argument("--val", type=Path, required=True)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--samples", type=int, default=25)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    import torch

    from experiments.exp_measurable import open_measurable
    from experiments.exp_saliency import MaskNet
    from galaxyscope.images.imageset import ImageSet
    from galaxyscope.model.checkpoint import load_checkpoint
    from galaxyscope.model.val_metrics import binary_auc
    from galaxyscope.resources import sample_path
    from galaxyscope.saliency.attributions import smoothgrad_attribution

    torch.set_num_threads(args.threads)
    model = load_checkpoint(shipped_model(), device="cpu")
    pre = model.preprocessing
    net = MaskNet()
    net.load_state_dict(torch.load(args.masknet, weights_only=True))
    net.eval()

    class Pooled(torch.nn.Module):
        def __init__(self, m: torch.nn.Module) -> None:
            super().__init__()
            self.m = m

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            z = self.m(x).flatten(1)
            return (torch.logsumexp(z, 1) - float(np.log(z.shape[1])))[:, None]

    pooled = Pooled(net)
    s, idx, _, _ = open_measurable(args.val)
    maps, boxes = [], []
    for i in idx:
        im = s[int(i)]
        x = pre.to_model(im)
        boxes.append(pre.box_for(im))
        with torch.enable_grad():
            g = smoothgrad_attribution(pooled, x.clone().requires_grad_(True), 0, n_samples=args.samples,
                                       stdev=0.1 * float(x.max() - x.min()), chunk=5, seed=0, absolute=True)
        maps.append(g.abs().amax(1)[0].numpy())
    args.work.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.work / "maps_sg.npz", maps=np.stack(maps), idx=idx, boxes=np.array(boxes))

    for name, path in (("validation", args.val), ("gz-bar-examples", sample_path("gz-bar-examples")),
                       ("galaxy-builder-dev", shared_data("galaxy-builder-dev"))):
        st = ImageSet.open(path)
        ims = [im for _, im in st.iter_images()]
        if "p_bar" in st.catalogue.colnames:
            p = np.ma.filled(np.ma.asarray(st.column("p_bar"), float), np.nan)
            keep, y = (p >= 0.5) | (p < 0.2), p >= 0.5
        else:
            y = np.asarray(st.column("has_bar"), bool)
            keep = np.ones(len(y), bool)
            if "t03_bar_a06_bar_fraction" in st.catalogue.colnames:
                keep = measurable_bars(y, np.asarray(st.column("t03_bar_a06_bar_fraction"), float)) | ~y
        with torch.no_grad():
            a = np.array([float(pooled(pre.to_model(im))) for im in ims])
        b = model.predict(ims)[:, model.output_index(None)].astype(float)
        print(f"{name}: {int(keep.sum())} galaxies, pooled evidence AUC {binary_auc(a[keep], y[keep]):.3f}, "
              f"shipped classifier AUC {binary_auc(b[keep], y[keep]):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
