"""Read one image file (JPEG, PNG, FITS) into a `GalaxyImage`.

Why one entry point: the rest of galaxyscope never sees a format. The reader
picks the format from the file's first bytes (falling back on the extension),
decodes the whole file so truncation shows up here rather than as grey pixels
later, and turns every failure into `ImageReadError(path, reason)`.
"""

from __future__ import annotations

import gzip
import math
import os
import warnings
import zlib
from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np

from galaxyscope.errors import ImageReadError
from galaxyscope.images.fits_scan import scan_fits
from galaxyscope.images.galaxy_image import GalaxyImage
from galaxyscope.safe_files import not_regular_reason

#: file name endings read as images (compared in lower case)
FITS_SUFFIXES: tuple[str, ...] = (".fits", ".fit", ".fts", ".fits.gz", ".fit.gz", ".fts.gz")
RASTER_SUFFIXES: tuple[str, ...] = (".jpg", ".jpeg", ".png")
IMAGE_SUFFIXES: tuple[str, ...] = RASTER_SUFFIXES + FITS_SUFFIXES

_JPEG_MAGIC = b"\xff\xd8\xff"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_FITS_MAGIC = b"SIMPLE  ="
_GZIP_MAGIC = b"\x1f\x8b"


_SUFFIXES_LONGEST_FIRST = tuple(sorted(IMAGE_SUFFIXES, key=len, reverse=True))


def image_suffix(path: str | Path) -> str:
    """The image ending of ``path`` in lower case ('.fits.gz', '.jpg', ...), or ''."""
    name = (path if isinstance(path, str) else os.fspath(path)).lower()
    if not name.endswith(IMAGE_SUFFIXES):
        return ""
    for suffix in _SUFFIXES_LONGEST_FIRST:
        if name.endswith(suffix):
            return suffix
    return ""


def is_image_file(path: str | Path) -> bool:
    """True when the name ends in one of `IMAGE_SUFFIXES` (case-insensitive); reads nothing."""
    return image_suffix(path) != ""


def image_stem(path: str | Path) -> str:
    """File name without its image ending ('a.fits.gz' -> 'a'); the default image id."""
    p = Path(path)
    suffix = image_suffix(p)
    return p.name[: -len(suffix)] if suffix else p.stem


def read_image(path: str | Path) -> GalaxyImage:
    """Read a JPEG, PNG or FITS file into a `GalaxyImage`.

    Why: the single place where formats are handled. The format comes from the
    content (magic bytes) first, so a PNG named .jpg still reads; the extension
    only decides which error to report for content nobody recognises.
    Raises `ImageReadError` naming the path and a specific reason for any file
    that cannot be read; no other exception type escapes for a bad file. Only
    regular files are opened: a named pipe, socket or device is refused unread
    (opening one can wait forever).
    """
    path = Path(path)
    problem = not_regular_reason(path)
    if problem is not None:
        if problem.startswith("is a directory"):
            problem = "is a directory, not an image file"
        raise ImageReadError(path, problem)
    head = _read_head(path)
    if not head:
        raise ImageReadError(path, "empty file")
    suffix = image_suffix(path)
    if head.startswith(_FITS_MAGIC):
        return _read_fits(path)
    if head.startswith(_GZIP_MAGIC):
        inner = _gunzip_head(path)
        if inner.startswith(_FITS_MAGIC):
            return _read_fits(path)
        if suffix in FITS_SUFFIXES:
            raise ImageReadError(path, "not a FITS file (gzip content has no SIMPLE card)")
        raise ImageReadError(path, "cannot identify image file (gzip content is not FITS)")
    if head.startswith(_JPEG_MAGIC):
        return _read_raster(path, "JPEG")
    if head.startswith(_PNG_MAGIC):
        return _read_raster(path, "PNG")
    if suffix in FITS_SUFFIXES:
        raise ImageReadError(path, "not a FITS file (no SIMPLE card)")
    # Anything else: let Pillow try (TIFF, GIF, BMP, ...); it reports what it cannot identify.
    return _read_raster(path)


# --------------------------------------------------------------------------- helpers


