"""A fast command line: ``--help`` and ``--version`` import no heavy library (issue 17, item 4).

Why: building the parser used to import torch, SciPy, SQLAlchemy and astropy.table, so
``galaxyscope --help`` took seconds. The packages now export their names lazily (PEP 562)
and the command modules import heavy libraries only when they run. No timings here
(they belong to benchmarks/bench_startup.py); these tests read which modules
``python -X importtime`` saw imported.
"""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

#: what --help / --version must not import (top-level package names, or a dotted prefix)
HEAVY = ("torch", "captum", "PySide6", "pyqtgraph", "scipy", "sqlalchemy", "astropy.table", "matplotlib")

#: the packages whose __init__ exports names lazily
LAZY_PACKAGES = ("images", "store", "evaluate", "measure", "synth", "saliency")


def imported_modules(*args: str) -> set[str]:
    """Names of every module a fresh ``python -X importtime -m galaxyscope ARGS`` imported."""
    res = subprocess.run([sys.executable, "-X", "importtime", "-m", "galaxyscope", *args],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    names = set()
    for line in res.stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            name = line.rsplit("|", 1)[1].strip()
            if name != "imported package":  # the header: "self [us] | cumulative | imported package"
                names.add(name)
    assert "galaxyscope.cli" in names, "importtime output not understood"  # never pass on an empty parse
    return names


def heavy_among(names: set[str]) -> list[str]:
    return sorted(n for n in names if any(n == h or n.startswith(h + ".") for h in HEAVY))


@pytest.mark.parametrize("args", [
    ("--help",),
    ("--version",),
    ("measure", "--help"),
    ("train", "--help"),
    ("evaluate", "--help"),
    ("annotations", "import", "--help"),
    ("info", "--help"),
    ("gui", "--help"),
    ("demo", "--help"),
    ("scan-bias", "--help"),
])
def test_help_imports_no_heavy_library(args):
    names = imported_modules(*args)
    assert heavy_among(names) == [], f"galaxyscope {' '.join(args)} imported {heavy_among(names)[:10]}"


def test_version_does_not_import_numpy():
    names = imported_modules("--version")
    assert not any(n == "numpy" or n.startswith("numpy.") for n in names)


def test_the_parse_would_see_a_heavy_import():
    """The check itself: a module that imports scipy shows up in the parsed names."""
    res = subprocess.run([sys.executable, "-X", "importtime", "-c", "import scipy.stats"],
                         capture_output=True, text=True, timeout=300)
    names = {line.rsplit("|", 1)[1].strip() for line in res.stderr.splitlines() if line.count("|") == 2}
    assert heavy_among(names)


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_every_exported_name_still_resolves(package):
    mod = importlib.import_module(f"galaxyscope.{package}")
    assert mod.__all__, package
    assert set(mod.__all__) <= set(dir(mod))
    for name in mod.__all__:
        value = getattr(mod, name)
        assert value is not None, f"galaxyscope.{package}.{name}"
        # ``from galaxyscope.PKG import NAME`` gives the same object
        ns: dict = {}
        exec(f"from galaxyscope.{package} import {name} as v", ns)
        assert ns["v"] is value
    with pytest.raises(AttributeError):
        getattr(mod, "no_such_name")


@pytest.mark.parametrize("package,where", [
    ("images", {"ImageSet": "imageset", "read_catalogue": "catalogue", "read_image": "readers"}),
    ("store", {"AnnotationStore": "annotation_store", "BarLine": "records", "StoreError": "errors"}),
    ("evaluate", {"evaluate": "evaluation", "build_pairs": "comparison", "best_scale": "baselines"}),
    ("measure", {"measure_bar": "api", "BAR_METHODS": "api", "PaperParams": "params", "to_units": "units"}),
])
def test_lazy_names_are_the_submodules_objects(package, where):
    pkg = importlib.import_module(f"galaxyscope.{package}")
    for name, module in where.items():
        assert getattr(pkg, name) is getattr(importlib.import_module(f"galaxyscope.{package}.{module}"), name)


def test_submodules_are_still_importable_from_the_packages():
    from galaxyscope.measure import trust, units
    from galaxyscope.store import migrations, operations

    assert units.__name__ == "galaxyscope.measure.units" and trust.__name__ == "galaxyscope.measure.trust"
    assert operations.__name__ == "galaxyscope.store.operations"
    assert migrations.__name__ == "galaxyscope.store.migrations"


@pytest.mark.parametrize("package,heavy", [
    ("images", "astropy.table"), ("store", "sqlalchemy"), ("evaluate", "scipy"), ("measure", "scipy"),
])
def test_importing_a_package_alone_stays_light(package, heavy):
    code = (f"import sys, galaxyscope.{package}; "
            f"print(sorted(m for m in sys.modules if m == {heavy!r} or m.startswith({heavy!r} + '.'))[:5])")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip() == "[]", f"import galaxyscope.{package} imported {res.stdout.strip()}"


def test_network_names_match_the_registry():
    from galaxyscope.model.network_names import DEFAULT_NETWORK, NETWORK_NAMES
    from galaxyscope.model.networks import NETWORKS, available_networks

    assert list(NETWORK_NAMES) == available_networks()
    assert DEFAULT_NETWORK in NETWORKS


def test_evaluate_defaults_match_the_modules():
    from galaxyscope.evaluate import baselines, comparison, defaults, metrics

    assert defaults.DEFAULT_RESAMPLES == metrics.DEFAULT_RESAMPLES
    assert defaults.DEFAULT_CONFIDENCE == metrics.DEFAULT_CONFIDENCE
    assert defaults.DEFAULT_KEY == comparison.DEFAULT_KEY
    assert defaults.DEFAULT_FOLDS == baselines.DEFAULT_FOLDS
