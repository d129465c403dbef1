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
  galaxyscope annotations import bars.sqlite hoyle2011.csv --format hoyle
  galaxyscope annotations import bars.sqlite labels.csv --dataset gz2 --annotator gz2-votes"""
VERSIONS_EXAMPLES = """\
examples:
  galaxyscope annotations versions bars.sqlite
  galaxyscope annotations versions bars.sqlite --json"""
EXAMPLES = (EXPORT_EXAMPLES + "\n" + IMPORT_EXAMPLES.removeprefix("examples:\n") + "\n"
            + VERSIONS_EXAMPLES.removeprefix("examples:\n"))


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``annotations`` command with its ``export`` and ``import`` subcommands."""
    p = subparsers.add_parser(
        "annotations", help=HELP,
        description="Move annotations between a galaxyscope annotation database and tables.",
        epilog=EXAMPLES,
    )
    sub = p.add_subparsers(dest="annotations_command", metavar="{export,import,versions}")
    sub.required = True

    ex = sub.add_parser(
        "export", help="write every annotation (and reference measurement) to a table",
        description=(
            "Write one row per annotation (source=annotation: image path, objid, annotator, bar "
            "endpoints x1 y1 x2 y2 in original-image pixels, length_px / length_arcsec / "
            "length_kpc, UTC timestamps, uid), one row per bar / no-bar label (source=bar_label: "
            "has_bar 0/1, length_px when a length was given without a line) and one row per reference measurement (source = "
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
            "reference rows replaced by source and objid), or a label table for the images of "
            "--dataset DIR: a filename column (relative to DIR) or an objid column (matched "
            "against DIR's catalogue), has_bar (0/1), and optionally bar_length_px or the bar's "
            "end points x1, y1, x2, y2 (pixels of the original image; a width line wx1, wy1, "
            "wx2, wy2 may follow); its rows are stored under --annotator as bar / no-bar labels "
            "and lines, which 'galaxyscope finetune' learns from. hoyle: the Hoyle et al. (2011) Galaxy "
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
                    help="generic (an export, or a label table with --dataset; default) or hoyle "
                         "(Hoyle et al. 2011 catalogue)")
    im.add_argument("--dataset", type=Path, metavar="DIR",
                    help="the image folder (or its catalogue) a label table's rows refer to; "
                         "needed for a table with a has_bar column")
    im.add_argument("--annotator", metavar="NAME",
                    help="whose labels these are (default: the table's file name)")
    ve = sub.add_parser(
        "versions", help="list the models fine-tuned on this database's labels",
        description=("One line per model version recorded by 'galaxyscope finetune' (or the window's "
                     "'Improve model'): name, file, SHA-256, base model, labelled images trained on and "
                     "held out, and the held-out P(bar) AUC and length rho of base and fine-tuned model. "
                     "The database is opened read-only."),
        epilog=VERSIONS_EXAMPLES,
    )
    ve.add_argument("db", type=Path, metavar="DB", help="annotation database (SQLite file)")
    ve.add_argument("--json", action="store_true", help="print the versions as JSON (everything recorded)")
    p.set_defaults(func=run)


def run_versions(args: argparse.Namespace) -> int:
    """List model versions."""
    import json
    from dataclasses import asdict

    from galaxyscope.store.annotation_store import AnnotationStore

    with AnnotationStore(args.db, readonly=True) as store:
        versions = store.model_versions()
    if args.json:
        print(json.dumps([{**asdict(v), "created": v.created.isoformat()} for v in versions], indent=2))
        return 0
    if not versions:
        print(f"{args.db}: no model versions yet ('galaxyscope finetune DATASET --db {args.db} --out M.safetensors')")
    for v in versions:
        comp = (v.metrics or {}).get("comparison") or {}

        def pair(name: str) -> str:
            base, tuned = comp.get(f"{name}_base") or {}, comp.get(f"{name}_tuned") or {}
            if base.get("value") is None or tuned.get("value") is None:
                return f"{name} -"
            return f"{name} {base['value']:.2f} -> {tuned['value']:.2f}"

        print(f"{v.id}  {v.name}  {v.created:%Y-%m-%d %H:%M}  {v.path}  sha256 {v.sha256[:12]}  base "
              f"{(v.base_sha256 or '?')[:12]}  trained on {v.n_train}, held out {v.n_test}: "
              f"{pair('auc')}, {pair('rho')}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    """Export a database to a table; prints what was written."""
    from galaxyscope.store.annotation_store import AnnotationStore  # SQLAlchemy: only when run
    from galaxyscope.store.table_io import export_annotations

    with AnnotationStore(args.db, readonly=True) as store:
        report = export_annotations(store, args.out, set_name=args.set_name,
                                    include_deleted=args.include_deleted,
                                    include_references=not args.no_references)
    print(f"wrote {report.path}: {report.n_annotations} annotations, {report.n_labels} bar/no-bar labels, "
          f"{report.n_references} reference measurements")
    return 0


def run_import(args: argparse.Namespace) -> int:
    """Import a table into a database; prints what changed."""
    from galaxyscope.errors import GalaxyscopeError
    from galaxyscope.images.catalogue import read_catalogue
    from galaxyscope.store.annotation_store import AnnotationStore
    from galaxyscope.store.label_import import is_label_table
    from galaxyscope.store.table_io import import_generic, import_hoyle

    labels = False
    if args.format == "generic":
        labels = is_label_table(list(read_catalogue(args.file).colnames))
        if labels and args.dataset is None:
            raise GalaxyscopeError(f"{args.file} is a label table (it has has_bar): give --dataset DIR, "
                                   "the folder its file names or objids refer to")
    if not labels and (args.dataset is not None or args.annotator is not None):
        raise GalaxyscopeError(f"--dataset and --annotator are for label tables (a has_bar column); "
                               f"{args.file} has none")
    with AnnotationStore(args.db) as store:
        if store.upgraded_from is not None:
            print(f"upgraded {args.db} from schema version {store.upgraded_from} to "
                  f"{store.schema_version}", file=sys.stderr)
        if labels:
            return _import_labels(store, args)
        if args.format == "hoyle":
            report = import_hoyle(store, args.file)
        else:
            report = import_generic(store, args.file)
        counts = store.counts()
    labels = ""
    if report.labels_added or report.labels_updated or report.labels_skipped:
        labels = (f"; bar/no-bar labels {report.labels_added} added, {report.labels_updated} updated, "
                  f"{report.labels_skipped} already present")
    print(f"imported {report.path} into {args.db}: annotations {report.added} added, "
          f"{report.updated} updated, {report.skipped} already present{labels}; reference measurements "
          f"{report.references_added} added, {report.references_replaced} replaced "
          f"(database now: {counts.annotations} annotations, {counts.references} references)")
    return 0


def _import_labels(store, args: argparse.Namespace) -> int:
    from galaxyscope.store.label_import import import_labels

    r = import_labels(store, args.file, args.dataset, annotator=args.annotator)
    counts = store.counts()
    print(f"imported {r.path} into {args.db} as annotator {r.annotator!r}: {r.n_rows} rows ({r.bars} bar, "
          f"{r.no_bars} no bar); labels {r.labels_added} added, {r.labels_updated} updated, "
          f"{r.labels_unchanged} unchanged; lines {r.lines_added} added, {r.lines_updated} updated, "
          f"{r.lines_unchanged} unchanged (database now: {counts.bar_labels} labels, "
          f"{counts.annotations} lines)")
    return 0


def run(args: argparse.Namespace) -> int:
    """Run ``annotations export`` or ``annotations import``."""
    if args.annotations_command == "export":
        return run_export(args)
    if args.annotations_command == "versions":
        return run_versions(args)
    return run_import(args)
