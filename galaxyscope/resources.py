"""Where galaxyscope's bundled files (models, real sample images) live.

Why: tests, demos and the GUI need the shipped samples without hard-coding the
checkout's location. The folder is the repository's ``resources/``, found
relative to this package (fine for a source checkout or an editable install);
in a frozen PyInstaller bundle it is ``sys._MEIPASS/resources`` (see
packaging/galaxyscope.spec); ``GALAXYSCOPE_RESOURCES`` overrides both.
"""

from __future__ import annotations

import sys
from pathlib import Path

from galaxyscope.paths import RESOURCES_ENV, resources_override

ENV_VAR = RESOURCES_ENV  # the variable's name (see galaxyscope.paths)


def resources_dir() -> Path:
    """The resources folder: $GALAXYSCOPE_RESOURCES if set, else the frozen bundle's
    ``sys._MEIPASS/resources``, else <repo>/resources."""
    override = resources_override()
    if override is not None:
        return override
    bundle = getattr(sys, "_MEIPASS", None) if getattr(sys, "frozen", False) else None
    if bundle:
        return Path(bundle) / "resources"
    return Path(__file__).resolve().parent.parent / "resources"


def sample_path(*parts: str) -> Path:
    """A path under resources/samples/, e.g. ``sample_path("sdss-fits", "1_15_SDSS_gband.fits")``.

    Raises FileNotFoundError naming the full path when it does not exist, so a
    missing sample fails with a clear message instead of a later read error.
    """
    path = resources_dir().joinpath("samples", *parts)
    if not path.exists():
        raise FileNotFoundError(f"bundled sample not found: {path}")
    return path
