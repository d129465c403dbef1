"""``galaxyscope annotations export|import``: annotation databases to and from tables.

Why on the command line: archiving, merging several annotators' databases, and
loading the Hoyle et al. (2011) human bar lengths need no GUI. Errors (a newer,
read-only, locked or non-SQLite database; a bad table) are one line, exit 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "export or import hand-drawn bar annotations (SQLite database <-> CSV / ECSV / FITS)"


EXPORT_EXAMPLES = """\
examples:
  galaxyscope annotations export bars.sqlite --out lengths.ecsv
  galaxyscope annotations export bars.sqlite --out gz2.csv --set gz2 --no-references"""
IMPORT_EXAMPLES = """\
examples:
  galaxyscope annotations import bars.sqlite alice.ecsv              # merge another annotator's export
  galaxyscope annotations import bars.sqlite hoyle2011.csv --format hoyle"""
EXAMPLES = EXPORT_EXAMPLES + "\n" + IMPORT_EXAMPLES.removeprefix("examples:\n")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``annotations`` command with its ``export`` and ``import`` subcommands."""
    p = subparsers.add_parser(
        "annotations", help=HELP,
        description="Move annotations between a galaxyscope annotation database and tables.",
        epilog=EXAMPLES,
    )
    sub = p.add_subparsers(dest="annotations_command", metavar="{export,import}")
    sub.required = True

    ex = sub.add_parser(
        "export", help="write every annotation (and reference measurement) to a table",
        description=(
            "Write one row per annotation (source=annotation: image path, objid, annotator, bar "
            "endpoints x1 y1 x2 y2 in original-image pixels, length_px / length_arcsec / "
            "length_kpc, UTC timestamps, uid) and one row per reference measurement (source = "
            "its catalogue, e.g. hoyle2011, with ref_length in ref_unit). The format follows "
            "the extension: .csv, .ecsv or .fits. objid stays exact (int64 or text). The "
            "database is opened read-only."
        ),
        epilog=EXPORT_EXAMPLES,
    )
    ex.add_argument("db", type=Path, metavar="DB", help="annotation database (SQLite file)")
    ex.add_argument("--out", required=True, type=Path, metavar="FILE",
                    help="output table: .csv, .ecsv or .fits (replaced if it exists)")
    ex.add_argument("--set", dest="set_name", metavar="NAME", help="only images of this set")
    ex.add_argument("--include-deleted", action="store_true",
                    help="also write deleted annotations (deleted=1)")
    ex.add_argument("--no-references", action="store_true", help="leave out reference measurements")

    im = sub.add_parser(
        "import", help="read annotations or a reference catalogue into a database",
        description=(
            "generic: a table written by 'annotations export' (annotations matched by uid: new "
            "ones added, newer versions replace older ones with the old kept in the history; "
            "reference rows replaced by source and objid). hoyle: the Hoyle et al. (2011) Galaxy "
            "Zoo 2 bar-length catalogue (CSV or FITS with objid, length_avg, length_stdev, "
            "width_avg, width_stdev in kpc/h, length_scaled, bar_meas) as reference human "
            "lengths keyed by SDSS objid. The database is created if missing; the whole file is "
            "one transaction (an error leaves the database unchanged)."
        ),
        epilog=IMPORT_EXAMPLES,
    )
    im.add_argument("db", type=Path, metavar="DB", help="annotation database (created if missing)")
    im.add_argument("file", type=Path, metavar="FILE", help="table to import (.csv, .ecsv, .fits)")
    im.add_argument("--format", choices=("generic", "hoyle"), default="generic",
                    help="generic (an export; default) or hoyle (Hoyle et al. 2011 catalogue)")
    p.set_defaults(func=run)


def run_export(args: argparse.Namespace) -> int:
    """Export a database to a table; prints what was written."""
    from galaxyscope.store.annotation_store import AnnotationStore  # SQLAlchemy: only when run
    from galaxyscope.store.table_io import export_annotations

    with AnnotationStore(args.db, readonly=True) as store:
        report = export_annotations(store, args.out, set_name=args.set_name,
                                    include_deleted=args.include_deleted,
                                    include_references=not args.no_references)
    print(f"wrote {report.path}: {report.n_annotations} annotations, "
          f"{report.n_references} reference measurements")
    return 0


def run_import(args: argparse.Namespace) -> int:
    """Import a table into a database; prints what changed."""
    from galaxyscope.store.annotation_store import AnnotationStore
    from galaxyscope.store.table_io import import_generic, import_hoyle

    with AnnotationStore(args.db) as store:
        if store.upgraded_from is not None:
            print(f"upgraded {args.db} from schema version {store.upgraded_from} to "
                  f"{store.schema_version}", file=sys.stderr)
        if args.format == "hoyle":
            report = import_hoyle(store, args.file)
        else:
            report = import_generic(store, args.file)
        counts = store.counts()
    print(f"imported {report.path} into {args.db}: annotations {report.added} added, "
          f"{report.updated} updated, {report.skipped} already present; reference measurements "
          f"{report.references_added} added, {report.references_replaced} replaced "
          f"(database now: {counts.annotations} annotations, {counts.references} references)")
    return 0


def run(args: argparse.Namespace) -> int:
    """Run ``annotations export`` or ``annotations import``."""
    if args.annotations_command == "export":
        return run_export(args)
    return run_import(args)
