"""The annotation loop (issue 19): how much do people's labels improve a model, on synthetic
galaxies with a real domain shift and on real Galaxy Builder galaxies?

Synthetic (``synthetic``): a base model is trained on SDSS-style galaxies only
(``galaxyscope synth --style sdss``); the "annotations" are the exact truth of
DECaLS-style galaxies (``--style decals``: grey, grainy sky, other PSF), imported
through ``annotations import --dataset`` as an annotator would make them (has_bar;
for bars the tip-to-tip line and a width line of axis ratio x length). The model is
fine-tuned (``galaxyscope finetune``'s core) on the first 0, 50, 100, 200 of them and
tested on 200 other DECaLS-style galaxies: P(bar) AUC and Spearman rho of the
measured bar length (SmoothGrad + moments) against the true length, each with a 95 %
bootstrap interval and the paired gain over the base model. Each size is fine-tuned
with the saliency guidance towards the drawn bars and without it, over several seeds
(different label subsets' order and training draws).

Real (``real``): Galaxy Builder's development half (89 SDSS galaxies). Labels: GZ2
p_bar >= 0.5 (has_bar), bar size 2 x bar_Re_px where the volunteers fitted a bar
(rank agreement only, so the factor does not matter), imported as generic
annotations. Base: the shipped model. K-fold cross-validation (stratified, seeded,
repeated): fine-tune on K-1 folds, predict the held-out fold; the out-of-fold
predictions of all folds are pooled and compared with the untouched model's.

Run from the repository root (one torch thread; about 20-30 minutes on one core):

    python -m experiments.annotation_loop all --work /tmp/annotation_loop \\
        --json docs/experiments/annotation-loop.json --plot docs/experiments/annotation-loop.png
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from experiments.common import shared_data, shipped_model

SIZES = (0, 50, 100, 200)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ---------------------------------------------------------------------- data


def synth_set(out: Path, n: int, seed: int, style: str, size: int) -> Path:
    """``galaxyscope synth`` once (kept when it exists)."""
    from galaxyscope.cli import main as cli

    if not (out / "catalog.ecsv").is_file():
        log(f"synth {out.name}: {n} {style} galaxies at {size} px")
        code = cli(["synth", str(out), "--n", str(n), "--seed", str(seed), "--style", style, "--size", str(size)])
        if code:
            raise SystemExit(f"synth failed for {out}")
    return out


def truth_label_table(dataset: Path, out: Path) -> Path:
    """The synthetic truth as a generic label table: has_bar, tips, and a width line across
    the bar's middle (axis ratio x length), as a careful annotator would draw them."""
    from astropy.table import Table

    cat = Table.read(dataset / "catalog.ecsv")
    rows = []
    for r in cat:
        bar = bool(r["has_bar"])
        row = {"filename": str(r["filename"]), "has_bar": int(bar)}
        for k in ("x1", "y1", "x2", "y2", "wx1", "wy1", "wx2", "wy2"):
            row[k] = np.nan
        if bar:
            x1, y1, x2, y2 = (float(r[f"bar_{k}"]) for k in ("x1", "y1", "x2", "y2"))
            length = math.hypot(x2 - x1, y2 - y1)
            w = float(r["bar_axis_ratio"]) * length
            cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
            nx, ny = -(y2 - y1) / length * w / 2, (x2 - x1) / length * w / 2
            row.update(x1=x1, y1=y1, x2=x2, y2=y2, wx1=cx - nx, wy1=cy - ny, wx2=cx + nx, wy2=cy + ny)
        rows.append(row)
    Table(rows=rows).write(out, format="ascii.csv", overwrite=True)
    return out


def gb_label_table(dataset: Path, out: Path) -> tuple[Path, int]:
    """Galaxy Builder labels: has_bar = GZ2 p_bar >= 0.5; bar_length_px = 2 x bar_Re_px where a
    bar was fitted and p_bar >= 0.5 (a size without the bar label cannot be a bar length)."""
    from astropy.table import Table

    from galaxyscope.images.catalogue import read_catalogue

    cat = read_catalogue(dataset / "catalog.csv")
    rows, n_sizes = [], 0
    for r in cat:
        bar = float(r["p_bar"]) >= 0.5
        re = r["bar_Re_px"]
        size = float(re) if bar and not np.ma.is_masked(re) and np.isfinite(float(re)) and float(re) > 0 else np.nan
        n_sizes += int(np.isfinite(size))
        rows.append({"filename": str(r["filename"]), "has_bar": int(bar), "bar_length_px": 2 * size})
    Table(rows=rows).write(out, format="ascii.csv", overwrite=True)
    return out, n_sizes


