"""Shared test fixtures."""

from __future__ import annotations

import gc
import sys
from pathlib import Path

import pytest
import torch

# experiments/, benchmarks/ and tools/ are packages of the repository root, not of galaxyscope:
# `python -m pytest` from the root already finds them, a bare `pytest` needs the root on the path.
REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


@pytest.fixture
def one_torch_thread():
    """Run a test with torch on one thread (training tests stay deterministic and cheap)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def collect_qt_garbage_on_the_main_thread(request):
    """After a test that used Qt, collect its garbage here, on the main thread.

    Why: otherwise Python's collector may run later inside a worker thread (a model load
    allocates much) and destroy a finished test's widgets there, which can deadlock PySide
    (seen once: a model-loading worker stuck in ``QObject::~QObject`` -> GIL acquire).
    """
    yield
    if "qtbot" in request.fixturenames:  # the GUI tests (a collection costs ~0.3 s: not after every test)
        gc.collect()


@pytest.fixture
def own_noise(monkeypatch):
    """bar_evidence with a noise of its own (0.07, the one tried in measurable-bars.md section 6):
    the shipped table gives it SmoothGrad's, so the mechanism is tested on a patched table."""
    import dataclasses

    from galaxyscope.saliency import methods

    spec = methods.METHODS["bar_evidence"]
    monkeypatch.setitem(methods.METHODS, "bar_evidence",
                        dataclasses.replace(spec, defaults={**spec.defaults, "noise": 0.07}))
    return 0.07
