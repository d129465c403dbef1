"""Pairing measured rows with reference rows: keys (filename, 19-digit objid), methods, cuts."""

from __future__ import annotations

import numpy as np
import pytest
from astropy import units as u
from astropy.table import Table

from galaxyscope.errors import GalaxyscopeError, ImageReadError
from galaxyscope.evaluate.comparison import build_pairs, match_keys, pair_arrays

# differ only in the last digit: float64 cannot tell them apart
OBJIDS = np.array([587722981752438860, 587722981752438861, 587722981752438862, 587722981752438863], dtype=np.int64)


def write(table: Table, path) -> str:
    table.write(path, overwrite=True)
    return str(path)


def test_float64_really_cannot_tell_the_ids_apart():
    assert float(OBJIDS[0]) == float(OBJIDS[1])


def test_join_by_filename_aligns_rows(tmp_path):
    measured = write(
        Table({"filename": ["c.jpg", "a.jpg", "zzz.jpg", "b.jpg"], "bar_length_px": [30.0, 10.0, 99.0, 20.0]}),
        tmp_path / "m.ecsv",
    )
    reference = write(
        Table({"filename": ["a.jpg", "b.jpg", "c.jpg", "d.jpg"], "bar_length_px": [1.0, 2.0, 3.0, 4.0]}),
        tmp_path / "r.ecsv",
    )
    s = build_pairs(measured, reference, column="bar_length_px")
    assert s.n == 3 and s.n_unmatched == 1 and s.n_measured_rows == 4
    order = np.argsort(s.keys.astype(str))
    assert list(s.keys[order]) == ["a.jpg", "b.jpg", "c.jpg"]
    assert np.array_equal(s.measured[order], [10.0, 20.0, 30.0])
    assert np.array_equal(s.reference[order], [1.0, 2.0, 3.0])


@pytest.mark.parametrize("ref_suffix", [".csv", ".fits", ".ecsv"])
def test_join_by_19_digit_objid_exactly(tmp_path, ref_suffix):
    measured = write(Table({"objid": OBJIDS[::-1], "len": [4.0, 3.0, 2.0, 1.0]}), tmp_path / "m.ecsv")
    reference = write(Table({"objid": OBJIDS, "len": [10.0, 20.0, 30.0, 40.0]}), tmp_path / f"r{ref_suffix}")
    s = build_pairs(measured, reference, column="len", key="objid")
    assert s.n == 4
    got = dict(zip(s.keys, zip(s.measured, s.reference)))
    assert got[str(OBJIDS[0])] == (1.0, 10.0)
    assert got[str(OBJIDS[3])] == (4.0, 40.0)


def test_objid_as_text_joins_int64(tmp_path):
    measured = write(Table({"objid": [str(i) for i in OBJIDS], "len": [1.0, 2.0, 3.0, 4.0]}), tmp_path / "m.ecsv")
    reference = write(Table({"objid": OBJIDS, "len": [1.0, 2.0, 3.0, 4.0]}), tmp_path / "r.fits")
    s = build_pairs(measured, reference, column="len", key="objid")
    assert s.n == 4 and np.array_equal(s.measured, s.reference)


def test_float_key_that_lost_digits_is_refused(tmp_path):
    measured = write(Table({"objid": OBJIDS.astype(float), "len": [1.0, 2.0, 3.0, 4.0]}), tmp_path / "m.fits")
    reference = write(Table({"objid": OBJIDS, "len": [1.0, 2.0, 3.0, 4.0]}), tmp_path / "r.fits")
    with pytest.raises(GalaxyscopeError, match="floating-point"):
        build_pairs(measured, reference, column="len", key="objid")


def test_file_paths_match_ids_by_stem(tmp_path):
    measured = write(
        Table({"filename": [f"sdss/{i}.jpg" for i in OBJIDS[:3]], "bar_length_px": [1.0, 2.0, 3.0]}),
        tmp_path / "m.ecsv",
    )
    reference = write(Table({"objid": OBJIDS, "length_avg": [1.0, 2.0, 3.0, 4.0]}), tmp_path / "r.csv")
    s = build_pairs(measured, reference, column="bar_length_px", reference_column="length_avg",
                    reference_key="objid")
    assert s.n == 3 and s.n_matched_by_stem == 3
    assert np.array_equal(s.measured, s.reference)


def test_match_keys_leaves_ambiguous_stems_unmatched():
    m = np.array(["a/x.jpg", "b/x.jpg", "y.png", "z.jpg"], dtype=object)
    r = np.array(["x", "y", "z.jpg"], dtype=object)
    mi, ri, by_stem = match_keys(m, r)
    assert dict(zip(mi.tolist(), ri.tolist())) == {2: 1, 3: 2}
    assert by_stem == 1


