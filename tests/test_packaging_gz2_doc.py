"""docs/gz2.md's catalogue script runs on stand-in GZ2 downloads (same file names and columns,
three galaxies) and gives a catalogue the command-line tools read: exact objids, pixel scale
0.02 x petroR90_r, redshift, the Hoyle reference joined by objid."""

from __future__ import annotations

import re
import runpy
import shutil
from pathlib import Path

import numpy as np
import pytest
from astropy.table import Table

from galaxyscope.images.imageset import ImageSet
from galaxyscope.resources import sample_path

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "gz2.md"
MARK = "<!-- gz2-catalog-script"

# three real SDSS DR7 objids from the Hoyle et al. 2011 table (19 digits: they must stay exact)
OBJIDS = [587722981747982465, 587722981752438860, 587724650327998682]
ASSETS = [101, 202, 303]
R90 = [12.5, 20.0, 8.0]
Z = [0.031, 0.052, 0.077]


def doc_script() -> str:
    """The python block that follows the marker comment in docs/gz2.md."""
    text = DOC.read_text(encoding="utf-8")
    start = text.index(MARK)
    match = re.compile(r"```python\n(.*?)```", re.S).search(text, start)
    assert match is not None, "no python block after the gz2-catalog-script marker"
    return match.group(1)


def write_downloads(root: Path) -> None:
    """Stand-ins for images_gz2.zip (unzipped into gz2/), the mapping, gz2_hart16, gz2sample, Hoyle."""
    images = root / "gz2" / "images"
    images.mkdir(parents=True)
    examples = sorted(sample_path("gz-bar-examples", "sdss").glob("*.jpg"))[:2]
    for asset, src in zip(ASSETS[:2], examples):  # the third galaxy's image was not downloaded
        shutil.copy(src, images / f"{asset}.jpg")
    lines = ["objid,sample,asset_id"] + [f"{o},original,{a}" for o, a in zip(OBJIDS, ASSETS)]
    lines.append(f"{OBJIDS[0]},stripe82_coadd_1,999")  # a second image of one galaxy: kept once
    (root / "gz2_filename_mapping.csv").write_text("\n".join(lines) + "\n")
    (root / "gz2_hart16.csv").write_text(
        "dr7objid,ra,dec,rastring,decstring,sample,gz2_class,total_classifications,total_votes,"
        "t01_smooth_or_features_a01_smooth_fraction,t03_bar_a06_bar_count,t03_bar_a06_bar_weighted_fraction,"
        "t03_bar_a06_bar_fraction,t03_bar_a06_bar_debiased,t03_bar_a06_bar_flag,t03_bar_a07_no_bar_fraction\n"
        + "".join(f"{o},{198.0 + i},{-1.0 - i},13:12:00.48,-01:05:42.5,original,SBc,44,150,0.1,{10 + i},"
                  f"0.5,{0.4 + 0.2 * i:.2f},{0.45 + 0.2 * i:.2f},0,{0.6 - 0.2 * i:.2f}\n"
                  for i, o in enumerate(OBJIDS)))
    (root / "gz2sample.csv").write_text(
        "OBJID,RUN,RERUN,CAMCOL,FIELD,OBJ,RA,DEC,PETROR50_R,PETROR90_R,PETROMAG_R,REDSHIFT\n"
        + "".join(f"{o},752,40,1,{300 + i},12,{198.0 + i},{-1.0 - i},{r / 2.5},{r},16.1,{z}\n"
                  for i, (o, r, z) in enumerate(zip(OBJIDS, R90, Z))))
    (root / "hoyle_barlengths.csv").write_text(
        "objid,ra,dec,length_avg,length_stdev,width_avg,width_stdev,length_scaled,bar_meas\n"
        f"{OBJIDS[1]},208.22692,-1.1146164,3.240697,0.74189323,0.60321635,0.19786181,0.33958448,4\n")


@pytest.fixture
def downloads(tmp_path, monkeypatch):
    write_downloads(tmp_path)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_doc_script_builds_a_catalogue_the_tools_read(downloads, capsys):
    runpy.run_path(str(_script_file(downloads)), run_name="__main__")
    assert "gz2/catalog.ecsv: 2 galaxies" in capsys.readouterr().out

    cat = Table.read(downloads / "gz2" / "catalog.ecsv", format="ascii.ecsv")
    assert cat["dr7objid"].dtype == np.int64
    assert sorted(int(v) for v in cat["dr7objid"]) == sorted(OBJIDS[:2])  # exact, and only images present
    assert list(cat["filename"]) == [f"images/{a}.jpg" for a in ASSETS[:2]]
    np.testing.assert_allclose(cat["pixel_scale_arcsec"], 0.02 * np.array(R90[:2]))
    np.testing.assert_allclose(cat["r90_px"], 50.0)
    np.testing.assert_allclose(cat["t03_bar_a06_bar_fraction"], [0.4, 0.6])

    image_set = ImageSet.open(downloads / "gz2")  # what `galaxyscope gui gz2` / `train gz2` open
    assert len(image_set) == 2 and not image_set.failures
    image = image_set[0]
    assert image.pixel_scale_arcsec() == pytest.approx(0.02 * R90[0])


def test_the_doc_script_writes_the_hoyle_reference_keyed_by_file(downloads):
    runpy.run_path(str(_script_file(downloads)), run_name="__main__")
    ref = Table.read(downloads / "gz2" / "hoyle_reference.ecsv", format="ascii.ecsv")
    assert len(ref) == 1
    assert int(ref["dr7objid"][0]) == OBJIDS[1] and ref["filename"][0] == f"images/{ASSETS[1]}.jpg"
    assert ref["length_scaled"][0] == pytest.approx(0.33958448)
    assert len(ImageSet.open(downloads / "gz2" / "hoyle_reference.ecsv")) == 1  # `measure` on it works


def test_the_python_api_formula_gives_the_same_scale(downloads):
    runpy.run_path(str(_script_file(downloads)), run_name="__main__")
    image_set = ImageSet.open(downloads / "gz2", catalogue=downloads / "gz2" / "catalog.ecsv",
                              pixel_scale_formula=("petroR90_r", 0.02))
    assert image_set[1].pixel_scale_arcsec() == pytest.approx(0.02 * R90[1])


def _script_file(root: Path) -> Path:
    path = root / "make_gz2_catalog.py"
    path.write_text(doc_script())
    return path
