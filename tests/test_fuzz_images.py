"""Seeded fuzzing of the image readers: a few hundred mutants of each format, no traceback, no hang.

Every mutant must either read or raise `ImageReadError` (one clear line), within a
deadline per file. Mutations: random bytes, truncation, inserted garbage, and FITS
structural cards (NAXISn, BITPIX, NAXIS) set to hostile values such as -2, which
made astropy loop forever before issue 15.
"""

from __future__ import annotations

import gzip
import io
import threading
from collections import Counter

import numpy as np
import pytest
from astropy.io import fits
from PIL import Image

from galaxyscope.errors import ImageReadError
from galaxyscope.images.readers import read_image

N_MUTANTS = 300
SEED = 15
PER_FILE_S = 10.0
_CARDS = (b"NAXIS1  =", b"NAXIS2  =", b"NAXIS   =", b"BITPIX  =", b"CDELT1  =", b"PCOUNT  =")
_VALUES = (b"-1", b"-2", b"-3", b"-424", b"0", b"999", b"99999999", b"1e30", b"nan", b"abc", b"2.5", b"T")


def _bases(rng: np.random.Generator) -> dict[str, bytes]:
    def fits_image() -> bytes:
        buf = io.BytesIO()
        hdu = fits.PrimaryHDU(rng.random((24, 20)).astype(np.float32))
        hdu.header.update(CTYPE1="RA---TAN", CTYPE2="DEC--TAN", CDELT1=-1e-4, CDELT2=1e-4)
        hdu.writeto(buf)
        return buf.getvalue()

    def fits_extension() -> bytes:
        buf = io.BytesIO()
        fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(rng.random((16, 16)).astype(np.float32))]).writeto(buf)
        return buf.getvalue()

    def raster(fmt: str) -> bytes:
        buf = io.BytesIO()
        Image.fromarray((rng.random((20, 24, 3)) * 255).astype(np.uint8)).save(buf, format=fmt)
        return buf.getvalue()

    return {"fits": fits_image(), "ext.fits": fits_extension(), "fits.gz": gzip.compress(fits_image()),
            "png": raster("PNG"), "jpg": raster("JPEG")}


def _mutate(rng: np.random.Generator, data: bytes, kind: str) -> bytes:
    d = bytearray(data)
    op = int(rng.integers(0, 5))
    if op == 0:
        for _ in range(int(rng.integers(1, 8))):
            d[int(rng.integers(0, len(d)))] = int(rng.integers(0, 256))
    elif op == 1:
        d = d[: int(rng.integers(0, len(d)))]
    elif op == 2 and kind.endswith("fits"):
        key = _CARDS[int(rng.integers(0, len(_CARDS)))]
        i = d.find(key, 2880 if kind == "ext.fits" and rng.random() < 0.5 else 0)
        if i >= 0:
            card = key + b" " + _VALUES[int(rng.integers(0, len(_VALUES)))].rjust(20)
            d[i:i + len(card)] = card
    elif op == 3:
        i = int(rng.integers(0, len(d)))
        d[i:i] = rng.bytes(int(rng.integers(1, 100)))
    else:
        i, n = int(rng.integers(0, len(d))), int(rng.integers(1, 200))
        d[i:i + n] = rng.bytes(n)
    return bytes(d)


def _outcome(path) -> str:
    box: dict[str, str] = {}

    def run() -> None:
        try:
            read_image(path)
            box["r"] = "read"
        except ImageReadError as err:
            box["r"] = "error" if str(err).startswith(str(path)) and err.reason else f"bad message {err!r}"
        except BaseException as exc:  # noqa: BLE001 - the point of the test
            box["r"] = f"traceback {type(exc).__name__}: {exc}"

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(PER_FILE_S)
    return box.get("r", "hang")


def test_mutated_images_never_traceback_or_hang(tmp_path):
    rng = np.random.default_rng(SEED)
    bases = _bases(rng)
    kinds = list(bases)
    seen: Counter[str] = Counter()
    bad: list[str] = []
    for j in range(N_MUTANTS):
        kind = kinds[j % len(kinds)]
        path = tmp_path / f"m{j:04d}.{kind}"
        path.write_bytes(_mutate(rng, bases[kind], kind))
        result = _outcome(path)
        seen[result if result in ("read", "error") else "bad"] += 1
        if result not in ("read", "error"):
            bad.append(f"{path.name}: {result}")
            if result == "hang":
                break  # a hung thread keeps spinning; stop here
    assert not bad, f"{len(bad)} mutants misbehaved ({dict(seen)}):\n" + "\n".join(bad[:20])
    assert seen["error"] > N_MUTANTS // 4 and seen["read"] > 0  # the mutants really are mixed


@pytest.mark.parametrize("value", [-1, -2, -3, -1000])
@pytest.mark.parametrize("key", [b"NAXIS1  =", b"NAXIS2  ="])
def test_every_negative_axis_is_refused_quickly(tmp_path, key, value):
    buf = io.BytesIO()
    fits.PrimaryHDU(np.ones((424, 424), np.float32)).writeto(buf)
    raw = bytearray(buf.getvalue())
    i = raw.find(key)
    raw[i:i + 30] = key + b" " + str(value).encode().rjust(20)
    path = tmp_path / "neg.fits"
    path.write_bytes(bytes(raw))
    assert _outcome(path) == "error"
