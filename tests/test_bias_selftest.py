"""The planted-shortcut self-test, the scan-bias threshold options, and stored flags read back (issue 21)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from astropy.table import Table

from galaxyscope.bias.selftest import SelftestResult, artefact_detection, run_selftest, selftest_dirs
from galaxyscope.bias.store_flags import stored_verdicts
from galaxyscope.cli import main
from galaxyscope.images.imageset import ImageSet
from galaxyscope.store import AnnotationStore
from galaxyscope.synth.dataset import read_catalog
from test_bias_scan import tiny_checkpoint
from test_bias_testdata import write_scene_dataset


def test_artefact_detection_counts_recall_precision_and_rates():
    cat = Table({"filename": ["a", "b", "c", "d"], "artefact": ["star", "star", "none", "none"]})
    d = artefact_detection(["a", "b", "c", "d"], [True, False, True, False], cat)
    assert (d.true_pos, d.false_pos, d.n_artefact, d.n_flagged) == (1, 1, 2, 2)
    assert d.recall == 0.5 and d.precision == 0.5 and d.flag_rate_no_artefact == 0.5
    with pytest.raises(KeyError, match="zz"):
        artefact_detection(["zz"], [True], cat)


def test_selftest_renders_both_sets_once_and_scores_the_scans(tmp_path):
    calls = []

    def oracle_scan(image_set):
        """Flags exactly the images that carry the planted star (what perfect flags would do)."""
        calls.append(image_set)
        cat = image_set.catalogue
        rows = [SimpleNamespace(filename=str(f), flagged=str(a) != "none") for f, a in zip(cat["filename"],
                                                                                          cat["artefact"])]
        return SimpleNamespace(rows=rows, notes=[], meta={"threshold_mode": "reference"})

    result = run_selftest(None, oracle_scan, root=tmp_path, side=64, n=12)
    star_dir, clean_dir = selftest_dirs(tmp_path, 64, 12)
    star_cat = read_catalog(star_dir / "catalog.ecsv")
    assert (star_cat["artefact"] == "star").sum() == result.star.n_artefact > 0
    assert (read_catalog(clean_dir / "catalog.ecsv")["artefact"] == "none").all()
    assert result.star.recall == 1.0 and result.star.precision == 1.0 and result.clean_flag_rate == 0.0
    assert result.passed() and "targets" in result.text() and "met" in result.text()
    mtime = (star_dir / "catalog.ecsv").stat().st_mtime_ns
    run_selftest(None, oracle_scan, root=tmp_path, side=64, n=12)  # cached: not rendered again
    assert (star_dir / "catalog.ecsv").stat().st_mtime_ns == mtime and len(calls) == 4
    bad = SelftestResult(star=result.star, clean_flag_rate=0.2, n_clean=12, threshold_mode="scan",
                         star_dir="s", clean_dir="c")
    assert not bad.passed() and "NOT met" in bad.text()


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    return write_scene_dataset(tmp_path_factory.mktemp("scenes"), n=12)


def test_fixed_shares_need_fixed_mode_and_bad_values_are_one_line_errors(scenes, tmp_path, capsys):
    model = str(tiny_checkpoint(tmp_path / "m.safetensors"))
    base = ["scan-bias", str(scenes), "--model", model, "--out", str(tmp_path / "f.ecsv"), "--quiet"]
    for extra, words in ((["--outside-share", "0.5"], "--outside-share sets a fixed threshold"),
                         (["--quantile", "1.5"], "--quantile must be in [0.5, 1)"),
                         (["--thresholds", "scan", "--reference", str(scenes)], "--reference is used only"),
                         (["--reference", str(tmp_path / "nowhere")], "no such file or folder")):
        assert main(base + extra) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and words in err, err
    assert main(["scan-bias", "--out", str(tmp_path / "f.ecsv")]) == 2
    assert "needs a DATASET (or --selftest)" in capsys.readouterr().err


def test_cli_with_a_named_reference_prints_what_it_compared_with(scenes, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GALAXYSCOPE_CACHE", str(tmp_path / "cache"))
    model = str(tiny_checkpoint(tmp_path / "m.safetensors"))
    out = tmp_path / "f.ecsv"
    rc = main(["scan-bias", str(scenes), "--model", model, "--out", str(out), "--quiet", "--samples", "2",
               "--reference", str(scenes), "--db", str(tmp_path / "a.db")])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    assert "thresholds (reference):" in cap.out
    assert f"percentile of 12 images of the reference set {scenes.name} scanned with this model" in cap.out
    t = Table.read(out)
    assert t.meta["thresholds"]["mode"] == "reference" and isinstance(t.meta["notes"], list)
    # the flags stored by --db come back for the set's images, with their reasons
    s = ImageSet.open(str(scenes))
    with AnnotationStore(tmp_path / "a.db", readonly=True) as store:
        back = stored_verdicts(store, [(e.key, e.path) for e in s.entries])
    flagged = {str(f) for f, x in zip(t["filename"], t["flagged"]) if x}
    assert {v.key for v in back} == flagged
    for v in back:
        assert v.flags and all("scanned with this model" in f.basis for f in v.flags)


def test_stored_verdicts_keep_only_the_latest_scan(tmp_path):
    from galaxyscope.images.galaxy_image import GalaxyImage
    import numpy as np

    img_path = tmp_path / "g.png"
    img_path.write_bytes(b"")
    image = GalaxyImage(pixels=np.zeros((4, 4, 1), np.float32), id="g", path=img_path)
    with AnnotationStore(tmp_path / "a.db") as store:
        rec = store.register_galaxy_image(image, hash_file=False)
        store.add_flag(rec.id, "saliency_off_galaxy", "old reason", score=2.0, numbers={"scan_id": "2026-01-01"})
        store.add_flag(rec.id, "saliency_on_source", "new reason", score=1.5,
                       numbers={"scan_id": "2026-02-01", "value": 0.6, "threshold": 0.3, "basis": "b"})
        got = stored_verdicts(store, [("g.png", img_path), ("other.png", tmp_path / "other.png")])
    assert len(got) == 1 and got[0].key == "g.png"
    assert [f.reason for f in got[0].flags] == ["new reason"] and got[0].score == 1.5
    assert got[0].flags[0].threshold == 0.3 and got[0].flags[0].basis == "b"
