"""The "label next" queue: uncertain, disputed and unfamiliar images first, labelled ones left out."""

from __future__ import annotations

import math

import pytest
from astropy.table import Table

from galaxyscope.finetune.queue import label_queue, labelled_filenames
from galaxyscope.images.imageset import ImageSet
from galaxyscope.store import AnnotationStore, BarLine
from model_testdata import write_bar_dataset


def measured() -> Table:
    rows = [  # filename, method, bar_score, bar_length_raw_px, flags
        ("sure.png", "moments", 0.97, 30.0, ""), ("sure.png", "isophote", 0.97, 31.0, ""),
        ("unsure.png", "moments", 0.52, 30.0, ""), ("unsure.png", "isophote", 0.52, 29.0, ""),
        ("disputed.png", "moments", 0.95, 60.0, "methods_disagree"), ("disputed.png", "isophote", 0.95, 15.0, ""),
        ("alien.png", "moments", 0.9, 20.0, "out_of_domain"),
        ("half.png", "moments", 0.05, math.nan, "no_bar"), ("half.png", "isophote", 0.05, 25.0, ""),
    ]
    t = Table(rows=rows, names=("filename", "method", "bar_score", "bar_length_raw_px", "flags"))
    t["bar_length_px"] = t["bar_length_raw_px"]
    return t


def test_queue_order_and_reasons():
    items = label_queue(measured())
    names = [it.filename for it in items]
    assert names[-2:] == ["unsure.png", "sure.png"] and set(names[:3]) == {"alien.png", "disputed.png", "half.png"}
    by = {it.filename: it for it in items}
    assert by["unsure.png"].uncertainty == pytest.approx(0.96) and "the model is unsure" in by["unsure.png"].reasons[0]
    assert by["disputed.png"].disagreement == 1.0 and "60 px vs isophotes 15 px" in by["disputed.png"].reasons[0]
    assert by["half.png"].reasons == ("only the isophotes find a bar",)
    assert by["alien.png"].novelty == 1.0 and by["alien.png"].reasons == ("unlike the training images",)
    assert all(0 <= it.score <= 1 for it in items)


def test_weights_limit_and_labelled_images():
    only_unsure = label_queue(measured(), weights=(1, 0, 0), limit=1)
    assert [it.filename for it in only_unsure] == ["unsure.png"]
    assert "unsure.png" not in [it.filename for it in label_queue(measured(), labelled={"unsure.png"})]
    with pytest.raises(ValueError, match="weights"):
        label_queue(measured(), weights=(0, 0, 0))


def test_labelled_filenames_from_the_store(tmp_path):
    root = write_bar_dataset(tmp_path / "set", n=4, size=32, seed=1)
    images = ImageSet.open(root)
    with AnnotationStore(tmp_path / "db.sqlite") as store:
        a = store.register_galaxy_image(images[0])
        b = store.register_galaxy_image(images[1])
        store.add_annotation(a.id, "alice", BarLine(1, 1, 9, 9))
        store.set_bar_label(b.id, "bob", False)
        assert labelled_filenames(store, images) == {"gal_000.png", "gal_001.png"}
        assert labelled_filenames(store, images, annotator="bob") == {"gal_001.png"}


def test_cli_label_next_leaves_out_labelled_images(tmp_path, capsys):
    from galaxyscope.cli import main as cli_main

    root = write_bar_dataset(tmp_path / "set", n=4, size=32, seed=1)
    table = measured()
    table["filename"] = ["gal_000.png", "gal_000.png", "gal_001.png", "gal_001.png", "gal_002.png", "gal_002.png",
                         "gal_003.png", "x.png", "x.png"]
    table.write(tmp_path / "results.ecsv")
    db = tmp_path / "db.sqlite"
    with AnnotationStore(db) as store:
        store.set_bar_label(store.register_galaxy_image(ImageSet.open(root)[2]).id, "alice", True)
    out = tmp_path / "next.csv"
    assert cli_main(["label-next", str(root), "--measured", str(tmp_path / "results.ecsv"), "--db", str(db),
                     "--n", "2", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert text.startswith("4 images to label (1 already labelled, left out)") and "gal_002.png" not in text
    assert len(text.strip().splitlines()) == 3 and "unlike the training images" in text
    assert len(Table.read(out, format="ascii.csv")) == 4
    assert cli_main(["label-next", str(root), "--measured", str(tmp_path / "results.ecsv"),
                     "--method", "paper", "--db", str(db)]) == 2
    assert "no rows of method 'paper'" in capsys.readouterr().err
