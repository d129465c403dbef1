"""Issue 21's show: do the bias flags hold for any model, with only the defaults a user would take?

A grid of configurations - image side (the `galaxyscope synth` default, 424 px, and
212 px), training-set size (600 and 1,500) and the training seed (0, the default,
and 1) in a half-fraction design of four models - each made exactly as a user
would:

    galaxyscope synth TRAIN --n N [--size 212] --seed S --artefact star --artefact-on bar --artefact-fraction 0.7
    galaxyscope train TRAIN --target has_bar --out MODEL [--seed 1] --threads 1
    galaxyscope scan-bias STAR_EVAL --model MODEL --out FLAGS.ecsv --threads 1     # all scan defaults
    galaxyscope scan-bias CLEAN_EVAL --model MODEL --out FLAGS.ecsv --threads 1

STAR_EVAL is a fresh set made like the training set (another seed), CLEAN_EVAL a set
without artefacts. Reported: recall and precision of the flags on STAR_EVAL's star
images (truth: the catalogue's artefact column), the flag rate on CLEAN_EVAL
(targets >= 0.9, >= 0.9, <= 5 %), and the same scans of a model trained on a clean
set. `--threads 1` only caps torch's CPU threads (the machine is shared); it changes
no default.

Seeds: training sets 101-105, evaluation sets 201/202 (star) and 301/302 (clean),
tuning sets 901/902 (star) and 911/912 (clean). Defaults of `galaxyscope.bias.calibrate`
may only be tuned with ``--tune`` (which scans the tuning sets only); the evaluation
sets are scanned with whatever the defaults are. Every step is skipped when its
output exists, so the script can be rerun to finish or to print the table.

    python -m experiments.bias_grid --root /tmp/bias-grid --phase data     # synth sets
    python -m experiments.bias_grid --root /tmp/bias-grid --phase train
    python -m experiments.bias_grid --root /tmp/bias-grid --phase scan --fixed-baseline  # + the report
    python -m experiments.bias_grid --root /tmp/bias-grid --tune           # tuning sets only

The saliency cache and the synthetic reference that `scan-bias` renders go under
ROOT/cache (GALAXYSCOPE_CACHE), so a run starts from nothing a user would not have.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from astropy.table import Table

REPO = Path(__file__).resolve().parents[1]
REPORT_MD = REPO / "docs" / "experiments" / "bias-grid.md"
REPORT_JSON = REPO / "docs" / "experiments" / "bias-grid.json"
DEFAULT_SIDE = 424  # galaxyscope synth's default --size
SHORTCUT = ["--artefact", "star", "--artefact-on", "bar", "--artefact-fraction", "0.7"]
N_EVAL = 100
N_TUNE = 100


@dataclass(frozen=True)
class Config:
    """One model of the grid: image side, training-set size, training seed, planted shortcut or clean."""

    name: str
    side: int
    n: int
    train_seed: int
    data_seed: int
    shortcut: bool = True


CONFIGS: tuple[Config, ...] = (
    Config("s424-n600-seed0", 424, 600, 0, 101),
    Config("s424-n1500-seed1", 424, 1500, 1, 102),
    Config("s212-n600-seed1", 212, 600, 1, 103),
    Config("s212-n1500-seed0", 212, 1500, 0, 104),
    Config("clean-s424-n600-seed0", 424, 600, 0, 105, shortcut=False),
)
EVAL_SEEDS = {424: (201, 301), 212: (202, 302)}  # side -> (star, clean)
TUNE_SEEDS = {424: (901, 911), 212: (902, 912)}


def run(argv: list[str], env: dict[str, str] | None = None, log: Path | None = None) -> float:
    """One galaxyscope command, echoed; returns its wall time. Fails loudly."""
    cmd = [sys.executable, "-m", "galaxyscope", *argv]
    print("$ galaxyscope " + " ".join(argv), flush=True)
    t0 = time.perf_counter()
    out = open(log, "w") if log else None
    try:
        rc = subprocess.run(cmd, env={**os.environ, **(env or {})}, stdout=out, stderr=subprocess.STDOUT if out else None
                            ).returncode
    finally:
        if out:
            out.close()
    dt = time.perf_counter() - t0
    print(f"  ({dt:.0f} s, exit {rc})", flush=True)
    if rc not in (0, 1):
        raise SystemExit(f"galaxyscope {argv[0]} failed with exit code {rc}")
    return dt


def size_args(side: int) -> list[str]:
    return [] if side == DEFAULT_SIDE else ["--size", str(side)]


def synth_set(root: Path, name: str, n: int, seed: int, side: int, shortcut: bool) -> Path:
    d = root / "sets" / name
    if not (d / "catalog.ecsv").exists():
        run(["synth", str(d), "--n", str(n), "--seed", str(seed), *size_args(side), *(SHORTCUT if shortcut else [])])
    return d


def train_set(root: Path, c: Config) -> Path:
    kind = "star" if c.shortcut else "clean"
    return synth_set(root, f"train-{kind}-{c.side}-n{c.n}-seed{c.data_seed}", c.n, c.data_seed, c.side, c.shortcut)


def eval_sets(root: Path, side: int, tune: bool = False) -> tuple[Path, Path]:
    star, clean = (TUNE_SEEDS if tune else EVAL_SEEDS)[side]
    n = N_TUNE if tune else N_EVAL
    what = "tune" if tune else "eval"
    return (synth_set(root, f"{what}-star-{side}-seed{star}", n, star, side, True),
            synth_set(root, f"{what}-clean-{side}-seed{clean}", n, clean, side, False))


def model_path(root: Path, c: Config) -> Path:
    return root / "models" / f"{c.name}.safetensors"


def train(root: Path, c: Config) -> Path:
    out = model_path(root, c)
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        seed = [] if c.train_seed == 0 else ["--seed", str(c.train_seed)]
        dt = run(["train", str(train_set(root, c)), "--target", "has_bar", "--out", str(out), *seed,
                  "--threads", "1", "--quiet"])
        (root / "models" / f"{c.name}.seconds").write_text(f"{dt:.0f}\n")
    return out


def scan(root: Path, c: Config, dataset: Path, extra: list[str] = (), tag: str = "") -> Path:
    out = root / "scans" / f"{c.name}--{dataset.name}{tag}.ecsv"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        run(["scan-bias", str(dataset), "--model", str(model_path(root, c)), "--out", str(out), "--threads", "1",
             "--quiet", *extra], env={"GALAXYSCOPE_CACHE": str(root / "cache")},
            log=out.with_suffix(".log"))
    return out


def detection(flags_path: Path, dataset: Path) -> dict:
    """Recall / precision on the artefact images, the flag rate, flag rates by has_bar and the spot."""
    from galaxyscope.bias.selftest import artefact_detection
    from galaxyscope.bias.summary import associate
    from galaxyscope.synth.dataset import read_catalog

    t = Table.read(flags_path)
    det = artefact_detection([str(f) for f in t["filename"]], [bool(x) for x in t["flagged"]],
                             read_catalog(dataset / "catalog.ecsv"))
    kinds = [str(k) for k in t["kinds"]]
    out = {**asdict(det), "notes": list(t.meta.get("notes", [])),
           "spot_flags": sum("saliency_recurring_spot" in k.split(",") for k in kinds),
           "spot_found": any("recurs in" in n for n in t.meta.get("notes", []))}
    if "has_bar" in t.colnames:
        import numpy as np

        a = associate("has_bar", np.asarray(t["has_bar"], int), np.asarray(t["flagged"], bool))
        out["rate_bar"], out["rate_nobar"] = a.rates[0].rate, a.rates[1].rate
        out["fisher_p"], out["follows_bar"] = a.p_value, a.follows == 1
    return out


def row_for(root: Path, c: Config, tune: bool = False, extra: list[str] = (), tag: str = "") -> dict:
    star, clean = eval_sets(root, c.side, tune)
    s = detection(scan(root, c, star, extra, tag), star)
    k = detection(scan(root, c, clean, extra, tag), clean)
    secs = root / "models" / f"{c.name}.seconds"
    return {"config": asdict(c), "recall": s["recall"], "precision": s["precision"], "star_flagged": s["n_flagged"],
            "n_star_images": s["n_artefact"], "n_star_set": s["n_images"],
            "star_set_no_artefact_rate": s["flag_rate_no_artefact"], "clean_flag_rate": k["flag_rate"],
            "n_clean": k["n_images"], "star_notes": s["notes"], "clean_notes": k["notes"],
            "star_spot_found": s["spot_found"], "clean_spot_found": k["spot_found"], "star_spot_flags": s["spot_flags"],
            "star_rate_bar": s.get("rate_bar"), "star_rate_nobar": s.get("rate_nobar"),
            "star_fisher_p": s.get("fisher_p"), "star_flags_follow_bar": s.get("follows_bar"),
            "train_seconds": float(secs.read_text()) if secs.exists() else math.nan,
            "meets": bool(s["recall"] >= 0.9 and s["precision"] >= 0.9 and k["flag_rate"] <= 0.05)
            if c.shortcut else None}


def fmt(x: float, pct: bool = False) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{100 * x:.1f} %" if pct else f"{x:.3f}"


def report(root: Path, rows: list[dict]) -> None:
    REPORT_JSON.write_text(json.dumps({"rows": rows, "tuning": TUNING}, indent=2, default=float) + "\n")
    lines = [
        "# Bias flags across models (issue 21)",
        "",
        "Generated by `python -m experiments.bias_grid --root ROOT` (its docstring lists every command). Each",
        "model is made with the defaults a user would take, and `scan-bias` runs with all its defaults:",
        "",
        "```bash",
        "galaxyscope synth TRAIN --n N [--size 212] --seed S --artefact star --artefact-on bar --artefact-fraction 0.7",
        "galaxyscope train TRAIN --target has_bar --out MODEL.safetensors [--seed 1] --threads 1 --quiet",
        "galaxyscope synth STAR_EVAL --n 100 [--size 212] --seed 201|202 --artefact star --artefact-on bar --artefact-fraction 0.7",
        "galaxyscope synth CLEAN_EVAL --n 100 [--size 212] --seed 301|302",
        "GALAXYSCOPE_CACHE=ROOT/cache galaxyscope scan-bias STAR_EVAL --model MODEL.safetensors --out FLAGS.ecsv --threads 1 --quiet",
        "GALAXYSCOPE_CACHE=ROOT/cache galaxyscope scan-bias CLEAN_EVAL --model MODEL.safetensors --out FLAGS.ecsv --threads 1 --quiet",
        "```",
        "",
        "The scan's defaults: thresholds from a clean synthetic reference of 200 galaxies that `scan-bias`",
        "renders itself at the scanned images' side (seed 7654321, apart from every set here), family-wise",
        "at the level where at most 1 % of the reference would be flagged by any per-image rule, plus the",
        "recurring-spot rule (saliency on other sources piling up in one place of the model's view across",
        "the set, beyond the reference there). `--threads 1` only caps torch's threads (shared machine).",
        "Targets (issue 21): recall and precision >= 0.9 on the star images of a fresh star set, <= 5 % of",
        "a clean set flagged. Truth: the synthetic catalogue's `artefact` column.",
        "",
        "| model | image side | training set | train seed | recall | precision | star set flagged | "
        "clean set flagged | spot found (star / clean set) | targets met |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        c = r["config"]
        kind = "star shortcut" if c["shortcut"] else "**clean**"
        met = "-" if r["meets"] is None else ("yes" if r["meets"] else "**no**")
        spot = f"{'yes' if r.get('star_spot_found') else 'no'} / {'yes' if r.get('clean_spot_found') else 'no'}"
        lines.append(f"| {c['name']} | {c['side']} px | {c['n']} ({kind}) | {c['train_seed']} | {fmt(r['recall'])} | "
                     f"{fmt(r['precision'])} | {r['star_flagged']} of {r['n_star_set']} "
                     f"({r['n_star_images']} carry the star) | {fmt(r['clean_flag_rate'], True)} of {r['n_clean']} | "
                     f"{spot} | {met} |")
    base = [r for r in rows if r.get("fixed")]
    if base:
        lines += ["", "The same scans with the old fixed thresholds (`scan-bias --thresholds fixed`), for comparison:",
                  "", "| model | recall | precision | clean set flagged |", "|---|---|---|---|"]
        for r in base:
            f = r["fixed"]
            lines.append(f"| {r['config']['name']} | {fmt(f['recall'])} | {fmt(f['precision'])} | "
                         f"{fmt(f['clean_flag_rate'], True)} |")
    shortcut = [r for r in rows if r["config"]["shortcut"]]
    met = [r for r in shortcut if r["meets"]]
    lines += ["", f"**{len(met)} of {len(shortcut)} shortcut models meet all three targets.**"]
    for r in shortcut:
        if r["meets"]:
            continue
        misses = []
        if not r["recall"] >= 0.9:
            misses.append(f"recall {fmt(r['recall'])}")
        if not r["precision"] >= 0.9:
            fp = r["star_flagged"] - round(r["recall"] * r["n_star_images"])
            misses.append(f"precision {fmt(r['precision'])} ({fp} of {r['star_flagged']} flags on images without "
                          f"the star)")
        if not r["clean_flag_rate"] <= 0.05:
            misses.append(f"clean flag rate {fmt(r['clean_flag_rate'], True)}")
        lines.append(f"- {r['config']['name']} misses: {'; '.join(misses)}.")
    clean = [r for r in rows if not r["config"]["shortcut"]]
    for r in clean:
        lines.append(f"- The model trained on clean data ({r['config']['name']}) is not flagged the same way: "
                     f"{r['star_flagged']} of the star set's {r['n_star_set']} images flagged, "
                     f"{'a' if r.get('star_spot_found') else 'no'} recurring spot, "
                     f"{fmt(r['clean_flag_rate'], True)} of the clean set.")
    lines += ["", LIMITS]
    lines += ["", "Flag rate of the star set by class (the per-class summary `scan-bias` prints, with its Fisher "
              "test):", "", "| model | barred | unbarred | Fisher p | flags follow has_bar=1 |", "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['config']['name']} | {fmt(r.get('star_rate_bar'), True)} | "
                     f"{fmt(r.get('star_rate_nobar'), True)} | "
                     f"{'-' if r.get('star_fisher_p') is None else format(r['star_fisher_p'], '.1e')} | "
                     f"{'yes' if r.get('star_flags_follow_bar') else 'no'} |")
    lines += ["", "Set-level notes the scans printed:", ""]
    for r in rows:
        for n in r["star_notes"]:
            lines.append(f"- {r['config']['name']}, star set: {n}")
        for n in r["clean_notes"]:
            lines.append(f"- {r['config']['name']}, clean set: {n}")
    lines += ["", "## The self-test on one of these models", "", SELFTEST_TEXT]
    lines += ["", "## Tuning (separate sets)", "", TUNING_TEXT, ""]
    REPORT_MD.write_text("\n".join(lines) + "\n")
    print(f"wrote {REPORT_MD} and {REPORT_JSON}")


LIMITS = (
    "Limits of this grid: it is a half fraction of the 2 x 2 x 2 design (four shortcut models: each image side "
    "with each training-set size once, the training seed alternating), run on a shared 2-core machine with "
    "torch on one thread; each image side has one star set and one clean set of 100 images (35 carry the star), "
    "shared by the models of that side, so one false alarm moves precision by about 0.025 and the clean flag "
    "rate by 1 point. The per-image rules' false alarms (about 1-5 % of clean galaxies; the family-wise 1 % "
    "level sits at or near each rule's maximum on a 200-image reference) are what kept precision near 0.9; in a "
    "set where the recurring spot is found they now need 1.5 x their threshold outside the spot; the "
    "recurring-spot rule alone finds the star images.")


SELFTEST_TEXT = """`galaxyscope scan-bias --selftest` renders its own star and clean sets (seeds 4242001/4242002,
apart from the grid's) and scans them as a scan of the user's images would be scanned. On
s212-n600-seed1 (run by hand, not by this script; the note lines trimmed):

```
$ galaxyscope scan-bias --selftest --model s212-n600-seed1.safetensors --selftest-size 212 --threads 1 --quiet
planted-shortcut self-test (reference thresholds)
  star set (.../bias-selftest/star-212px-n100-seed4242001): 35 of 100 images carry the star; 36 flagged, 35 of them with the star
  recall 1.000 (35/35)  precision 0.972 (35/36)  (flag rate of the star set's images without a star 1.5 %)
  clean set (.../bias-selftest/clean-212px-n100-seed4242002): 5.0 % of 100 images flagged
  targets: recall >= 0.9, precision >= 0.9, clean flag rate <= 5 %: met
  note: star set: 3 image(s) outside the recurring spot crossed a per-image threshold by less than 1.5 x: not flagged, ...
```

(exit status 0. Before the 1.5 x rule for per-image flags in a set with a recurring spot, the same run
gave 39 flagged, precision 0.897 (35/39), and exit status 1.)"""


#: what the defaults were tuned on and how they did there (tuning sets only; see the module docstring)
TUNING = {
    "sets": {"424": "tune-star-424-seed901 (n=100, 35 with the star) and tune-clean-424-seed911 (n=100), "
                    "model s424-n600-seed0",
             "212": "tune-star-212-seed902 (n=100, 35 with the star) and tune-clean-212-seed912 (n=100), "
                    "model s212-n600-seed1"},
    "per_rule_99th_only_424": {"recall": 0.23, "precision": 0.57},
    "before_spot_set_factor_424": {"recall": 1.00, "precision": 0.88, "clean_flag_rate": 0.03},
    "before_spot_set_factor_212": {"recall": 0.97, "precision": 0.94, "clean_flag_rate": 0.02},
    "tried_quantile_0.995": "no change (424 px 0.875, 212 px 0.944): the thresholds already sit above the reference's maxima",
    "tried_spot_set_factor": {"1.25": {"precision_424": 0.921, "precision_212": 1.00},
                              "1.5": {"precision_424": 0.946, "precision_212": 1.00},
                              "2": {"precision_424": 0.946, "precision_212": 1.00},
                              "inf": {"precision_424": 0.946, "precision_212": 1.00}},
    "final_424": {"recall": 1.00, "precision": 0.946, "clean_flag_rate": 0.03},
    "final_212": {"recall": 0.97, "precision": 1.00, "clean_flag_rate": 0.02},
}
TUNING_TEXT = (
    "Every choice was made on tuning sets (seeds 901/911 at 424 px with model s424-n600-seed0, 902/912 at 212 px "
    "with s212-n600-seed1; 35 of each 100-image star set carry the star), never on the sets reported above. "
    "With per-rule 99th percentiles of the reference alone the flags found 8 of 35 star images at 424 px "
    "(recall 0.23, precision 0.57): the planted star draws a median 16 % of the saliency, a random field star "
    "on a clean galaxy up to 35 %, so no per-image threshold separates them. What separates them is that the "
    "planted star recurs in one place. The recurring-spot rule was first built on all off-galaxy saliency (424 px: "
    "recall 0.97, precision 0.85; but at 212 px the model's diffuse sky saliency drowned the spot: recall 0.03), "
    "then on the saliency on other sources only; tried: z 3/4/6, growing the spot by 0/1 cells, thresholds "
    "median + 2-8 MAD and margins 0.03/0.05/0.08/0.12; chosen: z 3, grow 1, median + 5 MAD but at least 0.05. "
    "The per-image rules were made family-wise (at most 1 % of the reference flagged by any rule; tried levels "
    "0.98-0.998). With these the tuning sets gave 424 px recall 1.00, precision 0.88, 3 % of the clean set "
    "flagged; 212 px recall 0.97, precision 0.94, 2 %. Of the star sets' false alarms, 5 of 7 were per-image "
    "flags (424 px: 2 off the galaxy, 1 on the border; 212 px: 1 offset, 1 on the border), each on an image "
    "outside the recurring spot and within 1.02-1.33 x its threshold, which already sat just above the "
    "reference's maximum (so a stricter family-wise level, tried: --quantile 0.995, changed nothing); the star "
    "images' own per-image flags stood 7-11 x above theirs. Chosen (issue 21, precision): in a set where the "
    "recurring-spot rule fired, an image the spot does not flag keeps a per-image flag only at 1.5 x its "
    "threshold or more (the set is shown not to be like the reference, so a value just past its extreme is weak "
    "evidence; a note says how many were dropped); clean sets, where no spot is found, are judged as before. "
    "Tried factors 1.25 / 1.5 / 2 / infinite (per-image flags must agree with the spot): 424 px precision "
    "0.921 / 0.946 / 0.946 / 0.946, 212 px 1.00 for all; 1.5 is the smallest that drops them all and leaves a "
    "blatant second placement flagged. Final defaults on the tuning sets: 424 px recall 1.00, precision 0.946 "
    "(the 2 left are spot flags on images without the star), 3 % of the clean set flagged; 212 px recall 0.97, "
    "precision 1.00, 2 %.")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", type=Path, required=True, help="folder for sets, models, scans and the cache")
    ap.add_argument("--phase", default="all", help="data, train, scan or all (comma-separated)")
    ap.add_argument("--configs", help="comma-separated config names (default: all)")
    ap.add_argument("--tune", action="store_true", help="scan the tuning sets only (never the evaluation sets)")
    ap.add_argument("--no-report", action="store_true", help="do not rewrite docs/experiments/bias-grid.*")
    ap.add_argument("--fixed-baseline", action="store_true", help="also scan with --thresholds fixed (the old rules)")
    args = ap.parse_args(argv)
    phases = {p.strip() for p in args.phase.split(",")}
    if "all" in phases:
        phases = {"data", "train", "scan"}
    configs = [c for c in CONFIGS if not args.configs or c.name in args.configs.split(",")]
    if "data" in phases:
        for c in configs:
            train_set(args.root, c)
        for side in sorted({c.side for c in configs}, reverse=True):
            eval_sets(args.root, side, tune=args.tune)
    if "train" in phases:
        for c in configs:
            train(args.root, c)
    if "scan" in phases:
        rows = [row_for(args.root, c, tune=args.tune) for c in configs if model_path(args.root, c).exists()]
        if args.fixed_baseline:
            for r, c in zip(rows, [c for c in configs if model_path(args.root, c).exists()]):
                b = row_for(args.root, c, tune=args.tune, extra=["--thresholds", "fixed"], tag="-fixed")
                r["fixed"] = {k: b[k] for k in ("recall", "precision", "clean_flag_rate", "star_flagged")}
        for r in rows:
            print(json.dumps({k: v for k, v in r.items() if not k.endswith("notes")}, default=float))
        if not args.tune and not args.no_report:
            report(args.root, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
