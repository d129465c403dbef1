"""Evaluate the shipped engine on a held-out synthetic set and on real galaxies, in one run.

Run (numbers go to the model card and the README):

    galaxyscope synth $GALAXYSCOPE_DATA/test600 --n 600 --seed 8888 --bar-fraction 0.8
    python -m experiments.exp_saliency reference --train $GALAXYSCOPE_DATA/train4k --val $GALAXYSCOPE_DATA/val300 \
        --test $GALAXYSCOPE_DATA/test600 --work $GALAXYSCOPE_DATA/exp20      # optional: the upper reference
    python -m experiments.eval_engine --data $GALAXYSCOPE_DATA/test600 --bar-evidence \
        --extra $GALAXYSCOPE_DATA/exp20/masknet_test.ecsv --out docs/evaluation.md

``--bar-evidence`` also measures the barred galaxies with the opt-in ``bar_evidence`` attribution
(no gate; the catalogue cut to them is written as DATA/catalog_barred.ecsv) and judges that table
beside the others.

``--data`` defaults to $GALAXYSCOPE_DATA/test600 (see experiments/common.py); results tables
go to ``--work`` (default DATA/eval). Seed 8888 is used by no tuning step and no test.

Lengths are judged on measurable bars (has_bar and simulated GZ2 bar vote >= 0.5, issue 20's
yardstick) and, beside them, on all barred galaxies. Every row carries its bootstrap 95 %
interval, rho of length / r90 (what is known beyond the galaxy's size) and the cross-validated
galaxy-size and constant baselines (the seed's warning: multiplying by galaxy size alone makes
r ~ 0.7 for a constant prediction). ``--extra`` adds other results tables (the mask-trained
upper reference) to the same table.

Real galaxies, in the same report (skipped with a message when ``$GALAXYSCOPE_SHARED_DATA`` lacks
them): P(bar) AUC with bootstrap intervals on the 22 Galaxy Zoo examples and on galaxy-builder-dev
(GZ2 ``p_bar >= 0.5`` against ``< 0.2``), and galaxy-builder-dev's real bar sizes: Spearman rho of
each attribution's ``moments`` length (measured by ``galaxyscope measure``, no gate) against the
volunteers' ``bar_Re_px`` (19 galaxies), and of length / r90, beside galaxy size alone. These are
development sets (the other halves are kept back): they guide, they do not test.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import time
from pathlib import Path

import numpy as np

from experiments.common import (DATA_NOTE, MEASURABLE_VOTE, REPO, add_data_option, display_path, measurable_bars,
                                shared_data)


def run_cli(*argv: str) -> str:
    from galaxyscope.cli import main

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(list(argv))
    if rc != 0:
        raise SystemExit(f"galaxyscope {' '.join(argv)} failed with {rc}")
    return buf.getvalue()


def fmt(m: dict, key: str) -> str:
    v = m.get(key)
    ci = (m.get("intervals") or {}).get(key)
    if v is None:
        return "undefined"
    if ci and ci[0] is not None:
        return f"{v:.2f} [{ci[0]:.2f}, {ci[1]:.2f}]"
    return f"{v:.2f}"


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    from galaxyscope.model.val_metrics import binary_auc

    return float(binary_auc(scores.astype(float), labels.astype(bool)))


MEASURABLE = f"t03_bar_a06_bar_fraction >= {MEASURABLE_VOTE}"


def with_column(table_path: Path, out: Path, name: str, values_of) -> Path:
    """A copy of a results table with one more column (e.g. calibrated lengths without the gate)."""
    from astropy.table import Table

    t = Table.read(table_path, format="ascii.ecsv")
    t[name] = values_of(t)
    t.write(out, format="ascii.ecsv", overwrite=True)
    return out


def evaluate_rows(table: Path, method: str, column: str, cat: Path, where: str | None, plot: Path) -> dict:
    """``galaxyscope evaluate --json`` in pixels (with the size baselines) and divided by r90."""
    out = {}
    for norm in (False, True):
        argv = ["evaluate", "--measured", str(table), "--reference", str(cat), "--column", column,
                "--reference-column", "bar_length_px", "--method", method, "--json",
                "--plot", str(plot.with_name(plot.stem + ("_norm" if norm else "") + ".png"))]
        argv += ["--normalise-by", "r90_px"] if norm else ["--size-column", "r90_px"]
        argv += ["--where", where] if where else []
        out[norm] = json.loads(run_cli(*argv))
    return out


def measure_bar_evidence(data: Path, cat: Path, work: Path, model: str, samples: int) -> list[Path]:
    """``moments`` lengths of the barred galaxies on ``bar_evidence`` maps, no gate, as results
    tables in ``work``: as `galaxyscope measure` reports them (the settings and scale of the model's
    ``moments@bar_evidence`` calibration) and, beside, raw at the library's ``moments`` defaults
    (what the attribution was measured with before its calibration carried settings)."""
    from astropy.table import Table

    from galaxyscope.images.imageset import ImageSet
    from galaxyscope.jobs.common import resolve_model
    from galaxyscope.jobs.measure_job import measure_dataset
    from galaxyscope.measure.params import MomentsParams
    from galaxyscope.saliency.cache import SaliencyCache

    t = Table.read(cat, format="ascii.ecsv")
    cut = data / "catalog_barred.ecsv"
    t[np.asarray(t["has_bar"], bool)].write(cut, format="ascii.ecsv", overwrite=True)
    out = work / "bar_evidence_barred.ecsv"
    run_cli("measure", str(cut), "--model", model, "--method", "moments", "--attribution", "bar_evidence",
            "--samples", str(samples), "--min-bar-probability", "0", "--no-agreement", "--quiet", "--out", str(out))
    defaults = work / "bar_evidence_barred_library_defaults.ecsv"
    report = measure_dataset(ImageSet.open(cut), resolve_model(model), methods=("moments",), attribution="bar_evidence",
                             n_samples=samples, cache=SaliencyCache(), options={"moments": MomentsParams()},
                             min_bar_probability=0.0, calibrate_lengths=False, check_agreement=False)
    report.table.meta["settings"] = "library defaults, raw"
    report.table.write(defaults, format="ascii.ecsv", overwrite=True)
    return [out, defaults]


def real_galaxies(model_path: str, model, attributions: list[str], work: Path, samples: int) -> list[str]:
    """The report's real-galaxy section (see the module docstring), as markdown lines."""
    from astropy.table import Table

    from galaxyscope.evaluate.classification import auc_interval
    from galaxyscope.evaluate.metrics import compute_metrics
    from galaxyscope.images.imageset import ImageSet
    from galaxyscope.resources import sample_path

    lines = ["## Real galaxies (development sets: the kept-back halves test)", ""]
    gz = ImageSet.open(sample_path("gz-bar-examples"))
    probs = model.predict([im for _, im in gz.iter_images()])[:, model.output_index(None)]
    labels = np.asarray(gz.column("has_bar"), bool)
    surveys = np.asarray(gz.column("survey"))
    lines.append("- P(bar) AUC, the 22 Galaxy Zoo examples: " + auc_interval(probs, labels).format(3) + "; "
                 + ", ".join(f"{k} {auc_interval(probs[surveys == k], labels[surveys == k]).format(2)}"
                             for k in sorted(set(surveys))))
    gb_dir = shared_data("galaxy-builder-dev")
    if not (gb_dir / "catalog.csv").exists():
        lines += [f"- galaxy-builder-dev: not found at `{display_path(gb_dir)}` (set $GALAXYSCOPE_SHARED_DATA)", ""]
        return lines
    cat = Table.read(gb_dir / "catalog.csv", format="ascii.csv")
    files = [str(f) for f in cat["filename"]]
    p_bar = np.ma.filled(np.ma.asarray(cat["p_bar"], float), np.nan)
    ref = np.ma.filled(np.ma.asarray(cat["bar_Re_px"], float), np.nan)
    r90 = np.asarray(cat["r90_px"], float)
    sized = np.isfinite(ref)
    rows: dict[str, np.ndarray] = {}
    for att in attributions:
        out = work / f"galaxy_builder_dev_{att}.ecsv"
        run_cli("measure", str(gb_dir), "--model", model_path, "--method", "moments", "--attribution", att,
                "--samples", str(samples), "--min-bar-probability", "0", "--no-agreement", "--quiet",
                "--out", str(out))
        t = Table.read(out, format="ascii.ecsv")
        by_file = {str(f): k for k, f in enumerate(t["filename"])}
        pick = lambda col: np.array([float(t[col][by_file[f]]) if f in by_file else np.nan  # noqa: E731
                                     for f in files])
        rows[f"`moments` on {att} maps (calibrated, no gate)"] = pick("bar_length_px")
        if att == attributions[0]:
            score = pick("bar_score")
            keep = (p_bar >= 0.5) | (p_bar < 0.2)
            lines.append(f"- P(bar) AUC, galaxy-builder-dev (p_bar >= 0.5 against < 0.2): "
                         + auc_interval(score[keep], p_bar[keep] >= 0.5).format(3))
    rows["galaxy size alone (r90_px)"] = r90
    lines += ["", f"Real bar sizes: galaxy-builder-dev's volunteers' bar effective radius `bar_Re_px` "
              f"({int(sized.sum())} galaxies); rho is scale-free, so the calibration does not enter it.", "",
              "| length | Spearman ρ | ρ of length / r90 | n |", "|---|---|---|---|"]
    for label, L in rows.items():
        m = compute_metrics(L[sized], ref[sized])
        mn = compute_metrics(L[sized] / r90[sized], ref[sized] / r90[sized])
        ci = lambda x: f"{x.value:.2f} [{x.low:.2f}, {x.high:.2f}]"  # noqa: E731
        lines.append(f"| {label} | {ci(m.spearman_rho)} | "
                     f"{ci(mn.spearman_rho) if 'size alone' not in label else '-'} | {m.n} |")
    return lines + [""]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_data_option(ap, "--data", "test600", "held-out synthetic TEST set")
    ap.add_argument("--model", default="resources/models/default.safetensors")
    ap.add_argument("--regressor", default="resources/models/bar_length_regressor.safetensors")
    ap.add_argument("--samples", type=int, default=50)
    ap.add_argument("--extra", action="append", default=[], type=Path,
                    help="another results table to judge beside the engine's (e.g. `experiments.exp_saliency reference`'s)")
    ap.add_argument("--bar-evidence", action="store_true",
                    help="also judge the bar_evidence attribution on the barred galaxies (no gate)")
    ap.add_argument("--out", default=str(REPO / "docs/evaluation.md"))
    ap.add_argument("--work", default=None, help="folder for results tables (default: DATA/eval)")
    ap.add_argument("--no-real", action="store_true", help="skip the real-galaxy section")
    args = ap.parse_args()
    data = Path(args.data)
    work = Path(args.work) if args.work else data / "eval"
    work.mkdir(parents=True, exist_ok=True)
    cat = data / "catalog.ecsv"

    t0 = time.perf_counter()
    res = work / "saliency_results.ecsv"
    run_cli("measure", str(data), "--model", args.model, "--method", "paper,moments", "--samples",
            str(args.samples), "--quiet", "--out", str(res))
    t_measure = time.perf_counter() - t0
    if args.bar_evidence:
        args.extra += measure_bar_evidence(data, cat, work, args.model, args.samples)
    reg = work / "regressor_results.ecsv"
    if Path(args.regressor).exists():
        run_cli("measure", str(data), "--model", args.regressor, "--quiet", "--out", str(reg))

    from galaxyscope.jobs.common import resolve_model
    from galaxyscope.jobs.measure_job import length_calibration

    model = resolve_model(args.model)
    cal = length_calibration(model, "moments", "smoothgrad")
    scale = cal.scale if cal is not None else 1.0
    nogate = with_column(res, work / "saliency_results_nogate.ecsv", "bar_length_nogate_px",
                         lambda t: np.asarray(t["bar_length_raw_px"], float) * scale)
    sources = [("moments: the default output (calibrated, P(bar) gate)", res, "moments", "bar_length_px"),
               (f"moments calibrated (x{scale:.3f}), no gate", nogate, "moments", "bar_length_nogate_px"),
               ("moments raw (the saliency blob)", res, "moments", "bar_length_raw_px"),
               ("paper (BJL22)", res, "paper", "bar_length_px")]
    if reg.exists():
        sources.append(("direct CNN regressor (not saliency)", reg, "regressor", "bar_length_px"))
    from astropy.table import Table

    plot_stem = {}
    for extra in args.extra:
        t_extra = Table.read(extra, format="ascii.ecsv")
        method = str(t_extra["method"][0])
        made_with = str(t_extra.meta.get("attribution", ""))  # a `galaxyscope measure` table names its attribution
        what = f"{method} on {made_with} maps" if made_with and made_with != "smoothgrad" else method
        if t_extra.meta.get("settings"):
            what += f" ({t_extra.meta['settings']})"
        label = f"{what} (`{display_path(extra)}`, {len(t_extra)} rows)"
        plot_stem[label] = (f"{method}_{made_with}" if made_with else method) + ("_defaults" if t_extra.meta.get("settings") else "")
        sources.append((label, extra, method, "bar_length_px"))
    selections = (("measurable bars (has_bar, simulated GZ2 bar vote >= 0.5): the yardstick", MEASURABLE),
                  ("all barred galaxies (faint bars included)", None))
    judged = {sel: [(label, evaluate_rows(table, method, column, cat, where,
                                          work / f"{plot_stem.get(label, method)}_{column}_{'m' if where else 'all'}"))
                    for label, table, method, column in sources]
              for sel, where in selections}

    from galaxyscope.synth import read_catalog

    truth = read_catalog(cat)
    hb = np.asarray(truth["has_bar"], int)
    n_measurable = int(np.sum(measurable_bars(hb.astype(bool), np.asarray(truth["t03_bar_a06_bar_fraction"], float))))
    t = Table.read(res, format="ascii.ecsv")
    mom = t[t["method"] == "moments"]
    score = dict(zip(mom["filename"], mom["bar_score"]))
    synth_auc = auc(np.array([score[f] for f in truth["filename"]]), hb)
    meas = measurable_bars(hb.astype(bool), np.asarray(truth["t03_bar_a06_bar_fraction"], float))
    keep = meas | (hb == 0)
    synth_auc_meas = auc(np.array([score[f] for f in truth["filename"][keep]]), hb[keep])

    lines = ["# Engine evaluation (generated by `python -m experiments.eval_engine`)", "",
             f"Data: `{display_path(data)}` ({len(truth)} galaxies, {int(hb.sum())} barred, {n_measurable} of "
             "them measurable; truth from `galaxyscope synth`). " + DATA_NOTE,
             f"Model: `{args.model}`; SmoothGrad N={args.samples}, noise 0.1; `measure` took {t_measure:.0f} s "
             f"for {len(truth)} images (saliency maps come from the disk cache when an earlier run made "
             "them; bar fits alone take milliseconds). Lengths are judged on **measurable bars** (barred, "
             f"simulated GZ2 bar vote >= {MEASURABLE_VOTE}, as Hoyle et al. 2011 measured only bars that "
             "volunteers saw); the all-bars numbers stand beside them. n is the number of bars given a "
             "length (the P(bar) gate withdraws the rest) out of the bars in the selection.", ""]
    n_sel = {MEASURABLE: n_measurable, None: int(hb.sum())}
    for sel, where in selections:
        lines += [f"## Bar length against the true length: {sel}", "",
                  "| method | Pearson r | Spearman ρ | ρ of length / r90 | median rel. err (as reported) | "
                  "median rel. err, 1 scale fitted on these rows | n |", "|---|---|---|---|---|---|---|"]
        for label, out in judged[sel]:
            m, mn = out[False], out[True]
            scaled = m.get("best_scale") or {}
            lines.append(f"| {label} | {fmt(m, 'pearson_r')} | {fmt(m, 'spearman_rho')} | {fmt(mn, 'spearman_rho')} | "
                         f"{fmt(m, 'median_rel_err')} | {fmt(scaled, 'median_rel_err') if scaled else '-'} | "
                         f"{m['n']} of {n_sel[where]} |")
        base = (judged[sel][1][1][False].get("baselines") or {})  # the no-gate row: every bar of the selection
        for bname in ("size", "constant"):
            b = base.get(bname)
            if b:
                lines.append(f"| baseline: {bname} (cross-validated) | {fmt(b, 'pearson_r')} | {fmt(b, 'spearman_rho')} | "
                             f"- | {fmt(b, 'median_rel_err')} | - | {b['n']} |")
        lines.append("")
    lines += ["## Bar classification (the model's has_bar output)", "",
              f"- held-out synthetic set: AUC {synth_auc:.3f} (all), {synth_auc_meas:.3f} "
              "(measurable bars against all unbarred)", ""]
    if not args.no_real:
        lines += real_galaxies(args.model, model, ["smoothgrad"] + (["bar_evidence"] if args.bar_evidence else []),
                               work, args.samples)
    text = "\n".join(lines)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
