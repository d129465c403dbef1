"""The PyInstaller spec compiles and, run with stand-ins for PyInstaller's build classes, names the
launcher, the package's command modules and resources/; the launcher calls freeze_support before
the CLI; resources_dir() finds sys._MEIPASS/resources in a frozen program. No bundle is built here."""

from __future__ import annotations

import ast
import subprocess
import sys
import types
from pathlib import Path

import pytest

from galaxyscope import resources

REPO = Path(__file__).resolve().parents[1]
SPEC = REPO / "packaging" / "galaxyscope.spec"
LAUNCHER = REPO / "packaging" / "launcher.py"
BUILD = REPO / "packaging" / "build_bundle.sh"


# ---------------------------------------------------------------- resources_dir when frozen


def test_resources_dir_is_under_meipass_when_frozen(tmp_path, monkeypatch):
    monkeypatch.delenv(resources.ENV_VAR, raising=False)
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert resources.resources_dir() == tmp_path / "resources"


def test_environment_variable_wins_over_the_bundle(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path / "bundle"), raising=False)
    monkeypatch.setenv(resources.ENV_VAR, str(tmp_path / "mine"))
    assert resources.resources_dir() == tmp_path / "mine"


def test_meipass_alone_does_not_make_a_bundle(tmp_path, monkeypatch):
    monkeypatch.delenv(resources.ENV_VAR, raising=False)
    monkeypatch.delattr(sys, "frozen", raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert resources.resources_dir() == REPO / "resources"


# ---------------------------------------------------------------- the spec


def test_spec_compiles():
    compile(SPEC.read_text(encoding="utf-8"), str(SPEC), "exec")


class _Recorder:
    """Stands in for Analysis / PYZ / EXE / COLLECT and remembers how it was called."""

    calls: dict[str, tuple[tuple, dict]] = {}

    def __init__(self, name: str):
        self.name = name

    def __call__(self, *args, **kwargs):
        _Recorder.calls[self.name] = (args, kwargs)
        return types.SimpleNamespace(pure=[], scripts=[], binaries=[], datas=[], zipped_data=[])


@pytest.fixture
def run_spec(monkeypatch):
    hooks = types.ModuleType("PyInstaller.utils.hooks")
    hooks.collect_submodules = lambda package, filter=None: [f"{package}.<all>"]
    hooks.collect_data_files = lambda package, includes=None: [(f"<{package} data>", package)]
    hooks.copy_metadata = lambda dist: [(f"<{dist} metadata>", ".")]
    for name, module in (("PyInstaller", types.ModuleType("PyInstaller")),
                         ("PyInstaller.utils", types.ModuleType("PyInstaller.utils")),
                         ("PyInstaller.utils.hooks", hooks)):
        monkeypatch.setitem(sys.modules, name, module)
    _Recorder.calls = {}
    namespace = {"SPECPATH": str(SPEC.parent), "__file__": str(SPEC)}
    namespace.update({n: _Recorder(n) for n in ("Analysis", "PYZ", "EXE", "COLLECT")})
    exec(compile(SPEC.read_text(encoding="utf-8"), str(SPEC), "exec"), namespace)
    return _Recorder.calls


def test_spec_names_the_launcher_the_commands_and_the_resources(run_spec):
    args, kwargs = run_spec["Analysis"]
    scripts = args[0]
    assert [Path(s) for s in scripts] == [LAUNCHER]
    assert "galaxyscope.<all>" in kwargs["hiddenimports"]  # cli.py imports its commands by name
    datas = {(Path(src), dest) for src, dest in kwargs["datas"] if not src.startswith("<")}
    assert (REPO / "resources", "resources") in datas  # what resources_dir() looks for when frozen
    assert (REPO / "NOTICE", ".") in datas and (REPO / "LICENSE", ".") in datas
    assert "tkinter" in kwargs["excludes"]
    assert run_spec["EXE"][1]["name"] == "galaxyscope"
    assert run_spec["COLLECT"][1]["name"] == "galaxyscope"  # dist/galaxyscope/galaxyscope


def test_launcher_calls_freeze_support_before_the_cli():
    tree = ast.parse(LAUNCHER.read_text(encoding="utf-8"))
    main_block = next(n for n in tree.body if isinstance(n, ast.If))
    calls = [ast.unparse(n) for n in ast.walk(main_block) if isinstance(n, ast.Call)]
    assert calls[0] == "multiprocessing.freeze_support()"
    imports = [n for n in ast.walk(main_block) if isinstance(n, ast.ImportFrom)]
    assert [(i.module, [a.name for a in i.names]) for i in imports] == [("galaxyscope.cli", ["main"])]


def test_launcher_runs_the_cli(tmp_path):
    run = subprocess.run([sys.executable, str(LAUNCHER), "--version"], capture_output=True, text=True,
                         cwd=tmp_path)
    from galaxyscope import __version__

    assert run.returncode == 0 and run.stdout.strip() == f"galaxyscope {__version__}"


def test_build_script_is_valid_bash_and_smoke_tests_the_bundle():
    check = subprocess.run(["bash", "-n", str(BUILD)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    text = BUILD.read_text(encoding="utf-8")
    for needed in ("--version", "demo --screenshot", "packaging/galaxyscope.spec", "mktemp -d", "env -i"):
        assert needed in text
