"""Issue 20's upper reference on the measurable-bar yardstick: a network trained on the bar masks.

    python -m experiments.masknet_reference --train $GALAXYSCOPE_DATA/train4k \
        --val $GALAXYSCOPE_DATA/val300 --test $GALAXYSCOPE_DATA/test600 --work $GALAXYSCOPE_DATA/exp20 \
        --out $GALAXYSCOPE_DATA/exp20/masknet_test.ecsv

Trains exp_saliency's MaskNet (4 epochs, BCE on train4k's masks; reused when WORK/models holds
it), measures its predicted masks like saliency maps with the `moments` grid, picks the setting
with the best Spearman rho of length / r90 on the VALIDATION set's measurable bars (has_bar,
simulated GZ2 bar vote >= 0.5) and fits one length scale there, then writes every barred TEST
galaxy's length as a results table (filename, method ``masknet``, bar_length_px) that
``galaxyscope evaluate`` and ``experiments.eval_engine --extra`` read like any measurement.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from experiments.common import measurable_bars, measure_grid, measured_lengths, shipped_model, spearman


def predicted_maps(net, image_set, idx, pre) -> list[np.ndarray]:
    """The mask network's probability map of each image, mapped back onto the image grid."""
    import torch

    maps = []
    with torch.no_grad():
        for i in idx:
            im = image_set[int(i)]
            p = torch.sigmoid(net(pre.to_model(im)))[0, 0].numpy()
            full = pre.map_back(p, im.height, im.width, box=pre.box_for(im))
            maps.append(full / max(float(full.max()), 1e-12))
    return maps


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for flag in ("--train", "--val", "--test", "--work", "--out"):
        ap.add_argument(flag, type=Path, required=True)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    import torch
    from astropy.table import Table

    from experiments.exp_saliency import MaskNet, Paths, train_masknet
    from galaxyscope.images.imageset import ImageSet
    from galaxyscope.model.checkpoint import load_checkpoint

    torch.set_num_threads(args.threads)
    path = train_masknet(Paths(args.work, args.train, args.val, args.test), 0, epochs=args.epochs,
                         threads=args.threads)
    net = MaskNet()
    net.load_state_dict(torch.load(path, weights_only=True))
    net.eval()
    pre = load_checkpoint(shipped_model(), device="cpu").preprocessing
    size, crop = pre.input_size, pre.crop_fraction

    val = ImageSet.open(args.val)
    has = np.asarray(val.column("has_bar"), bool)
    vidx = np.flatnonzero(measurable_bars(has, np.asarray(val.column("t03_bar_a06_bar_fraction"), float)))
    vtrue = np.asarray(val.column("bar_length_px"), float)[vidx]
    vr90 = np.asarray(val.column("r90_px"), float)[vidx]
    vmaps = predicted_maps(net, val, vidx, pre)
    best = None
    for method, opts, label in measure_grid():
        L = measured_lengths(vmaps, method, opts, size, crop)
        score = spearman(L / vr90, vtrue / vr90)
        if best is None or np.nan_to_num(score, nan=-9) > np.nan_to_num(best[0], nan=-9):
            best = (score, method, opts, label, L)
    score, method, opts, label, Lv = best
    ok = np.isfinite(Lv) & (Lv > 0)
    scale = float(np.median(vtrue[ok] / Lv[ok]))
    print(f"validation ({len(vidx)} measurable bars): {label}, rho/r90 {score:.3f}, scale {scale:.3f}")

    test = ImageSet.open(args.test)
    tidx = np.flatnonzero(np.asarray(test.column("has_bar"), bool))
    L = measured_lengths(predicted_maps(net, test, tidx, pre), method, opts, size, crop) * scale
    names = [str(test.column("filename")[i]) for i in tidx]
    t = Table({"filename": names, "method": ["masknet"] * len(names), "bar_length_px": L})
    t.meta["setting"] = {"label": label, "scale": scale, "val_rho_r90": score, "val_bars": int(len(vidx))}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    t.write(args.out, format="ascii.ecsv", overwrite=True)
    print(json.dumps(t.meta["setting"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
