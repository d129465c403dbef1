"""Issue 15: one bad input never stalls a batch, loses results or changes a file.

Each case ran forever (or lost the batch's table) before the fix; the reads here
run in a thread with a deadline, so a regression fails the test instead of
hanging the suite.
"""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from astropy.io import fits
from astropy.table import Table

from galaxyscope.cli import main
from galaxyscope.errors import ImageReadError
from galaxyscope.images.imageset import ImageSet
from galaxyscope.images.readers import read_image
from galaxyscope.model.checkpoint import save_checkpoint
from galaxyscope.model.loaded import LoadedModel, ModelMeta
from galaxyscope.model.networks import build_network
from galaxyscope.model.preprocess import Preprocessing
from model_testdata import write_bar_dataset

DEADLINE_S = 20.0


def within(fn, seconds: float = DEADLINE_S):
    """fn()'s result, or its exception, re-raised here; fails the test if it takes longer."""
    box: dict = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            box["error"] = exc

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    if t.is_alive():
        pytest.fail(f"still running after {seconds:g} s (hang)")
    if "error" in box:
        raise box["error"]
    return box.get("value")


def fits_with_card(path: Path, key: str, value: int, shape=(424, 424)) -> Path:
    """A float32 FITS image whose `key` card was overwritten on disk (astropy refuses to write it)."""
    buf = io.BytesIO()
    fits.PrimaryHDU(np.ones(shape, np.float32)).writeto(buf)
    raw = bytearray(buf.getvalue())
    tag = f"{key:<8s}=".encode()
    i = raw.find(tag)
    card = tag + f" {value:>20d}".encode()
    raw[i:i + len(card)] = card
    path.write_bytes(bytes(raw))
    return path


needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes need a POSIX system")


# ----------------------------------------------------------------------------- hangs


@pytest.mark.parametrize("key", ["NAXIS1", "NAXIS2"])
def test_negative_naxis_is_one_clear_error_not_an_endless_loop(tmp_path, key):
    # NAXISn = -2 made astropy re-read the primary header forever (memory growing ~35 MB/s)
    path = fits_with_card(tmp_path / "neg.fits", key, -2)
    with pytest.raises(ImageReadError, match=rf"{key} = -2 .*is negative"):
        within(lambda: read_image(path))


def test_negative_naxis_in_an_extension_does_not_hang_opening_the_set(tmp_path):
    buf = io.BytesIO()
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.ones((64, 64), np.float32))]).writeto(buf)
    raw = bytearray(buf.getvalue())
    i = raw.find(b"NAXIS1  =", 2880)
    raw[i:i + 30] = b"NAXIS1  = " + b"-3".rjust(20)
    path = tmp_path / "ext.fits"
    path.write_bytes(bytes(raw))
    with pytest.raises(ImageReadError, match="NAXIS1 = -3 in the header of extension 1"):
        within(lambda: read_image(path))
    image_set = within(lambda: ImageSet.open(path))  # is it a table? asked without walking astropy's HDUList
    assert len(image_set) == 1


def test_absurd_naxis_is_refused_before_reading_data(tmp_path):
    path = fits_with_card(tmp_path / "huge.fits", "NAXIS1", 10**9, shape=(20, 20))
    with pytest.raises(ImageReadError, match="too large"):
        within(lambda: read_image(path))


@needs_fifo
def test_named_pipe_is_refused_unopened(tmp_path, capsys):
    pipe = tmp_path / "pipe.jpg"
    os.mkfifo(pipe)
    with pytest.raises(ImageReadError, match="named pipe"):
        within(lambda: read_image(pipe))
    assert within(lambda: main(["info", str(pipe)])) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pipe.jpg: is a named pipe (FIFO)" in err[0]
    fits_pipe = tmp_path / "pipe.fits"
    os.mkfifo(fits_pipe)
    with pytest.raises(ImageReadError, match="named pipe"):
        within(lambda: ImageSet.open(fits_pipe)[0])


def test_character_device_is_refused(tmp_path):
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero")
    with pytest.raises(ImageReadError, match="character device"):
        within(lambda: read_image("/dev/zero"))


# ----------------------------------------------------------------------------- batches


