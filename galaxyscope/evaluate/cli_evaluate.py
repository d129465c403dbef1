"""``galaxyscope evaluate``: compare measured bar lengths with a reference catalogue.

Why a command of its own: every reported correlation must come with its
baselines and intervals, so the one place that prints numbers prints them all.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

# defaults from a light module; SciPy and astropy load in run(), so that --help stays fast
from galaxyscope.evaluate.defaults import DEFAULT_CONFIDENCE, DEFAULT_FOLDS, DEFAULT_KEY, DEFAULT_RESAMPLES

HELP = "compare measured values with a reference catalogue (metrics, baselines, bootstrap intervals)"


EXAMPLES = """\
examples:
  galaxyscope evaluate --measured results.ecsv --reference synth_set/catalog.ecsv \\
      --column bar_length_px --method moments
  galaxyscope evaluate --measured results.ecsv --reference synth_set/catalog.ecsv \\
      --column bar_length_px --normalise-by r90_px --where "bar_visibility >= 0.34" --json"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``evaluate`` subcommand."""
    p = subparsers.add_parser(
        "evaluate",
        help=HELP,
        description=(
            "Join measured rows to reference rows by a key, then report Pearson r, Spearman rho, RMSE "
            "and median relative error with bootstrap intervals, beside a constant prediction, a "
            "cross-validated galaxy-size prediction and a fitted single scale. Tables: ECSV, CSV or FITS."
        ),
        epilog=EXAMPLES,
    )
    p.add_argument("--measured", required=True, type=Path, metavar="FILE", help="measured table (e.g. RESULTS.ecsv)")
    p.add_argument("--reference", required=True, type=Path, metavar="FILE", help="reference catalogue")
    p.add_argument("--column", required=True, metavar="COL", help="measured column (e.g. bar_length_px)")
    p.add_argument("--reference-column", metavar="COL", help="reference column (default: same as --column)")
    p.add_argument("--method", metavar="M", help="use the rows of this method (the measured table's 'method' column)")
    p.add_argument(
        "--normalise-by", "--normalize-by", dest="normalise_by", metavar="COL",
        help="divide both sides by this reference column (e.g. r90_px): what is known beyond galaxy size",
    )
    p.add_argument(
        "--size-column", metavar="COL",
        help="reference column of galaxy size for the size baselines (default: --normalise-by)",
    )
    p.add_argument("--key", default=DEFAULT_KEY, metavar="COL", help=f"join column (default: {DEFAULT_KEY}; objid works)")
    p.add_argument(
        "--reference-key", metavar="COL",
        help="join column of the reference when it differs (e.g. --key filename --reference-key objid: "
        "files named <objid>.jpg)",
    )
    p.add_argument(
        "--include-nonpositive", action="store_true",
        help="keep rows whose reference is <= 0 (default: only reference > 0, i.e. barred galaxies)",
    )
    p.add_argument("--where", metavar="EXPR",
                   help="evaluate only pairs whose reference row passes EXPR, in the browser's filter syntax "
                        "(e.g. 'bar_visibility >= 0.34' or 't03_bar_a06_bar_debiased > 0.5 and survey = sdss')")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.add_argument("--plot", type=Path, metavar="FILE", help="scatter plot PNG (default: <measured>_eval.png beside it)")
    p.add_argument("--no-plot", action="store_true", help="do not write the scatter plot")
    p.add_argument("--resamples", type=int, default=DEFAULT_RESAMPLES, metavar="N", help="bootstrap resamples (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap and fold seed (default: %(default)s)")
    p.add_argument("--folds", type=int, default=DEFAULT_FOLDS, metavar="K", help="cross-validation folds of the size baseline (default: %(default)s)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Read, pair, score, plot and print; user errors surface as GalaxyscopeError (exit 2)."""
    from galaxyscope.evaluate.comparison import build_pairs
    from galaxyscope.evaluate.evaluation import evaluate, evaluation_to_json, format_evaluation

    sample = build_pairs(
        args.measured,
        args.reference,
        column=args.column,
        reference_column=args.reference_column,
        key=args.key,
        reference_key=args.reference_key,
        method=args.method,
        normalise_by=args.normalise_by,
        size_column=args.size_column,
        positive_reference_only=not args.include_nonpositive,
        where=args.where,
    )
    ev = evaluate(
        sample,
        n_resamples=args.resamples,
        seed=args.seed,
        confidence=DEFAULT_CONFIDENCE,
        n_folds=max(2, args.folds),
    )
    plot_path = None
    if not args.no_plot:
        from galaxyscope.evaluate.plot import default_plot_path, plot_evaluation  # matplotlib only when drawing

        plot_path = plot_evaluation(ev, args.plot or default_plot_path(args.measured))
    if args.json:
        out = evaluation_to_json(ev)
        out["plot"] = str(plot_path) if plot_path else None
        json.dump(out, sys.stdout, allow_nan=False)
        sys.stdout.write("\n")
    else:
        print(format_evaluation(ev))
        if plot_path:
            print(f"plot: {plot_path}")
    return 0
