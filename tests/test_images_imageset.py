"""`ImageSet`: lazy listing, catalogue joins, failures, pixel-scale priority, progress/cancel."""

from __future__ import annotations

from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from PIL import Image

from galaxyscope.errors import CancelledError, ImageReadError
from galaxyscope.images import ImageSet
from galaxyscope.images.imageset import MISSING_FILE_REASON

BIG = 587722981747982465


def _png(path: Path, value: int = 100, size: int = 4) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((size, size, 3), value, np.uint8)).save(path)
    return path


def _fits(path: Path, **cards) -> Path:
    hdu = fits.PrimaryHDU(np.ones((4, 4), np.float32))
    for k, v in cards.items():
        hdu.header[k] = v
    hdu.writeto(path)
    return path


def test_listing_many_files_reads_none(tmp_path, monkeypatch):
    import galaxyscope.images.imageset as imageset_module

    opened = []
    real_read = imageset_module.read_image
    monkeypatch.setattr(imageset_module, "read_image", lambda p: opened.append(p) or real_read(p))
    for i in range(2000):
        (tmp_path / f"g{i:04d}.jpg").touch()  # empty: reading any of them would fail
    (tmp_path / "readme.txt").write_text("not an image")
    images = ImageSet.open(tmp_path)
    assert len(images) == 2000
    assert images.failures == [] and opened == []  # nothing was read
    assert images.keys()[:2] == ["g0000.jpg", "g0001.jpg"]
    with pytest.raises(ImageReadError, match="empty file"):
        images[5]
    assert opened == [tmp_path / "g0005.jpg"]
    got = list(images.iter_images())
    assert got == [] and len(images.failures) == 2000


def test_folder_scan_is_recursive_sorted_and_case_insensitive(tmp_path):
    _png(tmp_path / "b" / "z.PNG")
    _png(tmp_path / "a.png")
    _fits(tmp_path / "c.FITS")
    _png(tmp_path / ".hidden" / "x.png")
    assert ImageSet.open(tmp_path).keys() == ["a.png", "b/z.PNG", "c.FITS"]
    assert ImageSet.open(tmp_path, recursive=False).keys() == ["a.png", "c.FITS"]


def test_folder_catalogue_names_files_and_missing_ones_fail(tmp_path):
    _png(tmp_path / "sub" / "a.png")
    _png(tmp_path / "b.png")
    (tmp_path / "catalog.csv").write_text(
        f"filename,objid,petroR90_r\nsub/a.png,{BIG},10.0\nb.png,2,\ngone.png,3,5.0\n"
    )
    images = ImageSet.open(tmp_path, pixel_scale_formula=("petroR90_r", 0.02))
    assert images.keys() == ["sub/a.png", "b.png"]
    assert len(images.failures) == 1
    assert images.failures[0].reason == MISSING_FILE_REASON
    assert images.failures[0].path == tmp_path / "gone.png"
    first = images[0]
    assert first.id == str(BIG)  # catalogue id, exact
    assert first.meta["objid"] == BIG
    assert first.pixel_scale_arcsec() == pytest.approx(0.2)  # 0.02 x 10
    assert images[1].pixel_scale is None  # empty petroR90_r and no default
    np.testing.assert_array_equal(images.column("objid"), [BIG, 2])
    assert images.column("objid").dtype == np.int64


def test_catalogue_file_names_files_relative_to_its_folder(tmp_path):
    _png(tmp_path / "imgs" / "x.png")
    cat = tmp_path / "cat.ecsv"
    Table({"path": ["imgs/x.png"], "r": [1.0]}).write(cat)
    images = ImageSet.open(cat, file_column="path")
    assert images.root == tmp_path
    assert images.keys() == ["imgs/x.png"] and images[0].meta["r"] == 1.0