def tiny_model(path: Path) -> Path:
    torch.manual_seed(0)
    net = build_network("small", n_outputs=1, in_channels=3)
    meta = ModelMeta(architecture="small", output_names=["has_bar"], sigmoid_outputs=[True],
                     preprocessing=Preprocessing(input_size=32, crop_fraction=0.5))
    save_checkpoint(LoadedModel(net=net, meta=meta), path)
    return path


def plain_folder(tmp_path: Path, n: int = 2) -> Path:
    """A folder (no catalogue) with ``n`` good PNGs named g0.png, g1.png, ..."""
    data = write_bar_dataset(tmp_path / "set", n=n, size=64, seed=3)
    cat = Table.read(data / "catalog.ecsv")
    folder = tmp_path / "plain"
    folder.mkdir()
    for k, name in enumerate(cat["filename"]):
        (folder / f"g{k}.png").write_bytes((data / str(name)).read_bytes())
    return folder


@needs_fifo
def test_batch_with_a_pipe_and_a_looping_fits_writes_the_good_images(tmp_path, capsys):
    # before: `measure` blocked forever on the pipe (or looped on the FITS) and wrote no table
    folder = plain_folder(tmp_path)
    os.mkfifo(folder / "pipe.jpg")
    fits_with_card(folder / "neg.fits", "NAXIS1", -2)
    model = tiny_model(tmp_path / "m.safetensors")
    out = tmp_path / "res.ecsv"
    rc = within(lambda: main(["measure", str(folder), "--model", str(model), "--samples", "2", "--no-cache",
                              "--quiet", "--method", "moments", "--no-agreement", "--out", str(out)]), 120)
    err = capsys.readouterr().err
    assert rc == 0, err
    assert sorted(Table.read(out)["filename"]) == ["g0.png", "g1.png"]
    assert "pipe.jpg: is a named pipe" in err and "neg.fits: corrupt FITS header (NAXIS1 = -2" in err
    assert "skipped 2 file(s) in all" in err
    assert not (tmp_path / "res.ecsv.partial.csv").exists()


