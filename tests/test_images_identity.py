"""Catalogue identity has one home (images.identity): the two bugs it fixed, and its rules."""

from __future__ import annotations

import math
import os

import numpy as np
from astropy.table import Table

from galaxyscope.cli import main
from galaxyscope.gui.annotate_logic import register_shown_image
from galaxyscope.images.identity import identity_of, image_key, objid_of, redshift_of
from galaxyscope.images.imageset import ImageSet
from galaxyscope.store import AnnotationStore, BarLine
from model_testdata import write_bar_dataset
from test_jobs_measure import tiny_model


def test_image_key_is_one_name_for_every_path_form(tmp_path, monkeypatch):
    (tmp_path / "set").mkdir()
    monkeypatch.chdir(tmp_path)
    absolute = (tmp_path / "set" / "a.png").as_posix()
    assert image_key("set/a.png") == absolute
    assert image_key("./set/../set/a.png") == absolute
    assert image_key(tmp_path / "set" / "a.png") == absolute


def test_objid_and_redshift_rules():
    big = 587722981747982465
    assert objid_of({"objid": np.int64(big)}) == big
    assert objid_of({"DR7OBJID": "588017978901528612"}) == "588017978901528612"
    assert objid_of({"objid": 5.877e17}) is None  # a float already lost digits
    assert objid_of({"objid": np.ma.masked, "dr7objid": 7}) == 7
    assert redshift_of({"z": "0.05"}) == 0.05
    assert redshift_of({"REDSHIFT": -1, "z": 0.1}) == 0.1  # unusable values are passed over
    assert redshift_of({"z": None}) is None and redshift_of(None) is None
    assert redshift_of({"zspec": float("nan")}) is None


def test_scan_and_window_register_one_file_as_one_image(tmp_path, monkeypatch):
    """Bug: scan-bias (dataset typed relative) and the window (absolute) made two image rows."""
    write_bar_dataset(tmp_path / "set", n=2, size=32, seed=0)
    (tmp_path / "set" / "catalog.ecsv").unlink()  # a plain folder keeps the path as typed
    monkeypatch.chdir(tmp_path)
    relative = ImageSet.open("set")[0]
    assert not os.path.isabs(str(relative.path))
    with AnnotationStore(tmp_path / "bars.db") as store:
        flagged = store.register_galaxy_image(relative, set_name="set")  # what scan-bias --db does
        store.add_flag(flagged.id, "off_galaxy", "saliency off the galaxy", score=0.9, numbers={})
        shown = register_shown_image(store, ImageSet.open(tmp_path / "set")[0], "set")  # the window
        store.add_annotation(shown.id, "alice", BarLine(10, 16, 22, 16))
        assert shown.id == flagged.id and len(store.images()) == 1
        assert len(store.flags(image_id=shown.id)) == 1 and len(store.annotations_for_image(shown.id)) == 1


def test_measure_gives_kpc_from_a_z_column(tmp_path, capsys):
    """Bug: the window read a catalogue column `z`, `galaxyscope measure` only `redshift`."""
    data = write_bar_dataset(tmp_path / "set", n=2, size=64, seed=1)
    cat = Table.read(data / "catalog.ecsv")
    cat["z"] = [0.05, 0.08]
    cat["pixel_scale_arcsec"] = 0.396
    cat.write(data / "catalog.ecsv", overwrite=True)
    out = tmp_path / "res.ecsv"
    rc = main(["measure", str(data), "--model", str(tiny_model(tmp_path / "m.safetensors")), "--samples", "2",
               "--no-cache", "--quiet", "--min-bar-probability", "0", "--method", "moments", "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    t = Table.read(out)
    ok = np.isfinite(t["bar_length_px"])
    assert ok.any()
    assert np.all(np.isfinite(t["bar_length_kpc"][ok]))
    image = ImageSet.open(data)[0]
    ident = identity_of(image)
    assert ident.redshift == 0.05 and math.isclose(ident.pixel_scale.value, 0.396)
