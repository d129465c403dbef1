"""Shared test fixtures."""

from __future__ import annotations

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
