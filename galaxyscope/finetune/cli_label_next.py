"""``galaxyscope label-next``: which images of a measured set to label first.

Why: labels teach a model most where it is unsure, where its saliency and the isophotes
disagree, and where the images are unlike its training set (`finetune.queue`). The
command ranks a table written by ``galaxyscope measure`` and leaves out what the
annotation database already has labels for.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

HELP = "rank a measured set by what to label next (uncertain, disputed, unfamiliar images first)"

EXAMPLES = """\
examples:
  galaxyscope label-next my_set --measured results.ecsv --db bars.sqlite --n 30
  galaxyscope label-next my_set --measured results.ecsv --annotator alice --weights 1 2 0 --out next.csv"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``label-next`` command."""
    p = subparsers.add_parser(
        "label-next", help=HELP,
        description=(
            "Rank the images of DATASET measured in RESULTS (a 'galaxyscope measure' table with the "
            "saliency method's rows and, for the disagreement part, isophote rows: measure's default) "
            "by how much a label would teach the model: P(bar) near 0.5, the saliency and isophote "
            "lengths disagreeing, and the out_of_domain flag. Images that already have a label or a "
            "drawn bar in the database (anyone's, or --annotator's) are left out. Prints the queue "
            "with the reasons, best first."),
        epilog=EXAMPLES,
    )
    p.add_argument("dataset", metavar="DATASET", help="the image folder (or catalogue) that was measured")
    p.add_argument("--measured", required=True, type=Path, metavar="RESULTS",
                   help="table written by 'galaxyscope measure' for DATASET (.ecsv, .csv or .fits)")
    p.add_argument("--db", type=Path, metavar="DB",
                   help="annotation database whose labelled images are left out (default: $GALAXYSCOPE_DB, "
                        "else ~/.local/share/galaxyscope/annotations.sqlite, when it exists)")
    p.add_argument("--annotator", metavar="NAME", help="leave out only what this annotator labelled")
    p.add_argument("--method", default="moments", help="saliency bar method whose rows to rank (default %(default)s)")
    p.add_argument("--weights", type=float, nargs=3, default=(1.0, 1.0, 1.0), metavar=("U", "D", "N"),
                   help="weights of uncertainty, disagreement and novelty (default 1 1 1)")
    p.add_argument("--n", type=int, default=20, help="how many to list (default %(default)s; 0: all)")
    p.add_argument("--out", type=Path, metavar="FILE", help="also write the whole queue as a table (.csv/.ecsv)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Rank and print."""
    from galaxyscope.errors import GalaxyscopeError
    from galaxyscope.finetune.queue import label_queue, labelled_filenames
    from galaxyscope.images.catalogue import read_catalogue
    from galaxyscope.images.imageset import ImageSet
    from galaxyscope.paths import default_database_path

    table = read_catalogue(args.measured)
    missing = [c for c in ("filename", "method", "bar_score") if c not in table.colnames]
    if missing:
        raise GalaxyscopeError(f"{args.measured}: not a 'galaxyscope measure' table (no {', '.join(missing)})")
    if not any(str(m) == args.method for m in table["method"]):
        raise GalaxyscopeError(f"{args.measured}: no rows of method {args.method!r}")
    db = args.db or default_database_path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    labelled: set[str] = set()
    if Path(db).exists():
        from galaxyscope.store.annotation_store import AnnotationStore

        with AnnotationStore(db, readonly=True) as store:
            labelled = labelled_filenames(store, ImageSet.open(args.dataset), args.annotator)
    elif args.db is not None:
        raise GalaxyscopeError(f"{db}: no such annotation database")
    try:
        queue = label_queue(table, labelled=labelled, method=args.method, weights=args.weights)
    except ValueError as err:
        raise GalaxyscopeError(f"--weights: {err}") from None
    if args.out is not None:
        from astropy.table import Table

        from galaxyscope.store.table_io import write_table

        out = Table(rows=[(q.filename, q.score, q.uncertainty, q.disagreement, q.novelty, "; ".join(q.reasons))
                          for q in queue] or None,
                    names=("filename", "score", "uncertainty", "disagreement", "novelty", "reasons"))
        write_table(out, args.out)
    shown = queue if args.n == 0 else queue[:args.n]
    print(f"{len(queue)} images to label ({len(labelled)} already labelled, left out); best first:")
    for q in shown:
        print(f"{q.score:5.2f}  {q.filename}  {'; '.join(q.reasons) or '-'}")
    return 0
