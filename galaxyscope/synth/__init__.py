"""Synthetic Galaxy Zoo 2-like disc galaxies with exactly known bars (no Qt).

Why: human bar lengths disagree by up to 20 %, so honest validation of a bar measurement needs
galaxies whose bar is known exactly; training needs many of them framed like GZ2.

- ``sample_params(seed, index, size, has_bar, style, artefact)`` -> ``GalaxyParams``
- ``render_galaxy(params)`` -> ``SyntheticGalaxy`` (RGB float image, gri bands, bar mask, truth)
- ``generate_dataset(outdir, n, seed, ...)`` -> ``astropy.table.Table`` (also ``catalog.ecsv``)
- ``read_catalog(path)`` reads it back with empty strings kept.
Definitions of every truth column: ``galaxyscope.synth.truth``.
"""

from __future__ import annotations

import importlib
from typing import Any

# public name -> module; imported on first use so that ``galaxyscope --help`` (which imports
# the synth CLI module) does not pay for astropy.modeling and scipy
_EXPORTS = {
    "SynthConfigError": "dataset",
    "generate_dataset": "dataset",
    "plan_dataset": "dataset",
    "read_catalog": "dataset",
    "ProjectedBar": "geometry",
    "projected_bar": "geometry",
    "ArtefactSpec": "params",
    "GalaxyParams": "params",
    "sample_params": "params",
    "SyntheticGalaxy": "render",
    "render_galaxy": "render",
    "GalaxyTruth": "truth",
    "GZ2Votes": "votes",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"galaxyscope.synth.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'galaxyscope.synth' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
