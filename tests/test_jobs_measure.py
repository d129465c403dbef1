"""`galaxyscope measure` over a dataset: rows per image and method, bad files skipped, regressor control."""

from __future__ import annotations

import numpy as np
import torch
from astropy.table import Table

from galaxyscope.cli import main
from galaxyscope.model.checkpoint import save_checkpoint
from galaxyscope.model.loaded import LoadedModel, ModelMeta
from galaxyscope.model.networks import build_network
from galaxyscope.model.preprocess import Preprocessing
from model_testdata import write_bar_dataset


def tiny_model(path, task="classify"):
    torch.manual_seed(0)
    net = build_network("small", n_outputs=1, in_channels=3)
    meta = ModelMeta(architecture="small", output_names=["has_bar" if task == "classify" else "bar_length"],
                     sigmoid_outputs=[task == "classify"], task=task,
                     preprocessing=Preprocessing(input_size=32, crop_fraction=0.5),
                     target_scale=[10.0] if task == "regress" else None,
                     target_offset=[30.0] if task == "regress" else None)
    save_checkpoint(LoadedModel(net=net, meta=meta), path)
    return path


def test_measure_writes_one_row_per_image_and_method(tmp_path, capsys):
    data = write_bar_dataset(tmp_path / "set", n=4, size=64, seed=1)
    (data / "broken.png").write_bytes(b"not a png")
    model = tiny_model(tmp_path / "m.safetensors")
    out = tmp_path / "res.ecsv"
    rc = main(["measure", str(data), "--model", str(model), "--samples", "3", "--no-cache", "--quiet",
               "--min-bar-probability", "0", "--out", str(out)])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    t = Table.read(out, format="ascii.ecsv")
    assert sorted(set(t["method"])) == ["isophote", "moments", "paper"]
    assert len(t) == 3 * 4
    for col in ("filename", "bar_length_px", "bar_width_px", "bar_pa_deg", "bar_score", "bar_length_arcsec",
                "framing", "crop_side_px", "reasons"):
        assert col in t.colnames
    assert np.all((t["bar_score"] >= 0) & (t["bar_score"] <= 1))
    sal = t[t["method"] != "isophote"]
    assert np.all(np.isfinite(sal["bar_length_px"][sal["flags"] != "no_signal"]))
    assert np.all(sal["crop_side_px"] == 32)  # fixed framing: the central half of 64 px
    # the catalogue names only the good files; a stray broken file is not part of the dataset,
    # but a plain folder (no catalogue) lists it and reports it as skipped
    plain = tmp_path / "plain"
    plain.mkdir()
    for name in list(t["filename"])[:1]:
        (plain / "good.png").write_bytes((data / name).read_bytes())
    (plain / "broken.png").write_bytes(b"not a png")
    rc = main(["measure", str(plain), "--model", str(model), "--samples", "2", "--no-cache", "--quiet",
               "--method", "moments", "--out", str(tmp_path / "plain.ecsv")])
    err = capsys.readouterr().err
    assert rc == 0
    assert "skipped:" in err and "broken.png" in err
    t2 = Table.read(tmp_path / "plain.ecsv", format="ascii.ecsv")
    assert list(t2["filename"]) == ["good.png"] and list(t2["method"]) == ["moments"]


def test_measure_then_evaluate_runs(tmp_path, capsys):
    data = write_bar_dataset(tmp_path / "set", n=6, size=64, seed=2)
    model = tiny_model(tmp_path / "m.safetensors")
    out = tmp_path / "res.ecsv"
    assert main(["measure", str(data), "--model", str(model), "--samples", "2", "--no-cache", "--quiet",
                 "--out", str(out)]) == 0
    capsys.readouterr()
    rc = main(["evaluate", "--measured", str(out), "--reference", str(data / "catalog.ecsv"),
               "--column", "bar_length_px", "--reference-column", "bar_length", "--method", "moments",
               "--json", "--no-plot"])
    assert rc == 0
    assert '"pearson_r"' in capsys.readouterr().out


def test_regressor_rows(tmp_path, capsys):
    data = write_bar_dataset(tmp_path / "set", n=3, size=64, seed=3)
    model = tiny_model(tmp_path / "r.safetensors", task="regress")
    out = tmp_path / "reg.ecsv"
    assert main(["measure", str(data), "--model", str(model), "--no-cache", "--quiet", "--out", str(out)]) == 0
    t = Table.read(out, format="ascii.ecsv")
    assert list(t["method"]) == ["regressor"] * 3
    # predictions are raw * 10 + 30 in the column's units: a random net gives values near 30, not near 0..1
    assert np.all(np.abs(t["bar_length_px"] - 30) < 30)
    assert np.all(np.isnan(t["bar_pa_deg"]))


def test_unknown_method_is_one_clear_line(tmp_path, capsys):
    data = write_bar_dataset(tmp_path / "set", n=2, size=48, seed=4)
    rc = main(["measure", str(data), "--method", "nonsense", "--out", str(tmp_path / "x.ecsv")])
    assert rc == 2
    assert "unknown bar method" in capsys.readouterr().err


