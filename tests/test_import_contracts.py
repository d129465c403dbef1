"""The layering contracts in pyproject.toml ([tool.importlinter]) hold on the repo, and break
when a core module imports Qt, the GUI or a layer above it: the check can fail, so CI means it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import galaxyscope

ROOT = Path(galaxyscope.__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def contract_names() -> dict[str, str]:
    """Each contract's type by its name, read from pyproject so the test follows edits."""
    contracts = tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]["contracts"]
    return {c["name"]: c["type"] for c in contracts}


def run_lint_imports(repo: Path) -> tuple[int, dict[str, str], str]:
    """Run lint-imports on the package under ``repo``: exit code, KEPT/BROKEN per contract, output."""
    env = dict(os.environ, PYTHONPATH=str(repo), COLUMNS="400", NO_COLOR="1")
    res = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo"],  # reads repo/pyproject.toml (the cwd)
        cwd=repo, env=env, capture_output=True, text=True, timeout=120,
    )
    out = res.stdout + res.stderr
    flat = re.sub(r"\s+", " ", out)
    verdicts = {}
    for name in contract_names():
        m = re.search(re.escape(name) + r" (KEPT|BROKEN)", flat)
        verdicts[name] = m.group(1) if m else "MISSING"
    return res.returncode, verdicts, out


def name_of(kind: str, text: str) -> str:
    """The one contract of type ``kind`` whose name contains ``text``."""
    hits = [n for n, t in contract_names().items() if t == kind and text in n]
    assert len(hits) == 1, (kind, text, hits)
    return hits[0]


CORE_NO_QT = name_of("forbidden", "core")
ONLY_GUI = name_of("protected", "Qt")
LAYERS = name_of("layers", "Layers")
HELPERS_NO_QT = name_of("forbidden", "helpers")


def test_lint_imports_is_installed():
    # it is in the `test` extra; a missing tool must not make the contracts silently unchecked
    assert LINT_IMPORTS.exists(), f"{LINT_IMPORTS} missing: pip install -e '.[test]'"


def test_contracts_hold_on_the_repo():
    rc, verdicts, out = run_lint_imports(ROOT)
    assert rc == 0, out
    assert set(verdicts.values()) == {"KEPT"}, verdicts
    assert set(contract_names().values()) >= {"forbidden", "protected", "layers"}


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    """galaxyscope/ and pyproject.toml copied, so an injected import breaks only the copy."""
    shutil.copytree(ROOT / "galaxyscope", tmp_path / "galaxyscope",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy(PYPROJECT, tmp_path / "pyproject.toml")
    return tmp_path


def inject(repo: Path, module_file: str, line: str) -> None:
    path = repo / "galaxyscope" / module_file
    old = path.read_text() if path.exists() else '"""A module added later."""\n'
    path.write_text(old + f"\n{line}\n")


@pytest.mark.parametrize(
    ("module_file", "line", "broken"),
    [
        # a core module importing Qt
        ("images/__init__.py", "import PySide6", {CORE_NO_QT, ONLY_GUI}),
        ("evaluate/plot.py", "from pyqtgraph import mkPen", {CORE_NO_QT, ONLY_GUI}),
        # ...and the helpers that use a core module are then no longer Qt-free either
        ("store/engine.py", "import shiboken6", {CORE_NO_QT, HELPERS_NO_QT}),
        # a core module importing the GUI: also a layer above it
        ("measure/units.py", "from galaxyscope.gui import bar_fit", {CORE_NO_QT, ONLY_GUI, LAYERS}),
        # a layer above it (model must not know the annotation store), inside a function too
        ("model/framing.py", "def _f():\n    from galaxyscope.store import operations", {LAYERS}),
        # siblings stay independent: saliency must not use the store
        ("saliency/cache.py", "import galaxyscope.store.engine", {LAYERS}),
        # images is below measure: the image layer must not call the measurements
        ("images/extent.py", "from galaxyscope.measure import units", {LAYERS}),
        # a new top-level module: no list names it, the protected contract still sees it
        ("newly_added.py", "from PySide6 import QtWidgets", {ONLY_GUI}),
        # nothing imports the entry point, not even the GUI
        ("gui/app.py", "from galaxyscope import cli", {LAYERS}),
        # a Qt-free GUI helper starting to import Qt
        ("gui/bar_fit.py", "from PySide6 import QtCore", {HELPERS_NO_QT}),
    ],
)
def test_contracts_break_when_a_module_imports_upwards(repo_copy, module_file, line, broken):
    inject(repo_copy, module_file, line)
    rc, verdicts, out = run_lint_imports(repo_copy)
    assert rc != 0, out
    assert {n for n, v in verdicts.items() if v == "BROKEN"} == broken, (verdicts, out)
    assert {n for n, v in verdicts.items() if v == "KEPT"} == set(verdicts) - broken, verdicts
    # the report points at the injected import
    dotted = "galaxyscope." + module_file.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
    assert dotted in out, out
