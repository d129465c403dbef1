"""P(has_bar) AUC of one or more models on the real validation sets and a synthetic set, fast.

Why: choosing between training recipes (issue 14) needs the classification numbers on every
set, with bootstrap intervals, in seconds per model, not the full saliency evaluation
(``benchmarks/eval_real.py``). Each model frames images as its metadata says (galaxy framing
for the shipped one), exactly as the window and ``galaxyscope measure`` do.

    python -m experiments.real_auc resources/models/default.safetensors other.safetensors \
        --synthetic $GALAXYSCOPE_DATA/val200 --json out.json --markdown out.md

The real sets default to $GALAXYSCOPE_SHARED_DATA/gz-bar-examples and .../galaxy-builder-dev
(``--examples``, ``--galaxy-builder``; see experiments/common.py).

Sets and labels (validation sets: select on them, never report them as a test):
- ``gz-bar-examples`` (22): ``*_a-0_*`` barred, ``*_a-1_*`` not; also per survey (sdss, decals);
- ``galaxy-builder-dev`` (89, greyscale r band): barred = GZ2 ``p_bar >= 0.5``;
- a synthetic set (``--synthetic``): "measurable" = measurable bars (has_bar and simulated vote
  ``t03_bar_a06_bar_fraction >= 0.5``) against all unbarred; "all bars" = has_bar.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from experiments.common import measurable_bars, shared_data
from galaxyscope.evaluate.classification import Estimate, auc_interval
from galaxyscope.images.imageset import ImageSet
from galaxyscope.model.checkpoint import load_checkpoint

BATCH = 32


def readable_images(image_set: ImageSet) -> tuple[list[str], list]:
    """(keys, GalaxyImage) of every readable image, read once and shared by all models.

    Each image keeps its measured extent (R50/R90), so the galaxy framing of the
    second and later models costs nothing."""
    keys, images = [], []
    for i, entry in enumerate(image_set.entries):
        try:
            images.append(image_set[i])
        except Exception as err:  # noqa: BLE001 - a bad file is reported and skipped
            print(f"skipped {entry.key}: {err}", file=sys.stderr)
            continue
        keys.append(entry.key)
    return keys, images


def bar_probabilities(model, images: list) -> np.ndarray:
    """P(has_bar) of each image, in the model's own framing."""
    index = model.output_index("has_bar") if "has_bar" in model.meta.output_names else 0
    probs = [model.predict(images[i:i + BATCH])[:, index] for i in range(0, len(images), BATCH)]
    return np.concatenate(probs) if probs else np.zeros(0)


def _column(image_set: ImageSet, keys: list[str], name: str) -> np.ndarray:
    cat = image_set.catalogue
    row_of = {e.key: e.row_index for e in image_set.entries}
    rows = np.array([row_of[k] for k in keys])
    return np.ma.filled(np.ma.asarray(cat[name], dtype=float), np.nan)[rows]


def evaluate_model(path: str, sets: dict[str, ImageSet], read: dict[str, tuple[list[str], list]]
                   ) -> dict[str, Estimate]:
    """Every AUC row for one model."""
    model = load_checkpoint(path)
    out: dict[str, Estimate] = {}
    for name, image_set in sets.items():
        keys, images = read[name]
        p = bar_probabilities(model, images)
        if name == "gz-bar-examples":
            barred = np.array(["_a-0_" in k for k in keys])
            out["gz22"] = auc_interval(p, barred)
            for survey in ("sdss", "decals"):
                sel = np.array([k.startswith(survey) for k in keys])
                out[f"gz22_{survey}"] = auc_interval(p[sel], barred[sel])
        elif name == "galaxy-builder-dev":
            out["gb_dev"] = auc_interval(p, _column(image_set, keys, "p_bar") >= 0.5)
        else:
            has = _column(image_set, keys, "has_bar") > 0.5
            vote = _column(image_set, keys, "t03_bar_a06_bar_fraction")
            measurable = measurable_bars(has, vote)
            keep = measurable | ~has
            out[f"{name}_measurable"] = auc_interval(p[keep], measurable[keep])
            out[f"{name}_all_bars"] = auc_interval(p, has)
    return out


COLUMNS = ("gz22", "gz22_sdss", "gz22_decals", "gb_dev")


def markdown(results: dict[str, dict[str, Estimate]], labels: dict[str, str]) -> str:
    present = [c for c in COLUMNS if any(c in r for r in results.values())]
    present += sorted({c for r in results.values() for c in r if c not in COLUMNS})
    lines = ["| model | " + " | ".join(present) + " |", "|---" * (len(present) + 1) + "|"]
    for path, row in results.items():
        cells = [row[c].format() if c in row else "–" for c in present]
        lines.append(f"| {labels.get(path, Path(path).name)} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+", help="checkpoints (.safetensors); LABEL=PATH names a row")
    ap.add_argument("--examples", default=str(shared_data("gz-bar-examples")))
    ap.add_argument("--galaxy-builder", default=str(shared_data("galaxy-builder-dev")))
    ap.add_argument("--synthetic", action="append", default=[],
                    help="synthetic VALIDATION set (e.g. $GALAXYSCOPE_DATA/val200); repeatable, named by its folder")
    ap.add_argument("--json", help="write the numbers here")
    ap.add_argument("--markdown", help="write the table here")
    args = ap.parse_args(argv)
    sets: dict[str, ImageSet] = {}
    for name, path in (("gz-bar-examples", args.examples), ("galaxy-builder-dev", args.galaxy_builder),
                       *((Path(p).name, p) for p in args.synthetic)):
        if path and Path(path).exists():
            sets[name] = ImageSet.open(path)
        elif path:
            print(f"{path}: not found, skipped", file=sys.stderr)
    read = {name: readable_images(image_set) for name, image_set in sets.items()}
    labels, results = {}, {}
    for spec in args.models:
        label, _, path = spec.rpartition("=") if "=" in spec else ("", "", spec)
        labels[path] = label or Path(path).stem
        t0 = time.perf_counter()
        results[path] = evaluate_model(path, sets, read)
        print(f"{labels[path]}: " + ", ".join(f"{k} {v.format()}" for k, v in results[path].items())
              + f"  ({time.perf_counter() - t0:.0f} s)", flush=True)
    table = markdown(results, labels)
    print(table)
    if args.markdown:
        Path(args.markdown).write_text(table)
    if args.json:
        Path(args.json).write_text(json.dumps(
            {labels[p]: {k: vars(v) for k, v in r.items()} for p, r in results.items()}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
