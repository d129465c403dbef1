"""The headless demo runs end to end and reports what it found."""

from __future__ import annotations

from galaxyscope.cli import main


def test_demo_generates_loads_and_summarises(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--headless", "--n", "2", "--seed", "3", "--samples", "2", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert (out / "catalog.ecsv").exists()
    assert "synthetic set: 2 images" in text
    assert "gz-bar-examples: 22 images" in text
    assert "barred: 11, not barred: 11" in text
    # either the shipped model measured the set, or the demo said clearly why not
    assert ("paper" in text and "moments" in text) or "no shipped model" in text


def test_demo_rejects_bad_count(capsys):
    assert main(["demo", "--headless", "--n", "0"]) == 2
    assert "--n must be at least 1" in capsys.readouterr().err


def test_demo_without_display_falls_back_to_headless(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr("sys.platform", "linux")
    assert main(["demo", "--n", "1", "--samples", "2", "--out", str(tmp_path / "d")]) == 0
    captured = capsys.readouterr()
    assert "no display found" in captured.err
    assert "synthetic set: 1 images" in captured.out
