"""Time the isophote bar measurement and report how often it fails or finds no bar.

Sets (skipped with a message when missing):
  --gb   Galaxy Builder dev half (catalog.csv: filename, p_bar, bar_Re_px, ...): evaluation only,
         nothing was tuned on it. Spearman of the isophote length vs the volunteers' bar_Re_px
         (where both exist) and the AUC of "a bar was found" vs p_bar >= 0.5.
  --gz   Galaxy Zoo's bar examples (sdss/*.jpg, decals/*.jpg; *_a-0_* barred, *_a-1_* not).

Run: ``.venv/bin/python -m benchmarks.bench_isophote`` from the repository root. Both sets default
under $GALAXYSCOPE_SHARED_DATA (../shared/data beside the checkout; experiments/common.py).
"""

from __future__ import annotations

import argparse
import csv
import math
import time
from pathlib import Path

import numpy as np

from experiments.common import shared_data
from galaxyscope.images.readers import read_image
from galaxyscope.measure.isophote import ISOPHOTE_FAILED, NO_BAR_ISOPHOTE, measure_isophote


def _auc(score: np.ndarray, label: np.ndarray) -> float:
    """ROC AUC (ties count half); NaN if one class is empty."""
    pos, neg = score[label], score[~label]
    if pos.size == 0 or neg.size == 0:
        return math.nan
    gt = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(gt / (pos.size * neg.size))


def run_set(paths: list[Path]) -> list[dict]:
    rows = []
    for path in paths:
        img = read_image(path)
        t0 = time.perf_counter()
        fit = measure_isophote(img)
        dt = time.perf_counter() - t0
        m = fit.measurement
        rows.append(dict(name=path.name, time=dt, length=m.length_px, pa=m.pa_deg, flags=m.flags,
                         reason=fit.reason, size=img.shape[:2]))
    return rows


def summary(name: str, rows: list[dict]) -> str:
    t = np.array([r["time"] for r in rows])
    failed = np.mean([ISOPHOTE_FAILED in r["flags"] for r in rows])
    nobar = np.mean([NO_BAR_ISOPHOTE in r["flags"] for r in rows])
    found = np.mean([math.isfinite(r["length"]) for r in rows])
    return (f"| {name} | {len(rows)} | {np.mean(t):.2f} | {np.median(t):.2f} | {np.max(t):.2f} | "
            f"{failed:.0%} | {nobar:.0%} | {found:.0%} |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gb", default=str(shared_data("galaxy-builder-dev")))
    ap.add_argument("--gz", default=str(shared_data("gz-bar-examples")))
    ap.add_argument("--verbose", action="store_true", help="one line per image")
    args = ap.parse_args(argv)

    table = ["| set | n | mean s/img | median s | max s | isophote_failed | no_bar | bar found |",
             "|---|---|---|---|---|---|---|---|"]
    extra: list[str] = []

    gz = Path(args.gz)
    if gz.is_dir():
        paths = sorted(gz.glob("sdss/*.jpg")) + sorted(gz.glob("decals/*.jpg"))
        rows = run_set(paths)
        table.append(summary("gz-bar-examples", rows))
        barred = np.array(["_a-0_" in r["name"] for r in rows])
        found = np.array([math.isfinite(r["length"]) for r in rows])
        extra.append(f"gz-bar-examples: bar found in {found[barred].sum()}/{barred.sum()} barred and "
                     f"{found[~barred].sum()}/{(~barred).sum()} unbarred examples; "
                     f"AUC(found vs label) = {_auc(found.astype(float), barred):.2f}")
        if args.verbose:
            extra += [f"  {r['name']}: L={r['length']:.1f} PA={r['pa']:.0f} {r['flags']} {r['reason'][:90]}"
                      for r in rows]
    else:
        extra.append(f"gz-bar-examples: skipped ({gz} not found)")

    gb = Path(args.gb)
    cat = gb / "catalog.csv"
    if cat.is_file():
        with open(cat, newline="") as fh:
            recs = list(csv.DictReader(fh))
        paths = [gb / r["filename"] for r in recs]
        rows = run_set(paths)
        table.append(summary("galaxy-builder-dev", rows))
        length = np.array([r["length"] for r in rows])
        p_bar = np.array([float(r["p_bar"]) for r in recs])
        re = np.array([float(r["bar_Re_px"]) if r["bar_Re_px"] else math.nan for r in recs])
        found = np.isfinite(length)
        label = p_bar >= 0.5
        extra.append(f"galaxy-builder-dev: bar found in {found[label].sum()}/{label.sum()} with p_bar >= 0.5 "
                     f"and {found[~label].sum()}/{(~label).sum()} below; AUC(found vs p_bar >= 0.5) = "
                     f"{_auc(found.astype(float), label):.2f}")
        both = found & np.isfinite(re)
        extra.append(f"galaxy-builder-dev: bar_Re_px known for {np.isfinite(re).sum()}, isophote length "
                     f"for {both.sum()} of them; Spearman(length, bar_Re_px) = "
                     f"{_spearman(length[both], re[both]):.2f} (n={both.sum()})")
        if both.sum() >= 2:
            ratio = length[both] / re[both]
            extra.append(f"  length / bar_Re_px: median {np.median(ratio):.2f}, IQR "
                         f"{np.percentile(ratio, 25):.2f}-{np.percentile(ratio, 75):.2f}")
        if args.verbose:
            extra += [f"  {r['name']}: p_bar={p:.2f} Re={e:.1f} L={r['length']:.1f} {r['flags']} {r['reason'][:80]}"
                      for r, p, e in zip(rows, p_bar, re)]
    else:
        extra.append(f"galaxy-builder-dev: skipped ({cat} not found)")

    print("\n".join(table))
    print()
    print("\n".join(extra))
    return 0


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    if a.size < 3:
        return math.nan
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


if __name__ == "__main__":
    raise SystemExit(main())
