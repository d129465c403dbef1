"""Training throughput: images per second (augmentation + forward + backward + step).

    .venv/bin/python -m benchmarks.bench_model_training --size 96 --threads 2
    .venv/bin/python -m benchmarks.bench_model_training --arch resnet --size 224 --device cuda

Uses random in-memory images (TrainingData), so it measures the network and
the augmentation only; also reports how fast images are read and preprocessed
from PNG files when --load N is given (written by the tests' helper tests/model_testdata.py
into a temporary folder, so run it from the repository root).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from galaxyscope.model.networks import build_network, count_parameters
from galaxyscope.model.preprocess import Preprocessing
from galaxyscope.model.training import train_model
from galaxyscope.model.trainset import TrainingData, load_training_data


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", default="small")
    ap.add_argument("--size", type=int, default=96)
    ap.add_argument("--n", type=int, default=512, help="training images per epoch (+25%% validation)")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--load", type=int, default=0, help="also time reading N 424 px PNGs")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    for name in ("small", "resnet"):
        print(f"parameters {name}: {count_parameters(build_network(name, 1, 3)):,}")

    n = int(args.n / 0.8)
    rng = np.random.default_rng(0)
    images = torch.from_numpy(rng.integers(0, 256, (n, 3, args.size, args.size), dtype=np.uint8))
    targets = (rng.random((n, 1)) < 0.5).astype(np.float32)
    data = TrainingData(images=images, targets=targets, keys=[f"k{i}" for i in range(n)],
                        target_names=["has_bar"], classify=True)
    pre = Preprocessing(input_size=args.size)
    result = train_model(data, epochs=args.epochs, batch_size=args.batch_size, seed=0, patience=99,
                         architecture=args.arch, preprocessing=pre, device=args.device)
    for h in result.history:
        print(f"epoch {h.epoch}: {h.images_per_second:.1f} img/s train, {h.seconds:.1f} s with validation")
    print(f"{args.arch} {args.size}px threads={args.threads} device={result.model.device}: "
          f"{max(h.images_per_second for h in result.history):.1f} img/s (best epoch rate)")

    if args.load:
        from tests.model_testdata import write_bar_dataset

        with tempfile.TemporaryDirectory() as tmp:
            root = write_bar_dataset(Path(tmp) / "ds", n=args.load, size=424)
            t0 = time.perf_counter()
            d = load_training_data(root, ["has_bar"], preprocessing=pre)
            dt = time.perf_counter() - t0
            print(f"preload: {len(d)} PNGs of 424 px -> {args.size} px in {dt:.2f} s ({len(d) / dt:.0f} img/s)")


if __name__ == "__main__":
    main()
