"""Export / import of annotations (CSV, ECSV, FITS), the Hoyle 2011 catalogue, and the
``galaxyscope annotations`` command."""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path

import astropy.units as u
import pytest
from astropy.table import Table

import galaxyscope.cli as cli
from galaxyscope.images.catalogue import read_catalogue
from galaxyscope.images.identity import image_key
from galaxyscope.store import AnnotationStore, BarLine, ReferenceRow
from galaxyscope.store.table_io import export_annotations, export_table, import_generic

HOYLE_DIR = Path("/work/shared/data/hoyle2011")
HOYLE_CSV = HOYLE_DIR / "hoyle_barlengths.csv"
HOYLE_FITS = HOYLE_DIR / "hoyle_barlengths.fits"
needs_hoyle = pytest.mark.skipif(not HOYLE_CSV.is_file(),
                                 reason=f"Hoyle 2011 catalogue not found at {HOYLE_DIR} (shared data)")
BIG = 587722981747982465
FORMATS = ("csv", "ecsv", "fits")


@pytest.fixture
def run_cli():
    """galaxyscope.cli.main (the annotations command is registered there)."""
    return cli.main


def fill(store: AnnotationStore, *, text_objid: bool) -> None:
    a = store.register_image("gz2/587722981747982465.jpg", objid=BIG, set_name="gz2",
                             pixel_scale=0.396 * u.arcsec / u.pix, redshift=0.04, sha256="ab" * 32)
    b = store.register_image("other/galaxy b.png", objid="0123" if text_objid else 42)
    store.add_annotation(a.id, "alice", BarLine(100.25, 200.5, 180.75, 260.125),
                         width_line=BarLine(140, 250, 150, 210), note="Zoë's bar, faint")
    moved = store.add_annotation(a.id, "bob", BarLine(1, 2, 3, 4))
    store.update_annotation(moved.id, bar=BarLine(99.5, 199.5, 181.5, 261.0))
    gone = store.add_annotation(b.id, "alice", BarLine(0, 0, 10, 10))
    store.delete_annotation(gone.id)
    store.add_annotation(b.id, "007", BarLine(5, 5, 25, 5), note="1e5")  # not numbers
    store.add_references([
        ReferenceRow("hoyle2011", BIG, "kpc / littleh", length=5.841887, length_err=0.32031392,
                     width=2.3284724, width_err=0.95103847, length_scaled=0.46110882,
                     n_measurements=3, ra_deg=198.05199, dec_deg=-1.0951362),
        ReferenceRow("hoyle2011", 587722981752438860, "kpc / littleh", length=3.240697),
    ])


def key(rec):
    return (rec.uid, rec.image_path, rec.annotator, rec.bar, rec.width_line, rec.note, rec.created,
            rec.updated, rec.deleted, rec.length_px,
            None if rec.length_arcsec is None else round(rec.length_arcsec.value, 9),
            None if rec.length_kpc is None else round(rec.length_kpc.value, 9))


def ref_key(r):
    def value(q):
        return None if q is None else q.value

    return (r.source, r.objid, value(r.length), value(r.length_err), value(r.width),
            r.length_scaled, r.n_measurements, r.ra_deg, r.dec_deg, str(r.length.unit))


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("text_objid", [False, True], ids=["int-objid", "text-objid"])
def test_round_trip(tmp_path, fmt, text_objid):
    src = AnnotationStore(tmp_path / "src.db")
    fill(src, text_objid=text_objid)
    out = tmp_path / f"annotations.{fmt}"
    report = export_annotations(src, out, include_deleted=True)
    assert (report.n_annotations, report.n_references) == (4, 2)
    back = read_catalogue(out)  # plain Table.read would turn CSV "0123" into 123
    assert back["objid"].dtype.kind == ("U" if fmt != "fits" and text_objid else
                                        "S" if text_objid else "i")
    dst = AnnotationStore(tmp_path / f"dst-{fmt}.db")
    rep = import_generic(dst, out)
    assert (rep.added, rep.updated, rep.skipped, rep.references_added) == (4, 0, 0, 2)
    original = sorted(map(key, src.all_annotations(include_deleted=True)))
    copied = sorted(map(key, dst.all_annotations(include_deleted=True)))
    assert copied == original
    assert sorted(map(ref_key, dst.references())) == sorted(map(ref_key, src.references()))
    objids = {i.path: i.objid for i in dst.images()}
    assert objids[image_key("gz2/587722981747982465.jpg")] == BIG
    assert objids[image_key("other/galaxy b.png")] == ("0123" if text_objid else 42)
    assert dst.find_image("gz2/587722981747982465.jpg").sha256 == "ab" * 32
    # importing again (into either database) adds nothing
    again = import_generic(dst, out)
    assert (again.added, again.updated, again.skipped) == (0, 0, 4)
    assert import_generic(src, out).skipped == 4
    src.close()
    dst.close()


