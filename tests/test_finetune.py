"""Fine-tuning from the annotation database: masks from drawn bars, training data, held-out
comparison, the recorded model version, cancel, and the command line (tiny models, 32 px)."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image
from skimage.measure import label, regionprops

from galaxyscope.cli import main as cli_main
from galaxyscope.errors import CancelledError
from galaxyscope.finetune.core import (FinetuneSettings, ModelScores, compare_scores, finetune_from_database,
                                       gather_labels)
from galaxyscope.images.imageset import ImageSet
from galaxyscope.model.checkpoint import load_checkpoint, save_checkpoint
from galaxyscope.model.finetune import (LabelledImage, build_finetune_data, mask_on_model_grid, rasterise_bar,
                                        split_examples)
from galaxyscope.model.preprocess import Preprocessing
from galaxyscope.model.training import train_model
from galaxyscope.model.trainset import TrainingDataError
from galaxyscope.store import AnnotationStore, BarLine
from model_testdata import write_bar_dataset

PRE = Preprocessing(input_size=32, crop_fraction=0.75)
FAST = FinetuneSettings(epochs=2, batch_size=8, n_samples=2, n_resamples=50, test_fraction=0.25)


@pytest.fixture(autouse=True)
def one_thread(one_torch_thread):
    """Every test here runs torch on one thread (fixture in conftest.py)."""


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return write_bar_dataset(tmp_path_factory.mktemp("ft"), n=32, size=48, seed=2, masks=True)


@pytest.fixture(scope="module")
def base_path(dataset, tmp_path_factory):
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    result = train_model(dataset, ["has_bar", "p_bar"], preprocessing=PRE, epochs=1, batch_size=8, seed=0)
    torch.set_num_threads(before)
    path = tmp_path_factory.mktemp("base") / "base.safetensors"
    save_checkpoint(result.model, path)
    return path


def bar_line(mask: np.ndarray) -> BarLine:
    """The bar mask's major axis as a drawn line (what a careful annotator would draw)."""
    p = regionprops(label(mask))[0]
    cy, cx = p.centroid
    half = p.axis_major_length / 2
    dy, dx = math.cos(p.orientation) * half, math.sin(p.orientation) * half
    return BarLine(cx - dx, cy - dy, cx + dx, cy + dy)


def label_everything(db, dataset, annotator="alice"):
    """Every galaxy labelled: barred ones by a drawn line, the others by 'no bar'."""
    images = ImageSet.open(dataset)
    with AnnotationStore(db) as store:
        for i, entry in enumerate(images.entries):
            rec = store.register_galaxy_image(images[i], set_name=dataset.name)
            if entry.row["has_bar"]:
                mask = np.asarray(Image.open(dataset / entry.row["bar_mask"])) > 0
                store.add_annotation(rec.id, annotator, bar_line(mask))
            else:
                store.mark_no_bar(rec.id, annotator)
    return db


def test_rasterised_bar_has_the_lines_length_and_width():
    mask = rasterise_bar((40, 60), (10.0, 20.0, 50.0, 20.0, 6.0))
    rows, cols = np.nonzero(mask)
    assert cols.min() == 10 and cols.max() == 50 and rows.min() == 17 and rows.max() == 23
    tilted = rasterise_bar((60, 60), (10.0, 10.0, 40.0, 40.0, None), width_fraction=0.2)
    assert tilted.sum() == pytest.approx(math.hypot(30, 30) * 0.2 * math.hypot(30, 30), rel=0.2)
    assert tilted[25, 25] and not tilted[10, 40]
    assert not rasterise_bar((10, 10), (3.0, 3.0, 3.0, 3.0, None)).any()


def test_mask_on_the_model_grid_follows_the_box_beyond_the_image():
    mask = np.zeros((40, 40), bool)
    mask[18:22, :] = True
    inside = mask_on_model_grid(mask, Preprocessing(input_size=20), (0, 40, 0, 40)).numpy()
    assert inside.shape == (20, 20) and inside[10, 0] > 0.5 and inside[0, 10] == 0
    wide = mask_on_model_grid(mask, Preprocessing(input_size=20), (-20, 60, -20, 60)).numpy()
    assert wide[10, 10] > 0.4 and wide[10, 1] == 0  # beyond the image: no bar
    assert wide[:, 5:15].max() > 0.4