def measured_two_methods(tmp_path) -> str:
    return write(
        Table(
            {
                "filename": ["a", "b", "a", "b"],
                "method": ["paper", "paper", "moments", "moments"],
                "bar_length_px": [1.0, 2.0, 10.0, 20.0],
            }
        ),
        tmp_path / "m.ecsv",
    )


def test_method_selection(tmp_path):
    measured = measured_two_methods(tmp_path)
    reference = write(Table({"filename": ["a", "b"], "bar_length_px": [1.0, 2.0]}), tmp_path / "r.ecsv")
    s = build_pairs(measured, reference, column="bar_length_px", method="moments")
    assert s.method == "moments" and sorted(s.measured) == [10.0, 20.0]
    with pytest.raises(GalaxyscopeError, match=r"several methods \(moments, paper\).*--method"):
        build_pairs(measured, reference, column="bar_length_px")
    with pytest.raises(GalaxyscopeError, match="no rows of method 'gradcam'"):
        build_pairs(measured, reference, column="bar_length_px", method="gradcam")


def test_reference_cut_and_non_finite_rows(tmp_path):
    measured = write(
        Table({"filename": list("abcde"), "v": [1.0, 2.0, np.nan, 4.0, 5.0]}), tmp_path / "m.ecsv"
    )
    reference = write(Table({"filename": list("abcde"), "v": [1.0, 0.0, 3.0, -1.0, 5.0]}), tmp_path / "r.ecsv")
    s = build_pairs(measured, reference, column="v")
    assert sorted(s.keys) == ["a", "e"]
    assert s.n_nonpositive_reference == 2 and s.n_not_finite == 1
    s_all = build_pairs(measured, reference, column="v", positive_reference_only=False)
    assert sorted(s_all.keys) == ["a", "b", "d", "e"] and s_all.n_nonpositive_reference == 0


def test_normalise_by_divides_both_sides(tmp_path):
    measured = write(Table({"filename": list("abc"), "len": [10.0, 30.0, 8.0]}), tmp_path / "m.ecsv")
    reference = write(
        Table({"filename": list("abc"), "len": [20.0, 15.0, 4.0], "r90_px": [10.0, 5.0, 0.0]}),
        tmp_path / "r.ecsv",
    )
    s = build_pairs(measured, reference, column="len", normalise_by="r90_px")
    assert s.normalised_by == "r90_px" and s.size_column == "r90_px"
    assert np.allclose(s.measured, [1.0, 6.0]) and np.allclose(s.reference, [2.0, 3.0])
    assert np.allclose(s.size, [10.0, 5.0])
    assert s.n_not_finite == 1  # r90 = 0 cannot normalise


def test_units_are_converted_to_the_reference_unit(tmp_path):
    m = Table({"filename": ["a", "b"], "len": [60.0, 120.0]})
    m["len"].unit = u.arcsec
    r = Table({"filename": ["a", "b"], "len": [1.0, 2.0]})
    r["len"].unit = u.arcmin
    s = build_pairs(write(m, tmp_path / "m.ecsv"), write(r, tmp_path / "r.ecsv"), column="len")
    assert np.allclose(s.measured, [1.0, 2.0]) and s.measured_unit == s.reference_unit == "arcmin"


def test_clear_errors(tmp_path):
    measured = write(Table({"filename": ["a"], "v": [1.0]}), tmp_path / "m.ecsv")
    reference = write(Table({"filename": ["a"], "w": [1.0], "r90": [2.0]}), tmp_path / "r.ecsv")
    with pytest.raises(ImageReadError, match=r"r\.ecsv: no column 'v' \(available: filename, w, r90\)"):
        build_pairs(measured, reference, column="v")
    with pytest.raises(ImageReadError, match="no such file"):
        build_pairs(tmp_path / "missing.ecsv", reference, column="v")
    with pytest.raises(ImageReadError, match="no key column 'objid'"):
        build_pairs(measured, reference, column="v", reference_column="w", key="objid")
    with pytest.raises(ImageReadError, match="no column 'method'"):
        build_pairs(measured, reference, column="v", reference_column="w", method="paper")
    dup = write(Table({"filename": ["a", "a"], "w": [1.0, 2.0]}), tmp_path / "dup.ecsv")
    with pytest.raises(GalaxyscopeError, match="key 'filename' repeats"):
        build_pairs(measured, dup, column="v", reference_column="w")
    other = write(Table({"filename": ["zz"], "w": [1.0]}), tmp_path / "o.ecsv")
    with pytest.raises(GalaxyscopeError, match="no measured row"):
        build_pairs(measured, other, column="v", reference_column="w")


def test_pair_arrays_counts_like_files():
    s = pair_arrays(np.array([1.0, np.nan, 3.0, 4.0]), np.array([1.0, 2.0, 0.0, 4.0]))
    assert s.n == 2 and s.n_not_finite == 1 and s.n_nonpositive_reference == 1
