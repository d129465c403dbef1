"""Real-galaxy evaluation in one command: before (fixed crop, no gate) and after (galaxy framing, gate, flags).

    python -m benchmarks.eval_real                      # writes docs/evaluation-real.md
    python -m benchmarks.eval_real --synthetic $GALAXYSCOPE_DATA/eval400   # plus the synthetic test set

Sets: ``$GALAXYSCOPE_SHARED_DATA/galaxy-builder-dev`` (89 SDSS r-band galaxies, GZ2 p_bar, bar_Re_px
for 19), ``$GALAXYSCOPE_SHARED_DATA/gz-bar-examples`` (22 examples: a-0 barred, a-1 not; the variable
defaults to ../shared/data beside the checkout, see experiments/common.py) and,
optionally, a synthetic test set made by ``galaxyscope synth DIR --n 400 --seed 2026
--bar-fraction 0.6`` (lengths judged on measurable bars: has_bar and simulated
t03_bar_a06_bar_fraction >= 0.5). A missing set is skipped with a message.

Numbers, each with a bootstrap 95 % interval:
- P(bar) AUC (barred: p_bar >= 0.5, or the label);
- the share of clearly unbarred galaxies (p_bar < 0.2, or label 0) given a length
  *without any flag*, and given any length at all;
- Spearman rho of each method's reported lengths against the reference (bar_Re_px on
  Galaxy Builder, the true length on synthetic), beside the size baseline (r90_px alone).

The P(bar) threshold and the framing were chosen on the synthetic validation set and on
galaxy-builder-dev (tools/calibrate_real.py): the numbers on galaxy-builder-dev are
development numbers, not a test; the kept-back half is the test.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from experiments.common import REPO as ROOT
from experiments.common import DATA_NOTE, display_path, measurable_bars, shared_data, shipped_model
from galaxyscope.evaluate.classification import Estimate, auc_interval, share_interval
from galaxyscope.evaluate.metrics import compute_metrics
from galaxyscope.images.imageset import ImageSet
from galaxyscope.jobs.measure_job import measure_dataset
from galaxyscope.model.checkpoint import load_checkpoint
from galaxyscope.model.framing import set_framing

METHODS = ("paper", "moments", "isophote")
NEW_FLAGS = {"no_bar", "out_of_domain", "methods_disagree"}

READING = """How to read the tables: "unbarred with an unflagged length" counts clearly unbarred galaxies
(p_bar < 0.2, or label 0) given a length with no flag at all; "any length" ignores flags (for the
saliency methods that is the gate alone). Spearman rho uses the rows with both a reported length and a
reference (on Galaxy Builder only 19 galaxies have a bar size, bar_Re_px; the few saliency lengths left
after the gate give no usable rho). The size baseline is r90_px alone against the same reference. Every
Galaxy Builder image is greyscale, so every saliency length there is also flagged `out_of_domain`.
`isophote` rows are not gated by P(bar) (no network); an isophote bar where the network's P(bar) is below
the gate carries `methods_disagree`. A synthetic set of measurable bars and unbarred galaxies only has a
higher AUC than one with all bars. Isophote speed and failure rates: `python -m benchmarks.bench_isophote`."""


def labels_for(name: str, image_set, filenames) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """(barred, clearly unbarred, reference columns) per filename of the results table."""
    cat = image_set.catalogue
    row_of = {e.key: e.row_index for e in image_set.entries}
    rows = np.array([row_of[str(f)] for f in filenames])

    def col(name: str) -> np.ndarray:  # empty catalogue cells are masked: NaN, never a fill value
        return np.ma.filled(np.ma.asarray(cat[name], dtype=float), np.nan)[rows]

    if cat is not None and "p_bar" in cat.colnames:
        p = col("p_bar")
        ref = {"bar_Re_px": col("bar_Re_px"), "r90_px": col("r90_px")}
        return p >= 0.5, p < 0.2, ref
    if cat is not None and "bar_length_px" in cat.colnames:
        has = np.asarray(cat["has_bar"], bool)[rows]
        vote = col("t03_bar_a06_bar_fraction")
        ref = {"bar_length_px": np.where(measurable_bars(has, vote), col("bar_length_px"), np.nan),
               "r90_px": col("r90_px")}
        return has, ~has, ref
    barred = np.array(["_a-0_" in str(f) for f in filenames])
    return barred, ~barred, {}


def run_config(model, image_set, config: str, samples: int) -> "Table":  # noqa: F821
    set_framing(model, "fixed" if config == "before" else "galaxy")
    if config == "before":  # the first release: saliency methods only, no gate, no cross-check
        return measure_dataset(image_set, model, methods=METHODS[:2], n_samples=samples,
                               min_bar_probability=0.0, check_agreement=False).table
    return measure_dataset(image_set, model, methods=METHODS, n_samples=samples).table


def trusted(flags: str, config: str) -> bool:
    names = {f for f in str(flags).split(",") if f and f != "--"}
    if config == "before":  # the first release had none of the new flags
        names -= NEW_FLAGS
    return not names


def evaluate(name: str, image_set, table, config: str) -> dict:
    out: dict = {"set": name, "config": config}
    first = table[table["method"] == "moments"]
    barred, unbarred, ref = labels_for(name, image_set, first["filename"])
    out["auc"] = auc_interval(np.asarray(first["bar_score"], float), barred)
    out["n_images"] = len(first)
    for method in METHODS:
        t = table[table["method"] == method]
        if len(t) == 0:
            continue
        b, un, r = labels_for(name, image_set, t["filename"])
        length = np.asarray(t["bar_length_px"], float)
        has_len = np.isfinite(length)
        ok = has_len & np.array([trusted(f, config) for f in t["flags"]])
        out[f"{method}_unbarred_unflagged"] = share_interval(ok[un])
        out[f"{method}_unbarred_any_length"] = share_interval(has_len[un])
        out[f"{method}_barred_reported"] = share_interval(has_len[b])
        for col in ("bar_Re_px", "bar_length_px"):
            if col in r:
                m = compute_metrics(length, r[col], n_resamples=2000)
                out[f"{method}_rho"] = Estimate(m.spearman_rho.value, m.spearman_rho.low, m.spearman_rho.high, m.n)
                if col == "bar_length_px":  # a tip-to-tip truth: the reported length's scale can be judged
                    e = m.median_rel_err
                    out[f"{method}_mre"] = Estimate(e.value, e.low, e.high, m.n)
                if method == METHODS[0]:
                    s = compute_metrics(r["r90_px"], r[col], n_resamples=2000)  # size alone, all rows with a reference
                    out["size_rho"] = Estimate(s.spearman_rho.value, s.spearman_rho.low, s.spearman_rho.high, s.n)
    return out


def markdown(results: list[dict], meta: dict) -> str:
    lines = ["# Real-galaxy evaluation", "",
             "Made by `python -m benchmarks.eval_real" + (f" --synthetic {meta['synthetic']}" if meta.get("synthetic") else "")
             + f"` ({meta['date']}, {meta['seconds']:.0f} s, SmoothGrad N = {meta['samples']}). " + DATA_NOTE,
             "**before**: fixed central crop, no P(bar) gate, the first release's flags. "
             "**after**: galaxy framing (crop = frame_r90 x measured R90), P(bar) gate at the model's "
             f"threshold ({meta['threshold']:.2f}), `out_of_domain` and `methods_disagree` flags.",
             "Intervals: bootstrap 95 %. The threshold and the framing were chosen on the synthetic validation "
             "set and galaxy-builder-dev (tools/calibrate_real.py), so galaxy-builder-dev numbers are development "
             "numbers, not a test. Synthetic lengths are judged on measurable bars only (simulated GZ2 bar vote >= 0.5).",
             "", READING, ""]
    for r in results:
        lines.append(f"## {r['set']} — {r['config']} ({r['n_images']} images)")
        lines.append("")
        lines.append(f"P(bar) AUC: {r['auc'].format()}")
        if "size_rho" in r:
            lines.append(f"; size baseline (r90_px alone) Spearman rho: {r['size_rho'].format()}")
        lines.append("")
        lines.append("| method | unbarred with an unflagged length | unbarred with any length | barred given a length "
                     "| Spearman rho vs reference | median relative length error |")
        lines.append("|---|---|---|---|---|---|")
        for m in METHODS:
            if f"{m}_unbarred_unflagged" not in r:
                continue
            rho = r.get(f"{m}_rho")
            lines.append(f"| {m} | {r[f'{m}_unbarred_unflagged'].format(percent=True)} | "
                         f"{r[f'{m}_unbarred_any_length'].format(percent=True)} | "
                         f"{r[f'{m}_barred_reported'].format(percent=True)} | {rho.format() if rho else 'no reference'} | "
                         f"{r[f'{m}_mre'].format(percent=True) if f'{m}_mre' in r else '—'} |")
        lines.append("")
    lines.append("Pictures of the window before and after: [real-window.md](real-window.md).")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=str(shipped_model()))
    ap.add_argument("--galaxy-builder", default=str(shared_data("galaxy-builder-dev")))
    ap.add_argument("--examples", default=str(shared_data("gz-bar-examples")))
    ap.add_argument("--synthetic", help="synthetic TEST set (e.g. $GALAXYSCOPE_DATA/eval400)")
    ap.add_argument("--samples", type=int, default=50)
    ap.add_argument("--out", default=str(ROOT / "docs/evaluation-real.md"))
    ap.add_argument("--tables", help="also write each measurement table here (ECSV), to re-check the numbers")
    args = ap.parse_args(argv)

    t0 = time.time()
    model = load_checkpoint(args.model)
    threshold = float(model.meta.min_bar_probability or 0.5)
    sets = [("galaxy-builder-dev", args.galaxy_builder), ("gz-bar-examples", args.examples)]
    if args.synthetic:
        sets.append(("synthetic " + Path(args.synthetic).name, args.synthetic))
    results = []
    for name, path in sets:
        if not Path(path).exists():
            print(f"skipping {name}: {path} not found", file=sys.stderr)
            continue
        image_set = ImageSet.open(path)
        for config in ("before", "after"):
            table = run_config(model, image_set, config, args.samples)
            if args.tables:
                Path(args.tables).mkdir(parents=True, exist_ok=True)
                table.write(Path(args.tables) / f"{Path(path).stem}_{config}.ecsv", overwrite=True)
            r = evaluate(name, image_set, table, config)
            results.append(r)
            print(f"{name} {config}: AUC {r['auc'].format()}; moments unbarred unflagged "
                  f"{r['moments_unbarred_unflagged'].format(percent=True)}", flush=True)
    meta = {"date": time.strftime("%Y-%m-%d"), "seconds": time.time() - t0, "samples": args.samples,
            "threshold": threshold, "synthetic": display_path(args.synthetic) if args.synthetic else None}
    Path(args.out).write_text(markdown(results, meta))
    js = [{k: (v.__dict__ if isinstance(v, Estimate) else v) for k, v in r.items()} for r in results]
    Path(args.out).with_suffix(".json").write_text(json.dumps({"meta": meta, "results": js}, indent=1, default=str))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
