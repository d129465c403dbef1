"""Weak real labels as extra outputs, fine-tuning with more outputs, and the train CLI's real-image flags."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from astropy.table import Table
from PIL import Image

from galaxyscope.cli import main
from galaxyscope.images.imageset import ImageSet
from galaxyscope.model.checkpoint import load_checkpoint, save_checkpoint
from galaxyscope.model.networks import build_network, load_extended
from galaxyscope.model.preprocess import Preprocessing
from galaxyscope.model.realdata import RealDataConfig, load_real_data
from galaxyscope.model.training import train_model
from galaxyscope.model.trainset import TrainingDataError
from galaxyscope.model.weak_labels import (folder_labels, load_weak_folder, masked_loss, output_name,
                                           weak_batch_loss)
from model_testdata import draw_galaxy, write_bar_dataset

PRE = Preprocessing(input_size=32, crop_fraction=0.75)
FAST = dict(preprocessing=PRE, batch_size=8, lr=3e-3, epochs=2, patience=5, seed=0, device="cpu")
SMALL = ["--size", "32", "--crop", "0.75", "--batch-size", "8", "--threads", "1", "--quiet"]


@pytest.fixture(autouse=True)
def one_thread(one_torch_thread):
    """Every test here runs torch on one thread (fixture in conftest.py)."""


def write_class_folder(root: Path, classes=("spiral", "non_spiral"), n: int = 6, seed: int = 1) -> Path:
    """gz2-kaggle layout: one subfolder of JPEGs per class."""
    rng = np.random.default_rng(seed)
    for k, cls in enumerate(classes):
        (root / cls).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            Image.fromarray(draw_galaxy(rng, 56, 7.0 if k == 0 else 0.0)).save(root / cls / f"{i}.jpg")
    return root


def write_catalogue_folder(root: Path, n: int = 8, seed: int = 2, numeric: bool = True) -> Path:
    """decals-zoobot layout: images/ plus catalog.csv with text columns and vote fractions."""
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        Image.fromarray(draw_galaxy(rng, 56, 5.0)).save(root / "images" / f"J{i:03d}.jpg")
        rows.append((f"images/J{i:03d}.jpg", f"J{i:03d}", i % 2, float(rng.uniform()), float(rng.uniform(5, 9))))
    table = Table(rows=rows, names=("filename", "iauname", "ring", "has-spiral-arms_no_fraction", "mag"))
    if not numeric:
        table = table["filename", "iauname"]
    table.write(root / "catalog.csv", overwrite=True)
    return root


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    return write_bar_dataset(tmp_path_factory.mktemp("synth"), n=24, size=48, seed=0)


@pytest.fixture(scope="module")
def gz(tmp_path_factory):
    return write_class_folder(tmp_path_factory.mktemp("gz") / "gz2")


@pytest.fixture(scope="module")
def decals(tmp_path_factory):
    return write_catalogue_folder(tmp_path_factory.mktemp("dec") / "decals")


def test_subfolder_labels(gz, tmp_path):
    labels = folder_labels(ImageSet.open(gz), gz)
    assert labels.names == ["weak_spiral"]
    keys = ImageSet.open(gz).keys()
    expect = [1.0 if k.startswith("spiral/") else 0.0 for k in keys]
    assert labels.values[:, 0].tolist() == expect
    three = write_class_folder(tmp_path / "three", classes=("bar", "lens", "ring"), n=2)
    (three / "loose.jpg").write_bytes((three / "bar" / "0.jpg").read_bytes())
    labels = folder_labels(ImageSet.open(three), three)
    assert labels.names == ["weak_bar", "weak_lens", "weak_ring"]
    assert np.nansum(labels.values, axis=1).tolist().count(1.0) == 6  # one-hot, the loose file unlabelled
    assert "1 images directly in the folder" in labels.notes[0]


def test_catalogue_labels_use_numeric_columns_in_0_1(decals):
    labels = folder_labels(ImageSet.open(decals), decals)
    assert labels.names == ["weak_ring", "weak_has_spiral_arms_no_fraction"]
    assert any("'mag' left out: values outside [0, 1]" in n for n in labels.notes)
    only = folder_labels(ImageSet.open(decals), decals, columns=["ring"])
    assert only.names == ["weak_ring"]
    with pytest.raises(TrainingDataError, match="values outside"):
        folder_labels(ImageSet.open(decals), decals, columns=["mag"])
    with pytest.raises(TrainingDataError, match="decals: none of the weak columns 'nope'"):
        folder_labels(ImageSet.open(decals), decals, columns=["nope"])
    assert output_name("smooth-or-featured_featured-or-disk_fraction") == \
        "weak_smooth_or_featured_featured_or_disk_fraction"


def test_bad_weak_folders_name_the_folder(tmp_path):
    texts = write_catalogue_folder(tmp_path / "texts_only", numeric=False)
    with pytest.raises(TrainingDataError, match="texts_only: its catalogue has no numeric column"):
        load_weak_folder(texts, PRE)
    flat = tmp_path / "flat_folder"
    flat.mkdir()
    Image.fromarray(draw_galaxy(np.random.default_rng(0), 40, 0)).save(flat / "a.png")
    with pytest.raises(TrainingDataError, match="flat_folder: weak labels need a catalogue"):
        load_weak_folder(flat, PRE)


def test_a_weak_only_row_does_not_change_the_synthetic_loss():
    out = torch.randn(3, 3)
    y = torch.tensor([[1.0, 0.0, np.nan], [0.0, 1.0, np.nan], [np.nan, np.nan, 1.0]])
    per = masked_loss(out, y)
    per_synthetic_only = masked_loss(out[:2], y[:2])
    assert torch.allclose(per[:2], per_synthetic_only[:2])  # has_bar's loss ignores the weak row
    changed = out.clone()
    changed[2, 0] = 50.0  # whatever the network says for has_bar on a weak row...
    assert torch.allclose(masked_loss(changed, y)[0], per[0])  # ...costs nothing
    assert not torch.allclose(masked_loss(changed, torch.nan_to_num(y, nan=0.0))[0], per[0])
    assert float(per[2]) == pytest.approx(float(torch.nn.functional.softplus(-out[2, 2])))
    assert float(weak_batch_loss(out[:, 2:], torch.full((3, 1), np.nan))) == 0.0


def test_weak_outputs_follow_the_synthetic_ones(synth, gz, decals):
    cfg = RealDataConfig(weak=[str(gz), str(decals)], weak_weight=0.5, frame_r90=3.0)
    result = train_model(synth, ["has_bar", "p_bar"], real=cfg, val_fraction=0.25, **FAST)
    meta = result.model.meta
    assert meta.output_names == ["has_bar", "p_bar", "weak_spiral", "weak_ring", "weak_has_spiral_arms_no_fraction"]
    assert meta.sigmoid_outputs == [True] * 5
    names = [o.name for o in result.best.outputs]
    assert names == meta.output_names  # every output validated, weak ones on held-out weak images
    weak = meta.metrics["real"]["weak"]
    assert weak["n_images"] == 20 and weak["n_val"] == 5 and weak["n_train"] == 15
    assert meta.metrics["real"]["weak_weight"] == 0.5
    assert [f["how"] for f in weak["folders"]] == ["subfolders", "catalogue"]
    p = result.model.predict([ImageSet.open(gz)[0]])
    assert p.shape == (1, 5)
    assert "weak labels" in meta.notes


def test_weak_labels_change_the_features(synth, gz):
    """The weak images do reach the network (a run with them ends elsewhere)."""
    data = load_real_data(RealDataConfig(weak=[str(gz)], weak_weight=2.0), PRE)
    a = train_model(synth, ["has_bar"], real=data, **FAST)
    b = train_model(synth, ["has_bar"], **FAST)
    key = "features.0.weight"
    assert not torch.equal(a.model.net.state_dict()[key], b.model.net.state_dict()[key])


def test_extended_head_keeps_the_old_predictions():
    torch.manual_seed(0)
    old = build_network("small", 2).eval()
    new = build_network("small", 4)
    assert load_extended(new, old.state_dict()) == 2
    new.eval()
    x = torch.rand(3, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(new(x)[:, :2], old(x), rtol=0, atol=1e-6)  # same weights; BLAS may round differently
        assert not torch.allclose(new(x)[:, 2:], torch.zeros(3, 2))
    with pytest.raises(ValueError, match="head.weight"):
        load_extended(build_network("small", 1), old.state_dict())


def test_init_with_extra_weak_outputs(synth, gz, tmp_path):
    first = train_model(synth, ["has_bar"], epochs=1, **{k: v for k, v in FAST.items() if k != "epochs"})
    first.model.meta.preprocessing = Preprocessing(input_size=32, crop_fraction=0.75, framing="galaxy",
                                                   frame_r90=2.5)
    path = tmp_path / "first.safetensors"
    save_checkpoint(first.model, path)
    init = load_checkpoint(path, device="cpu")
    data = load_real_data(RealDataConfig(weak=[str(gz)]), PRE, init=init)
    assert data.preprocessing.frame_r90 == 2.5  # real images framed like the starting model frames them
    # lr 0 and one epoch: the weights stay as copied (only BatchNorm statistics move)
    tuned = train_model(synth, ["has_bar"], real=data, init=init, **{**FAST, "lr": 0.0, "epochs": 1})
    before, after = init.net.state_dict(), tuned.model.net.state_dict()
    assert torch.equal(after["features.0.weight"], before["features.0.weight"])
    assert torch.equal(after["head.weight"][:1], before["head.weight"])
    assert after["head.weight"].shape == (2, 128) and float(after["head.weight"][1].abs().sum()) > 0
    meta = tuned.model.meta
    assert meta.output_names == ["has_bar", "weak_spiral"]
    assert meta.preprocessing.framing == "galaxy" and meta.preprocessing.frame_r90 == 2.5
    assert meta.metrics["init_from_sha256"] == init.sha256
    # other synthetic outputs than the starting model's are still refused
    with pytest.raises(TrainingDataError, match="starting model's outputs"):
        train_model(synth, ["has_bar", "p_bar"], real=data, init=init, **FAST)


def test_cli_trains_with_every_real_image_flag(synth, gz, decals, tmp_path, capsys):
    first = tmp_path / "first.safetensors"
    assert main(["train", str(synth), "--target", "has_bar", "--out", str(first), "--epochs", "1", *SMALL]) == 0
    out = tmp_path / "ft.safetensors"
    rc = main(["train", str(synth), "--target", "has_bar", "--out", str(out), "--epochs", "1", "--init", str(first),
               "--threads", "1", "--batch-size", "8", "--quiet", "--augment", "survey", "--aug", "jpeg=1",
               "--unlabelled", str(gz), "--unlabelled", str(decals), "--max-unlabelled", "5",
               "--adapt", "mmd", "--adapt-weight", "0.3", "--weak", str(gz), "--weak", str(decals),
               "--weak-column", "ring", "--max-weak", "6", "--weak-weight", "0.5", "--real-batch-size", "3",
               "--frame-r90", "2.8"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    meta = load_checkpoint(out, device="cpu").meta
    assert meta.preprocessing.input_size == 32  # taken from --init
    assert meta.output_names == ["has_bar", "weak_spiral", "weak_ring"]
    real = meta.metrics["real"]
    assert real["adapt"]["method"] == "mmd" and real["adapt"]["weight"] == 0.3
    assert [u["n_used"] for u in real["unlabelled"]] == [5, 5] and real["real_batch_size"] == 3
    assert [f["n_sampled"] for f in real["weak"]["folders"]] == [6, 6]
    assert real["framing"]["frame_r90"] == 2.8
    assert meta.metrics["augment"]["jpeg"] == 1.0 and meta.metrics["augment"]["greyscale"] == 0.25


@pytest.mark.parametrize("make,flag,message", [
    (lambda p: p.mkdir() or p, "--unlabelled", "empty_dir: no images found"),
    (lambda p: write_catalogue_folder(p, numeric=False), "--weak", "empty_dir: its catalogue has no numeric"),
    (lambda p: p, "--weak", "empty_dir: no such folder"),
])
def test_cli_bad_real_folders_exit_2_naming_the_folder(synth, tmp_path, capsys, make, flag, message):
    folder = make(tmp_path / "empty_dir")
    rc = main(["train", str(synth), "--target", "has_bar", "--out", str(tmp_path / "m.safetensors"),
               "--epochs", "1", flag, str(folder), *SMALL])
    err = capsys.readouterr().err
    assert rc == 2 and message in err and "Traceback" not in err


@pytest.mark.parametrize("args,message", [
    (["--adapt", "dann"], "--adapt needs real images"),
    (["--aug", "sparkle=2"], "--aug: augmentation setting"),
    (["--no-augment", "--augment", "survey"], "cannot be combined"),
])
def test_cli_flag_errors(synth, tmp_path, capsys, args, message):
    rc = main(["train", str(synth), "--target", "has_bar", "--out", str(tmp_path / "m.safetensors"), *args, *SMALL])
    assert rc == 2 and message in capsys.readouterr().err
