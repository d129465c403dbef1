"""Checkpoints: safetensors round trip, metadata, and refusing anything that would unpickle."""

from __future__ import annotations

import json
import os
import pickle
import struct

import numpy as np
import pytest
import torch
from safetensors import safe_open

from galaxyscope.errors import GalaxyscopeError, ModelLoadError
from galaxyscope.images.galaxy_image import GalaxyImage
from galaxyscope.model.checkpoint import file_sha256, load_checkpoint, save_checkpoint, sidecar_path
from galaxyscope.model.loaded import LoadedModel, ModelMeta
from galaxyscope.model.networks import build_network
from galaxyscope.model.preprocess import Preprocessing


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def make_model(outputs=("has_bar", "p_spiral"), arch="small", **meta_kw) -> LoadedModel:
    torch.manual_seed(0)
    pre = Preprocessing(input_size=40, crop_fraction=0.6, channels=3, normalisation="per-image")
    kwargs = {"widths": [8, 8, 16, 16, 16]} if arch == "small" else {"widths": [8, 16], "blocks": [1, 1]}
    net = build_network(arch, len(outputs), 3, **kwargs)
    with torch.no_grad():  # non-trivial BatchNorm buffers, so they must round-trip too
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    meta = ModelMeta(architecture=arch, output_names=list(outputs), sigmoid_outputs=[True] * len(outputs),
                     preprocessing=pre, arch_kwargs=kwargs, training_data_hash="abc123",
                     metrics={"val": {"loss": 0.25, "auc": 0.9}, "seed": 3}, notes="test model", **meta_kw)
    return LoadedModel(net=net, meta=meta)


def images(n=3, size=60):
    rng = np.random.default_rng(0)
    return [GalaxyImage(pixels=rng.random((size, size, 3), dtype=np.float32), id=f"g{i}") for i in range(n)]


@pytest.mark.parametrize("arch", ["small", "resnet"])
def test_round_trip_identical_outputs_and_metadata(tmp_path, arch):
    model = make_model(arch=arch)
    path = tmp_path / "m.safetensors"
    digest = save_checkpoint(model, path)
    assert digest == file_sha256(path) == model.sha256
    assert model.path == str(path)

    loaded = load_checkpoint(path, device="cpu")
    assert loaded.meta == model.meta
    assert loaded.meta.preprocessing == Preprocessing(input_size=40, crop_fraction=0.6)
    assert loaded.sha256 == digest and loaded.path == str(path)
    assert not loaded.net.training
    ims = images()
    np.testing.assert_array_equal(loaded.logits(ims), model.logits(ims))
    np.testing.assert_array_equal(loaded.predict(ims), model.predict(ims))


def test_metadata_in_header_and_sidecar(tmp_path):
    model = make_model()
    path = tmp_path / "m.safetensors"
    save_checkpoint((model.net, model.meta), path)
    with safe_open(str(path), framework="pt") as fh:
        header = fh.metadata()
    assert all(isinstance(v, str) for v in header.values())
    assert json.loads(header["galaxyscope_meta"])["output_names"] == ["has_bar", "p_spiral"]
    side = json.loads(sidecar_path(path).read_text())
    assert side["sha256"] == file_sha256(path)
    assert side["meta"]["preprocessing"]["input_size"] == 40
    # the header alone is enough: the sidecar is for people
    sidecar_path(path).unlink()
    assert load_checkpoint(path).meta == model.meta


def test_regression_scale_round_trips(tmp_path):
    model = make_model(outputs=("bar_length",), task="regress", target_scale=[7.5], target_offset=[20.0])
    model.meta.sigmoid_outputs = [False]
    path = tmp_path / "r.safetensors"
    save_checkpoint(model, path)
    loaded = load_checkpoint(path)
    ims = images(2)
    assert loaded.meta.target_scale == [7.5] and loaded.meta.target_offset == [20.0]
    np.testing.assert_allclose(loaded.predict(ims), loaded.logits(ims) * 7.5 + 20.0, rtol=1e-6)


def test_nan_metrics_become_null(tmp_path):
    model = make_model()
    model.meta.metrics = {"auc": float("nan")}
    path = tmp_path / "m.safetensors"
    save_checkpoint(model, path)
    assert "NaN" not in sidecar_path(path).read_text()
    assert load_checkpoint(path).meta.metrics == {"auc": None}