def _read_head(path: Path, n: int = 16) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read(n)
    except FileNotFoundError:
        raise ImageReadError(path, "no such file") from None
    except IsADirectoryError:
        raise ImageReadError(path, "is a directory, not an image file") from None
    except PermissionError:
        raise ImageReadError(path, "permission denied") from None
    except OSError as exc:
        if os.path.isdir(path):
            raise ImageReadError(path, "is a directory, not an image file") from None
        raise ImageReadError(path, f"cannot open file ({exc.strerror or exc})") from None


def _gunzip_head(path: Path) -> bytes:
    try:
        with gzip.open(path, "rb") as fh:
            return fh.read(len(_FITS_MAGIC))
    except (OSError, EOFError, ValueError, zlib.error) as exc:
        raise ImageReadError(path, f"corrupt gzip file ({exc})") from None


def _finish(path: Path, pixels: np.ndarray, **kwargs: Any) -> GalaxyImage:
    finite = np.isfinite(pixels)
    if not finite.any():
        if np.isnan(pixels).all():
            raise ImageReadError(path, "all pixels are NaN")
        raise ImageReadError(path, "no finite pixels (all NaN or infinite)")
    return GalaxyImage(pixels=pixels, id=image_stem(path), path=path, **kwargs)


# --------------------------------------------------------------------------- raster


def _read_raster(path: Path, expected: str | None = None) -> GalaxyImage:
    """JPEG/PNG (and whatever else Pillow knows) -> float32 HxWxC in [0, 1].

    ``expected``: the format the magic bytes announced, used in error reasons.
    """
    from PIL import Image, UnidentifiedImageError

    fmt = expected or "image"
    try:
        with Image.open(path) as im:
            fmt = im.format or "image"
            im.load()  # full decode: truncation raises here (LOAD_TRUNCATED_IMAGES stays off)
            if im.format == "PNG":
                _check_png_rows(path, im.size)
            pixels = _raster_to_float(im)
    except ImageReadError:
        raise
    except UnidentifiedImageError:
        if expected:
            raise ImageReadError(path, f"corrupt {expected} (starts like one, but its header does not parse)") from None
        raise ImageReadError(path, "cannot identify image file") from None
    except Image.DecompressionBombError as exc:
        raise ImageReadError(path, f"image too large ({exc})") from None
    except MemoryError:
        raise ImageReadError(path, f"{fmt} too large to load into memory") from None
    except Exception as exc:  # Pillow raises OSError, SyntaxError, ValueError, struct.error, ...
        msg = str(exc) or type(exc).__name__
        if "truncated" in msg.lower():
            raise ImageReadError(path, f"truncated {fmt} ({msg})") from None
        raise ImageReadError(path, f"corrupt {fmt} ({msg})") from None
    return _finish(path, pixels)


_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))


