"""A time and memory guard around each image read in a batch.

Why: one hostile or broken file must cost its own row, never the batch. Some reads
can hang (a decoder or astropy looping on a damaged file, a stalled network
filesystem) and some files declare sizes that would need gigabytes once decoded
(a PNG header saying 60000 x 60000). So in a batch every read

- first checks the size the file's header declares, without decoding: FITS
  through `fits_scan` (the axes of the image HDU it finds), PNG/JPEG/others
  through Pillow's ``Image.open(...).size`` (which reads the header only). More
  than ``max_pixels`` is refused with a reason naming the file and the size.
  Pillow's own decompression-bomb error becomes such a reason too, and its
  warning is silenced for sizes the cap allowed (the cap decided, not a warning
  nobody reads);
- then runs in a plain daemon thread (``threading.Thread(daemon=True)``), waited
  for at most ``timeout_s``. Not a ThreadPoolExecutor: its threads are joined at
  interpreter exit, so one hung read would keep the finished process alive. A read
  that times out is abandoned (Python cannot kill a thread; it keeps running in
  the background until it ends or the process exits) and reported as a skipped
  image; the batch moves on.

``timeout_s = 0`` (or None) turns the time guard off, ``max_pixels = 0`` (or
None) the size check; Pillow's own limit (about 179 M pixels) still applies to
PNG/JPEG.
"""

from __future__ import annotations

import re
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, TypeVar

from galaxyscope.errors import ImageReadError

T = TypeVar("T")

#: seconds one image read may take in a batch (``--read-timeout``)
DEFAULT_READ_TIMEOUT_S = 60.0
#: most pixels (width x height, or all FITS axes) a batch decodes (``--max-image-pixels``)
DEFAULT_MAX_IMAGE_PIXELS = 200_000_000


@dataclass(frozen=True)
class ReadLimits:
    """How long one read may take and how large an image may be; 0/None = no limit."""

    timeout_s: float | None = DEFAULT_READ_TIMEOUT_S
    max_pixels: int | None = DEFAULT_MAX_IMAGE_PIXELS

    def __post_init__(self) -> None:
        if self.timeout_s is not None and not self.timeout_s >= 0:
            raise ValueError(f"read timeout must be >= 0 seconds (0 = off), got {self.timeout_s}")
        if self.max_pixels is not None and self.max_pixels < 0:
            raise ValueError(f"max image pixels must be >= 0 (0 = off), got {self.max_pixels}")


def guarded_read(path: str | Path, read: Callable[[], T], limits: ReadLimits | None = None) -> T:
    """``read()``'s result, after the size check and within the time limit.

    Raises `ImageReadError` (naming ``path``) when the header declares too many
    pixels or the read takes longer than ``limits.timeout_s``; whatever ``read``
    raises is re-raised as is. ``limits=None``: no guard at all.
    """
    if limits is None:
        return read()
    path = Path(path)

    def work() -> T:
        if limits.max_pixels:
            check_declared_size(path, limits.max_pixels)
        with warnings.catch_warnings():
            _ignore_pil_bomb_warning()
            return read()

    timeout = limits.timeout_s
    if not timeout:
        return work()
    box: dict[str, object] = {}
    done = threading.Event()

    def target() -> None:
        try:
            box["value"] = work()
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
            box["error"] = exc
        finally:
            done.set()

    thread = threading.Thread(target=target, name=f"galaxyscope-read {path.name}", daemon=True)
    thread.start()
    if not done.wait(timeout):
        raise ImageReadError(path, f"reading took longer than {timeout:g} s; skipped (the read is abandoned)")
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]


def check_declared_size(path: str | Path, max_pixels: int) -> None:
    """Raise `ImageReadError` when the header of ``path`` declares more than ``max_pixels``.

    Reads headers only (never decodes pixel data). A file whose header cannot be
    read is left to the reader, which reports it with its usual reason.
    """
    path = Path(path)
    declared = declared_size(path)
    if declared is None:
        return
    dims, count = declared
    if count > max_pixels:
        raise ImageReadError(path, f"image too large: its header declares {dims} = {count:,} pixels, more than "
                                   f"the {max_pixels:,} allowed (--max-image-pixels); skipped without decoding")


