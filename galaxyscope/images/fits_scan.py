"""Walk a FITS file's HDU structure ourselves, before astropy does.

Why: astropy finds HDU k+1 at the end of HDU k's data, whose size comes from the
header. A negative NAXISn makes that size negative, the next "header" is read
from an earlier offset (often the primary header again), and iterating the
HDUList never ends while memory grows. Here every header is read in 2880-byte
blocks up to its END card (with a cap on its length and on the number of HDUs),
the structural cards are checked (BITPIX, NAXIS 0..999, NAXISn >= 0,
PCOUNT >= 0, GCOUNT >= 0), each HDU must start after the previous one, and the
image found must not be absurdly large. Only then is astropy asked for the one
HDU already known to hold the image (``hdul[index]``), so it never walks
structure that was not checked.
"""

from __future__ import annotations

import gzip
import math
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from galaxyscope.errors import ImageReadError

BLOCK = 2880
CARD = 80
#: longest header accepted, in 2880-byte blocks (36 cards each: 72,000 cards)
MAX_HEADER_BLOCKS = 2000
#: HDUs looked at before giving up (astropy would walk them all)
MAX_HDUS = 1000
#: most pixels (over all axes) an image HDU may claim; 400 M float32 = 1.6 GB
MAX_IMAGE_ELEMENTS = 400_000_000
_BITPIX = (8, 16, 32, 64, -32, -64)


@dataclass(frozen=True)
class HduInfo:
    """What the scan learnt about one HDU."""

    index: int
    kind: str  # "primary", "image", "compressed", "table", "bintable", "groups", other XTENSION
    header_start: int
    data_start: int
    data_size: int  # bytes on disk, before padding
    shape: tuple[int, ...]  # image axes in FITS order (NAXIS1 first); () without data

    @property
    def is_image(self) -> bool:
        return self.kind in ("primary", "image", "compressed")

    @property
    def has_image_data(self) -> bool:
        return self.is_image and len(self.shape) > 0 and min(self.shape) > 0


@dataclass(frozen=True)
class FitsLayout:
    hdus: tuple[HduInfo, ...]
    image_index: int | None  # first HDU with image data (the one galaxyscope reads)

    @property
    def has_table(self) -> bool:
        return any(h.kind in ("table", "bintable") for h in self.hdus)


