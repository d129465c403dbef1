"""The project's exception types.

Why one type: batch code catches exactly this, records it and goes on; the CLI
prints ``str(err)`` as one line; the GUI shows it in the status bar.
"""

from __future__ import annotations

from pathlib import Path


class GalaxyscopeError(Exception):
    """Base class of every error galaxyscope raises on purpose."""


class ImageReadError(GalaxyscopeError):
    """A file could not be read as a galaxy image (or a catalogue, or a model).

    The message always names the file and the reason, e.g.
    ``"broken.fits: not a FITS file (no SIMPLE card)"``.
    """

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class ModelLoadError(ImageReadError):
    """A checkpoint is missing, malformed or unsafe (e.g. a pickle)."""


class CancelledError(GalaxyscopeError):
    """Long work stopped because its cancel check returned True."""
