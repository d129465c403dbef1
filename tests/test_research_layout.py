"""Research code lives beside the package, not in it or in tests/: every script in experiments/,
benchmarks/ and tools/ imports and answers --help without data, imports no other script's private
names, edits no sys.path and names no machine's data folder; the shared module's path rules."""

from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
FOLDERS = ("experiments", "benchmarks", "tools")
SCRIPTS = sorted(p for f in FOLDERS for p in (REPO / f).glob("*.py") if p.name != "__init__.py")
NAMES = [f"{p.parent.name}.{p.stem}" for p in SCRIPTS]
#: the modules a script may import from the three folders (everything else is another script)
SHARED = {"experiments.common", "tools.mosaic"}


def test_the_folders_hold_the_scripts_and_the_package_does_not():
    assert not (REPO / "tests" / "benchmarks").exists()
    assert {"experiments.common", "experiments.exp_saliency", "benchmarks.bench_measure",
            "tools.screenshots", "tools.mosaic"} <= set(NAMES)
    assert not (REPO / "galaxyscope" / "gui" / "screenshots.py").exists()
    assert not (REPO / "galaxyscope" / "synth" / "mosaic.py").exists()


@pytest.mark.parametrize("path", SCRIPTS, ids=NAMES)
def test_script_imports_only_shared_modules_and_leaves_sys_path_alone(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    source = path.read_text(encoding="utf-8")
    assert "sys.path" not in source.replace("``sys.path``", "")
    assert "/work/" not in source, "a machine's folder: use an option or $GALAXYSCOPE_DATA"
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            top = node.module.split(".")[0]
            if top in FOLDERS:
                assert node.module in SHARED or node.module in FOLDERS, f"imports script {node.module}"
                for alias in node.names:
                    assert not alias.name.startswith("_"), f"imports private {alias.name}"
                    if node.module in FOLDERS:
                        assert f"{node.module}.{alias.name}" in SHARED
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in FOLDERS:
                    assert alias.name in SHARED, f"imports script {alias.name}"


HELP_SKIP = {"experiments.common"}  # a module, not a script


@pytest.mark.parametrize("name", [n for n in NAMES if n not in HELP_SKIP])
def test_script_shows_help_without_any_data(name, monkeypatch, capsys):
    monkeypatch.delenv("GALAXYSCOPE_DATA", raising=False)
    module = importlib.import_module(name)
    monkeypatch.setattr(sys, "argv", [name, "--help"])
    with pytest.raises(SystemExit) as exc:
        module.main()
    assert exc.value.code == 0
    assert "usage:" in capsys.readouterr().out


def test_data_options_default_under_galaxyscope_data_or_are_required(monkeypatch, tmp_path, capsys):
    import argparse

    from experiments.common import add_data_option

    monkeypatch.setenv("GALAXYSCOPE_DATA", str(tmp_path))
    ap = argparse.ArgumentParser()
    add_data_option(ap, "--val", "val200", "validation set")
    assert ap.parse_args([]).val == tmp_path / "val200"
    assert ap.parse_args(["--val", "elsewhere"]).val == Path("elsewhere")

    monkeypatch.delenv("GALAXYSCOPE_DATA")
    ap = argparse.ArgumentParser()
    add_data_option(ap, "--val", "val200", "validation set")
    with pytest.raises(SystemExit):
        ap.parse_args([])
    assert "--val" in capsys.readouterr().err


def test_display_path_hides_this_machines_folders(monkeypatch, tmp_path):
    from experiments.common import REPO as ROOT
    from experiments.common import display_path

    monkeypatch.setenv("GALAXYSCOPE_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("GALAXYSCOPE_SHARED_DATA", str(tmp_path / "shared"))
    assert display_path(tmp_path / "data" / "val200") == "$GALAXYSCOPE_DATA/val200"
    shared_file = str(tmp_path / "shared" / "gz2-kaggle" / "a.jpg")
    assert display_path(shared_file) == "$GALAXYSCOPE_SHARED_DATA/gz2-kaggle/a.jpg"
    assert display_path(ROOT / "docs" / "evaluation.md") == "docs/evaluation.md"
    assert display_path("docs/x.md") == "docs/x.md"
    assert display_path(tmp_path / "other") == str(tmp_path / "other")


def test_shared_data_follows_its_variable(monkeypatch, tmp_path):
    from experiments.common import REPO as ROOT
    from experiments.common import shared_data

    monkeypatch.delenv("GALAXYSCOPE_SHARED_DATA", raising=False)
    assert shared_data("gz-bar-examples") == ROOT.parent / "shared" / "data" / "gz-bar-examples"
    monkeypatch.setenv("GALAXYSCOPE_SHARED_DATA", str(tmp_path))
    assert shared_data("gz-bar-examples") == tmp_path / "gz-bar-examples"


def test_measurable_bars_need_a_bar_and_a_vote_of_one_half():
    from experiments.common import measurable_bars

    has = np.array([1, 1, 1, 0, 1])
    vote = np.array([0.5, 0.49, np.nan, 0.9, 0.8])
    assert measurable_bars(has, vote).tolist() == [True, False, False, False, True]


def test_open_barred_keeps_the_barred_rows_with_their_truth(tmp_path):
    from experiments.common import open_barred
    from galaxyscope.synth.dataset import generate_dataset

    generate_dataset(tmp_path / "s", n=6, seed=4, size=96, bar_fraction=0.5)
    bars = open_barred(tmp_path / "s")
    s = bars.images
    barred = np.flatnonzero(np.asarray(s.column("has_bar"), bool))
    assert 0 < len(bars) == len(barred) < len(s)
    np.testing.assert_allclose(bars.true, np.asarray(s.column("bar_length_px"), float)[barred])
    assert np.all(bars.true > 0) and np.all(bars.r90 > 0)
    assert bars.image(0).pixels.shape[:2] == (96, 96)