def test_training_data_keeps_other_outputs_and_masks_only_drawn_bars(dataset, base_path):
    base = load_checkpoint(base_path)
    images = ImageSet.open(dataset)
    ims = [images[0], images[1]]
    examples = [LabelledImage("a", 1.0, lines=((10.0, 24.0, 38.0, 24.0, 4.0),)), LabelledImage("b", 0.5)]
    data = build_finetune_data(ims, examples, base)
    assert data.target_names == ["has_bar", "p_bar"] and data.targets.shape == (2, 2)
    assert list(data.targets[:, 0]) == [1.0, 0.5]
    expected = base.predict(ims)[:, 1]
    assert np.allclose(data.targets[:, 1], expected, atol=1e-4)  # learning without forgetting
    assert data.masks[0].max() == 255 and data.masks[1].max() == 0
    with pytest.raises(TrainingDataError, match="no output 'nope'"):
        build_finetune_data(ims, examples, base, label_outputs=["nope"])


def test_split_is_by_image_seeded_and_stratified():
    ex = [LabelledImage(str(i), float(i % 2)) for i in range(40)]
    a, b = split_examples(ex, 0.25, 3), split_examples(ex, 0.25, 3)
    assert list(a.test) == list(b.test) and len(a.test) == 10
    assert set(a.test).isdisjoint(a.train) and len(a.train) + len(a.test) == 40
    assert sum(ex[i].has_bar for i in a.test) == 5


def test_votes_and_lengths_combine_over_annotators(tmp_path, dataset):
    images = ImageSet.open(dataset)
    with AnnotationStore(tmp_path / "v.db") as store:
        rec = store.register_galaxy_image(images[0])
        store.add_annotation(rec.id, "a", BarLine(0, 0, 10, 0))
        store.add_annotation(rec.id, "b", BarLine(0, 0, 20, 0), width_line=BarLine(5, -2, 5, 2))
        store.set_bar_label(rec.id, "c", False)
        other = store.register_galaxy_image(images[1])
        store.set_bar_label(other.id, "a", True, length_px=7.0)
        got = gather_labels(store, dataset)
    assert got.rows == [0, 1]
    first, second = got.examples
    assert first.vote == pytest.approx(2 / 3) and first.length_px == pytest.approx(15.0)
    assert len(first.lines) == 2 and first.lines[1][4] == pytest.approx(4.0) and len(first.uids) == 3
    assert second.vote == 1.0 and second.lines == () and second.length_px == 7.0


def test_compare_scores_gives_paired_gains():
    labels = np.array([1, 1, 1, 0, 0, 0], bool)
    base = ModelScores(np.array([0.4, 0.6, 0.2, 0.5, 0.3, 0.7]), np.array([1, 3, 2, np.nan, np.nan, np.nan]))
    tuned = ModelScores(np.array([0.9, 0.8, 0.7, 0.1, 0.2, 0.3]), np.array([1, 2, 3, np.nan, np.nan, np.nan]))
    ref = np.array([10, 20, 30, np.nan, np.nan, np.nan])
    c = compare_scores(base, tuned, labels, ref, n_resamples=200)
    assert c.auc_tuned.value == 1.0 and c.auc_base.value == pytest.approx(3 / 9)
    assert c.auc_gain.value == pytest.approx(6 / 9) and c.auc_gain.low <= c.auc_gain.value <= c.auc_gain.high
    assert c.n_lengths == 3 and c.rho_tuned.value == pytest.approx(1.0) and c.rho_base.value == pytest.approx(0.5)
    assert "gain" in "\n".join(c.lines()) and c.to_dict()["auc_gain"]["value"] == pytest.approx(6 / 9)


