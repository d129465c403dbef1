"""`galaxyscope info`: plain and JSON output for good files (errors: test_images_broken.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from astropy.io import fits
from PIL import Image

from galaxyscope.cli import main
from galaxyscope.resources import sample_path

SDSS = "sdss-fits", "1_15_SDSS_gband.fits"


def test_json_single_file_is_a_list_with_scale_and_centre(capsys):
    code = main(["info", "--json", str(sample_path(*SDSS))])
    out, err = capsys.readouterr()
    assert code == 0 and err == ""
    (obj,) = json.loads(out)
    assert obj["shape"] == [455, 455, 1] and obj["channels"] == 1 and obj["dtype"] == "float32"
    assert obj["pixel_scale_arcsec"] == pytest.approx(0.396, abs=0.002)
    assert obj["wcs_centre"]["ra"] == pytest.approx(210.927, abs=0.001)
    assert obj["wcs_centre"]["dec"] == pytest.approx(-1.1373, abs=0.001)
    assert obj["nan_count"] == 0
    assert obj["min"] < obj["max"]


def test_json_unknown_scale_is_null_and_nan_counted(tmp_path, capsys):
    Image.fromarray(np.full((3, 2, 3), 255, np.uint8)).save(tmp_path / "a.png")
    data = np.array([[1.0, np.nan], [np.inf, -2.0]], np.float32)
    fits.PrimaryHDU(data).writeto(tmp_path / "b.fits")
    code = main(["info", "--json", str(tmp_path / "a.png"), str(tmp_path / "b.fits")])
    out, _ = capsys.readouterr()
    assert code == 0
    a, b = json.loads(out)
    assert a["pixel_scale_arcsec"] is None and a["wcs_centre"] is None
    assert a["shape"] == [3, 2, 3] and a["max"] == 1.0
    assert b["nan_count"] == 2 and b["min"] == -2.0 and b["max"] == 1.0


def test_json_includes_error_objects_for_bad_files(tmp_path, capsys):
    (tmp_path / "bad.fits").write_text("nope")
    Image.new("L", (2, 2)).save(tmp_path / "ok.png")
    code = main(["info", "--json", str(tmp_path / "bad.fits"), str(tmp_path / "ok.png")])
    out, err = capsys.readouterr()
    assert code == 2
    bad, ok = json.loads(out)
    assert bad == {"path": str(tmp_path / "bad.fits"), "error": "not a FITS file (no SIMPLE card)"}
    assert ok["shape"] == [2, 2, 1]
    assert err.strip() == f"galaxyscope info: error: {tmp_path / 'bad.fits'}: not a FITS file (no SIMPLE card)"


def test_plain_text_block(capsys):
    code = main(["info", str(sample_path(*SDSS)), str(sample_path("gz-bar-examples", "sdss", "sloan-2_a-0_0.jpg"))])
    out, _ = capsys.readouterr()
    assert code == 0
    blocks = out.strip().split("\n\n")
    assert len(blocks) == 2
    assert "455 x 455 x 1" in blocks[0] and "0.3958 arcsec/pixel" in blocks[0] and "RA 210.92" in blocks[0]
    assert "424 x 424 x 3" in blocks[1] and "pixel scale  unknown" in blocks[1] and "no WCS" in blocks[1]


def test_help_says_output_format(capsys):
    with pytest.raises(SystemExit):
        main(["info", "--help"])
    out, _ = capsys.readouterr()
    assert "JSON list" in out and "one object per FILE" in out


def _small_set(root):
    from astropy.table import Table

    root.mkdir()
    for name in ("a.png", "b.png"):
        Image.fromarray(np.full((16, 16, 3), 90, np.uint8)).save(root / name)
    Table({"filename": ["a.png", "b.png", "gone.png"], "has_bar": [1, 0, 1],
           "redshift": [0.05, 0.06, 0.07]}).write(root / "catalog.ecsv")
    return root


def test_a_folder_is_summarised_as_an_image_set(tmp_path, capsys):
    root = _small_set(tmp_path / "set")
    code = main(["info", "--json", str(root)])
    out, err = capsys.readouterr()
    assert code == 0 and err == ""
    (obj,) = json.loads(out)
    assert obj["n_images"] == 2 and obj["n_rows"] == 3 and obj["n_with_row"] == 2
    assert obj["catalogue"].endswith("catalog.ecsv") and obj["columns"] == ["filename", "has_bar", "redshift"]
    assert obj["redshift_column"] == "redshift" and obj["pixel_scale_column"] is None
    assert obj["n_missing"] == 1 and obj["missing_files"][0].endswith("gone.png")
    # the catalogue file itself gives the same summary; the text names what is missing
    assert main(["info", str(root / "catalog.ecsv")]) == 0
    text = capsys.readouterr().out
    assert "(image set)" in text and "2 (2 with a catalogue row)" in text
    assert "missing      1 file(s)" in text and "gone.png" in text and "lengths in kpc" in text


def test_a_plain_folder_and_files_mix(tmp_path, capsys):
    root = tmp_path / "plain"
    root.mkdir()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(root / "x.png")
    code = main(["info", "--json", str(root), str(root / "x.png")])
    out, _ = capsys.readouterr()
    assert code == 0
    folder, image = json.loads(out)
    assert folder["n_images"] == 1 and folder["catalogue"] is None and folder["n_rows"] is None
    assert image["shape"] == [8, 8, 1]
    assert main(["info", str(root)]) == 0
    text = capsys.readouterr().out
    assert "none (a plain folder" in text and "missing" not in text and "FITS headers" in text
