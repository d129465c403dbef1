"""Catalogue reading keeps ids exact; joining rows to files by name, stem or id."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.table import Table

from galaxyscope.errors import ImageReadError
from galaxyscope.images.catalogue import (
    find_id_column,
    is_catalogue_file,
    join_catalogue,
    match_rows,
    read_catalogue,
    row_dict,
)

BIG = "587722981747982465"  # a real SDSS DR7 objid; float64 turns it into ...982464


def test_objid_with_a_nan_cell_stays_text_not_float(tmp_path):
    path = tmp_path / "cat.csv"
    path.write_text(f"objid,r90\n{BIG},3.5\nnan,2.0\n,1.0\n")
    table = read_catalogue(path)
    assert table["objid"].dtype.kind == "U"
    assert table["objid"][0] == BIG
    assert table["r90"].dtype.kind == "f"


def test_integer_above_int64_stays_text(tmp_path):
    path = tmp_path / "cat.csv"
    path.write_text("specobjid,x\n18446744073709551617,1\n2,2\n")
    table = read_catalogue(path)
    assert str(table["specobjid"][0]) == "18446744073709551617"


def test_unnamed_big_integer_column_not_float(tmp_path):
    path = tmp_path / "cat.csv"
    # 'nan' would make astropy guess float64 for this column
    path.write_text(f"galaxy,x\n{BIG},1\nnan,2\n")
    table = read_catalogue(path)
    assert str(table["galaxy"][0]) == BIG


def test_plain_id_column_is_int64_and_exact(tmp_path):
    path = tmp_path / "cat.csv"
    path.write_text(f"dr7objid,x\n{BIG},1\n{int(BIG) + 1},2\n")
    table = read_catalogue(path)
    assert table["dr7objid"].dtype == np.int64
    assert [str(v) for v in table["dr7objid"]] == [BIG, str(int(BIG) + 1)]


def test_zero_padded_ids_stay_text(tmp_path):
    path = tmp_path / "cat.csv"
    path.write_text("id,x\n00123,1\n00456,2\n")
    table = read_catalogue(path)
    assert list(table["id"]) == ["00123", "00456"]


def test_whitespace_text_with_commented_header(tmp_path):
    path = tmp_path / "cat.txt"
    path.write_text(f"#SDSS_OBJID  sma_kpc  z\n{BIG}  2.045  0.04089\n")
    table = read_catalogue(path)
    assert table.colnames == ["SDSS_OBJID", "sma_kpc", "z"]
    assert str(table["SDSS_OBJID"][0]) == BIG


def test_ecsv_and_fits_round_trip_int64(tmp_path):
    table = Table({"objid": np.array([int(BIG)], dtype=np.int64), "r": [1.5]})
    table.write(tmp_path / "cat.ecsv")
    table.write(tmp_path / "cat.fits")
    for name in ("cat.ecsv", "cat.fits"):
        back = read_catalogue(tmp_path / name)
        assert str(back["objid"][0]) == BIG
    assert is_catalogue_file(tmp_path / "cat.fits")
    assert is_catalogue_file(tmp_path / "cat.ecsv")


def test_unreadable_catalogues_raise_image_read_error(tmp_path):
    with pytest.raises(ImageReadError, match="no such file"):
        read_catalogue(tmp_path / "missing.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(ImageReadError, match="empty file"):
        read_catalogue(tmp_path / "empty.csv")
    (tmp_path / "ragged.csv").write_text("a,b\n1,2,3,4\n5\n")
    with pytest.raises(ImageReadError, match="cannot read catalogue"):
        read_catalogue(tmp_path / "ragged.csv")


def test_find_id_column_prefers_objid():
    table = Table({"x": [1], "id": [2], "dr7objid": [3]})
    assert find_id_column(table) == "dr7objid"
    assert find_id_column(Table({"x": [1]})) is None


def test_match_by_relative_path_then_stem():
    cat = Table({"filename": ["sdss/a.jpg", "b.png", "c"], "v": [1, 2, 3]})
    keys = ["sdss/a.jpg", "other/b.png", "c.fits", "d.jpg"]
    assert match_rows(keys, cat).tolist() == [0, 1, 2, -1]


def test_match_by_id_column_uses_file_stem():
    cat = Table({"objid": np.array([int(BIG), 5], dtype=np.int64), "r": [1.0, 2.0]})
    index = match_rows([f"imgs/{BIG}.jpg", "5.png", "6.png"], cat, file_column=None, id_column="objid")
    assert index.tolist() == [0, 1, -1]


def test_duplicate_rows_first_wins_and_keys_order_kept():
    cat = Table({"filename": ["b.jpg", "a.jpg", "a.jpg"], "v": [1, 2, 3]})
    assert match_rows(["a.jpg", "b.jpg"], cat).tolist() == [1, 0]


def test_join_catalogue_table_masks_unmatched():
    cat = Table({"filename": ["a.jpg"], "objid": np.array([int(BIG)], dtype=np.int64)})
    joined = join_catalogue(["z.jpg", "a.jpg"], cat)
    assert list(joined["key"]) == ["z.jpg", "a.jpg"]
    assert list(joined["matched"]) == [False, True]
    assert joined["objid"].mask.tolist() == [True, False]
    assert str(joined["objid"][1]) == BIG


def test_row_dict_gives_exact_python_values():
    cat = Table({"objid": np.array([int(BIG)], dtype=np.int64), "name": ["NGC 1300"]})
    row = row_dict(cat, 0)
    assert row == {"objid": int(BIG), "name": "NGC 1300"}
    assert row_dict(cat, -1) == {}
