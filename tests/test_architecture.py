"""The core stays free of Qt: every module outside galaxyscope/gui imports with Qt made unimportable."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import galaxyscope

PKG = Path(galaxyscope.__file__).parent
FORBIDDEN = ("PySide6", "pyqtgraph", "galaxyscope.gui", "PyQt5", "PyQt6")


def core_modules() -> list[str]:
    mods = []
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[1:2] == ["gui"]:
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if parts[-1] == "__main__":
            continue
        mods.append(".".join(parts))
    return mods


def test_no_core_file_imports_qt():
    offenders = []
    for path in PKG.rglob("*.py"):
        if "gui" in path.relative_to(PKG).parts[:1]:
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for n in names:
                if n.startswith(FORBIDDEN):
                    offenders.append(f"{path}:{node.lineno} imports {n}")
    assert not offenders, "\n".join(offenders)


def test_core_imports_with_qt_unavailable():
    mods = core_modules()
    assert "galaxyscope.cli" in mods and "galaxyscope.images" in mods
    code = f"""
import sys, importlib, importlib.abc
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('PySide6', 'pyqtgraph', 'PyQt5', 'PyQt6'):
            raise ImportError('Qt is blocked in this test: ' + name)
        return None
sys.meta_path.insert(0, Block())
for m in {mods!r}:
    importlib.import_module(m)
from galaxyscope.cli import build_parser
build_parser()
bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph')]
assert not bad, bad
print('ok', len({mods!r}))
"""
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.startswith("ok")
