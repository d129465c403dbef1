"""Issue 15: every checkpoint metadata field is checked at load, with one line naming file and field.

Before: NaN crop_fraction and input_size 10^6 / -3 gave tracebacks image by image
(and left the window's --screenshot waiting), arch_kwargs.widths of 10^6 tried to
allocate terabytes, and ``preprocessing: "x"`` silently fell back to defaults.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from galaxyscope.cli import main
from galaxyscope.errors import ModelLoadError
from galaxyscope.model.checkpoint import META_KEY, load_checkpoint, save_checkpoint, sidecar_path
from galaxyscope.model.loaded import LoadedModel, ModelMeta
from galaxyscope.model.networks import build_network
from galaxyscope.model.preprocess import Preprocessing


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> tuple[dict, dict]:
    """(metadata dict, tensors) of a small valid checkpoint."""
    torch.manual_seed(0)
    net = build_network("small", n_outputs=1, in_channels=3, widths=(4, 4, 4, 4, 4))
    meta = ModelMeta(architecture="small", output_names=["has_bar"], sigmoid_outputs=[True],
                     preprocessing=Preprocessing(input_size=32, crop_fraction=0.5),
                     arch_kwargs={"widths": [4, 4, 4, 4, 4]}, min_bar_probability=0.5)
    path = tmp_path_factory.mktemp("ck") / "good.safetensors"
    save_checkpoint(LoadedModel(net=net, meta=meta), path)
    tensors = {k: v.contiguous() for k, v in net.state_dict().items()}
    return json.loads(json.dumps(meta.to_dict())), tensors


def write(path: Path, meta: dict, tensors: dict) -> Path:
    save_file(tensors, str(path), metadata={META_KEY: json.dumps(meta), "format": "pt"})
    return path


def edited(good, **changes) -> dict:
    meta = copy.deepcopy(good[0])
    for dotted, value in changes.items():
        where, *rest = dotted.split("__")
        if rest:
            meta[where][rest[0]] = value
        else:
            meta[where] = value
    return meta


CASES = {
    "crop_nan": ({"preprocessing__crop_fraction": float("nan")}, "preprocessing.crop_fraction"),
    "crop_zero": ({"preprocessing__crop_fraction": 0.0}, "preprocessing.crop_fraction"),
    "size_million": ({"preprocessing__input_size": 10**6}, "preprocessing.input_size"),
    "size_negative": ({"preprocessing__input_size": -3}, "preprocessing.input_size"),
    "size_text": ({"preprocessing__input_size": "96"}, "preprocessing.input_size"),
    "channels": ({"preprocessing__channels": 7}, "preprocessing.channels"),
    "normalisation": ({"preprocessing__normalisation": "bogus"}, "preprocessing.normalisation"),
    "framing": ({"preprocessing__framing": "zoom"}, "preprocessing.framing"),
    "frame_r90": ({"preprocessing__frame_r90": float("inf")}, "preprocessing.frame_r90"),
    "preprocessing_text": ({"preprocessing": "x"}, "preprocessing: must be a JSON object"),
    "names_number": ({"output_names": 5}, "output_names"),
    "sigmoid_length": ({"sigmoid_outputs": [True, False]}, "sigmoid_outputs: 2 values for 1"),
    "task": ({"task": "dance"}, "task"),
    "min_bar_probability": ({"min_bar_probability": "high"}, "min_bar_probability"),
    "target_scale": ({"target_scale": [float("nan")]}, "target_scale"),
    "widths_million": ({"arch_kwargs": {"widths": [10**6] * 5}}, "arch_kwargs.widths[0]: 1000000 is larger"),
    "widths_long": ({"arch_kwargs": {"widths": [4] * 10**5}}, "arch_kwargs.widths: a list of 100000"),
    "widths_nested": ({"arch_kwargs": {"widths": [[4]]}}, "arch_kwargs.widths[0]: nested"),
    "domain": ({"domain": {"view_r90": "wide"}}, "domain.view_r90"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_metadata_is_one_error_naming_file_and_field(tmp_path, good, name):
    changes, field = CASES[name]
    path = write(tmp_path / f"{name}.safetensors", edited(good, **changes), good[1])
    with pytest.raises(ModelLoadError) as err:
        load_checkpoint(path)
    text = str(err.value)
    assert text.startswith(f"{path}: metadata incomplete or invalid: ")
    assert field in text


def test_widths_that_would_need_terabytes_are_refused_without_allocating(tmp_path, good):
    # each width within bounds, but 5 x 60000 channels is 1.3e11 parameters (~500 GB of float32)
    path = write(tmp_path / "huge.safetensors", edited(good, arch_kwargs={"widths": [60000] * 5}), good[1])
    box: dict = {}

    def load() -> None:
        try:
            load_checkpoint(path)
        except ModelLoadError as exc:
            box["err"] = str(exc)

    t0 = time.monotonic()
    t = threading.Thread(target=load, daemon=True)
    t.start()
    t.join(30)
    assert not t.is_alive() and time.monotonic() - t0 < 30
    assert "129,602,460,004 parameters" in box["err"] or "parameters" in box["err"]
    assert "at most 200,000,000" in box["err"]


def test_widths_that_do_not_match_the_weights_fail_before_building(tmp_path, good):
    path = write(tmp_path / "wide.safetensors", edited(good, arch_kwargs={"widths": [8, 8, 8, 8, 8]}), good[1])
    with pytest.raises(ModelLoadError, match="weights do not fit architecture 'small'"):
        load_checkpoint(path)
    path = write(tmp_path / "neg.safetensors", edited(good, arch_kwargs={"widths": [-5] * 5}), good[1])
    with pytest.raises(ModelLoadError, match="cannot build the network"):
        load_checkpoint(path)


def test_the_sidecar_is_checked_the_same_way(tmp_path, good):
    path = tmp_path / "side.safetensors"
    save_file(good[1], str(path), metadata={"format": "pt"})  # metadata only in the sidecar
    meta = edited(good, preprocessing__crop_fraction=float("nan"))
    sidecar_path(path).write_text(json.dumps({"meta": meta}))
    with pytest.raises(ModelLoadError, match="preprocessing.crop_fraction"):
        load_checkpoint(path)


def test_a_valid_checkpoint_still_loads(tmp_path, good):
    path = write(tmp_path / "ok.safetensors", good[0], good[1])
    model = load_checkpoint(path)
    assert model.meta.preprocessing == Preprocessing(input_size=32, crop_fraction=0.5)
    assert model.meta.min_bar_probability == 0.5


def test_window_screenshot_with_a_nan_crop_model_is_one_line_not_a_wait(tmp_path, good, capsys):
    # before: every image failed in the window with a traceback and --screenshot waited 600 s
    from PIL import Image

    folder = tmp_path / "set"
    folder.mkdir()
    Image.new("RGB", (64, 64), (40, 40, 40)).save(folder / "a.png")
    meta = edited(good, preprocessing__crop_fraction=float("nan"), preprocessing__framing="fixed")
    model = write(tmp_path / "nan.safetensors", meta, good[1])
    rc = main(["gui", str(folder), "--model", str(model), "--screenshot", str(tmp_path / "shot.png")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert err[-1].endswith("preprocessing.crop_fraction: must be a number above 0 and at most 4, got nan")
    assert not (tmp_path / "shot.png").exists()