def test_finetune_records_a_version_with_disjoint_labels(tmp_path, dataset, base_path):
    db = label_everything(tmp_path / "bars.db", dataset)
    seen = []
    outcome = finetune_from_database(dataset, db, base_path, tmp_path / "v2.safetensors", FAST,
                                     name="first", progress=lambda d, t: seen.append((d, t)))
    assert (tmp_path / "v2.safetensors").is_file() and outcome.n_train == 24 and outcome.n_test == 8
    assert seen[-1] == (1000, 1000) and all(t == 1000 for _, t in seen)
    c = outcome.comparison
    assert c.n_images == 8 and c.n_bar == 4 and c.n_lengths == 4 and 0 <= c.auc_tuned.value <= 1
    tuned = load_checkpoint(tmp_path / "v2.safetensors")
    assert tuned.meta.output_names == ["has_bar", "p_bar"]
    assert tuned.meta.metrics["finetune"]["base_sha256"] == load_checkpoint(base_path).sha256
    with AnnotationStore(db) as store:
        (v,) = store.model_versions()
        labels = store.bar_labels()
        lines = store.all_annotations()
    assert v.name == "first" and v.sha256 == outcome.sha256 and v.base_sha256 == load_checkpoint(base_path).sha256
    assert v.n_train == 24 and v.n_test == 8 and v.metrics["comparison"]["n_images"] == 8
    train, test = set(v.annotations["train"]), set(v.annotations["test"])
    assert train.isdisjoint(test) and train | test == {x.uid for x in labels} | {x.uid for x in lines}
    assert "recorded as model version 'first'" in outcome.summary()


def test_cancel_writes_nothing_and_too_few_labels_are_refused(tmp_path, dataset, base_path):
    db = label_everything(tmp_path / "bars.db", dataset)
    calls = []

    def cancel():
        calls.append(1)
        return len(calls) > 40

    with pytest.raises(CancelledError):
        finetune_from_database(dataset, db, base_path, tmp_path / "no.safetensors", FAST, cancel=cancel)
    assert not (tmp_path / "no.safetensors").exists()
    with AnnotationStore(db) as store:
        assert store.model_versions() == []
    with pytest.raises(TrainingDataError, match="only 32 labelled images"):
        finetune_from_database(dataset, db, base_path, tmp_path / "x.safetensors",
                               FinetuneSettings(min_images=40))


def test_cli_finetune_prints_before_and_after(tmp_path, dataset, base_path, capsys):
    db = label_everything(tmp_path / "bars.db", dataset)
    out = tmp_path / "cli.safetensors"
    code = cli_main(["finetune", str(dataset), "--db", str(db), "--model", str(base_path), "--out", str(out),
                     "--epochs", "1", "--batch-size", "8", "--samples", "2", "--quiet", "--guide-weight", "0"])
    assert code == 0 and out.is_file()
    text = capsys.readouterr().out
    assert "P(bar) AUC      base" in text and "length rho" in text and "held out" in text
    assert cli_main(["annotations", "versions", str(db)]) == 0
    assert "v1" in capsys.readouterr().out
    assert cli_main(["finetune", str(dataset), "--db", str(tmp_path / "none.db"), "--out", str(out)]) == 2
    assert "no annotation database" in capsys.readouterr().err


def test_a_labelled_image_that_went_bad_is_left_out(tmp_path, base_path):
    small = write_bar_dataset(tmp_path / "small", n=12, size=48, seed=4, masks=True)
    db = label_everything(tmp_path / "bars.db", small)
    (small / "gal_003.png").write_bytes(b"no longer a png")
    said = []
    outcome = finetune_from_database(small, db, base_path, tmp_path / "m.safetensors",
                                     replace(FAST, min_images=6), log=said.append)
    assert outcome.n_train + outcome.n_test == 11
    assert any(line.startswith("left out:") and "gal_003.png" in line for line in said)


def test_a_recorded_version_loads_only_while_its_file_is_unchanged(tmp_path, dataset, base_path):
    from galaxyscope.errors import ModelLoadError
    from galaxyscope.finetune.core import load_version

    db = label_everything(tmp_path / "bars.db", dataset)
    out = tmp_path / "v.safetensors"
    finetune_from_database(dataset, db, base_path, out, replace(FAST, epochs=1, test_fraction=0))
    with AnnotationStore(db) as store:
        (version,) = store.model_versions()
    assert version.n_test == 0 and version.metrics["comparison"] is None
    assert load_version(version).sha256 == version.sha256
    out.write_bytes(out.read_bytes() + b" ")
    with pytest.raises(ModelLoadError, match="changed since it was recorded"):
        load_version(version)
    out.unlink()
    with pytest.raises(ModelLoadError, match="the file is gone"):
        load_version(version)


def test_the_base_model_file_is_never_overwritten(tmp_path, dataset, base_path):
    from galaxyscope.errors import GalaxyscopeError

    db = label_everything(tmp_path / "bars.db", dataset)
    before = base_path.read_bytes()
    with pytest.raises(GalaxyscopeError, match="base model's own file"):
        finetune_from_database(dataset, db, base_path, base_path, FAST)
    assert base_path.read_bytes() == before