def declared_size(path: Path) -> tuple[str, int] | None:
    """('W x H', pixel count) from the header, or None when it cannot be told cheaply."""
    from galaxyscope.images.readers import _FITS_MAGIC, _GZIP_MAGIC, FITS_SUFFIXES, image_suffix
    from galaxyscope.safe_files import not_regular_reason

    if not_regular_reason(path) is not None:
        return None  # the reader refuses it unopened, with its reason
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
    except OSError:
        return None
    if head.startswith(_FITS_MAGIC) or (head.startswith(_GZIP_MAGIC) and image_suffix(path) in FITS_SUFFIXES):
        return _fits_size(path)
    if not head:
        return None
    if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR":
        with open(path, "rb") as fh:
            ihdr = fh.read(24)[16:24]
        if len(ihdr) == 8:  # width, height: big-endian, right after the IHDR tag
            width, height = int.from_bytes(ihdr[:4], "big"), int.from_bytes(ihdr[4:], "big")
            return f"{width} x {height}", width * height
    return _raster_size(path)


def _fits_size(path: Path) -> tuple[str, int] | None:
    import math

    from galaxyscope.images.fits_scan import scan_fits

    layout = scan_fits(path)  # raises ImageReadError for broken structure (what the reader says too)
    if layout.image_index is None:
        return None
    shape = layout.hdus[layout.image_index].shape
    return " x ".join(str(n) for n in shape), math.prod(shape)


def _raster_size(path: Path) -> tuple[str, int] | None:
    from PIL import Image

    try:
        with warnings.catch_warnings():
            _ignore_pil_bomb_warning()
            with Image.open(path) as im:
                width, height = im.size
    except Image.DecompressionBombError as exc:
        found = re.search(r"\((\d+) pixels\)", str(exc))
        count = int(found.group(1)) if found else 0
        limit = 2 * (Image.MAX_IMAGE_PIXELS or 0)
        raise ImageReadError(path, f"image too large: its header declares {count:,} pixels, more than "
                                   f"Pillow's decompression-bomb limit of {limit:,}; skipped without decoding"
                             ) from None
    except Exception:  # noqa: BLE001 - unreadable header: the reader gives the reason
        return None
    return f"{width} x {height}", int(width) * int(height)


def _ignore_pil_bomb_warning() -> None:
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow is a dependency
        return
    warnings.simplefilter("ignore", Image.DecompressionBombWarning)


def add_read_limit_arguments(parser) -> None:
    """``--read-timeout S`` and ``--max-image-pixels N`` for a batch command."""
    parser.add_argument("--read-timeout", type=float, default=DEFAULT_READ_TIMEOUT_S, metavar="S",
                        help="skip (and report) an image whose reading takes longer than S seconds "
                             f"(default {DEFAULT_READ_TIMEOUT_S:g}; 0 = no limit)")
    parser.add_argument("--max-image-pixels", type=int, default=DEFAULT_MAX_IMAGE_PIXELS, metavar="N",
                        help="skip (and report), without decoding, an image whose header declares more than "
                             f"N pixels (default {DEFAULT_MAX_IMAGE_PIXELS:,}; 0 = no limit)")


def limits_from_args(args) -> ReadLimits:
    """The `ReadLimits` the two options ask for; a bad value is a one-line error."""
    from galaxyscope.errors import GalaxyscopeError

    timeout = getattr(args, "read_timeout", DEFAULT_READ_TIMEOUT_S)
    pixels = getattr(args, "max_image_pixels", DEFAULT_MAX_IMAGE_PIXELS)
    import math

    if timeout is None or not math.isfinite(timeout) or timeout < 0:
        raise GalaxyscopeError(f"--read-timeout must be a number of seconds >= 0 (0 = no limit), got {timeout}")
    if pixels is None or pixels < 0:
        raise GalaxyscopeError(f"--max-image-pixels must be >= 0 (0 = no limit), got {pixels}")
    return ReadLimits(timeout_s=float(timeout), max_pixels=int(pixels))
