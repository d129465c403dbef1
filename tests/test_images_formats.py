"""Pixel formats and FITS conventions read by `read_image` (tiny generated files)."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS
from PIL import Image

from galaxyscope.errors import ImageReadError
from galaxyscope.images import read_image
from galaxyscope.images.readers import image_stem, is_image_file, pixel_scale_from_header


def test_16_bit_png_scaled_by_65535(tmp_path):
    data = np.array([[0, 1000], [32768, 65535]], dtype=np.uint16)
    Image.fromarray(data).save(tmp_path / "deep.png")
    image = read_image(tmp_path / "deep.png")
    assert image.shape == (2, 2, 1)
    np.testing.assert_allclose(image.pixels[:, :, 0], data / 65535.0, rtol=1e-6)


def test_grey_png_is_one_channel(tmp_path):
    data = np.array([[0, 51], [204, 255]], dtype=np.uint8)
    Image.fromarray(data, mode="L").save(tmp_path / "grey.png")
    image = read_image(tmp_path / "grey.png")
    assert image.shape == (2, 2, 1)
    np.testing.assert_allclose(image.pixels[:, :, 0], data / 255.0, rtol=1e-6)


def test_rgba_png_drops_alpha(tmp_path):
    data = np.zeros((3, 4, 4), np.uint8)
    data[..., 0] = 255
    data[..., 3] = 10  # nearly transparent: the colour must still be kept as is
    Image.fromarray(data, mode="RGBA").save(tmp_path / "rgba.png")
    image = read_image(tmp_path / "rgba.png")
    assert image.shape == (3, 4, 3)
    np.testing.assert_allclose(image.pixels[0, 0], [1.0, 0.0, 0.0])


def test_cmyk_jpeg_becomes_rgb(tmp_path):
    rgb = Image.new("RGB", (16, 16), (0, 0, 255))
    rgb.convert("CMYK").save(tmp_path / "cmyk.jpg", quality=95)
    assert Image.open(tmp_path / "cmyk.jpg").mode == "CMYK"
    image = read_image(tmp_path / "cmyk.jpg")
    assert image.shape == (16, 16, 3)
    r, g, b = image.pixels[8, 8]
    assert b > 0.8 and r < 0.2 and g < 0.2


def test_palette_png_becomes_rgb(tmp_path):
    im = Image.new("P", (5, 5), 1)
    im.putpalette([0, 0, 0, 0, 255, 0] + [0] * (3 * 254))
    im.save(tmp_path / "palette.png")
    image = read_image(tmp_path / "palette.png")
    assert image.shape == (5, 5, 3)
    np.testing.assert_allclose(image.pixels[2, 2], [0.0, 1.0, 0.0])


def test_content_wins_over_extension(tmp_path):
    Image.fromarray(np.full((3, 3), 255, np.uint8)).save(tmp_path / "really_png.jpg", format="PNG")
    image = read_image(tmp_path / "really_png.jpg")
    assert image.shape == (3, 3, 1) and image.pixels.max() == 1.0
    fits.PrimaryHDU(np.ones((4, 4), np.float32)).writeto(tmp_path / "cutout.dat")
    assert read_image(tmp_path / "cutout.dat").shape == (4, 4, 1)


def test_fits_cube_becomes_channels_with_band_names(tmp_path):
    cube = np.stack([np.full((6, 7), v, np.float32) for v in (1.0, 2.0, 3.0)])
    hdu = fits.PrimaryHDU(cube)
    for i, band in enumerate("gri", start=1):
        hdu.header[f"BAND{i}"] = band
    hdu.writeto(tmp_path / "cube.fits")
    image = read_image(tmp_path / "cube.fits")
    assert image.shape == (6, 7, 3)
    assert image.band_names == ("g", "r", "i")
    np.testing.assert_array_equal(image.pixels[0, 0], [1.0, 2.0, 3.0])


def test_fits_length_one_axes_squeezed(tmp_path):
    fits.PrimaryHDU(np.ones((1, 1, 5, 6), np.float32)).writeto(tmp_path / "radio.fits")
    assert read_image(tmp_path / "radio.fits").shape == (5, 6, 1)


def test_fits_bscale_bzero_applied(tmp_path):
    raw = np.array([[0, 10], [20, 30]], dtype=np.int16)
    hdu = fits.PrimaryHDU(raw)
    hdu.header["BSCALE"] = 0.5
    hdu.header["BZERO"] = 100.0
    hdu.writeto(tmp_path / "scaled.fits")
    # astropy's writer keeps raw ints on disk with the scaling cards
    with fits.open(tmp_path / "scaled.fits", do_not_scale_image_data=True) as h:
        assert h[0].data.dtype.kind == "i" and h[0].header["BZERO"] == 100.0
    image = read_image(tmp_path / "scaled.fits")
    np.testing.assert_allclose(image.pixels[:, :, 0], 100.0 + 0.5 * raw)


def test_fits_blank_integers_become_nan(tmp_path):
    raw = np.array([[1, -999], [3, 4]], dtype=np.int16)
    hdu = fits.PrimaryHDU(raw)
    hdu.header["BLANK"] = -999
    hdu.writeto(tmp_path / "blank.fits")
    image = read_image(tmp_path / "blank.fits")
    assert image.nan_count == 1 and np.isnan(image.pixels[0, 1, 0])
    hdu.header["BZERO"] = 32768  # unsigned 16-bit convention: astropy keeps integers
    hdu.header["BSCALE"] = 1
    hdu.writeto(tmp_path / "blank_u16.fits")
    image = read_image(tmp_path / "blank_u16.fits")
    assert image.nan_count == 1 and np.isnan(image.pixels[0, 1, 0])
    assert image.pixels[0, 0, 0] == 32769.0


def test_fits_nan_kept_and_counted(tmp_path):
    data = np.ones((4, 4), np.float32)
    data[0, :3] = np.nan
    data[3, 3] = np.inf
    fits.PrimaryHDU(data).writeto(tmp_path / "holes.fits")
    image = read_image(tmp_path / "holes.fits")
    assert image.nan_count == 4
    assert np.isnan(image.pixels[0, 0, 0]) and np.isinf(image.pixels[3, 3, 0])


def test_first_extension_with_data_is_used(tmp_path):
    hdul = fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.full((3, 3), 7.0, np.float32))])
    hdul.writeto(tmp_path / "ext.fits")
    image = read_image(tmp_path / "ext.fits")
    assert image.shape == (3, 3, 1) and float(image.pixels.max()) == 7.0


def test_fits_missing_only_its_end_padding_still_reads(tmp_path):
    from io import BytesIO

    buf = BytesIO()
    fits.PrimaryHDU(np.full((10, 10), 3.0, np.float32)).writeto(buf)
    data = buf.getvalue()
    (tmp_path / "short_pad.fits").write_bytes(data[: 2880 + 400])  # 100 float32 = 400 bytes
    assert read_image(tmp_path / "short_pad.fits").pixels.sum() == pytest.approx(300.0)
    (tmp_path / "short_data.fits").write_bytes(data[: 2880 + 396])
    with pytest.raises(ImageReadError, match="truncated FITS"):
        read_image(tmp_path / "short_data.fits")


def test_gzipped_fits(tmp_path):
    from io import BytesIO

    buf = BytesIO()
    fits.PrimaryHDU(np.full((3, 4), 2.0, np.float32)).writeto(buf)
    (tmp_path / "z.fits.gz").write_bytes(gzip.compress(buf.getvalue()))
    image = read_image(tmp_path / "z.fits.gz")
    assert image.shape == (3, 4, 1) and image.id == "z"
    (tmp_path / "cut.fits.gz").write_bytes(gzip.compress(buf.getvalue())[:-30])
    with pytest.raises(ImageReadError, match="truncated FITS|corrupt"):
        read_image(tmp_path / "cut.fits.gz")


def _wcs_header(scale_deg: float) -> fits.Header:
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crval = [150.0, 2.0]
    w.wcs.crpix = [5.0, 5.0]
    w.wcs.cdelt = [-scale_deg, scale_deg]
    return w.to_header()


def test_pixel_scale_from_wcs(tmp_path):
    fits.PrimaryHDU(np.ones((9, 9), np.float32), header=_wcs_header(0.25 / 3600)).writeto(tmp_path / "w.fits")
    image = read_image(tmp_path / "w.fits")
    assert image.wcs is not None
    assert image.pixel_scale_arcsec() == pytest.approx(0.25)


def test_pixel_scale_keyword_fallbacks():
    assert pixel_scale_from_header(fits.Header({"PIXSCALE": 0.262})).value == pytest.approx(0.262)
    assert pixel_scale_from_header(fits.Header({"SECPIX": 1.5})).value == pytest.approx(1.5)
    both = fits.Header({"PIXSCAL1": 0.5, "PIXSCAL2": 2.0})
    assert pixel_scale_from_header(both).value == pytest.approx(1.0)  # geometric mean
    cdelt = fits.Header({"CDELT1": -0.396 / 3600, "CDELT2": 0.396 / 3600})
    assert pixel_scale_from_header(cdelt).value == pytest.approx(0.396)
    # PIXSCALE beats CDELT; nothing usable -> None
    mixed = fits.Header({"PIXSCALE": 0.7, "CDELT1": 1.0, "CDELT2": 1.0})
    assert pixel_scale_from_header(mixed).value == pytest.approx(0.7)
    assert pixel_scale_from_header(fits.Header({"PIXSCALE": "n/a", "OBJECT": "M31"})) is None


def test_pixel_scale_keyword_read_from_file(tmp_path):
    hdu = fits.PrimaryHDU(np.ones((4, 4), np.float32))
    hdu.header["CDELT1"] = -0.0002
    hdu.header["CDELT2"] = 0.0002
    hdu.writeto(tmp_path / "cdelt.fits")
    image = read_image(tmp_path / "cdelt.fits")
    assert image.wcs is None  # no CTYPE: no celestial WCS
    assert image.pixel_scale_arcsec() == pytest.approx(0.72)


def test_raster_has_no_pixel_scale(tmp_path):
    Image.new("RGB", (4, 4)).save(tmp_path / "a.jpg")
    assert read_image(tmp_path / "a.jpg").pixel_scale is None


def test_image_names():
    assert is_image_file("X.JPG") and is_image_file("a.fits.gz") and is_image_file("b.FTS")
    assert not is_image_file("catalog.csv") and not is_image_file("notes.txt")
    assert image_stem("dir/a.fits.gz") == "a" and image_stem("b.jpeg") == "b"