def test_an_unexpected_error_on_one_image_costs_only_that_image(tmp_path, capsys, monkeypatch):
    import galaxyscope.saliency.attributions as attributions

    folder = plain_folder(tmp_path, n=3)
    model = tiny_model(tmp_path / "m.safetensors")
    real = attributions.compute_saliency

    def flaky(model, image, **kw):
        if image.id == "g1.png":
            raise ValueError("a map nobody expected")
        return real(model, image, **kw)

    monkeypatch.setattr(attributions, "compute_saliency", flaky)
    out = tmp_path / "res.ecsv"
    rc = main(["measure", str(folder), "--model", str(model), "--samples", "2", "--no-cache", "--quiet",
               "--method", "moments", "--no-agreement", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 0
    assert sorted(Table.read(out)["filename"]) == ["g0.png", "g2.png"]
    assert "g1.png: could not be measured (ValueError: a map nobody expected)" in err


def test_an_interrupted_batch_keeps_the_finished_images(tmp_path, capsys, monkeypatch):
    import galaxyscope.saliency.attributions as attributions

    folder = plain_folder(tmp_path, n=3)
    model = tiny_model(tmp_path / "m.safetensors")
    real = attributions.compute_saliency
    seen: list[str] = []

    def until_third(model, image, **kw):
        seen.append(image.id)
        if len(seen) == 3:
            raise KeyboardInterrupt  # what SIGTERM now becomes too
        return real(model, image, **kw)

    monkeypatch.setattr(attributions, "compute_saliency", until_third)
    out = tmp_path / "res.ecsv"
    partial_rows: list[list[str]] = []
    import galaxyscope.jobs.cli_measure as cli_measure

    original_write = cli_measure.PartialRows.write

    def spy(self, rows):
        original_write(self, rows)
        partial_rows.append(self.path.read_text().splitlines())

    monkeypatch.setattr(cli_measure.PartialRows, "write", spy)
    rc = main(["measure", str(folder), "--model", str(model), "--samples", "2", "--no-cache", "--quiet",
               "--method", "moments", "--no-agreement", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 130
    assert "interrupted: 2 finished image(s) written to" in err
    assert sorted(Table.read(out)["filename"]) == ["g0.png", "g1.png"]
    # while it ran, each finished image was already on disk (what a SIGKILL leaves behind)
    assert [len(lines) for lines in partial_rows] == [2, 3]
    assert not (tmp_path / "res.ecsv.partial.csv").exists()


def test_a_long_skip_list_is_capped_and_summarised(capsys):
    from galaxyscope.jobs.cli_measure import MAX_SKIP_LINES, print_skipped

    failures = [ImageReadError(f"/data/{i}.jpg", "file named in catalogue not found") for i in range(100_000)]
    failures.append(ImageReadError("/data/x.fits", "corrupt FITS"))
    print_skipped(failures)
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == MAX_SKIP_LINES + 2
    assert lines[-2].startswith(f"skipped: ... and {100_001 - MAX_SKIP_LINES} more")
    assert "file named in catalogue not found" in lines[-2]
    assert lines[-1] == "skipped 100001 file(s) in all"


# ----------------------------------------------------------------------------- wrong numbers


def _png(width: int, height: int, rows: bytes, *, interlace: int = 0, header_height: int | None = None) -> bytes:
    """An 8-bit RGB PNG from raw filtered scanlines (``rows``), written by hand."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, header_height or height, 8, 2, 0, 0, interlace)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


def _scanlines(px: np.ndarray) -> bytes:
    return b"".join(b"\x00" + row.tobytes() for row in px)


def test_png_with_a_damaged_height_is_refused_not_padded_with_black(tmp_path):
    # before: a valid-CRC IHDR saying 65535 rows over 424 rows of data read as 65535 x 424
    px = np.random.default_rng(0).integers(0, 255, (424, 424, 3), dtype=np.uint8)
    path = tmp_path / "tall.png"
    path.write_bytes(_png(424, 424, _scanlines(px), header_height=65535))
    with pytest.raises(ImageReadError, match=r"header says 424 x 65535 pixels, but its pixel data holds only"):
        read_image(path)
    path.write_bytes(_png(424, 424, _scanlines(px)))
    assert read_image(path).shape == (424, 424, 3)


def test_interlaced_png_still_reads(tmp_path):
    px = np.random.default_rng(1).integers(0, 255, (37, 29, 3), dtype=np.uint8)
    passes = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))
    rows = b"".join(_scanlines(px[y0::dy, x0::dx]) for x0, y0, dx, dy in passes if px[y0::dy, x0::dx].size)
    path = tmp_path / "adam7.png"
    path.write_bytes(_png(29, 37, rows, interlace=1))
    np.testing.assert_allclose(read_image(path).pixels, px / 255.0, atol=1e-6)
    path.write_bytes(_png(29, 37, rows[: len(rows) // 2], interlace=1))
    with pytest.raises(ImageReadError, match="corrupt PNG|truncated PNG"):
        read_image(path)


def test_pixel_scale_from_a_broken_wcs_is_unknown_not_cdelt_alone(tmp_path):
    hdu = fits.PrimaryHDU(np.ones((40, 40), np.float32))
    hdu.header.update(CTYPE1="RA---TAN", CTYPE2="DEC--TAN", CDELT1=1.0, CDELT2=1.0, CRVAL1=150.0,
                      CRVAL2=2.0, CRPIX1=20.0, CRPIX2=20.0)
    hdu.header["WCSAXES"] = 99
    hdu.writeto(tmp_path / "w99.fits")
    image = read_image(tmp_path / "w99.fits")
    assert image.pixel_scale is None  # before: 3600 arcsec/px from CDELT = 1 deg
    del hdu.header["WCSAXES"]
    hdu.header.update(CDELT1=-0.396 / 3600, CDELT2=0.396 / 3600)
    hdu.writeto(tmp_path / "ok.fits")
    assert read_image(tmp_path / "ok.fits").pixel_scale_arcsec() == pytest.approx(0.396)


# ----------------------------------------------------------------------------- catalogues


def _png_file(path: Path, value: int = 128) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", (8, 8), value).save(path)
    return path


def test_duplicate_file_names_keep_the_first_row_and_say_so(tmp_path):
    # before: both rows became entries and the first objid vanished from the results
    _png_file(tmp_path / "a.png")
    _png_file(tmp_path / "b.png")
    (tmp_path / "catalog.csv").write_text("filename,objid\na.png,587722981747982465\nb.png,2\n"
                                          "./a.png,587722981747982466\n")
    images = ImageSet.open(tmp_path)
    assert images.keys() == ["a.png", "b.png"]
    assert images.entries[0].row["objid"] == 587722981747982465
    (dup,) = [f for f in images.failures if "same file" in f.reason]
    assert dup.reason == ("row 2 (objid 587722981747982466) names the same file as row 0 "
                          "(objid 587722981747982465); only row 0 is used")
    assert images.failure_counts["duplicate file name"] == 1


def test_names_leaving_the_dataset_folder_are_refused_unread(tmp_path, monkeypatch):
    root = tmp_path / "set"
    _png_file(root / "in.png")
    outside = _png_file(tmp_path / "secret.png")
    (root / "catalog.csv").write_text(f"filename,id\nin.png,1\n../secret.png,2\n{outside},3\n"
                                      f"sub/../../secret.png,4\n{root / 'in.png'},5\n")
    opened: list[str] = []
    import galaxyscope.images.imageset as imageset_module

    real = imageset_module.read_image
    monkeypatch.setattr(imageset_module, "read_image", lambda p: opened.append(str(p)) or real(p))
    images = ImageSet.open(root)
    refused = [f for f in images.failures if "leaves the dataset folder" in f.reason]
    assert [f.reason.split(":")[0] for f in refused] == ["row 1", "row 2", "row 3"]
    assert images.failure_counts["file name leaves the dataset folder; only files inside it are read"] == 3
    # the absolute name inside the folder is the same file as row 0: a duplicate, not an escape
    assert images.keys() == ["in.png"]
    list(images.iter_images())
    assert opened == [str(root / "in.png")]


def test_unusable_pixel_scales_are_reported_not_silent(tmp_path, capsys):
    for name in "abcd":
        _png_file(tmp_path / f"{name}.png")
    (tmp_path / "catalog.csv").write_text("filename,pixel_scale_arcsec\na.png,0.396\nb.png,nan\nc.png,0\n"
                                          "d.png,-0.2\n")
    images = ImageSet.open(tmp_path)
    (warning,) = images.warnings
    assert warning.startswith("pixel scale: 3 of 4 images have no usable value in column 'pixel_scale_arcsec'")
    assert "lengths are in pixels only" in warning
    assert [images[i].pixel_scale is None for i in range(4)] == [False, True, True, True]
    assert main(["info", str(tmp_path)]) == 0
    assert "warning      pixel scale: 3 of 4 images" in capsys.readouterr().out
    formula = ImageSet.open(tmp_path, catalogue=Table({"filename": ["a.png"], "petroR90_r": [np.nan]}),
                            pixel_scale_formula=("petroR90_r", 0.02))
    assert formula.warnings and "column 'petroR90_r' x 0.02" in formula.warnings[0]


def test_a_huge_catalogue_of_missing_files_is_counted_not_listed(tmp_path, capsys):
    from galaxyscope.images.imageset import MAX_KEPT_PER_REASON
    from galaxyscope.jobs.cli_measure import MAX_SKIP_LINES, print_skipped

    _png_file(tmp_path / "a.png")
    n_missing = MAX_KEPT_PER_REASON + 1500
    rows = "".join(f"gone{i}.png,{i + 2}\n" for i in range(n_missing))
    (tmp_path / "catalog.csv").write_text("filename,objid\na.png,1\n" + rows)
    images = ImageSet.open(tmp_path)
    assert len(images) == 1
    assert len(images.failures) == MAX_KEPT_PER_REASON + 1  # the rest is one counted line
    assert images.failure_counts["file named in catalogue not found"] == n_missing
    assert images.failures[-1].reason.startswith("1,500 more catalogue rows: file named in catalogue not found")
    print_skipped(images.failures)
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == MAX_SKIP_LINES + 2
    assert lines[-2] == (f"skipped: ... and {n_missing - MAX_SKIP_LINES} more "
                         f"({n_missing - MAX_SKIP_LINES} x file named in catalogue not found)")
    assert lines[-1] == f"skipped {n_missing} file(s) in all"
    assert main(["info", str(tmp_path)]) == 0
    assert f"missing      {n_missing} file(s) named in the catalogue" in capsys.readouterr().out
