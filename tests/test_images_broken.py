"""A corpus of broken inputs: each fails with one clear ImageReadError, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from PIL import Image

from galaxyscope.cli import main
from galaxyscope.errors import ImageReadError
from galaxyscope.images import ImageSet, read_image

REPO = Path(__file__).resolve().parents[1]


def _jpeg_bytes(size: int = 48) -> bytes:
    rng = np.random.default_rng(0)
    picture = Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8))
    buf = BytesIO()
    picture.save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def _png_bytes() -> bytes:
    buf = BytesIO()
    Image.fromarray(np.arange(32 * 32, dtype=np.uint8).reshape(32, 32)).save(buf, format="PNG")
    return buf.getvalue()


def _fits_bytes(data: np.ndarray) -> bytes:
    buf = BytesIO()
    fits.PrimaryHDU(data).writeto(buf)
    return buf.getvalue()


def make_broken_corpus(folder: Path) -> dict[str, str]:
    """Write each broken file; return name -> a word its reason must contain."""
    folder.mkdir(parents=True, exist_ok=True)
    jpeg = _jpeg_bytes()
    (folder / "truncated.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    good_fits = _fits_bytes(np.ones((40, 40), np.float32))
    corrupt = bytearray(good_fits)
    corrupt[80:160] = b"\x00" * 80  # smash the BITPIX / NAXIS cards
    (folder / "corrupt.fits").write_bytes(bytes(corrupt))
    (folder / "cut.fits").write_bytes(good_fits[: 2880 + 1000])  # header + part of the data
    (folder / "empty.png").write_bytes(b"")
    (folder / "notes.fits").write_text("these are my observing notes, not a FITS file\n")
    png = bytearray(_png_bytes())
    png[40:70] = b"garbage!" * 3 + b"123456"  # inside the IDAT stream
    (folder / "bad.png").write_bytes(bytes(png))
    png = bytearray(_png_bytes())
    idat = png.index(b"IDAT") + 4
    png[idat + 2: idat + 40] = b"\xff" * 38  # compressed pixel data, headers intact
    (folder / "bad_data.png").write_bytes(bytes(png))
    hdr_only = fits.PrimaryHDU()
    hdr_only.writeto(folder / "header_only.fits")
    fits.PrimaryHDU(np.zeros((2, 3, 8, 8), np.float32)).writeto(folder / "cube4d.fits")
    fits.PrimaryHDU(np.full((8, 8), np.nan, np.float32)).writeto(folder / "allnan.fits")
    (folder / "random.jpg").write_bytes(np.random.default_rng(1).bytes(500))
    return {
        "truncated.jpg": "truncated JPEG",
        "corrupt.fits": "corrupt FITS",
        "cut.fits": "truncated FITS",
        "empty.png": "empty file",
        "notes.fits": "not a FITS file",
        "bad.png": "corrupt PNG",
        "bad_data.png": "PNG",
        "header_only.fits": "FITS has no image data",
        "cube4d.fits": "4-D FITS image not supported (shape (2, 3, 8, 8))",
        "allnan.fits": "all pixels are NaN",
        "random.jpg": "cannot identify image file",
    }


@pytest.fixture
def corpus(tmp_path):
    return tmp_path / "broken", make_broken_corpus(tmp_path / "broken")


def test_each_broken_file_raises_image_read_error_with_a_specific_reason(corpus):
    folder, expected = corpus
    for name, reason in expected.items():
        with pytest.raises(ImageReadError) as info:
            read_image(folder / name)
        err = info.value
        assert err.path == folder / name, name
        assert reason in err.reason, (name, err.reason)
        assert str(err).startswith(str(folder / name) + ": "), name
        assert "\n" not in str(err), name


def test_missing_file_and_directory_are_image_read_errors(tmp_path):
    with pytest.raises(ImageReadError, match="no such file"):
        read_image(tmp_path / "nope.jpg")
    with pytest.raises(ImageReadError, match="is a directory"):
        read_image(tmp_path)


def test_info_reports_each_broken_file_in_one_line(corpus, capsys):
    folder, expected = corpus
    for name, reason in expected.items():
        code = main(["info", str(folder / name)])
        out, err = capsys.readouterr()
        assert code == 2, name
        lines = err.strip().splitlines()
        assert len(lines) == 1, (name, err)
        assert lines[0].startswith(f"galaxyscope info: error: {folder / name}: "), lines[0]
        assert reason in lines[0]
        assert "Traceback" not in out + err


def test_info_goes_on_after_a_broken_file(corpus, tmp_path, capsys):
    folder, _ = corpus
    good = tmp_path / "good.png"
    Image.fromarray(np.full((6, 5), 128, np.uint8)).save(good)
    code = main(["info", str(folder / "cut.fits"), str(good), str(folder / "empty.png")])
    out, err = capsys.readouterr()
    assert code == 2
    assert len(err.strip().splitlines()) == 2
    assert str(good) in out and "6 x 5 x 1" in out


def test_info_as_subprocess_has_no_traceback(corpus):
    folder, _ = corpus
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run(
        [sys.executable, "-m", "galaxyscope", "info", str(folder / "truncated.jpg"),
         str(folder / "cube4d.fits")],
        capture_output=True, text=True, cwd=REPO, env=env, timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 2, proc.stderr
    assert lines[0].startswith("galaxyscope info: error: ") and "truncated JPEG" in lines[0]
    assert "4-D FITS image not supported" in lines[1]


def test_image_set_skips_broken_files_and_lists_them(corpus):
    folder, expected = corpus
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(folder / "fine.png")
    fits.PrimaryHDU(np.ones((5, 5), np.float32)).writeto(folder / "fine.fits")
    images = ImageSet.open(folder)
    assert len(images) == len(expected) + 2  # listing reads nothing, so all are entries
    read = dict((images.entries[i].key, im) for i, im in images.iter_images())
    assert set(read) == {"fine.png", "fine.fits"}
    assert read["fine.fits"].shape == (5, 5, 1)
    assert {f.path.name for f in images.failures} == set(expected)
    assert all(isinstance(f, ImageReadError) for f in images.failures)
    # a second pass does not list the same failures twice
    list(images.iter_images())
    assert len(images.failures) == len(expected)
