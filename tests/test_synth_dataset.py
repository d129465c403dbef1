"""Datasets on disk: determinism, pairs, artefacts, masks, FITS, progress and cancel."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS
from astropy.wcs.utils import proj_plane_pixel_scales
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from galaxyscope.errors import CancelledError
from galaxyscope.synth import dataset as synth_dataset
from galaxyscope.synth.dataset import SynthConfigError, generate_dataset, plan_dataset, read_catalog
from galaxyscope.synth.params import sample_params
from galaxyscope.synth.render import render_galaxy

REQUIRED = ("filename", "has_bar", "bar_length_px", "bar_pa_deg", "bar_axis_ratio", "r90_px",
            "pixel_scale_arcsec", "redshift", "artefact", "artefact_x", "artefact_y", "bar_mask", "pair_id")


def all_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes(tmp_path):
    kwargs = dict(n=4, seed=21, size=64, fmt="both", pairs=True, artefact="trail", artefact_on="any",
                  artefact_fraction=0.5)
    generate_dataset(tmp_path / "a", **kwargs)
    generate_dataset(tmp_path / "b", **kwargs)
    a, b = all_files(tmp_path / "a"), all_files(tmp_path / "b")
    assert a.keys() == b.keys() and len(a) >= 4 * 2 + 1
    assert all(a[k] == b[k] for k in a)
    generate_dataset(tmp_path / "c", **{**kwargs, "seed": 22})
    assert all_files(tmp_path / "c")["images/synth_000000.jpg"] != a["images/synth_000000.jpg"]


def test_workers_give_the_serial_bytes(tmp_path):
    kwargs = dict(n=3, seed=5, size=48, fmt="jpeg", pairs=True)
    generate_dataset(tmp_path / "serial", workers=1, **kwargs)
    generate_dataset(tmp_path / "pool", workers=2, **kwargs)
    assert all_files(tmp_path / "serial") == all_files(tmp_path / "pool")


@given(
    n=st.integers(0, 60),
    bar_fraction=st.floats(0, 1),
    artefact=st.sampled_from(["star", "trail", "corner"]),
    artefact_on=st.sampled_from(["bar", "nobar", "any"]),
    fraction=st.floats(0, 1),
    seed=st.integers(0, 10_000),
)
@settings(max_examples=40, deadline=None)
def test_plan_honours_bar_and_artefact_fractions(n, bar_fraction, artefact, artefact_on, fraction, seed):
    plan = plan_dataset(n, seed, bar_fraction, artefact, artefact_on, fraction)
    barred = [g for g in plan if g.has_bar]
    assert len(barred) == round(bar_fraction * n)
    pool = {"bar": barred, "nobar": [g for g in plan if not g.has_bar], "any": plan}[artefact_on]
    marked = [g for g in plan if g.artefact != "none"]
    assert len(marked) == round(fraction * len(pool))
    assert all(g in pool and g.artefact == artefact for g in marked)
    assert plan == plan_dataset(n, seed, bar_fraction, artefact, artefact_on, fraction)


def patch_mean(rgb: np.ndarray, x: float, y: float, half: int = 2) -> np.ndarray:
    r, c = int(round(y)), int(round(x))
    return rgb[r - half:r + half + 1, c - half:c + half + 1].reshape(-1, 3).mean(axis=0)


@pytest.mark.parametrize("index", range(4))
def test_star_artefact_is_bright_off_the_galaxy_upper_right_and_in_the_crop(index):
    size = 128
    plain = render_galaxy(sample_params(9, index, size, has_bar=True))
    galaxy = render_galaxy(sample_params(9, index, size, has_bar=True, artefact="star"))
    t = galaxy.truth
    dx, dy = t.artefact_x - t.centre_x, t.artefact_y - t.centre_y
    assert dx > 0 and dy < 0  # upper right (row 0 on top)
    assert math.hypot(dx, dy) >= 1.5 * 0.9 * t.r90_px  # off the galaxy
    assert max(abs(dx), abs(dy)) < 0.25 * size  # inside the central half a model crops
    assert patch_mean(galaxy.rgb, t.artefact_x, t.artefact_y, 0).max() > 0.95  # saturated
    assert patch_mean(galaxy.rgb, t.artefact_x, t.artefact_y, 1).max() > 0.6
    assert patch_mean(plain.rgb, t.artefact_x, t.artefact_y, 1).max() < 0.4
    assert plain.truth.artefact == "none" and math.isnan(plain.truth.artefact_x)
    # the galaxy itself is untouched by switching the artefact on
    assert plain.truth.bar_length_px == t.bar_length_px and plain.truth.r90_px == t.r90_px


@pytest.mark.parametrize("index", range(3))
def test_trail_and_corner_artefacts_are_visible_where_recorded(index):
    size = 128
    plain = render_galaxy(sample_params(4, index, size, has_bar=False))
    trail = render_galaxy(sample_params(4, index, size, has_bar=False, artefact="trail"))
    t = trail.truth
    assert t.artefact_x < t.centre_x and t.artefact_y > t.centre_y  # lower left
    assert max(abs(t.artefact_x - t.centre_x), abs(t.artefact_y - t.centre_y)) < 0.25 * size
    lift = patch_mean(trail.rgb, t.artefact_x, t.artefact_y, 1) - patch_mean(plain.rgb, t.artefact_x, t.artefact_y, 1)
    assert lift.max() > 0.15  # one colour channel lights up: a coloured streak
    corner = render_galaxy(sample_params(4, index, size, has_bar=False, artefact="corner"))
    c = corner.truth
    assert 0.25 * size < c.artefact_x < 0.35 * size and 0.25 * size < c.artefact_y < 0.35 * size
    lift = patch_mean(corner.rgb, c.artefact_x, c.artefact_y) - patch_mean(plain.rgb, c.artefact_x, c.artefact_y)
    assert lift.mean() > 0.15


def test_catalog_pairs_masks_and_files(tmp_path):
    table = generate_dataset(tmp_path, n=6, seed=3, size=80, bar_fraction=0.5, pairs=True,
                             artefact="corner", artefact_on="nobar", artefact_fraction=1.0)
    back = read_catalog(tmp_path / "catalog.ecsv")
    assert len(back) == len(table) == 6 + 3
    for name in REQUIRED:
        assert name in back.colnames
    for row in back:
        assert (tmp_path / row["filename"]).is_file()
        if row["has_bar"]:
            mask = np.asarray(Image.open(tmp_path / row["bar_mask"]))
            assert mask.dtype == np.uint8 and set(np.unique(mask)) <= {0, 255} and (mask == 255).any()
            assert row["bar_length_px"] > 0
        else:
            assert row["bar_mask"] == "" and row["bar_length_px"] == 0
    twins = back[[row["id"].endswith("_nobar") for row in back]]
    assert len(twins) == 3
    for twin in twins:
        partners = back[(back["pair_id"] == twin["pair_id"]) & back["has_bar"]]
        assert len(partners) == 1
        assert partners[0]["id"] + "_nobar" == twin["id"]
        assert twin["r90_px"] == pytest.approx(partners[0]["r90_px"], rel=0.2)
        assert twin["artefact"] == partners[0]["artefact"] == "none"  # artefacts were put on unbarred galaxies
    unpaired = back[~back["has_bar"] & (back["pair_id"] == -1)]
    assert len(unpaired) == 3 and all(unpaired["artefact"] == "corner")
    assert all(np.isfinite(unpaired["artefact_x"]))
    assert np.all(np.isnan(back[back["artefact"] == "none"]["artefact_x"]))


def test_mask_on_disk_matches_the_rendered_bar(tmp_path):
    generate_dataset(tmp_path, n=2, seed=12, size=96, bar_fraction=1.0)
    back = read_catalog(tmp_path / "catalog.ecsv")
    row = back[0]
    galaxy = render_galaxy(sample_params(12, 0, 96, has_bar=True))
    mask = np.asarray(Image.open(tmp_path / row["bar_mask"])) == 255
    assert np.array_equal(mask, galaxy.bar_mask)
    jpeg = np.asarray(Image.open(tmp_path / row["filename"]))
    assert jpeg.shape == (96, 96, 3)
    assert np.abs(jpeg.astype(float) / 255 - galaxy.rgb).mean() < 0.02  # only JPEG losses


def test_fits_has_wcs_and_truth(tmp_path):
    table = generate_dataset(tmp_path, n=2, seed=6, size=64, bar_fraction=0.5, fmt="fits")
    assert all(name.endswith(".fits") for name in table["filename"])
    assert not (tmp_path / "images").exists()
    for row in table:
        with fits.open(tmp_path / row["filename"]) as hdul:
            header, data = hdul[0].header, hdul[0].data
            assert data.shape == (64, 64) and data.dtype.kind == "f"
            assert [h.name for h in hdul[1:]] == ["G", "I"]
            wcs = WCS(header)
            assert wcs.wcs.ctype[0] == "RA---TAN"
            assert proj_plane_pixel_scales(wcs)[0] * 3600 == pytest.approx(row["pixel_scale_arcsec"], rel=1e-9)
            # the galaxy centre sits at the reference pixel (0-based array coordinates)
            ra, dec = wcs.wcs_pix2world([[row["centre_x"], row["centre_y"]]], 0)[0]
            assert ra == pytest.approx(header["CRVAL1"]) and dec == pytest.approx(header["CRVAL2"])
            # north is up on the image: a pixel above the centre has a larger declination
            assert wcs.wcs_pix2world([[row["centre_x"], row["centre_y"] - 10]], 0)[0][1] > dec
            assert header["HASBAR"] == bool(row["has_bar"])
            assert header["BARLEN"] == pytest.approx(row["bar_length_px"])
            assert header["R90PX"] == pytest.approx(row["r90_px"])
            if row["has_bar"]:
                assert header["BARPA"] == pytest.approx(row["bar_pa_deg"])
            else:
                assert "BARPA" not in header
    galaxy = render_galaxy(sample_params(6, 0, 64, has_bar=bool(table["has_bar"][0])))
    with fits.open(tmp_path / table["filename"][0]) as hdul:
        assert np.array_equal(hdul[0].data, galaxy.bands[1])


def test_progress_and_cancel(tmp_path):
    calls = []
    generate_dataset(tmp_path / "ok", n=3, seed=1, size=48, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 3), (2, 3), (3, 3)]
    with pytest.raises(CancelledError):
        generate_dataset(tmp_path / "stop", n=3, seed=1, size=48, cancel=lambda: True)


@pytest.mark.parametrize(
    "kwargs",
    [dict(bar_fraction=1.5), dict(artefact="ghost"), dict(artefact_on="both"), dict(artefact_fraction=-0.1),
     dict(fmt="png"), dict(size=8), dict(n=-1), dict(style="hst")],
)
def test_bad_settings_are_user_errors(tmp_path, kwargs):
    args = dict(n=2, seed=0, size=48) | kwargs
    with pytest.raises(SynthConfigError):
        generate_dataset(tmp_path, **args)


BUNDLE = Path(__file__).resolve().parents[1] / "resources" / "samples" / "synthetic"


# Tolerances for "the same sample set": a last-digit float difference on another machine (other
# CPU, numpy or libjpeg build) must pass, a real change to the generator must not. Measured here:
# 1e-6 relative noise on every rendered pixel moves a JPEG by <= 0.0014 levels on average, a 0.3 %
# brightness change by ~1 level.
FLOAT_RTOL, FLOAT_ATOL = 1e-6, 1e-9
JPEG_MEAN_LEVELS = 0.05
MASK_PIXELS = 4
MASK_AREA_COLUMNS = ("bar_mask_area_px",)  # pixel counts of the masks: same slack as the masks


def assert_same_catalogue(fresh, shipped) -> None:
    """Same columns, units, types and rows; text, integers and flags equal, floats within FLOAT_RTOL."""
    assert fresh.colnames == shipped.colnames
    assert len(fresh) == len(shipped)
    assert fresh.meta == shipped.meta
    for name in shipped.colnames:
        a, b = fresh[name], shipped[name]
        assert str(a.unit) == str(b.unit), name
        assert a.dtype.kind == b.dtype.kind, name
        if name in MASK_AREA_COLUMNS:
            np.testing.assert_allclose(a, b, rtol=0, atol=MASK_PIXELS, err_msg=name)
        elif b.dtype.kind == "f":
            np.testing.assert_allclose(a, b, rtol=FLOAT_RTOL, atol=FLOAT_ATOL, equal_nan=True, err_msg=name)
        else:
            assert np.array_equal(np.asarray(a), np.asarray(b)), name


def assert_same_pixels(fresh: np.ndarray, shipped: np.ndarray, what: str, *, mask: bool) -> None:
    """Masks may differ in MASK_PIXELS pixels, images by JPEG_MEAN_LEVELS on average."""
    assert fresh.shape == shipped.shape and fresh.dtype == shipped.dtype, what
    diff = np.abs(fresh.astype(np.int16) - shipped.astype(np.int16))
    if mask:
        assert int(np.count_nonzero(diff)) <= MASK_PIXELS, what
    else:
        assert float(diff.mean()) <= JPEG_MEAN_LEVELS, (what, float(diff.mean()))


def assert_same_sample_set(fresh_dir: Path, shipped_dir: Path) -> None:
    fresh, shipped = all_files(fresh_dir), {k: v for k, v in all_files(shipped_dir).items() if k != "README.md"}
    assert fresh.keys() == shipped.keys()
    for name in shipped:
        if name.endswith(".ecsv"):
            assert_same_catalogue(read_catalog(fresh_dir / name), read_catalog(shipped_dir / name))
        elif name.endswith((".jpg", ".png")):
            with Image.open(fresh_dir / name) as a, Image.open(shipped_dir / name) as b:
                assert a.mode == b.mode, name
                assert_same_pixels(np.asarray(a), np.asarray(b), name, mask=name.startswith("masks/"))
        else:
            assert fresh[name] == shipped[name], name


def test_bundled_sample_set_is_what_the_generator_makes(tmp_path):
    """resources/samples/synthetic is `galaxyscope synth ... --n 12 --seed 1`, value for value.

    Floats within FLOAT_RTOL and pixels within a JPEG rounding, not byte for byte, so another
    machine's last float digit passes. If this fails after a change to the generator, regenerate
    the bundle with ``galaxyscope synth resources/samples/synthetic --n 12 --seed 1`` (and
    docs/mosaic.png with tools/mosaic.py).
    """
    if not BUNDLE.is_dir():
        pytest.skip("resources/samples/synthetic is not in this checkout")
    table = read_catalog(BUNDLE / "catalog.ecsv")
    assert len(table) == 12 and int(table["has_bar"].sum()) == 6
    for row in table:
        assert (BUNDLE / row["filename"]).is_file()
        assert (row["bar_mask"] != "") == bool(row["has_bar"])
    generate_dataset(tmp_path, n=12, seed=1)
    assert_same_sample_set(tmp_path, BUNDLE)


def test_sample_set_comparison_passes_float_noise_and_catches_real_changes(tmp_path, monkeypatch):
    """The tolerances above: a last digit passes; a renamed column, a 1 % value or brightness fails."""
    if not BUNDLE.is_dir():
        pytest.skip("resources/samples/synthetic is not in this checkout")
    shipped = read_catalog(BUNDLE / "catalog.ecsv")
    noisy = shipped.copy()
    for name in noisy.colnames:
        if noisy[name].dtype.kind == "f":
            noisy[name] = noisy[name] * (1 + 1e-12)
    assert_same_catalogue(noisy, shipped)

    renamed = shipped.copy()
    renamed.rename_column("bar_length_px", "bar_len_px")
    changed = shipped.copy()
    changed["bar_length_px"][int(np.flatnonzero(shipped["has_bar"])[0])] *= 1.01  # a barred row
    text = shipped.copy()
    text["id"][0] = "X" + text["id"][0][1:]  # same length: astropy would truncate a longer one
    for bad in (renamed, changed, text, shipped[:-1]):
        with pytest.raises(AssertionError):
            assert_same_catalogue(bad, shipped)

    # pixels through the generator's own path (float rgb -> uint8 -> JPEG), changed before rounding
    def images_of(folder: Path, change) -> list[np.ndarray]:
        monkeypatch.setattr(synth_dataset, "rgb_to_uint8", lambda rgb: to_uint8(change(rgb)))
        generate_dataset(folder, n=2, seed=1)
        return [np.asarray(Image.open(p)) for p in sorted((folder / "images").glob("*.jpg"))]

    to_uint8 = synth_dataset.rgb_to_uint8
    rng = np.random.default_rng(0)
    base = images_of(tmp_path / "base", lambda rgb: rgb)
    jittered = images_of(tmp_path / "jittered", lambda rgb: rgb * (1 + 1e-6 * rng.standard_normal(rgb.shape)))
    brighter = images_of(tmp_path / "brighter", lambda rgb: rgb * 1.01)
    assert any((a != b).any() for a, b in zip(jittered, base))  # the jitter did reach the JPEGs
    for a, b in zip(jittered, base):
        assert_same_pixels(a, b, "noise", mask=False)
    for a, b in zip(brighter, base):
        with pytest.raises(AssertionError):
            assert_same_pixels(a, b, "1 % brighter", mask=False)

    mask_name = next(m for m in shipped["bar_mask"] if m)
    with Image.open(BUNDLE / mask_name) as im:
        mask = np.asarray(im)
    grown = mask.copy()
    grown[1:, :] |= mask[:-1, :]  # the bar one pixel longer/wider
    with pytest.raises(AssertionError):
        assert_same_pixels(grown, mask, "grown mask", mask=True)


def test_mosaic_lays_out_labelled_tiles():
    from tools.mosaic import Tile, build_mosaic

    tiles = [Tile(np.zeros((20, 20, 3), np.uint8), "real", True),
             Tile(np.full((30, 30, 3), 200, np.uint8), "synthetic", False)]
    image = build_mosaic(tiles, columns=2, tile_px=32)
    assert image.size == (64, 32 + 14)
    pixels = np.asarray(image)
    assert pixels[:32, :32].max() == 0 and pixels[:32, 32:].min() == 200