def test_save_refuses_other_suffix(tmp_path):
    with pytest.raises(GalaxyscopeError, match="safetensors"):
        save_checkpoint(make_model(), tmp_path / "m.pt")
    assert not (tmp_path / "m.pt").exists()


class _Marker:
    """Unpickling this runs os.system and leaves a marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("name", ["evil.pkl", "evil.safetensors", "evil.pt", "evil.pth", "evil.ckpt"])
def test_pickle_is_refused_without_running_it(tmp_path, name):
    marker = tmp_path / "marker"
    path = tmp_path / name
    path.write_bytes(pickle.dumps(_Marker(marker)))
    sidecar_path(path).write_text(json.dumps({"meta": make_model().meta.to_dict()}))
    with pytest.raises(ModelLoadError) as err:
        load_checkpoint(path)
    assert err.value.path == path
    assert not marker.exists()


def test_torch_save_of_an_object_is_refused(tmp_path):
    marker = tmp_path / "marker"
    path = tmp_path / "evil.pt"
    torch.save({"net": _Marker(marker)}, path)
    with pytest.raises(ModelLoadError, match="refused"):
        load_checkpoint(path)
    assert not marker.exists()


def test_plain_state_dict_pt_with_sidecar_loads(tmp_path):
    model = make_model()
    path = tmp_path / "m.pt"
    torch.save(model.net.state_dict(), path)
    with pytest.raises(ModelLoadError, match="no galaxyscope metadata"):
        load_checkpoint(path)
    sidecar_path(path).write_text(json.dumps({"meta": model.meta.to_dict()}))
    loaded = load_checkpoint(path)
    assert loaded.sha256 == file_sha256(path)
    np.testing.assert_array_equal(loaded.logits(images()), model.logits(images()))


def test_garbled_files(tmp_path):
    good = tmp_path / "good.safetensors"
    save_checkpoint(make_model(), good)
    data = good.read_bytes()

    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(data[: len(data) // 2])
    random_bytes = tmp_path / "random.safetensors"
    random_bytes.write_bytes(np.random.default_rng(0).bytes(4096))
    (n,) = struct.unpack("<Q", data[:8])
    bad_json = tmp_path / "badjson.safetensors"
    bad_json.write_bytes(data[:8] + b"{" + b"x" * (n - 1) + data[8 + n:])
    empty = tmp_path / "empty.safetensors"
    empty.write_bytes(b"")
    for path in (truncated, random_bytes, bad_json, empty, tmp_path / "missing.safetensors", tmp_path):
        with pytest.raises(ModelLoadError) as err:
            load_checkpoint(path)
        assert str(err.value).startswith(str(path) + ": ")


def test_weights_that_do_not_fit_the_metadata(tmp_path):
    model = make_model()
    path = tmp_path / "m.safetensors"
    wrong = ModelMeta(**{**model.meta.__dict__, "output_names": ["a", "b", "c"], "sigmoid_outputs": [True] * 3})
    save_checkpoint((model.net, wrong), path)
    with pytest.raises(ModelLoadError, match="do not fit"):
        load_checkpoint(path)
    unknown = ModelMeta(**{**model.meta.__dict__, "architecture": "transformer-xxl"})
    save_checkpoint((model.net, unknown), path)
    with pytest.raises(ModelLoadError, match="cannot build"):
        load_checkpoint(path)


def test_default_bar_output_skips_no_bar_answers():
    from galaxyscope.model.loaded import LoadedModel, ModelMeta
    from galaxyscope.model.networks import build_network
    from galaxyscope.model.preprocess import Preprocessing

    def model(names):
        meta = ModelMeta(architecture="small", output_names=names, sigmoid_outputs=[True] * len(names),
                         preprocessing=Preprocessing(input_size=32))
        return LoadedModel(net=build_network("small", len(names), 3), meta=meta, device=torch.device("cpu"))

    gz2 = ["t01_smooth_or_features_a01_smooth_fraction", "t03_bar_a07_no_bar_fraction", "t03_bar_a06_bar_fraction"]
    assert model(gz2).output_index(None) == 2
    assert model(["has_ring", "t03_bar_a06_bar_fraction", "has_bar"]).output_index(None) == 2
    assert model(["has_arms", "has_ring"]).output_index(None) == 0