def test_bar_options_reach_the_measurement(tmp_path):
    from galaxyscope.images.imageset import ImageSet
    from galaxyscope.jobs.measure_job import measure_dataset
    from galaxyscope.measure import PaperParams
    from galaxyscope.model.checkpoint import load_checkpoint

    data = write_bar_dataset(tmp_path / "set", n=2, size=64, seed=5)
    model = load_checkpoint(tiny_model(tmp_path / "m.safetensors"))
    s = ImageSet.open(data)
    default = measure_dataset(s, model, methods=("paper",), n_samples=2).table
    custom = measure_dataset(s, model, methods=("paper",), n_samples=2,
                             options={"paper": PaperParams(t_start=0.9)}).table
    assert len(default) == len(custom) == 2
    assert np.all(np.isfinite(custom["threshold"]))
    assert np.all(custom["threshold"] >= 0.9 - 1e-9)  # the sweep started where the options said


def _with_objids(data):
    cat = Table.read(data / "catalog.ecsv", format="ascii.ecsv")
    # SDSS DR7 objids have 19 digits: more than a float64 holds exactly
    cat["dr7objid"] = np.array([587722981736120000 + 7 * i + 1 for i in range(len(cat))], dtype=np.int64)
    cat.write(data / "catalog.ecsv", format="ascii.ecsv", overwrite=True)
    return {str(f): int(o) for f, o in zip(cat["filename"], cat["dr7objid"])}


def test_keep_copies_catalogue_ids_exactly(tmp_path, capsys):
    data = write_bar_dataset(tmp_path / "set", n=3, size=64, seed=6)
    ids = _with_objids(data)
    model = tiny_model(tmp_path / "m.safetensors")
    out = tmp_path / "res.ecsv"
    rc = main(["measure", str(data), "--model", str(model), "--samples", "2", "--no-cache", "--quiet",
               "--keep", "dr7objid", "--keep", "name", "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    t = Table.read(out, format="ascii.ecsv")
    assert t.colnames[:3] == ["filename", "dr7objid", "name"]
    assert t["dr7objid"].dtype.kind == "i"
    assert all(int(o) == ids[str(f)] for f, o in zip(t["filename"], t["dr7objid"]))
    assert len(t) == 3 * 3  # paper, moments, isophote
    # the regressor's rows carry them too
    reg = tiny_model(tmp_path / "r.safetensors", task="regress")
    assert main(["measure", str(data), "--model", str(reg), "--no-cache", "--quiet", "--keep", "dr7objid",
                 "--out", str(tmp_path / "reg.ecsv")]) == 0
    t = Table.read(tmp_path / "reg.ecsv", format="ascii.ecsv")
    assert [int(o) for o in t["dr7objid"]] == [ids[str(f)] for f in t["filename"]]


def test_keep_refuses_unknown_and_clashing_columns_before_any_work(tmp_path, capsys):
    data = write_bar_dataset(tmp_path / "set", n=2, size=48, seed=7)
    model = tiny_model(tmp_path / "m.safetensors")
    out = tmp_path / "x.ecsv"
    rc = main(["measure", str(data), "--model", str(model), "--keep", "objid", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and "--keep objid" in err and "no such catalogue column" in err and "has_bar" in err
    rc = main(["measure", str(data), "--model", str(model), "--keep", "bar_length_px", "--out", str(out)])
    assert rc == 2 and "already has a column" in capsys.readouterr().err
    assert not out.exists()
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "a.png").write_bytes((data / "gal_000.png").read_bytes())
    rc = main(["measure", str(plain), "--model", str(model), "--keep", "objid", "--out", str(out)])
    assert rc == 2 and "no catalogue" in capsys.readouterr().err


def test_identifier_columns_are_the_id_like_ones_present(tmp_path):
    from galaxyscope.images.imageset import ImageSet
    from galaxyscope.jobs.measure_job import identifier_columns

    data = write_bar_dataset(tmp_path / "set", n=2, size=48, seed=8)
    assert identifier_columns(ImageSet.open(data)) == ("name",)
    _with_objids(data)
    assert identifier_columns(ImageSet.open(data)) == ("dr7objid", "name")
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "a.png").write_bytes((data / "gal_000.png").read_bytes())
    assert identifier_columns(ImageSet.open(plain)) == ()


def test_keep_leaves_a_missing_catalogue_value_masked(tmp_path, capsys):
    from astropy.table import MaskedColumn

    data = write_bar_dataset(tmp_path / "set", n=3, size=48, seed=9)
    cat = Table.read(data / "catalog.ecsv", format="ascii.ecsv")
    cat["ra"] = MaskedColumn([150.1, 150.2, 150.3], mask=[False, True, False])
    cat.write(data / "catalog.ecsv", format="ascii.ecsv", overwrite=True)
    reg = tiny_model(tmp_path / "r.safetensors", task="regress")
    out = tmp_path / "reg.ecsv"
    assert main(["measure", str(data), "--model", str(reg), "--no-cache", "--quiet", "--keep", "ra",
                 "--out", str(out)]) == 0
    t = Table.read(out, format="ascii.ecsv")
    got = {str(f): (None if np.ma.is_masked(v) else float(v)) for f, v in zip(t["filename"], t["ra"])}
    assert got == {"gal_000.png": 150.1, "gal_001.png": None, "gal_002.png": 150.3}
