"""`annotations import --format generic --dataset DIR`: label tables (filename or objid, has_bar,
bar_length_px or end points) become bar / no-bar labels and lines, all or nothing."""

from __future__ import annotations

import pytest
from astropy.table import Table

from galaxyscope.cli import main as cli_main
from galaxyscope.errors import ImageReadError
from galaxyscope.store import AnnotationStore
from galaxyscope.store.label_import import import_labels
from model_testdata import write_bar_dataset

BIG = 587722981747982465  # float64 would make it ...464


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = write_bar_dataset(tmp_path_factory.mktemp("labels"), n=6, size=48, seed=1)
    cat = Table.read(root / "catalog.ecsv")
    cat["objid"] = [BIG + i for i in range(len(cat))]
    cat.write(root / "catalog.ecsv", overwrite=True)
    return root


def write(path, text):
    path.write_text(text)
    return path


def test_filename_rows_become_labels_and_lines(tmp_path, dataset):
    table = write(tmp_path / "mine.csv", "filename,has_bar,bar_length_px,x1,y1,x2,y2,wx1,wy1,wx2,wy2\n"
                                         "gal_000.png,1,,10,20,30,20,20,18,20,22\n"
                                         "gal_001.png,0,,,,,,,,,\n"
                                         "gal_002.png,yes,12.5,,,,,,,,\n")
    with AnnotationStore(tmp_path / "db.sqlite") as store:
        report = import_labels(store, table, dataset)
        assert (report.annotator, report.n_rows, report.bars, report.no_bars) == ("mine.csv", 3, 2, 1)
        assert report.labels_added == 3 and report.lines_added == 1
        by_file = {store.get_image(i).path.rsplit("/", 1)[-1]: says
                   for i, says in store.image_labels().items()}
        (a,), (b,), (c,) = by_file["gal_000.png"], by_file["gal_001.png"], by_file["gal_002.png"]
        assert a.has_bar and a.length_px == pytest.approx(20.0) and a.lines[0][1] is not None
        assert not b.has_bar and b.lines == () and b.length_px is None
        assert c.has_bar and c.lines == () and c.length_px == pytest.approx(12.5)
        assert store.find_image(dataset / "gal_000.png").objid == BIG  # from the dataset's catalogue
        assert store.find_image(dataset / "gal_000.png").set_name == dataset.name
        again = import_labels(store, table, dataset)  # idempotent
        assert again.labels_unchanged == 3 and again.lines_unchanged == 1 and again.labels_added == 0
        assert store.counts().annotations == 1 and store.counts().bar_labels == 3


def test_objid_rows_are_matched_exactly(tmp_path, dataset):
    table = write(tmp_path / "ids.csv", f"dr7objid,has_bar\n{BIG + 3},1\n{BIG + 4},0\n")
    with AnnotationStore(tmp_path / "db.sqlite") as store:
        report = import_labels(store, table, dataset, annotator="votes")
        assert report.annotator == "votes" and report.bars == 1
        paths = sorted(store.get_image(i).path.rsplit("/", 1)[-1] for i in store.image_labels())
        assert paths == ["gal_003.png", "gal_004.png"]


@pytest.mark.parametrize("rows, reason", [
    ("filename,has_bar\ngal_000.png,1\ngal_009.png,0\n", "row 2: filename 'gal_009.png': no such file"),
    ("filename,has_bar\ngal_000.png,2\n", "row 1: has_bar is '2'; it must be 0 or 1"),
    ("filename,has_bar,bar_length_px\ngal_000.png,0,10\n", "row 1: has_bar is 0 but a bar length"),
    ("filename,has_bar,x1,y1,x2,y2\ngal_000.png,1,1,1,80,1\n", "row 1: end point (80, 1) lies outside the 48 x 48"),
    ("filename,has_bar,x1,y1,x2,y2\ngal_000.png,1,1,1,,5\n", "row 1: end points need all of x1, y1, x2, y2 (x2 empty)"),
    ("filename,has_bar,bar_length_px,x1,y1,x2,y2\ngal_000.png,1,30,0,0,10,0\n", "differs from the end points' length"),
    ("filename,has_bar\ngal_000.png,1\ngal_000.png,0\n", "row 2: gal_000.png was already labelled in row 1"),
    (f"objid,has_bar\n{BIG + 99},1\n", f"row 1: objid {BIG + 99}: no image"),
    ("has_bar\n1\n", "needs a filename column"),
])
def test_a_bad_row_names_file_row_and_reason_and_writes_nothing(tmp_path, dataset, rows, reason):
    good = write(tmp_path / "good.csv", "filename,has_bar\ngal_005.png,1\n")
    bad = write(tmp_path / "bad.csv", rows)
    with AnnotationStore(tmp_path / "db.sqlite") as store:
        import_labels(store, good, dataset)
        before = store.counts()
        with pytest.raises(ImageReadError) as err:
            import_labels(store, bad, dataset)
        assert str(bad) in str(err.value) and reason in str(err.value)
        assert store.counts() == before  # the transaction was rolled back entirely


def test_cli_label_import_needs_the_dataset(tmp_path, dataset, capsys):
    table = write(tmp_path / "cli.csv", "filename,has_bar\ngal_000.png,1\ngal_001.png,0\n")
    db = tmp_path / "db.sqlite"
    assert cli_main(["annotations", "import", str(db), str(table)]) == 2
    assert "give --dataset DIR" in capsys.readouterr().err
    assert cli_main(["annotations", "import", str(db), str(table), "--format", "generic",
                     "--dataset", str(dataset), "--annotator", "kim"]) == 0
    out = capsys.readouterr().out
    assert "as annotator 'kim': 2 rows (1 bar, 1 no bar)" in out
    with AnnotationStore(db) as store:
        assert [label.annotator for label in store.bar_labels()] == ["kim", "kim"]
