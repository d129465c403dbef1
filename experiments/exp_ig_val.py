"""Validation-only check (issue 6): Integrated Gradients with a blurred, bar-free baseline on the shipped model.

    python -m experiments.exp_ig_val [--val $GALAXYSCOPE_DATA/val200] [--work $GALAXYSCOPE_DATA/exp6]

Tunes the measurement on the validation set exactly as exp_saliency does and prints the best rho / r90
and rho. Maps are cached in WORK/cache (exp_saliency's cache); defaults under $GALAXYSCOPE_DATA
(experiments/common.py).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from experiments.common import add_data_option, measure_grid, measured_lengths, open_barred, shipped_model, spearman


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_option(ap, "--val", "val200", "VALIDATION set")
    add_data_option(ap, "--work", "exp6", "experiment folder whose cache/ holds the saliency maps")
    ap.add_argument("--model", default=None, help="checkpoint (default: the shipped model)")
    args = ap.parse_args(argv)
    import torch

    from galaxyscope.model.checkpoint import load_checkpoint
    from galaxyscope.saliency.cache import SaliencyCache

    torch.set_num_threads(1)
    bars = open_barred(args.val)
    true, r90 = bars.true, bars.r90
    cache = SaliencyCache(args.work / "cache")
    model = load_checkpoint(args.model or shipped_model(), device="cpu")
    pre = model.preprocessing
    for bf in (0.03125, 0.0625):
        maps = [cache.get_or_compute(model, bars.image(k), "ig", n_steps=25, baseline="blur", blur_fraction=bf).map
                for k in range(len(bars))]
        res = []
        for method, opts, label in measure_grid():
            L = measured_lengths(maps, method, opts, pre.input_size, pre.crop_fraction)
            res.append((spearman(L / r90, true / r90), spearman(L, true), label))
        res.sort(key=lambda r: -np.nan_to_num(r[0], nan=-9))
        print(f"ig blur {bf}: best rho/r90 {res[0][0]:.3f} rho {res[0][1]:.3f} [{res[0][2]}]; "
              f"best rho {max(r[1] for r in res):.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
