"""Summary: counts per reason, flag rate per class, and the note when flags follow one class."""

from __future__ import annotations

import numpy as np
import pytest

from galaxyscope.bias.summary import AssociationRule, associate, binary_labels, summarise


def test_binary_labels_accepts_bools_ints_and_fractions():
    assert binary_labels([True, False, True]).tolist() == [1, 0, 1]
    assert binary_labels([0, 1, 1]).tolist() == [0, 1, 1]
    assert binary_labels([0.2, 0.7, 0.5]).tolist() == [0, 1, 1]
    assert binary_labels(np.ma.masked_array([1, 0, 1], mask=[0, 0, 1])).tolist() == [1, 0, -1]
    assert binary_labels([0.1, np.nan, 0.9]).tolist() == [0, -1, 1]
    assert binary_labels(["a", "b"]) is None
    assert binary_labels([3.0, 7.5, 1.0]) is None  # a length, not a label
    assert binary_labels([1, 1, 1]) is None  # one class only


def test_flags_that_follow_one_class_are_called_a_dataset_bias():
    labels = np.array([1] * 50 + [0] * 50)
    flagged = np.zeros(100, bool)
    flagged[:40] = True  # 40 of the barred
    flagged[60] = True  # one unbarred
    a = associate("has_bar", labels, flagged, "saliency_on_source")
    assert a.follows == 1
    assert a.rates[0].value == 1 and a.rates[0].n_flagged == 40 and a.rates[0].rate == pytest.approx(0.8)
    assert a.rates[1].n_flagged == 1
    assert a.p_value < 1e-10
    assert "follow has_bar=1" in a.note and "98 % of the 41 flagged" in a.note and "dataset bias" in a.note


def test_flags_spread_over_classes_are_one_offs():
    labels = np.array([1, 0] * 50)
    flagged = np.zeros(100, bool)
    flagged[:10] = True  # five of each class
    a = associate("has_bar", labels, flagged)
    assert a.follows is None and a.note == ""
    few = associate("has_bar", labels, np.arange(100) == 0, rule=AssociationRule(min_flags=5))
    assert few.follows is None  # one flag is no pattern


def test_summarise_counts_kinds_and_writes_notes():
    kinds = [["saliency_on_source", "saliency_off_galaxy"]] * 20 + [[]] * 20 + [["saliency_on_border"]] + [[]] * 19
    labels = {"has_bar": np.array([1] * 40 + [0] * 20)}
    s = summarise(kinds, labels, n_images=62, n_failures=2)
    assert s.n_scanned == 60 and s.n_flagged == 21 and s.n_failures == 2
    assert s.counts == {"saliency_on_source": 20, "saliency_off_galaxy": 20, "saliency_on_border": 1}
    assert any("'saliency_on_source' flags follow has_bar=1" in n for n in s.notes)
    text = s.text()
    assert "21 flagged (35.0 %)" in text and "saliency_on_source: 20" in text
    assert "flag rate by has_bar: has_bar=1: 20/40 (50.0 %), has_bar=0: 1/20 (5.0 %)" in text
    assert "2 file(s) could not be read" in text
    spread = summarise([["x"], [], ["x"], []] * 5, {"has_bar": np.array([1, 1, 0, 0] * 5)}, n_images=20,
                       n_failures=0)
    assert spread.notes == ["the flags do not follow any label class: one-off cases rather than a dataset bias"]
    with pytest.raises(ValueError, match="do not match"):
        summarise([[]], {"has_bar": np.array([1, 0])}, n_images=1, n_failures=0)
