"""`galaxyscope evaluate` end to end on small tables written in tmp_path."""

from __future__ import annotations

import json

import numpy as np
import pytest
from astropy.table import Table
from PIL import Image

from galaxyscope.cli import main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
METRIC_KEYS = ("pearson_r", "spearman_rho", "rmse", "median_rel_err", "n")


@pytest.fixture
def tables(tmp_path):
    rng = np.random.default_rng(0)
    n = 60
    ids = (587722981752438000 + np.arange(n)).astype(np.int64)
    r90 = rng.lognormal(np.log(20), 0.4, n)
    length = rng.uniform(0.3, 0.8, n) * r90
    length[:3] = 0.0  # unbarred: left out by default
    measured = Table(
        {
            "objid": np.concatenate([ids, ids]),
            "method": ["paper"] * n + ["moments"] * n,
            "bar_length_px": np.concatenate([0.5 * length * rng.lognormal(0, 0.1, n), np.full(n, 7.0)]),
        }
    )
    reference = Table({"objid": ids, "bar_length_px": length, "r90_px": r90})
    mpath, rpath = tmp_path / "RESULTS.ecsv", tmp_path / "catalog.csv"
    measured.write(mpath)
    reference.write(rpath)
    return mpath, rpath


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["evaluate", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_json_output_and_default_plot(tables, capsys):
    mpath, rpath = tables
    code, out, err = run_cli(
        capsys, "--measured", str(mpath), "--reference", str(rpath), "--column", "bar_length_px",
        "--key", "objid", "--method", "paper", "--size-column", "r90_px", "--resamples", "300", "--json",
    )
    assert code == 0, err
    data = json.loads(out)  # exactly one JSON object, strict (no NaN)
    for k in (*METRIC_KEYS, "baselines", "intervals"):
        assert k in data
    assert data["n"] == 57 and data["selection"]["nonpositive_reference_excluded"] == 3
    assert data["pearson_r"] > 0.8
    lo, hi = data["intervals"]["pearson_r"]
    assert lo <= data["pearson_r"] <= hi
    base = data["baselines"]
    assert set(base) >= {"constant", "size", "constant_times_size"}
    for name in ("constant", "size"):
        for k in METRIC_KEYS:
            assert k in base[name]
    assert base["constant"]["pearson_r"] is None  # undefined, reported as such
    assert base["size"]["pearson_r"] > 0.3
    assert data["best_scale"]["fitted"] is True and data["best_scale"]["scale"] == pytest.approx(2.0, rel=0.1)
    plot = mpath.with_name("RESULTS_eval.png")
    assert data["plot"] == str(plot)
    assert plot.read_bytes()[:8] == PNG_MAGIC
    with Image.open(plot) as im:
        im.verify()
        assert im.size[0] > 100 and im.size[1] > 100


def test_plain_output_shows_baselines_and_normalisation(tables, capsys, tmp_path):
    mpath, rpath = tables
    plot = tmp_path / "out.png"
    code, out, err = run_cli(
        capsys, "--measured", str(mpath), "--reference", str(rpath), "--column", "bar_length_px",
        "--key", "objid", "--method", "moments", "--normalise-by", "r90_px", "--resamples", "200",
        "--plot", str(plot),
    )
    assert code == 0, err
    assert "divided by 'r90_px'" in out
    assert "baseline: constant" in out and "baseline: size" in out and "undefined" in out
    assert "constant × size" in out and "measured × size" in out
    assert "fitted" in out
    assert plot.read_bytes()[:8] == PNG_MAGIC
    assert not mpath.with_name("RESULTS_eval.png").exists()


def test_bad_column_exits_2_with_one_line(tables, capsys):
    mpath, rpath = tables
    code, out, err = run_cli(
        capsys, "--measured", str(mpath), "--reference", str(rpath), "--column", "bar_len",
        "--key", "objid", "--no-plot",
    )
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert "RESULTS.ecsv" in lines[0] and "'bar_len'" in lines[0]
    assert "available: objid, method, bar_length_px" in lines[0]


def test_missing_file_and_reference_column(tables, capsys, tmp_path):
    mpath, rpath = tables
    code, _, err = run_cli(capsys, "--measured", str(tmp_path / "nope.ecsv"), "--reference", str(rpath),
                           "--column", "bar_length_px", "--no-plot")
    assert code == 2 and "nope.ecsv: no such file" in err
    code, _, err = run_cli(capsys, "--measured", str(mpath), "--reference", str(rpath), "--column",
                           "bar_length_px", "--reference-column", "length_avg", "--key", "objid",
                           "--method", "paper", "--no-plot")
    assert code == 2 and "catalog.csv: no column 'length_avg'" in err and "r90_px" in err


def test_where_evaluates_a_subset_with_its_own_baselines(tables, capsys):
    mpath, rpath = tables
    args = ("--measured", str(mpath), "--reference", str(rpath), "--column", "bar_length_px",
            "--key", "objid", "--method", "paper", "--size-column", "r90_px", "--resamples", "200",
            "--json", "--no-plot")
    code, out, err = run_cli(capsys, *args)
    full = json.loads(out)
    code, out, err = run_cli(capsys, *args, "--where", "r90_px > 20")
    assert code == 0, err
    sub = json.loads(out)
    ref = Table.read(rpath)
    big = (ref["r90_px"] > 20) & (ref["bar_length_px"] > 0)
    assert sub["n"] == int(big.sum()) < full["n"]
    assert sub["selection"]["where"] == "r90_px > 20"
    assert sub["selection"]["where_excluded"] == int((ref["r90_px"] <= 20).sum())
    assert sub["selection"]["unmatched"] == full["selection"]["unmatched"] == 0
    assert sub["baselines"]["size"]["n"] == sub["n"]
    code, out, _ = run_cli(capsys, *args[:-2], "--no-plot", "--where", "r90_px > 20")
    assert "subset: reference rows with r90_px > 20" in out


def test_where_errors_name_the_file_and_the_filter(tables, capsys):
    mpath, rpath = tables
    base = ("--measured", str(mpath), "--reference", str(rpath), "--column", "bar_length_px", "--key", "objid",
            "--method", "paper", "--no-plot")
    code, _, err = run_cli(capsys, *base, "--where", "r9O_px > 20")
    assert code == 2 and "--where 'r9O_px > 20'" in err and "catalog.csv" in err and "no column 'r9O_px'" in err
    code, _, err = run_cli(capsys, *base, "--where", "r90_px > 1e9")
    assert code == 2 and "none of the" in err and "passes" in err