def scan_fits(path: str | Path, *, stop_at_image: bool = True) -> FitsLayout:
    """The file's HDUs up to (and including) the first one with image data.

    ``stop_at_image=False`` walks every HDU (up to `MAX_HDUS`), e.g. to tell a
    table file from an image file. Raises `ImageReadError` naming the file and
    the card at fault for any structure astropy could loop on or choke over.
    """
    path = Path(path)
    opener = gzip.open if _is_gzip(path) else open
    try:
        with opener(path, "rb") as fh:
            return _scan(path, fh, stop_at_image)
    except ImageReadError:
        raise
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise ImageReadError(path, f"corrupt or truncated gzip stream ({exc})") from None
    except (OSError, ValueError) as exc:
        raise ImageReadError(path, f"corrupt FITS (cannot read its structure: {exc})") from None


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def _scan(path: Path, fh: IO[bytes], stop_at_image: bool) -> FitsLayout:
    hdus: list[HduInfo] = []
    offset = 0
    image_index: int | None = None
    for index in range(MAX_HDUS + 1):
        first = fh.read(BLOCK)
        if index > 0 and (len(first) < BLOCK or not first.startswith(b"XTENSION")):
            break  # end of file, or padding/garbage after the last HDU (astropy ignores it)
        if index == MAX_HDUS:
            raise ImageReadError(path, f"corrupt FITS (more than {MAX_HDUS} HDUs)")
        where = "primary header" if index == 0 else f"header of extension {index}"
        cards, n_blocks = _header_cards(path, fh, first, where)
        info = _hdu_info(path, index, offset, offset + n_blocks * BLOCK, cards, where)
        hdus.append(info)
        if info.has_image_data and image_index is None:
            image_index = index
            if stop_at_image:
                break
        padded = -(-info.data_size // BLOCK) * BLOCK
        offset = info.data_start + padded
        if padded:
            _skip(fh, padded)
    return FitsLayout(tuple(hdus), image_index)


def _skip(fh: IO[bytes], n: int) -> None:
    try:
        fh.seek(n, 1)
    except (OSError, ValueError):  # an unseekable stream: read through it
        while n > 0:
            chunk = fh.read(min(n, 1 << 20))
            if not chunk:
                return
            n -= len(chunk)


def _header_cards(path: Path, fh: IO[bytes], first: bytes, where: str) -> tuple[dict[str, str], int]:
    """(keyword -> raw value text, first occurrence; blocks read) of one header, up to END."""
    cards: dict[str, str] = {}
    block = first
    for n in range(MAX_HEADER_BLOCKS):
        if len(block) < BLOCK:
            if n == 0 and where == "primary header":
                if len(block) == 0:
                    raise ImageReadError(path, "empty file")
            raise ImageReadError(path, f"truncated FITS (the {where} ends before its END card)")
        for i in range(0, BLOCK, CARD):
            card = block[i:i + CARD].decode("ascii", "replace")
            key = card[:8].strip().upper()
            if key == "END":
                return cards, n + 1
            if card[8:9] == "=" and key and key not in cards:
                cards[key] = card[10:] if card[9:10] == " " else card[9:]
        block = fh.read(BLOCK)
    raise ImageReadError(path, f"corrupt FITS (the {where} is longer than {MAX_HEADER_BLOCKS} blocks "
                               "without an END card)")


def _value_text(raw: str) -> str:
    text = raw.strip()
    if text.startswith("'"):
        end = text.find("'", 1)
        return text[1:end if end > 0 else None].strip()
    return text.split("/", 1)[0].strip()


def _int_card(path: Path, cards: dict[str, str], key: str, where: str, default: int | None = None) -> int:
    raw = cards.get(key)
    if raw is None:
        if default is not None:
            return default
        raise ImageReadError(path, f"corrupt FITS header (missing or unparsable {key!r} card in the {where})")
    text = _value_text(raw)
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if math.isfinite(value) and value == int(value):
        return int(value)
    raise ImageReadError(path, f"corrupt FITS header ({key} = {text[:20]!r} in the {where} is not an integer)")


def _true(cards: dict[str, str], key: str) -> bool:
    raw = cards.get(key)
    return raw is not None and _value_text(raw).upper() == "T"


def _hdu_info(path: Path, index: int, header_start: int, data_start: int, cards: dict[str, str],
              where: str) -> HduInfo:
    if index == 0:
        kind = "groups" if _true(cards, "GROUPS") else "primary"
    else:
        xt = _value_text(cards.get("XTENSION", "")).upper()
        kind = {"IMAGE": "image", "BINTABLE": "bintable", "TABLE": "table", "A3DTABLE": "bintable"}.get(
            xt, xt.lower() or "unknown")
        if kind == "bintable" and _true(cards, "ZIMAGE"):
            kind = "compressed"
    bitpix = _int_card(path, cards, "BITPIX", where)
    if bitpix not in _BITPIX:
        raise ImageReadError(path, f"corrupt FITS header (BITPIX = {bitpix} in the {where}; "
                                   f"FITS allows {', '.join(map(str, _BITPIX))})")
    naxis = _int_card(path, cards, "NAXIS", where)
    if not 0 <= naxis <= 999:
        raise ImageReadError(path, f"corrupt FITS header (NAXIS = {naxis} in the {where}; FITS allows 0 to 999)")
    axes = [_int_card(path, cards, f"NAXIS{i}", where) for i in range(1, naxis + 1)]
    for i, n in enumerate(axes, start=1):
        if n < 0:
            raise ImageReadError(path, f"corrupt FITS header (NAXIS{i} = {n} in the {where} is negative)")
    pcount = _int_card(path, cards, "PCOUNT", where, default=0)
    gcount = _int_card(path, cards, "GCOUNT", where, default=1)
    for key, value in (("PCOUNT", pcount), ("GCOUNT", gcount)):
        if value < 0:
            raise ImageReadError(path, f"corrupt FITS header ({key} = {value} in the {where} is negative)")
    counted = axes[1:] if kind == "groups" else axes
    elements = math.prod(counted) if naxis else 0
    data_size = abs(bitpix) // 8 * gcount * (pcount + elements) if naxis else 0
    shape: tuple[int, ...] = tuple(axes)
    if kind == "compressed":
        znaxis = _int_card(path, cards, "ZNAXIS", where)
        if not 0 <= znaxis <= 999:
            raise ImageReadError(path, f"corrupt FITS header (ZNAXIS = {znaxis} in the {where})")
        shape = tuple(_int_card(path, cards, f"ZNAXIS{i}", where) for i in range(1, znaxis + 1))
        for i, n in enumerate(shape, start=1):
            if n < 0:
                raise ImageReadError(path, f"corrupt FITS header (ZNAXIS{i} = {n} in the {where} is negative)")
    elif kind not in ("primary", "image"):
        shape = ()
    if shape and min(shape) > 0 and kind in ("primary", "image", "compressed"):
        count = math.prod(shape)
        if count > MAX_IMAGE_ELEMENTS:
            dims = " x ".join(str(n) for n in reversed(shape))
            raise ImageReadError(path, f"FITS image too large ({dims} = {count:,} pixels in the {where}; "
                                       f"galaxyscope reads at most {MAX_IMAGE_ELEMENTS:,})")
    return HduInfo(index=index, kind=kind, header_start=header_start, data_start=data_start,
                   data_size=data_size, shape=shape)
