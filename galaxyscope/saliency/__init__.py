"""Saliency maps (SmoothGrad and other Captum attributions) and their on-disk cache (no Qt).

Names are loaded on first use, so ``import galaxyscope.saliency.methods`` or
``.cli_args`` (what ``galaxyscope --help`` needs) does not import torch or Captum.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "METHODS": "methods",
    "MethodSpec": "methods",
    "SaliencyError": "methods",
    "SaliencyResult": "attributions",
    "TargetScore": "attributions",
    "compute_saliency": "attributions",
    "SaliencyCache": "cache",
    "default_cache_root": "cache",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