def import_labels(db: Path, table: Path, dataset: Path, annotator: str) -> None:
    from galaxyscope.cli import main as cli

    code = cli(["annotations", "import", str(db), str(table), "--format", "generic", "--dataset", str(dataset),
                "--annotator", annotator])
    if code:
        raise SystemExit(f"import of {table} failed")


def labelled(db: Path, dataset: Path):
    """(LabelledSet, images read once) for a dataset's labels in the database."""
    from galaxyscope.finetune.core import gather_labels
    from galaxyscope.store import AnnotationStore

    with AnnotationStore(db, readonly=True) as store:
        got = gather_labels(store, dataset)
    images = [got.images[i] for i in got.rows]
    return got, images


# ---------------------------------------------------------------------- numbers


def est(e: Any) -> dict[str, float]:
    return {"value": e.value, "low": e.low, "high": e.high, "n": e.n}


def finetune(base, images, examples, settings, seed: int):
    """Fine-tune on the given labelled images; returns (model, seconds, epochs run)."""
    from galaxyscope.model.finetune import build_finetune_data, finetune_model

    t0 = time.perf_counter()
    data = build_finetune_data(images, examples, base, width_fraction=settings.width_fraction)
    result = finetune_model(data, base, replace(settings.config(), seed=seed))
    return result.model, time.perf_counter() - t0, len(result.history)


def run_synthetic(args: argparse.Namespace) -> dict[str, Any]:
    from astropy.table import Table

    from galaxyscope.finetune.core import FinetuneSettings, compare_scores, score_model
    from galaxyscope.model.checkpoint import load_checkpoint, save_checkpoint
    from galaxyscope.model.preprocess import Preprocessing
    from galaxyscope.model.training import train_model

    work = Path(args.work) / "synthetic"
    work.mkdir(parents=True, exist_ok=True)
    sdss = synth_set(work / "sdss_train", args.n_base, 101, "sdss", args.size)
    pool = synth_set(work / "decals_pool", max(SIZES), 202, "decals", args.size)
    test = synth_set(work / "decals_test", args.n_test, 303, "decals", args.size)
    base_path = work / "base_sdss.safetensors"
    if not base_path.is_file():
        log("training the base model on SDSS-style galaxies only")
        t0 = time.perf_counter()
        res = train_model(sdss, ["has_bar"], preprocessing=Preprocessing(input_size=args.input, crop_fraction=0.5),
                          epochs=args.base_epochs, batch_size=32, lr=2e-3, seed=0, patience=3)
        save_checkpoint(res.model, base_path)
        log(f"base model: {time.perf_counter() - t0:.0f} s, validation AUC {res.best.outputs[0].auc:.3f}")
    base = load_checkpoint(base_path, device="cpu")
    db = work / "labels.sqlite"
    if not db.exists():
        import_labels(db, truth_label_table(pool, work / "decals_truth.csv"), pool, "synthetic-truth")
    got, pool_images = labelled(db, pool)
    order = np.argsort([Path(e.key).name for e in got.examples])  # the pool's own (random) order
    test_cat = Table.read(test / "catalog.ecsv")
    from galaxyscope.images.imageset import ImageSet

    test_set = ImageSet.open(test)
    test_images = [test_set[i] for i in range(len(test_set))]
    y = np.asarray(test_cat["has_bar"], bool)
    ref = np.where(y, np.asarray(test_cat["bar_length_px"], float), np.nan)
    settings = FinetuneSettings(epochs=args.epochs, n_samples=args.samples)
    log("scoring the base model on the DECaLS-style test set")
    base_scores = score_model(base, test_images, measure=list(y), n_samples=args.samples)
    rows: list[dict[str, Any]] = []
    for n in SIZES:
        for guide in ((0.0, 1.0) if n else (0.0,)):
            for seed in (range(args.seeds) if n else (0,)):
                rng = np.random.default_rng(1000 + seed)
                chosen = order[:n] if seed == 0 else rng.permutation(order)[:n]
                if n:
                    s = replace(settings, guide_weight=guide)
                    model, secs, epochs = finetune(base, [pool_images[i] for i in chosen],
                                                   [got.examples[i] for i in chosen], s, seed)
                    scores = score_model(model, test_images, measure=list(y), n_samples=args.samples)
                else:
                    secs, epochs, scores = 0.0, 0, base_scores
                c = compare_scores(base_scores, scores, y, ref, n_resamples=args.resamples, seed=seed)
                row = {"n_labels": n, "guide_weight": guide, "seed": seed, "n_bar_labels":
                       int(sum(got.examples[i].has_bar for i in chosen)), "seconds": secs, "epochs": epochs,
                       "auc": est(c.auc_tuned), "auc_gain": est(c.auc_gain), "rho": est(c.rho_tuned),
                       "rho_gain": est(c.rho_gain)}
                rows.append(row)
                log(f"n={n} guide={guide:g} seed={seed}: AUC {c.auc_tuned.format()} rho {c.rho_tuned.format()} "
                    f"({secs:.0f} s, {epochs} epochs)")
    return {"base": str(base_path), "test": str(test), "n_test": int(len(y)), "n_test_bar": int(y.sum()),
            "pool": str(pool), "settings": settings.to_dict(), "rows": rows}


