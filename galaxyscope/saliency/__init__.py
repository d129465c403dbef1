"""Saliency maps (SmoothGrad and other Captum attributions) and their on-disk cache (no Qt)."""

from galaxyscope.saliency.attributions import (
    METHODS,
    MethodSpec,
    SaliencyError,
    SaliencyResult,
    TargetScore,
    compute_saliency,
)
from galaxyscope.saliency.cache import SaliencyCache, default_cache_root

__all__ = [
    "METHODS",
    "MethodSpec",
    "SaliencyCache",
    "SaliencyError",
    "SaliencyResult",
    "TargetScore",
    "compute_saliency",
    "default_cache_root",
]
