"""The bias scan end to end: a net that looks at stars gets its star images flagged (and the flags
follow has_bar), the table, montage, database flags, failures, cancel, and the CLI."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from astropy.table import Table
from PIL import Image

from galaxyscope.bias.flags import ON_SOURCE, FlagThresholds
from galaxyscope.bias.montage import write_montage
from galaxyscope.bias.scan import scan_dataset
from galaxyscope.bias.store_flags import store_flags
from galaxyscope.cli import main
from galaxyscope.errors import CancelledError, GalaxyscopeError
from galaxyscope.images.imageset import ImageSet
from galaxyscope.model.checkpoint import save_checkpoint
from galaxyscope.model.loaded import LoadedModel, ModelMeta
from galaxyscope.model.networks import build_network
from galaxyscope.model.preprocess import Preprocessing
from galaxyscope.store import AnnotationStore
from test_bias_testdata import STAR_XY, star_looker_model, write_scene_dataset

SCAN_COMMAND = "galaxyscope.bias.cli_scan"


@pytest.fixture(scope="module")
def scene_set(tmp_path_factory):
    return write_scene_dataset(tmp_path_factory.mktemp("scenes"), n=12, n_broken=1)


@pytest.fixture(scope="module")
def report(scene_set):
    return scan_dataset(ImageSet.open(scene_set), star_looker_model(), n_samples=4, keep_worst=4)


def tiny_checkpoint(path):
    torch.manual_seed(0)
    net = build_network("small", n_outputs=1, in_channels=3, widths=(4, 8))
    meta = ModelMeta(architecture="small", output_names=["has_bar"], sigmoid_outputs=[True],
                     preprocessing=Preprocessing(input_size=32, crop_fraction=0.5),
                     arch_kwargs={"widths": [4, 8]})
    save_checkpoint(LoadedModel(net=net, meta=meta), path)
    return path


def cli(argv):
    """Run the galaxyscope CLI in-process."""
    return main(argv)


def test_star_images_are_flagged_and_the_flags_follow_has_bar(report):
    rows = {r.filename: r for r in report.rows}
    assert len(rows) == 12
    for i in range(12):
        r = rows[f"scene_{i:02d}.png"]
        if i % 2 == 0:  # carries the star
            assert r.flagged and ON_SOURCE in r.kinds, (r.filename, r.numbers)
            assert r.numbers["top_source_x"] == pytest.approx(STAR_XY[0], abs=2)
            assert "on another source (star/companion) at (50, 13)" in " ".join(r.reasons)
            assert r.labels == {"has_bar": 1}
        else:
            assert not r.flagged, (r.filename, r.reasons)
    s = report.summary
    assert s.n_images == 13 and s.n_scanned == 12 and s.n_flagged == 6 and s.n_failures == 1
    assert s.counts[ON_SOURCE] == 6
    assert any(n.startswith("flags follow has_bar=1: 100 % of the 6 flagged") for n in s.notes)
    assert len(report.failures) == 1 and "broken_0.png" in str(report.failures[0])
    # worst cases: the flagged ones, highest score first
    assert len(report.worst) == 4
    assert [c.score for c in report.worst] == sorted((c.score for c in report.worst), reverse=True)
    assert all(c.score >= 1 for c in report.worst)


def test_table_has_the_columns_and_one_row_per_image(report, tmp_path):
    t = report.table()
    for col in ("filename", "flagged", "score", "reasons", "kinds", "share_sources", "share_outside",
                "share_border", "centroid_offset_r", "peak_on_source", "has_bar"):
        assert col in t.colnames
    assert len(t) == 12 and int(t["flagged"].sum()) == 6
    t.write(tmp_path / "f.ecsv")
    back = Table.read(tmp_path / "f.ecsv")
    assert list(back["filename"]) == list(t["filename"])
    assert back.meta["thresholds"]["source_share"] == pytest.approx(FlagThresholds().source_share)


def test_montage_is_a_png(report, tmp_path):
    out = write_montage(report.worst, tmp_path / "worst.png", columns=2)
    with Image.open(out) as im:
        assert im.format == "PNG" and im.width > 200 and im.height > 200
        assert np.asarray(im.convert("L")).std() > 5  # drawn, not blank
    with pytest.raises(GalaxyscopeError, match="no images"):
        write_montage([], tmp_path / "none.png")


def test_flags_go_into_the_database(report, scene_set, tmp_path):
    with AnnotationStore(tmp_path / "a.db") as store:
        n = store_flags(report, ImageSet.open(scene_set), store, set_name="scenes")
        flags = store.flags(kind=ON_SOURCE)
        images = store.images(set_name="scenes")
    assert n >= 6 and len(flags) == 6 and len(images) == 6
    assert all("star/companion" in f.reason and f.score >= 1 for f in flags)
    share = FlagThresholds().source_share
    assert all(f.numbers["threshold"] == pytest.approx(share) and f.numbers["value"] >= share for f in flags)


def test_progress_and_cancel(scene_set):
    seen = []
    s = ImageSet.open(scene_set)
    scan_dataset(s, star_looker_model(), n_samples=1, keep_worst=0, progress=lambda d, t: seen.append((d, t)))
    assert seen[0] == (0, 13) and seen[-1] == (13, 13)
    with pytest.raises(CancelledError):
        scan_dataset(s, star_looker_model(), n_samples=1, cancel=lambda: True)


def test_label_columns_must_be_labels(scene_set):
    with pytest.raises(KeyError, match="not a binary label"):
        scan_dataset(ImageSet.open(scene_set), star_looker_model(), n_samples=1, label_columns=["centre_x"])


def test_cli_writes_table_montage_and_db(scene_set, tmp_path, capsys):
    model = tiny_checkpoint(tmp_path / "m.safetensors")
    out = tmp_path / "flags.ecsv"
    rc = cli(["scan-bias", str(scene_set), "--model", str(model), "--out", str(out), "--samples", "2",
              "--montage", str(tmp_path / "m.png"), "--worst", "3", "--db", str(tmp_path / "a.db"),
              "--no-cache", "--quiet", "--thresholds", "fixed", "--outside-share", "0.01"])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    t = Table.read(out)
    assert {"filename", "flagged", "score", "reasons"} <= set(t.colnames)
    assert sorted(t["filename"]) == [f"scene_{i:02d}.png" for i in range(12)]
    assert "scanned 12 of 13 images" in cap.out and "flag rate by has_bar" in cap.out
    assert "skipped:" in cap.err and "broken_0.png" in cap.err
    with Image.open(tmp_path / "m.png") as im:
        assert im.format == "PNG"
    n_flagged = int(t["flagged"].sum())
    assert n_flagged > 0  # a 1 % outside-share threshold flags a random net's diffuse maps
    with AnnotationStore(tmp_path / "a.db") as store:
        assert len({f.image_id for f in store.flags()}) == n_flagged
    assert f"on {n_flagged} image(s)" in cap.out


def test_cli_help_and_one_line_errors(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        cli(["scan-bias", "--help"])
    assert exc.value.code == 0
    assert "--montage" in capsys.readouterr().out
    rc = cli(["scan-bias", str(tmp_path / "nowhere"), "--out", str(tmp_path / "f.ecsv"),
              "--model", str(tmp_path / "m.safetensors")])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "no such file or folder" in err
    rc = cli(["scan-bias", str(tmp_path), "--out", str(tmp_path / "f.txt")])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and ".ecsv, .csv or .fits" in err
    data = write_scene_dataset(tmp_path / "d", n=2)
    model = tiny_checkpoint(tmp_path / "m.safetensors")
    rc = cli(["scan-bias", str(data), "--model", str(model), "--out", str(tmp_path / "f.ecsv"), "--quiet",
              "--no-cache", "--samples", "1", "--labels", "nonexistent"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "--labels" in err and "nonexistent" in err


def test_check_saliency_gives_masks_and_verdict_for_one_map():
    from galaxyscope.bias.scan import check_saliency
    from galaxyscope.images.galaxy_image import GalaxyImage
    from test_bias_scores import blob
    from test_bias_testdata import draw_scene

    img = GalaxyImage(pixels=draw_scene(star_xy=STAR_XY)[:, :, None], id="x", meta={"centre_x": 31.0,
                                                                                    "centre_y": 32.0})
    check = check_saliency(img, blob(STAR_XY))
    assert check.masks.centre == (31.0, 32.0)
    assert check.verdict.flagged and ON_SOURCE in check.verdict.kinds
    assert not check_saliency(img, blob((31.5, 31.5), sigma=3.0)).verdict.flagged
