"""Batch reads under a time and memory guard (issue 15): a hung read is a reported
skipped image within the timeout, an image declaring too many pixels is refused
without decoding, and the defaults leave normal images alone."""

from __future__ import annotations

import struct
import threading
import time
import zlib

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from PIL import Image

import galaxyscope.images.imageset as imageset_mod
from galaxyscope.cli import main
from galaxyscope.errors import ImageReadError
from galaxyscope.images.guarded_read import ReadLimits, check_declared_size, guarded_read
from galaxyscope.images.imageset import ImageSet
from model_testdata import write_bar_dataset
from test_jobs_measure import tiny_model


def _png_claiming(path, width, height):
    """A tiny valid PNG whose IHDR is edited to claim width x height (CRC fixed)."""
    Image.fromarray(np.full((8, 8, 3), 100, np.uint8)).save(path)
    data = bytearray(path.read_bytes())
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])) & 0xFFFFFFFF)
    path.write_bytes(bytes(data))
    return path


def test_hung_read_is_a_reported_skip_and_the_batch_goes_on(tmp_path, monkeypatch, capsys):
    data = write_bar_dataset(tmp_path / "set", n=3, size=48, seed=2)
    names = sorted(p.name for p in data.glob("*.png"))
    hung = names[1]
    release = threading.Event()
    calls: list[tuple[str, float]] = []
    real = imageset_mod.read_image

    def reader(path):
        calls.append((path.name, time.monotonic()))
        if path.name == hung:
            release.wait()  # forever, until the test ends
        return real(path)

    monkeypatch.setattr(imageset_mod, "read_image", reader)
    out = tmp_path / "res.csv"
    try:
        rc = main(["measure", str(data), "--model", str(tiny_model(tmp_path / "m.safetensors")),
                   "--method", "moments", "--samples", "2", "--no-cache", "--quiet", "--no-agreement",
                   "--read-timeout", "0.5", "--out", str(out)])
    finally:
        release.set()
    err = capsys.readouterr().err
    assert rc == 0, err
    assert f"{hung}: reading took longer than 0.5 s; skipped (the read is abandoned)" in err
    order = [n for n, _ in calls]
    i = order.index(hung)
    assert order[i + 1] != hung, "the batch moved on to the next image"
    assert calls[i + 1][1] - calls[i][1] < 2.0  # the hang cost about the timeout, not forever
    t = Table.read(out, format="ascii.csv")
    assert sorted(set(t["filename"])) == sorted(n for n in names if n != hung)
    assert not (tmp_path / "res.csv.partial.csv").exists()


def test_header_declaring_too_many_pixels_is_skipped_without_decoding(tmp_path, monkeypatch, capsys):
    data = write_bar_dataset(tmp_path / "set", n=2, size=48, seed=3)
    (tmp_path / "plain").mkdir()
    big = _png_claiming(tmp_path / "plain" / "huge.png", 60000, 60000)
    for p in data.glob("*.png"):
        (tmp_path / "plain" / p.name).write_bytes(p.read_bytes())
    opened: list[str] = []
    real = imageset_mod.read_image
    monkeypatch.setattr(imageset_mod, "read_image", lambda path: (opened.append(path.name), real(path))[1])
    out = tmp_path / "res.ecsv"
    rc = main(["measure", str(tmp_path / "plain"), "--model", str(tiny_model(tmp_path / "m.safetensors")),
               "--method", "moments", "--samples", "2", "--no-cache", "--quiet", "--no-agreement",
               "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "huge.png: image too large: its header declares 60000 x 60000 = 3,600,000,000 pixels, " \
           "more than the 200,000,000 allowed (--max-image-pixels)" in err
    assert "huge.png" not in opened  # refused before the reader ever ran
    assert len(set(Table.read(out)["filename"])) == 2
    assert big.stat().st_size < 200


def test_size_cap_for_fits_jpeg_and_pillow_bomb_limit(tmp_path, monkeypatch):
    f = tmp_path / "a.fits"
    fits.PrimaryHDU(np.ones((10, 12), np.float32)).writeto(f)
    j = tmp_path / "b.jpg"
    Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(j)
    check_declared_size(f, 120)  # exactly at the cap: fine
    with pytest.raises(ImageReadError, match=r"a\.fits: image too large: its header declares 12 x 10 = 120 "):
        check_declared_size(f, 119)
    with pytest.raises(ImageReadError, match=r"b\.jpg: image too large: its header declares 30 x 20 = 600 "):
        guarded_read(j, lambda: pytest.fail("decoded"), ReadLimits(max_pixels=599))
    # Pillow's own decompression-bomb refusal is a clear reason, not a traceback
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    with pytest.raises(ImageReadError, match=r"b\.jpg: image too large: its header declares 600 pixels, "
                                             r"more than Pillow's decompression-bomb limit of 200"):
        guarded_read(j, lambda: pytest.fail("decoded"), ReadLimits())


def test_defaults_skip_no_normal_image(tmp_path):
    data = write_bar_dataset(tmp_path / "set", n=4, size=48, seed=4)
    fits.PrimaryHDU(np.random.default_rng(0).random((40, 40)).astype(np.float32)).writeto(data / "x.fits")
    image_set = ImageSet.open(data)
    got = [i for i, _ in image_set.iter_images()]
    assert got == list(range(len(image_set))) and not image_set.failures
    plain = ImageSet.open(data / "x.fits")
    assert [im.width for _, im in plain.iter_images()] == [40]
    # off means off: no thread, no size check
    assert guarded_read(data / "x.fits", lambda: 7, ReadLimits(timeout_s=0, max_pixels=0)) == 7
    with pytest.raises(ValueError):
        ReadLimits(timeout_s=-1)


def test_bad_option_values_are_one_line_errors(tmp_path, capsys):
    data = write_bar_dataset(tmp_path / "set", n=1, size=48, seed=5)
    rc = main(["measure", str(data), "--read-timeout", "-2", "--out", str(tmp_path / "r.ecsv")])
    assert rc != 0
    assert "--read-timeout must be a number of seconds >= 0" in capsys.readouterr().err
