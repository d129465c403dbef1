"""Galaxy images: the `GalaxyImage` type, file readers, image sets and catalogues."""

from __future__ import annotations

import importlib
from typing import Any

# public name -> submodule, imported on first use (PEP 562) so that ``galaxyscope --help``,
# which imports this package's command module, does not pay for astropy.table (catalogues) and the image readers
_WHERE = {
    "join_catalogue": "catalogue",
    "match_rows": "catalogue",
    "read_catalogue": "catalogue",
    "GalaxyImage": "galaxy_image",
    "ImageEntry": "imageset",
    "ImageSet": "imageset",
    "IMAGE_SUFFIXES": "readers",
    "is_image_file": "readers",
    "read_image": "readers",
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
