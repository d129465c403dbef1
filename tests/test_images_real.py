"""Real data: the bundled SDSS FITS and Galaxy Zoo JPEGs, and the Hoyle 2011 catalogue."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from galaxyscope.images import ImageSet, read_catalogue, read_image
from galaxyscope.images.cli_info import describe
from galaxyscope.resources import resources_dir, sample_path

HOYLE = Path("/work/shared/data/hoyle2011")
GZ = "gz-bar-examples"


def _sdss_row() -> dict[str, str]:
    with open(sample_path("sdss-fits", "galaxies_fits.csv"), newline="") as fh:
        (row,) = list(csv.DictReader(fh))
    return row


def test_resources_dir_points_at_the_repository_folder():
    assert resources_dir().name == "resources"
    assert (resources_dir() / "samples" / GZ / "NOTICE.md").is_file()
    assert (resources_dir() / "samples" / "sdss-fits" / "NOTICE.md").is_file()
    with pytest.raises(FileNotFoundError, match="no-such-sample"):
        sample_path("no-such-sample")


def test_sdss_fits_pixel_scale_from_wcs():
    image = read_image(sample_path("sdss-fits", "1_15_SDSS_gband.fits"))
    assert image.shape == (455, 455, 1)
    assert image.pixels.dtype == np.float32
    assert image.wcs is not None and image.wcs.has_celestial
    assert image.pixel_scale_arcsec() == pytest.approx(0.396, abs=0.002)
    assert image.nan_count == 0
    assert image.id == "1_15_SDSS_gband"


def test_sdss_fits_wcs_centre_matches_catalogue_coordinates():
    row = _sdss_row()
    info = describe(read_image(sample_path("sdss-fits", row["fits"])))
    assert info.wcs_centre is not None
    # the cutout is centred on the galaxy: within a couple of pixels (~1 arcsec)
    assert info.wcs_centre["ra"] == pytest.approx(float(row["ra"]), abs=1.0 / 3600)
    assert info.wcs_centre["dec"] == pytest.approx(float(row["dec"]), abs=1.0 / 3600)


def test_sdss_fits_catalogue_opens_as_image_set():
    images = ImageSet.open(sample_path("sdss-fits", "galaxies_fits.csv"), file_column="fits")
    assert len(images) == 1 and images.failures == []
    image = images[0]
    assert image.meta["galaxy"] == 15
    assert image.pixel_scale_arcsec() == pytest.approx(0.396, abs=0.002)  # header beats nothing
    assert images.column("ra")[0] == pytest.approx(210.927048)


@pytest.mark.parametrize("name", ["sdss/sloan-2_a-0_0.jpg", "decals/decals-2_a-1_3.jpg"])
def test_gz_jpegs_load_as_424_rgb_in_unit_range(name):
    image = read_image(sample_path(GZ, name))
    assert image.shape == (424, 424, 3)
    assert image.pixels.dtype == np.float32
    assert 0.0 <= image.pixels.min() and image.pixels.max() <= 1.0
    assert image.pixels.max() > 0.5  # a real picture, not a black frame
    assert image.pixel_scale is None and image.wcs is None


def test_gz_bar_examples_open_as_image_set_with_has_bar():
    images = ImageSet.open(sample_path(GZ))
    assert len(images) == 22
    assert images.failures == []
    keys = images.keys()
    assert sum(k.startswith("sdss/") for k in keys) == 10
    assert sum(k.startswith("decals/") for k in keys) == 12
    has_bar = images.column("has_bar")
    expected = [1 if "-2_a-0_" in k else 0 for k in keys]
    assert has_bar.tolist() == expected
    assert sum(expected) == 11
    image = images[keys.index("sdss/sloan-2_a-1_4.jpg")]
    assert image.shape == (512, 512, 3)  # the one 512x512 example
    assert image.meta["has_bar"] == 0 and image.meta["survey"] == "sdss"
    assert image.id == "sdss/sloan-2_a-1_4.jpg"


def test_bundled_samples_are_copies_not_links():
    for path in (resources_dir() / "samples").rglob("*"):
        assert not path.is_symlink(), path


def _hoyle_objids_text() -> list[str]:
    with open(HOYLE / "hoyle_barlengths.csv", newline="") as fh:
        return [row["objid"] for row in csv.DictReader(fh)]


@pytest.mark.skipif(not (HOYLE / "hoyle_barlengths.csv").exists(),
                    reason="Hoyle 2011 catalogue not present under /work/shared/data/hoyle2011")
@pytest.mark.parametrize("name", ["hoyle_barlengths.csv", "hoyle_barlengths.fits"])
def test_hoyle_objids_are_exact(name):
    if not (HOYLE / name).exists():
        pytest.skip(f"{HOYLE / name} absent")
    table = read_catalogue(HOYLE / name)
    assert len(table) == 3150
    assert table["objid"].dtype.kind == "i" and table["objid"].dtype.itemsize == 8
    text = _hoyle_objids_text()
    assert [str(v) for v in table["objid"]] == text
    # through float64 these would collide: the test data really needs int64
    assert len({float(t) for t in text}) < len(set(text)) or max(int(t) for t in text) > 2**53
