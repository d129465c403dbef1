"""The headless demo runs end to end and reports what it found."""

from __future__ import annotations

from galaxyscope.cli import main


def test_demo_generates_loads_and_summarises(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--n", "2", "--seed", "3", "--samples", "2", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert (out / "catalog.ecsv").exists()
    assert "synthetic set: 2 images" in text
    assert "gz-bar-examples: 22 images" in text
    assert "barred: 11, not barred: 11" in text
    # either the shipped model measured the set, or the demo said clearly why not
    assert ("paper" in text and "moments" in text) or "no shipped model" in text


def test_demo_rejects_bad_count(capsys):
    assert main(["demo", "--n", "0"]) == 2
    assert "--n must be at least 1" in capsys.readouterr().err
