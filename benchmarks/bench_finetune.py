"""Fine-tuning time per 100 labels (issue 19): what "Improve model from annotations" costs.

    .venv/bin/python -m benchmarks.bench_finetune --threads 1
    .venv/bin/python -m benchmarks.bench_finetune --model resources/models/default.safetensors --labels 100 200

Starts from a model (default: the shipped one, 128 px), builds random in-memory
labelled images at its input size (half "bar", each bar with a drawn-line mask) and
fine-tunes with `model.finetune.finetune_model`'s defaults, with and without the
saliency guidance (double back-propagation). Image reading and framing are not
included (the window reads the labelled images once; see bench_model_training --load).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np
import torch

from galaxyscope.model.checkpoint import load_checkpoint
from galaxyscope.model.finetune import FinetuneConfig, finetune_model, rasterise_bar
from galaxyscope.model.trainset import TrainingData


def fake_labels(model, n: int, seed: int = 0) -> TrainingData:
    """n labelled images at the model's input size: half bars with a drawn line each."""
    rng = np.random.default_rng(seed)
    pre = model.preprocessing
    s = pre.input_size
    images = torch.from_numpy(rng.integers(0, 256, (n, pre.channels, s, s), dtype=np.uint8))
    names = list(model.meta.output_names)
    targets = rng.random((n, len(names))).astype(np.float32)
    bar = np.arange(n) % 2 == 0
    targets[:, model.output_index(None)] = bar
    masks = torch.zeros((n, 1, s, s), dtype=torch.uint8)
    for i in np.flatnonzero(bar):
        a = rng.uniform(0, np.pi)
        half = rng.uniform(0.1, 0.3) * s
        c = s / 2
        line = (c - half * np.cos(a), c - half * np.sin(a), c + half * np.cos(a), c + half * np.sin(a), None)
        masks[i, 0] = torch.from_numpy(rasterise_bar((s, s), line).astype(np.uint8) * 255)
    return TrainingData(images=images, targets=targets, keys=[f"k{i}" for i in range(n)], target_names=names,
                        classify=True, masks=masks)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=None, help="model to fine-tune (default: the shipped one)")
    ap.add_argument("--labels", type=int, nargs="+", default=[100], help="numbers of labels to time")
    ap.add_argument("--epochs", type=int, default=FinetuneConfig().epochs, help="epochs (default: the tool's)")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.model is None:
        from galaxyscope.resources import resources_dir

        args.model = resources_dir() / "models" / "default.safetensors"
    model = load_checkpoint(args.model, device="cpu")
    print(f"model {args.model}: {model.meta.architecture}, {model.preprocessing.input_size} px; "
          f"{args.epochs} epochs (no early stop), {args.threads} thread(s)")
    for n in args.labels:
        data = fake_labels(model, n)
        for guide in (0.0, 1.0):
            cfg = replace(FinetuneConfig(), epochs=args.epochs, patience=args.epochs, guide_weight=guide)
            t0 = time.perf_counter()
            finetune_model(data, model, cfg)
            secs = time.perf_counter() - t0
            print(f"{n:5d} labels, guidance {guide:g}: {secs:6.1f} s = {100 * secs / n:5.1f} s per 100 labels")


if __name__ == "__main__":
    main()
