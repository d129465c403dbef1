"""Agreement between annotators and the vetting list, on a hand-made example."""

from __future__ import annotations

import math
from dataclasses import dataclass

import astropy.units as u
import numpy as np
import pytest

from galaxyscope.store import AnnotationStore, BarLine
from galaxyscope.store.agreement import (
    image_agreement,
    image_agreements_from,
    set_agreement,
    vetting_list,
)


@dataclass
class FakeMeasurement:
    """The attributes `add_machine_measurement` reads (like `BarMeasurement`)."""

    length_px: float
    method: str = "paper"
    width_px: float = math.nan
    length_err_px: float = math.nan
    pa_deg: float = 0.0
    endpoints: tuple | None = None
    flags: tuple = ()
    params: dict | None = None


def bar(length: float) -> BarLine:
    return BarLine(0.0, 0.0, length, 0.0)


@pytest.fixture
def example(tmp_path):
    """A: alice 10, bob 12 (+ a deleted 100 by dave). B: alice 20 and 22 (a repeat), bob 21,
    carol 24. C: alice 30 only. D: no annotation. Another set: E, alice 5 and bob 50."""
    store = AnnotationStore(tmp_path / "agree.db")
    a, b, c, d = (store.register_image(f"{n}.jpg", set_name="main") for n in "ABCD")
    e = store.register_image("E.jpg", set_name="other")
    store.add_annotation(a.id, "alice", bar(10))
    store.add_annotation(a.id, "bob", bar(12))
    gone = store.add_annotation(a.id, "dave", bar(100))
    store.delete_annotation(gone.id)
    store.add_annotation(b.id, "alice", bar(20))
    store.add_annotation(b.id, "alice", bar(22))
    store.add_annotation(b.id, "bob", bar(21))
    store.add_annotation(b.id, "carol", bar(24))
    store.add_annotation(c.id, "alice", bar(30))
    store.add_annotation(e.id, "alice", bar(5))
    store.add_annotation(e.id, "bob", bar(50))
    store.add_machine_measurement(a.id, FakeMeasurement(15.0))  # older, superseded
    store.add_machine_measurement(a.id, FakeMeasurement(22.0))  # +100 % against 11
    store.add_machine_measurement(b.id, FakeMeasurement(22.0))  # exactly the human mean
    store.add_machine_measurement(c.id, FakeMeasurement(math.nan))  # machine found nothing
    store.add_machine_measurement(d.id, FakeMeasurement(40.0))  # nobody drew it
    store.add_machine_measurement(b.id, FakeMeasurement(11.0, method="moments"))
    yield store, (a, b, c, d, e)
    store.close()


def test_per_image_spread(example):
    store, (a, b, c, d, _e) = example
    ag = image_agreement(store, a.id)
    assert ag.annotators == ("alice", "bob") and ag.n_annotations == 2  # dave's deleted bar ignored
    assert ag.mean.to_value(u.pix) == pytest.approx(11.0)
    assert ag.std.to_value(u.pix) == pytest.approx(math.sqrt(2.0))
    assert ag.relative_scatter == pytest.approx(math.sqrt(2.0) / 11.0)
    bg = image_agreement(store, b.id)
    assert bg.lengths.to_value(u.pix) == pytest.approx([21.0, 21.0, 24.0])  # alice: mean of 20, 22
    assert bg.n_annotations == 4 and bg.n_annotators == 3
    assert bg.std.to_value(u.pix) == pytest.approx(math.sqrt(3.0))
    assert bg.relative_scatter == pytest.approx(math.sqrt(3.0) / 22.0)
    cg = image_agreement(store, c.id)
    assert cg.n_annotators == 1 and math.isnan(cg.relative_scatter)
    assert image_agreement(store, d.id).n_annotators == 0


def test_set_relative_scatter(example):
    store, _ = example
    rel_a, rel_b = math.sqrt(2.0) / 11.0, math.sqrt(3.0) / 22.0
    main = set_agreement(store, "main")
    assert main.n_images == 2 and main.n_annotators == 3
    assert main.rms_relative_scatter == pytest.approx(math.sqrt((rel_a**2 + rel_b**2) / 2))
    assert main.median_relative_scatter == pytest.approx((rel_a + rel_b) / 2)
    assert main.n_repeat_groups == 1
    assert main.repeat_relative_scatter == pytest.approx(math.sqrt(2.0) / 21.0)
    other = set_agreement(store, "other")
    assert other.n_images == 1 and math.isnan(other.repeat_relative_scatter)
    assert other.rms_relative_scatter == pytest.approx(np.std([5, 50], ddof=1) / 27.5)
    every = set_agreement(store)
    assert every.n_images == 3


def test_vetting_list_sorted_by_disagreement(example):
    store, (a, b, c, d, _e) = example
    rows = vetting_list(store, method="paper")
    assert [r.image_id for r in rows] == [c.id, a.id, b.id]  # D has no human length
    assert rows[0].machine_length is None and rows[0].disagreement == math.inf
    assert rows[1].machine_length.to_value(u.pix) == 22.0  # the latest measurement of A
    assert rows[1].relative_difference == pytest.approx(1.0)
    assert rows[1].difference.to_value(u.pix) == pytest.approx(11.0)
    assert rows[2].disagreement == pytest.approx(0.0)
    moments = vetting_list(store, method="moments")
    assert [r.image_id for r in moments] == [b.id]
    assert moments[0].relative_difference == pytest.approx(-0.5)


def test_pure_function_on_records(example):
    store, _ = example
    records = store.all_annotations(include_deleted=True)
    by_image = {g.image_id: g for g in image_agreements_from(records)}
    assert len(by_image) == 4 and "dave" not in by_image[1].annotators