def _check_png_rows(path: Path, size: tuple[int, int]) -> None:
    """Raise when the PNG's pixel data holds fewer rows than its header announces.

    Why: Pillow fills the missing rows with zeros without a word when the
    compressed stream ends early, so a damaged height (65535 instead of 424)
    reads as a 65535-row image that is mostly black.
    """
    with open(path, "rb") as fh:
        data = fh.read()
    pos, ihdr, inflate, got = 8, None, zlib.decompressobj(), 0
    while pos + 8 <= len(data):
        length = int.from_bytes(data[pos:pos + 4], "big")
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR" and len(body) >= 13:
            ihdr = body
        elif kind == b"IDAT":
            try:
                while body:
                    got += len(inflate.decompress(body, 1 << 20))
                    body = inflate.unconsumed_tail
            except zlib.error:
                return  # Pillow read it, so leave its verdict alone
        elif kind == b"IEND":
            break
        pos += 12 + length
    if ihdr is None:
        return
    try:
        got += len(inflate.flush())
    except zlib.error:
        return
    width, height = size
    depth, colour, interlace = ihdr[8], ihdr[9], ihdr[12]
    bits = _PNG_CHANNELS.get(colour, 1) * depth

    def row_bytes(w: int) -> int:
        return 1 + (w * bits + 7) // 8

    if interlace:
        passes = [(-(-(width - x0) // dx), -(-(height - y0) // dy)) for x0, y0, dx, dy in _ADAM7]
        needed = sum(ph * row_bytes(pw) for pw, ph in passes if pw > 0 and ph > 0)
    else:
        needed = height * row_bytes(width)
    if got < needed:
        rows = got // row_bytes(width) if not interlace else None
        held = f"about {rows} rows" if rows is not None else f"{got} of {needed} bytes"
        raise ImageReadError(path, f"corrupt PNG (its header says {width} x {height} pixels, but its "
                                   f"pixel data holds only {held}; the header is damaged or the file cut)")


def _raster_to_float(im: Any) -> np.ndarray:
    """Pillow image -> float32 HxWxC scaled by bit depth; alpha dropped, CMYK/palette -> RGB.

    16-bit grey keeps its 16 bits; Pillow decodes 16-bit RGB PNGs at 8 bits, so
    those arrive with 8-bit precision. EXIF orientation is not applied: pixels
    stay in stored order, as survey cutouts expect.
    """
    mode = im.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N"):
        return np.asarray(im).astype(np.float32) / 65535.0
    if mode == "I":
        arr = np.asarray(im)
        # 16-bit PNGs may open as 32-bit 'I'; their values stay within 16 bits
        scale = 65535.0 if (im.format == "PNG" or arr.max(initial=0) <= 65535) else 4294967295.0
        return (arr.astype(np.float64) / scale).astype(np.float32)
    if mode == "F":
        return np.asarray(im, dtype=np.float32)
    if mode in ("1", "L", "LA", "La"):
        grey = im if mode == "L" else im.convert("L")
        return np.asarray(grey, dtype=np.float32) / 255.0
    rgb = im if mode == "RGB" else im.convert("RGB")  # RGBA, CMYK, P, PA, YCbCr, LAB, HSV
    return np.asarray(rgb, dtype=np.float32) / 255.0


# --------------------------------------------------------------------------- FITS


def _read_fits(path: Path) -> GalaxyImage:
    """First HDU with image data -> float32 HxWxC with physical values, WCS and pixel scale."""
    from astropy.io import fits
    from astropy.utils.exceptions import AstropyUserWarning

    layout = scan_fits(path)  # checks the structure astropy would otherwise loop on
    if layout.image_index is None:
        raise ImageReadError(path, "FITS has no image data")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with fits.open(path, memmap=False) as hdul:
                index, hdu = _image_hdu(path, hdul, layout.image_index)
                _check_complete(path, hdul, index, hdu)
                header = hdu.header.copy()
                data = hdu.data
                raw_int = data is not None and data.dtype.kind in "iu"
                data = None if data is None else np.array(data, dtype=np.float64 if raw_int else None)
    except ImageReadError:
        raise
    except MemoryError:
        raise ImageReadError(path, "FITS image too large to load into memory") from None
    except KeyError as exc:  # astropy: a required card (BITPIX, NAXISn) is missing or garbled
        card = exc.args[0] if exc.args else "?"
        raise ImageReadError(path, f"corrupt FITS header (missing or unparsable {card!r} card)") from None
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise ImageReadError(path, f"truncated FITS (compressed stream ends early: {exc})") from None
    except Exception as exc:  # astropy raises OSError, ValueError, VerifyError, TypeError, ...
        msg = " ".join(str(exc).split()) or type(exc).__name__
        if _truncation_warning(caught, AstropyUserWarning) or "reshape" in msg:
            raise ImageReadError(path, f"truncated FITS ({_truncation_text(caught) or msg})") from None
        if "SIMPLE" in msg:
            raise ImageReadError(path, "not a FITS file (no SIMPLE card)") from None
        if "Empty or corrupt" in msg:
            detail = _header_problem(caught)
            raise ImageReadError(path, f"corrupt FITS header{f' ({detail})' if detail else ''}") from None
        raise ImageReadError(path, f"corrupt FITS ({msg})") from None
    if data is None:
        raise ImageReadError(path, "FITS has no image data")

    blank = header.get("BLANK")
    if raw_int and blank is not None:
        # astropy turns BLANK into NaN only when it scales to float; integer results
        # (no scaling, or the unsigned BZERO=2**(n-1) convention) still hold it
        physical = float(blank) * float(header.get("BSCALE", 1.0)) + float(header.get("BZERO", 0.0))
        data[data == physical] = np.nan
    pixels, band_axis = _fits_pixels(path, data)
    band_names = _band_names(header, pixels.shape[2], band_axis)
    wcs = _celestial_wcs(header)
    scale = pixel_scale_from_header(header, wcs)
    return _finish(path, pixels, header=header, wcs=wcs, pixel_scale=scale, band_names=band_names)


def _image_hdu(path: Path, hdul: Any, index: int) -> tuple[int, Any]:
    """HDU ``index`` (found by `scan_fits`), checked to be an image with data.

    Why by index: astropy then reads only the headers up to it, all of which the
    scan has checked, instead of walking the whole file.
    """
    from astropy.io import fits

    image_types = (fits.PrimaryHDU, fits.ImageHDU, fits.CompImageHDU)
    try:
        hdu = hdul[index]
    except IndexError:
        raise ImageReadError(path, "corrupt FITS (an HDU the file announces cannot be read)") from None
    naxis = int(hdu.header.get("NAXIS", 0) or 0) if isinstance(hdu, image_types) else 0
    dims = [int(hdu.header.get(f"NAXIS{i}", 0) or 0) for i in range(1, naxis + 1)]
    if not dims or min(dims) <= 0:
        raise ImageReadError(path, "FITS has no image data")
    return index, hdu


def _check_complete(path: Path, hdul: Any, index: int, hdu: Any) -> None:
    """Raise 'truncated FITS' when the file ends before the image data does.

    Why explicit: astropy only warns about a short file, and warnings are not a
    reliable signal when several threads read images at once.
    """
    from astropy.io import fits

    if isinstance(hdu, fits.CompImageHDU) or image_suffix(path).endswith(".gz"):
        return  # sizes on disk are compressed; decompression reports a short stream
    info = hdul.fileinfo(index)
    if not info or info.get("datLoc") is None:
        return
    header = hdu.header
    naxis = int(header.get("NAXIS", 0) or 0)
    count = math.prod(int(header.get(f"NAXIS{i}", 0) or 0) for i in range(1, naxis + 1))
    nbytes = abs(int(header.get("BITPIX", 8))) // 8 * int(header.get("GCOUNT", 1) or 1) * (
        int(header.get("PCOUNT", 0) or 0) + count)
    needed = int(info["datLoc"]) + nbytes
    size = os.path.getsize(path)
    if size < needed:
        raise ImageReadError(path, f"truncated FITS (file is {size} bytes, its header needs {needed})")


def _fits_pixels(path: Path, data: np.ndarray) -> tuple[np.ndarray, int | None]:
    """(bands, H, W) / (H, W) / (1, ..., H, W) -> float32 HxWxC; the band axis it used."""
    shape = tuple(int(s) for s in data.shape)
    arr = data
    while arr.ndim > 3 and arr.shape[0] == 1:  # e.g. (Stokes=1, freq=1, H, W)
        arr = arr[0]
    if arr.ndim == 3 and arr.shape[0] == 1 and len(shape) > 3:
        arr = arr[0]
    if arr.ndim > 3:
        raise ImageReadError(path, f"{len(shape)}-D FITS image not supported (shape {shape})")
    if arr.ndim == 1:
        raise ImageReadError(path, f"1-D FITS data is not an image (shape {shape})")
    if arr.ndim == 2:
        return arr.astype(np.float32)[:, :, None], None
    return np.moveaxis(arr, 0, -1).astype(np.float32), 3


def _band_names(header: Any, channels: int, band_axis: int | None) -> tuple[str, ...]:
    """Band names from BANDn / FILTERn keywords (cube) or FILTER / BAND (single plane)."""
    if band_axis is None and channels == 1:
        for key in ("FILTER", "BAND", "FILTER1", "BAND1"):
            value = header.get(key)
            if isinstance(value, str) and value.strip():
                return (value.strip(),)
        return ()
    for prefix in ("BAND", "FILTER", "BANDNAME"):
        names = [header.get(f"{prefix}{i}") for i in range(1, channels + 1)]
        if all(isinstance(n, str) and n.strip() for n in names):
            return tuple(n.strip() for n in names)  # type: ignore[union-attr]
    return ()


def _celestial_wcs(header: Any) -> Any:
    """`WCS(header).celestial` when the header has celestial axes, else None (never raises)."""
    from astropy.wcs import WCS

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wcs = WCS(header)
            if not wcs.has_celestial:
                return None
            return wcs.celestial
    except Exception:  # a broken WCS makes the image unlocated, not unreadable
        return None


def pixel_scale_from_header(header: Any, wcs: Any = None) -> u.Quantity | None:
    """Arcsec per pixel from a FITS header: WCS first, then PIXSCALE/PIXSCAL1/SECPIX, then CDELT.

    Why: FITS cutouts carry their own scale; knowing it lets bar lengths leave
    the core in arcsec (and kpc) instead of pixels. The WCS value is the
    geometric mean of the two celestial axes (`proj_plane_pixel_scales`). A
    header whose WCS astropy cannot parse (e.g. WCSAXES = 99) gives an unknown
    scale, not CDELT alone.
    """
    if wcs is not None:
        value = _wcs_scale_arcsec(wcs)
        if value is not None:
            return value * u.arcsec / u.pixel
    if header is None:
        return None
    for key in ("PIXSCALE", "PIXSCAL1", "SECPIX", "SECPIX1"):
        v1 = _positive(header.get(key))
        if v1 is None:
            continue
        partner = {"PIXSCAL1": "PIXSCAL2", "SECPIX1": "SECPIX2"}.get(key)
        v2 = _positive(header.get(partner)) if partner else None
        return (math.sqrt(v1 * v2) if v2 else v1) * u.arcsec / u.pixel
    if wcs is None and _wcs_broken(header):
        return None  # CDELT belongs to that WCS: alone it gives nonsense (1 deg/px = 3600 arcsec)
    c1 = _positive(header.get("CDELT1"), absolute=True)
    c2 = _positive(header.get("CDELT2"), absolute=True)
    if c1 is not None or c2 is not None:
        deg = math.sqrt(c1 * c2) if (c1 and c2) else (c1 or c2)
        return (deg * u.deg).to(u.arcsec) / u.pixel
    return None


_WCS_KEYS = ("WCSAXES", "CTYPE1", "CTYPE2", "CD1_1", "PC1_1", "CRPIX1")


def _wcs_broken(header: Any) -> bool:
    """True when the header describes a WCS that astropy refuses to parse."""
    if not any(key in header for key in _WCS_KEYS):
        return False
    from astropy.wcs import WCS

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            WCS(header)
    except Exception:  # noqa: BLE001 - any failure means: do not trust its cards
        return True
    return False


def _wcs_scale_arcsec(wcs: Any) -> float | None:
    from astropy.wcs.utils import proj_plane_pixel_scales

    try:
        cel = wcs.celestial if wcs.naxis > 2 else wcs
        scales = np.asarray(proj_plane_pixel_scales(cel), dtype=float)
        units = [str(cu) or "deg" for cu in cel.wcs.cunit]
        arcsec = [(s * u.Unit(unit)).to_value(u.arcsec) for s, unit in zip(scales, units)]
    except Exception:
        return None
    if len(arcsec) < 2:
        return None
    value = math.sqrt(abs(arcsec[0]) * abs(arcsec[1]))
    return value if math.isfinite(value) and value > 0 else None


def _positive(value: Any, *, absolute: bool = False) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    if absolute:
        v = abs(v)
    return v if math.isfinite(v) and v > 0 else None


def _truncation_warning(caught: list[warnings.WarningMessage], category: type) -> bool:
    return any(issubclass(w.category, category) and "truncated" in str(w.message) for w in caught)


def _truncation_text(caught: list[warnings.WarningMessage]) -> str:
    for w in caught:
        text = str(w.message)
        if "truncated" in text:
            start = text.find("actual file length")
            return text[start:] if start >= 0 else text
    return ""


def _header_problem(caught: list[warnings.WarningMessage]) -> str:
    for w in caught:
        text = " ".join(str(w.message).split())
        if "Unparsable card" in text or "header" in text.lower():
            start = text.find("Unparsable card")
            text = text[start:] if start >= 0 else text
            return text.split(", fix it")[0].split(" There may")[0]
    return ""
