"""The ``galaxyscope synth`` contract, through galaxyscope.cli.main."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from galaxyscope.cli import main
from galaxyscope.synth.dataset import read_catalog

CONTRACT = ("filename", "has_bar", "bar_length_px", "bar_pa_deg", "bar_axis_ratio", "r90_px",
            "pixel_scale_arcsec", "redshift", "artefact", "artefact_x", "artefact_y")


def test_synth_writes_images_and_catalog(tmp_path, capsys):
    out = tmp_path / "set"
    code = main(["synth", str(out), "--n", "4", "--seed", "3", "--size", "96", "--bar-fraction", "0.5",
                 "--artefact", "star", "--artefact-on", "bar", "--artefact-fraction", "1", "--pairs"])
    assert code == 0
    captured = capsys.readouterr()
    assert "catalog.ecsv" in captured.out
    assert "synth" in captured.err  # the tqdm bar goes to stderr
    table = read_catalog(out / "catalog.ecsv")
    for name in CONTRACT:
        assert name in table.colnames, name
    assert len(table) == 4 + 2  # two barred galaxies, each with its bar-free twin
    for row in table:
        path = out / row["filename"]
        assert path.is_file() and path.suffix == ".jpg"
        if row["has_bar"]:
            assert row["bar_length_px"] > 0 and 0 <= row["bar_pa_deg"] < 180
            assert row["artefact"] == "star" and np.isfinite(row["artefact_x"])
            assert (out / row["bar_mask"]).is_file()
        else:
            assert row["bar_length_px"] == 0
    assert set(table["pixel_scale_arcsec"]) and all(table["r90_px"] > 5)


def test_synth_fits_and_size_scaling(tmp_path):
    out = tmp_path / "f"
    assert main(["synth", str(out), "--n", "2", "--seed", "1", "--size", "64", "--format", "both"]) == 0
    table = read_catalog(out / "catalog.ecsv")
    assert all(Path(out / f).suffix == ".fits" and (out / f).is_file() for f in table["fits_filename"])
    assert all(table["r90_px"] < 64 * 65 / 424 * 1.3)  # R90 scaled with the frame


def test_synth_bad_value_is_one_line_exit_2(tmp_path, capsys):
    code = main(["synth", str(tmp_path / "x"), "--n", "2", "--bar-fraction", "1.5"])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("galaxyscope synth: error:") and "bar fraction" in err[-1]