def run_real(args: argparse.Namespace) -> dict[str, Any]:
    from galaxyscope.finetune.core import FinetuneSettings, ModelScores, compare_scores, score_model
    from galaxyscope.model.checkpoint import load_checkpoint

    dataset = Path(args.galaxy_builder)
    work = Path(args.work) / "real"
    work.mkdir(parents=True, exist_ok=True)
    db = work / "labels.sqlite"
    table, n_sizes = gb_label_table(dataset, work / "gb_labels.csv")
    if not db.exists():
        import_labels(db, table, dataset, "gz2-p_bar>=0.5")
    got, images = labelled(db, dataset)
    base = load_checkpoint(args.base_model or shipped_model(), device="cpu")
    y = np.array([e.has_bar for e in got.examples], bool)
    ref = np.array([e.length_px if e.has_bar and e.length_px else np.nan for e in got.examples], float)
    measure = list(np.isfinite(ref))
    settings = FinetuneSettings(epochs=args.epochs, n_samples=args.samples)
    log(f"Galaxy Builder: {len(y)} labelled ({int(y.sum())} bar, {int(np.isfinite(ref).sum())} with a size)")
    base_scores = score_model(base, images, measure=measure, n_samples=args.samples)
    repeats = []
    for rep in range(args.repeats):
        prob = np.full(len(y), np.nan)
        length = np.full(len(y), np.nan)
        folds = np.zeros(len(y), int)
        rng = np.random.default_rng(50 + rep)
        for cls in (0, 1):  # stratified fold numbers
            idx = rng.permutation(np.flatnonzero(y == bool(cls)))
            folds[idx] = np.arange(len(idx)) % args.folds
        secs = 0.0
        for k in range(args.folds):
            train = np.flatnonzero(folds != k)
            held = np.flatnonzero(folds == k)
            model, s, _ = finetune(base, [images[i] for i in train], [got.examples[i] for i in train],
                                   settings, seed=rep * 100 + k)
            secs += s
            sc = score_model(model, [images[i] for i in held], measure=[measure[i] for i in held],
                             n_samples=args.samples)
            prob[held], length[held] = sc.probability, sc.length_px
        c = compare_scores(base_scores, ModelScores(prob, length), y, ref, n_resamples=args.resamples, seed=rep)
        log(f"repeat {rep}: AUC base {c.auc_base.format()} -> {c.auc_tuned.format()}, gain {c.auc_gain.format()}; "
            f"rho base {c.rho_base.format()} -> {c.rho_tuned.format()} ({secs:.0f} s)")
        repeats.append({"repeat": rep, "seconds": secs, "auc_base": est(c.auc_base), "auc": est(c.auc_tuned),
                        "auc_gain": est(c.auc_gain), "rho_base": est(c.rho_base), "rho": est(c.rho_tuned),
                        "rho_gain": est(c.rho_gain), "n_lengths": c.n_lengths})
    return {"dataset": str(dataset), "n": int(len(y)), "n_bar": int(y.sum()), "n_sizes": n_sizes,
            "folds": args.folds, "base": str(args.base_model or shipped_model()), "settings": settings.to_dict(),
            "repeats": repeats}