def test_folder_joined_to_catalogue_by_id(tmp_path):
    _png(tmp_path / f"{BIG}.png")
    _png(tmp_path / "unknown.png")
    cat = Table({"dr7objid": np.array([BIG], dtype=np.int64), "pixel_scale_arcsec": [0.3]})
    images = ImageSet.open(tmp_path, catalogue=cat, id_column="dr7objid")
    assert images.keys() == [f"{BIG}.png", "unknown.png"]
    assert images.entries[0].row["dr7objid"] == BIG
    assert images.entries[1].row == {}
    assert images[0].pixel_scale_arcsec() == pytest.approx(0.3)  # auto column
    assert images[1].id == "unknown.png"  # no row: the key
    col = images.column("pixel_scale_arcsec")
    assert np.ma.is_masked(col[1]) and col[0] == pytest.approx(0.3)


def test_pixel_scale_priority(tmp_path):
    _fits(tmp_path / "hdr.fits", PIXSCALE=0.4)
    _fits(tmp_path / "bare.fits")
    _png(tmp_path / "col.png")
    _png(tmp_path / "formula.png")
    _png(tmp_path / "none.png")
    cat = Table({
        "filename": ["hdr.fits", "bare.fits", "col.png", "formula.png", "none.png"],
        "scale": [9.0, 0.5, 0.6, np.nan, np.nan],
        "petroR90_r": [1.0, 1.0, 1.0, 35.0, np.nan],
    })
    cat.write(tmp_path / "catalog.ecsv")
    images = ImageSet.open(tmp_path, pixel_scale_column="scale",
                           pixel_scale_formula=("petroR90_r", 0.02), default_pixel_scale=1.1)
    scales = {images.entries[i].key: images[i].pixel_scale_arcsec() for i in range(len(images))}
    assert scales == pytest.approx({
        "hdr.fits": 0.4,      # the image's own header wins over the column
        "bare.fits": 0.5,     # column
        "col.png": 0.6,       # column
        "formula.png": 0.7,   # 0.02 x 35
        "none.png": 1.1,      # default
    })
    assert ImageSet.open(tmp_path / "none.png")[0].pixel_scale is None


def test_pixel_scale_callable_and_quantity_default(tmp_path):
    _png(tmp_path / "a.png")
    Table({"filename": ["a.png"], "r": [2.0]}).write(tmp_path / "catalog.ecsv")
    images = ImageSet.open(tmp_path, pixel_scale_formula=lambda row: row["r"] * 0.25 * u.arcsec)
    assert images[0].pixel_scale_arcsec() == pytest.approx(0.5)
    q = ImageSet.open(tmp_path / "a.png", default_pixel_scale=0.396 * u.arcsec / u.pixel)
    assert q[0].pixel_scale_arcsec() == pytest.approx(0.396)


def test_unknown_columns_fail_clearly(tmp_path):
    _png(tmp_path / "a.png")
    Table({"filename": ["a.png"]}).write(tmp_path / "catalog.ecsv")
    images = ImageSet.open(tmp_path)
    with pytest.raises(KeyError, match="no column 'has_bar'.*filename"):
        images.column("has_bar")
    with pytest.raises(ImageReadError, match="no column 'petroR90_r'"):
        ImageSet.open(tmp_path, pixel_scale_formula=("petroR90_r", 0.02))
    with pytest.raises(KeyError, match="no catalogue"):
        ImageSet.open(tmp_path / "a.png").column("x")
    with pytest.raises(ImageReadError, match="no such file"):
        ImageSet.open(tmp_path / "missing_folder")


def test_iter_images_progress_and_cancel(tmp_path):
    for i in range(4):
        _png(tmp_path / f"{i}.png", value=10 * i)
    (tmp_path / "2.png").write_bytes(b"broken")
    images = ImageSet.open(tmp_path)
    calls = []
    got = [i for i, _ in images.iter_images(progress=lambda d, t: calls.append((d, t)))]
    assert got == [0, 1, 3]
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert [f.path.name for f in images.failures] == ["2.png"]
    seen = []
    with pytest.raises(CancelledError):
        for i, _ in images.iter_images(cancel=lambda: len(seen) >= 2):
            seen.append(i)
    assert seen == [0, 1]