def test_csv_text_that_looks_like_numbers_stays_text(tmp_path):
    src = AnnotationStore(tmp_path / "src.db")
    img = src.register_image("0042.jpg", set_name="2024")
    src.add_annotation(img.id, "007", BarLine(0, 0, 10, 0), note="1e5")
    out = tmp_path / "numbers.csv"
    export_annotations(src, out)
    dst = AnnotationStore(tmp_path / "dst.db")
    import_generic(dst, out)
    rec = dst.all_annotations()[0]
    assert (rec.annotator, rec.note, rec.image_path) == ("007", "1e5", image_key("0042.jpg"))
    assert dst.images()[0].set_name == "2024"


def test_newer_version_replaces_older_and_keeps_history(tmp_path):
    src = AnnotationStore(tmp_path / "src.db")
    img = src.register_image("a.jpg")
    rec = src.add_annotation(img.id, "alice", BarLine(0, 0, 10, 0))
    first = tmp_path / "v1.ecsv"
    export_annotations(src, first)
    dst = AnnotationStore(tmp_path / "dst.db")
    import_generic(dst, first)
    src.update_annotation(rec.id, bar=BarLine(0, 0, 14, 0))
    second = tmp_path / "v2.ecsv"
    export_annotations(src, second)
    rep = import_generic(dst, second)
    assert rep.updated == 1
    now = dst.all_annotations()[0]
    assert now.uid == rec.uid and now.length_px == pytest.approx(14)
    assert [h.length.value for h in dst.history(now.id)] == [10.0]
    assert import_generic(dst, first).skipped == 1  # the older file does not roll it back
    assert dst.all_annotations()[0].length_px == pytest.approx(14)


def test_bad_row_imports_nothing(tmp_path):
    good = AnnotationStore(tmp_path / "good.db")
    img = good.register_image("a.jpg")
    good.add_annotation(img.id, "alice", BarLine(0, 0, 10, 0))
    out = tmp_path / "a.csv"
    export_annotations(good, out)
    lines = out.read_text().splitlines()
    header = lines[0].split(",")
    broken = lines[1].split(",")
    broken[header.index("uid")] = "another-uid"
    broken[header.index("x2")] = "not-a-number"
    out.write_text("\n".join([lines[0], lines[1], ",".join(broken)]) + "\n")
    dst = AnnotationStore(tmp_path / "dst.db")
    with pytest.raises(Exception, match="row 2"):
        import_generic(dst, out)
    assert dst.counts().annotations == 0 and dst.counts().images == 0


def test_export_has_the_documented_columns(tmp_path):
    store = AnnotationStore(tmp_path / "a.db")
    fill(store, text_objid=False)
    table = export_table(store)
    for col in ("image_path", "objid", "annotator", "x1", "y1", "x2", "y2", "length_px",
                "length_arcsec", "length_kpc", "created_utc", "updated_utc", "source"):
        assert col in table.colnames
    assert table["length_arcsec"].unit == u.arcsec and table["x1"].unit == u.pix
    assert sorted(set(table["source"])) == ["annotation", "hoyle2011"]
    assert len(table) == 3 + 2  # the deleted annotation is left out by default