# ---------------------------------------------------------------------- report


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = results["synthetic"]["rows"]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for ax, key, title in ((axes[0], "auc", "P(bar) AUC, DECaLS-style test"),
                           (axes[1], "rho", "length Spearman rho, DECaLS-style test")):
        for guide, colour, name in ((1.0, "C0", "guided by drawn bars"), (0.0, "C1", "labels only")):
            pts = [r for r in rows if r["guide_weight"] == guide or r["n_labels"] == 0]
            ns = sorted({r["n_labels"] for r in pts})
            mean = [np.nanmean([r[key]["value"] for r in pts if r["n_labels"] == n]) for n in ns]
            lo = [np.nanmean([r[key]["low"] for r in pts if r["n_labels"] == n]) for n in ns]
            hi = [np.nanmean([r[key]["high"] for r in pts if r["n_labels"] == n]) for n in ns]
            ax.plot(ns, mean, "o-", color=colour, label=name)
            ax.fill_between(ns, lo, hi, color=colour, alpha=0.15)
        ax.set_xlabel("labels used for fine-tuning")
        ax.set_title(title, fontsize=10)
        ax.set_xticks(list(SIZES))
    axes[0].legend(fontsize=8, loc="lower right")
    fig.suptitle("Base model trained on SDSS-style synthetic galaxies; labels from DECaLS-style truth "
                 "(mean over seeds; band: mean 95 % bootstrap interval)", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def markdown(results: dict[str, Any]) -> str:
    def f(e: dict[str, float]) -> str:
        if e["value"] is None or not np.isfinite(e["value"]):
            return "-"
        return f"{e['value']:.2f} [{e['low']:.2f}, {e['high']:.2f}]"

    out = []
    for key in sorted(k for k in results if k.startswith("synthetic")):
        syn = results[key]
        out += ["", f"{key}: fine-tuning {syn['settings']['epochs']} epochs at most, lr {syn['settings']['lr']:g}", "",
                "| labels | guidance | seed | AUC [95 %] | AUC gain | length rho [95 %] | rho gain | fine-tune s |",
                "|---|---|---|---|---|---|---|---|"]
        for r in syn["rows"]:
            out.append(f"| {r['n_labels']} | {r['guide_weight']:g} | {r['seed']} | {f(r['auc'])} | {f(r['auc_gain'])} | "
                       f"{f(r['rho'])} | {f(r['rho_gain'])} | {r['seconds']:.0f} |")
    real = results.get("real")
    if real:
        out += ["", "| repeat | AUC base | AUC fine-tuned (out of fold) | AUC gain | rho base | rho fine-tuned | rho gain | s |",
                "|---|---|---|---|---|---|---|---|"]
        for r in real["repeats"]:
            out.append(f"| {r['repeat']} | {f(r['auc_base'])} | {f(r['auc'])} | {f(r['auc_gain'])} | "
                       f"{f(r['rho_base'])} | {f(r['rho'])} | {f(r['rho_gain'])} | {r['seconds']:.0f} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=("synthetic", "real", "all"), help="which loop to run")
    ap.add_argument("--work", default="/tmp/annotation_loop", help="folder for sets, models and databases")
    ap.add_argument("--json", help="write the numbers here (merged with what is there)")
    ap.add_argument("--plot", help="write the synthetic loop's plot here (PNG)")
    ap.add_argument("--markdown", help="write the tables here")
    ap.add_argument("--size", type=int, default=160, help="synthetic image side in px (default %(default)s)")
    ap.add_argument("--input", type=int, default=64, help="base model input px (default %(default)s)")
    ap.add_argument("--n-base", type=int, default=600, help="SDSS-style training galaxies (default %(default)s)")
    ap.add_argument("--base-epochs", type=int, default=8, help="base model epochs (default %(default)s)")
    ap.add_argument("--n-test", type=int, default=200, help="DECaLS-style test galaxies (default %(default)s)")
    ap.add_argument("--epochs", type=int, default=8, help="fine-tuning epochs (default %(default)s)")
    ap.add_argument("--seeds", type=int, default=2, help="label orders / seeds per size (default %(default)s)")
    ap.add_argument("--samples", type=int, default=16, help="SmoothGrad samples (default %(default)s)")
    ap.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples (default %(default)s)")
    ap.add_argument("--galaxy-builder", default=str(shared_data("galaxy-builder-dev")), help="real set")
    ap.add_argument("--base-model", default=None, help="real loop's base model (default: the shipped one)")
    ap.add_argument("--folds", type=int, default=5, help="cross-validation folds (default %(default)s)")
    ap.add_argument("--repeats", type=int, default=2, help="cross-validation repeats (default %(default)s)")
    ap.add_argument("--tag", default="", help="store the synthetic loop as synthetic_TAG (a variant beside the default)")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    results: dict[str, Any] = {}
    if args.json and Path(args.json).is_file():
        results = json.loads(Path(args.json).read_text())
    t0 = time.perf_counter()
    if args.what in ("synthetic", "all"):
        results["synthetic" + (f"_{args.tag}" if args.tag else "")] = run_synthetic(args)
    if args.what in ("real", "all"):
        results["real"] = run_real(args)
    results["seconds_total_last_run"] = time.perf_counter() - t0
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=float) + "\n")
    if args.plot and "synthetic" in results:
        plot(results, Path(args.plot))
    table = markdown(results)
    if args.markdown:
        Path(args.markdown).write_text(table + "\n")
    print(table)
    log(f"done in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
