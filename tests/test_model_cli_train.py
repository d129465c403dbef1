"""`galaxyscope train` end to end on a tiny dataset, and its user errors."""

from __future__ import annotations

import json

import pytest

from galaxyscope.cli import main
from galaxyscope.model.checkpoint import file_sha256, load_checkpoint
from model_testdata import write_bar_dataset


@pytest.fixture(autouse=True)
def one_thread(one_torch_thread):
    """Every test here runs torch on one thread (fixture in conftest.py)."""


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return write_bar_dataset(tmp_path_factory.mktemp("cli"), n=20, size=40, seed=2, n_broken=1)


def test_train_classifier_end_to_end(dataset, tmp_path, capsys):
    out = tmp_path / "bar.safetensors"
    rc = main(["train", str(dataset), "--target", "has_bar", "--out", str(out), "--epochs", "2",
               "--size", "32", "--crop", "0.75", "--batch-size", "8", "--seed", "1", "--threads", "1"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert out.is_file() and (tmp_path / "bar.safetensors.json").is_file()
    assert "has_bar: AUC" in captured.out and "1 unreadable skipped" in captured.out
    assert file_sha256(out)[:12] in captured.out
    model = load_checkpoint(out)
    assert model.meta.output_names == ["has_bar"]
    assert model.meta.preprocessing.input_size == 32 and model.meta.preprocessing.crop_fraction == 0.75
    assert model.meta.metrics["seed"] == 1 and model.meta.metrics["epochs_run"] <= 2
    side = json.loads((tmp_path / "bar.safetensors.json").read_text())
    assert side["meta"]["architecture"] == "small"


def test_train_regressor_end_to_end(dataset, tmp_path, capsys):
    out = tmp_path / "len.safetensors"
    rc = main(["train", str(dataset), "--regress", "bar_length", "--out", str(out), "--epochs", "1",
               "--size", "32", "--batch-size", "4", "--quiet", "--no-augment"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert "rows left out: 11" in captured.out and "constant baseline" in captured.out
    model = load_checkpoint(out)
    assert model.meta.task == "regress" and model.meta.target_scale and model.meta.target_offset
    assert captured.err == ""  # --quiet: no bars, no epoch lines


@pytest.mark.parametrize("args,message", [
    (["--target", "nope"], "no column 'nope'"),
    (["--target", "bar_length"], "outside [0, 1]"),
    (["--regress", "missing_col"], "no column 'missing_col'"),
])
def test_bad_target_exits_2(dataset, tmp_path, capsys, args, message):
    out = tmp_path / "m.safetensors"
    rc = main(["train", str(dataset), *args, "--out", str(out), "--epochs", "1", "--size", "32"])
    err = capsys.readouterr().err
    assert rc == 2
    assert message in err and "Traceback" not in err
    assert not out.exists()


def test_bad_output_and_dataset_exit_2(dataset, tmp_path, capsys):
    assert main(["train", str(dataset), "--target", "has_bar", "--out", str(tmp_path / "m.pt")]) == 2
    assert "must end in .safetensors" in capsys.readouterr().err
    assert main(["train", str(dataset), "--target", "has_bar",
                 "--out", str(tmp_path / "nowhere" / "m.safetensors")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["train", str(tmp_path / "no-such-set"), "--target", "has_bar",
                 "--out", str(tmp_path / "m.safetensors")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_target_and_regress_are_exclusive(dataset, tmp_path):
    with pytest.raises(SystemExit) as exc:
        main(["train", str(dataset), "--target", "has_bar", "--regress", "bar_length",
              "--out", str(tmp_path / "m.safetensors")])
    assert exc.value.code == 2
