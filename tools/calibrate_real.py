"""Calibrate a checkpoint for real galaxies: galaxy framing, the P(bar) gate, the domain.

    python -m tools.calibrate_real --model resources/models/default.safetensors \
        --synthetic $GALAXYSCOPE_DATA/val200 --real ../shared/data/galaxy-builder-dev \
        --out resources/models/default.safetensors

1. frame_r90: the median of (fixed crop side / measured R90) over synthetic frames made
   like the training set (``galaxyscope synth $GALAXYSCOPE_DATA/val200 --n 200 --seed 3030
   --bar-fraction 0.6``: validation, never the test set), so galaxy framing shows every
   galaxy at the scale the network learnt. Its 1-99 % range becomes the domain's
   ``view_r90``.
2. min_bar_probability: with galaxy framing, the smallest threshold on a 0.05 grid at
   which at most ``--max-unbarred`` (10 %) of the clearly unbarred galaxies of *each*
   validation set (synthetic: has_bar false; real: p_bar < 0.2) have P(bar) above it.
   The real set used here is a development set: numbers on it are not a test.

Only the metadata changes; the weights are the same (the file's hash changes). The set paths
recorded in the metadata are written as ``$GALAXYSCOPE_DATA/...`` or relative to the repository
(experiments.common.display_path), never as this machine's absolute folders.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np

from experiments.common import display_path, shipped_model
from galaxyscope.images.imageset import ImageSet
from galaxyscope.model.checkpoint import load_checkpoint, save_checkpoint
from galaxyscope.model.framing import calibrate_frame_r90

GRID = np.round(np.arange(0.30, 0.951, 0.05), 2)


def probabilities(model, image_set) -> tuple[np.ndarray, list[int]]:
    idx = model.output_index(None)
    out, rows = [], []
    for i, im in image_set.iter_images():
        out.append(float(model.predict([im])[0, idx]))
        rows.append(image_set.entries[i].row_index)
    return np.asarray(out), rows


def unbarred_mask(image_set, rows: list[int]) -> np.ndarray:
    cat = image_set.catalogue
    if "p_bar" in cat.colnames:
        return np.asarray(cat["p_bar"], float)[rows] < 0.2
    return ~np.asarray(cat["has_bar"], bool)[rows]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=str(shipped_model()))
    ap.add_argument("--synthetic", required=True, help="synthetic validation set (training-like frames)")
    ap.add_argument("--real", action="append", default=[], help="real development set(s) with p_bar")
    ap.add_argument("--max-unbarred", type=float, default=0.10)
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)

    model = load_checkpoint(args.model)
    pre = model.meta.preprocessing
    synth = ImageSet.open(args.synthetic)
    frame, (lo, hi), n = calibrate_frame_r90((im for _, im in synth.iter_images()), pre.crop_fraction)
    model.meta.preprocessing = dataclasses.replace(pre, framing="galaxy", frame_r90=round(frame, 3))
    print(f"frame_r90 = {frame:.3f} (1-99 %: {lo:.2f} to {hi:.2f}) from {n} synthetic frames")

    sets = [("synthetic", synth)] + [(Path(r).name, ImageSet.open(r)) for r in args.real]
    shares = {}
    for name, s in sets:
        p, rows = probabilities(model, s)
        un = unbarred_mask(s, rows)
        shares[name] = {float(t): float(np.mean(p[un] >= t)) for t in GRID}
        print(f"{name}: {int(un.sum())} unbarred; share with P >= t: "
              + ", ".join(f"{t:.2f}:{shares[name][float(t)]:.2f}" for t in GRID))
    ok = [float(t) for t in GRID if all(sh[float(t)] <= args.max_unbarred for sh in shares.values())]
    threshold = ok[0] if ok else float(GRID[-1])
    print(f"min_bar_probability = {threshold:.2f}")

    model.meta.min_bar_probability = threshold
    model.meta.domain = {"colour": pre.channels == 3, "view_r90": [round(lo, 3), round(hi, 3)]}
    model.meta.metrics = dict(model.meta.metrics)
    model.meta.metrics["calibration"] = {
        "frame_r90": {"value": round(frame, 3), "range_1_99": [round(lo, 3), round(hi, 3)], "n": n,
                      "from": display_path(args.synthetic)},
        "min_bar_probability": {"value": threshold, "rule": f"smallest t on a 0.05 grid with at most "
                                f"{args.max_unbarred:.0%} of clearly unbarred galaxies at P >= t on every set",
                                "sets": [display_path(p) for p in [args.synthetic, *args.real]],
                                "unbarred_share_at_t": {k: v[threshold] for k, v in shares.items()}},
    }
    save_checkpoint(model, args.out)
    print(f"wrote {args.out}")
    print(json.dumps(model.meta.metrics["calibration"], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