@needs_hoyle
def test_hoyle_catalogue_imports_and_exports_with_exact_objids(tmp_path, run_cli, capsys):
    with open(HOYLE_CSV, newline="") as fh:
        source_ids = [row["objid"] for row in csv.DictReader(fh)]
    assert len(source_ids) == 3150
    db = tmp_path / "hoyle.db"
    assert run_cli(["annotations", "import", str(db), str(HOYLE_CSV), "--format", "hoyle"]) == 0
    assert "3150 added" in capsys.readouterr().out
    raw = sqlite3.connect(db)
    stored = [r[0] for r in raw.execute(
        "SELECT objid_int FROM reference_measurements WHERE source='hoyle2011' ORDER BY id")]
    raw.close()
    assert [str(i) for i in stored] == source_ids
    for fmt in FORMATS:
        out = tmp_path / f"hoyle.{fmt}"
        assert run_cli(["annotations", "export", str(db), "--out", str(out)]) == 0
        if fmt == "csv":  # the exported text itself, read as text
            with open(out, newline="") as fh:
                exported = [row["objid"] for row in csv.DictReader(fh) if row["source"] == "hoyle2011"]
        else:
            table = Table.read(out)
            assert table["objid"].dtype.kind == "i"
            exported = [str(v) for v in table["objid"]]
        assert exported == source_ids, fmt
    # the FITS catalogue names the same galaxies: every row replaced, none added
    assert run_cli(["annotations", "import", str(db), str(HOYLE_FITS), "--format", "hoyle"]) == 0
    assert "0 added, 3150 replaced" in capsys.readouterr().out
    with AnnotationStore(db, readonly=True) as store:
        ref = store.references(objid=587722981747982465)[0]
        assert ref.length.value == pytest.approx(5.841887) and ref.n_measurements == 3
        from astropy.cosmology import units as cu

        h70 = cu.with_H0(70 * u.km / u.s / u.Mpc)
        assert ref.length.to_value(u.kpc, h70) == pytest.approx(5.841887 / 0.7)
    # the export imports back into a fresh database (generic), objids still exact
    fresh = tmp_path / "fresh.db"
    assert run_cli(["annotations", "import", str(fresh), str(tmp_path / "hoyle.fits")]) == 0
    with AnnotationStore(fresh, readonly=True) as store:
        assert [str(r.objid) for r in store.references()] == source_ids


def test_cli_help(run_cli, capsys):
    for sub, words in (("export", ("--out", ".ecsv", "objid")), ("import", ("--format", "hoyle", "generic"))):
        with pytest.raises(SystemExit) as exc:
            run_cli(["annotations", sub, "--help"])
        assert exc.value.code == 0
        text = capsys.readouterr().out
        for w in words:
            assert w in text


def test_cli_errors_are_one_line(tmp_path, run_cli, capsys):
    bad = tmp_path / "photo.db"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not a database")
    assert run_cli(["annotations", "export", str(bad), "--out", str(tmp_path / "x.csv")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and str(bad) in err and "not an SQLite database" in err
    db = tmp_path / "ok.db"
    AnnotationStore(db).close()
    assert run_cli(["annotations", "export", str(db), "--out", str(tmp_path / "x.txt")]) == 2
    assert "unknown table type" in capsys.readouterr().err
    missing = tmp_path / "missing.csv"
    assert run_cli(["annotations", "import", str(db), str(missing), "--format", "hoyle"]) == 2
    assert str(missing) in capsys.readouterr().err
    notes = tmp_path / "notes.csv"
    notes.write_text("a,b\n1,2\n")
    assert run_cli(["annotations", "import", str(db), str(notes), "--format", "hoyle"]) == 2
    assert "no column objid" in capsys.readouterr().err
