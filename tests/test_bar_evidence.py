"""The bar-evidence companion (issue 20): the barmap network, the checkpoint field that names it,
and the ``bar_evidence`` attribution that explains it while P(bar) stays the classifier's."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from galaxyscope.errors import ModelLoadError
from galaxyscope.images.galaxy_image import GalaxyImage
from galaxyscope.model.checkpoint import load_checkpoint, save_checkpoint, sidecar_path
from galaxyscope.model.loaded import LoadedModel, ModelMeta
from galaxyscope.model.networks import BarMapNet, available_networks, build_network
from galaxyscope.model.preprocess import Preprocessing
from galaxyscope.resources import resources_dir
from galaxyscope.saliency.attributions import (
    SaliencyError,
    compute_saliency,
    normalise_map,
    resolve_request,
    smoothgrad_attribution,
)

PREP = Preprocessing(input_size=32, crop_fraction=0.8)


def _image(seed: int = 0) -> GalaxyImage:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:48, :48]
    disc = np.exp(-((x - 24) ** 2 + (y - 24) ** 2) / 120.0)
    bar = np.exp(-((x - 24) ** 2 / 60.0 + (y - 24) ** 2 / 4.0))
    rgb = np.clip(np.stack([disc + bar] * 3, axis=2) * 0.7 + rng.normal(0, 0.02, (48, 48, 3)), 0, 1)
    return GalaxyImage(rgb.astype(np.float32), id=f"bar{seed}")


def _save_pair(folder, *, companion_prep: Preprocessing = PREP, arch: str = "barmap",
               name: str = "evidence.safetensors") -> LoadedModel:
    """A tiny classifier and a tiny companion in ``folder``; returns the classifier, read from its file."""
    torch.manual_seed(0)
    cls = LoadedModel(build_network("small", 1, widths=[4, 4, 4, 4, 4]),
                      ModelMeta("small", ["has_bar"], [True], preprocessing=PREP,
                                arch_kwargs={"widths": [4, 4, 4, 4, 4]}, bar_evidence=name))
    if arch == "barmap":
        comp = LoadedModel(BarMapNet(width=4), ModelMeta("barmap", ["bar_evidence"], [False], task="regress",
                                                          preprocessing=companion_prep, arch_kwargs={"width": 4}))
    else:
        comp = LoadedModel(build_network("small", 1, widths=[4, 4, 4, 4, 4]),
                           ModelMeta("small", ["has_bar"], [True], preprocessing=companion_prep,
                                     arch_kwargs={"widths": [4, 4, 4, 4, 4]}))
    save_checkpoint(comp, folder / name)
    save_checkpoint(cls, folder / "classifier.safetensors")
    return load_checkpoint(folder / "classifier.safetensors")


def test_barmap_output_is_the_log_mean_exp_of_its_pixel_logits():
    torch.manual_seed(1)
    net = BarMapNet(width=4).eval()
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        area = net(x)
        pix = net.pixel_logits(x)
    assert area.shape == (2, 1) and pix.shape == (2, 1, 32, 32)
    flat = pix.flatten(1)
    assert torch.allclose(area[:, 0], torch.log(torch.exp(flat).mean(1)), atol=1e-5)
    # a smooth maximum: between the mean and the largest pixel logit
    assert bool((area[:, 0] >= flat.mean(1) - 1e-6).all()) and bool((area[:, 0] <= flat.amax(1) + 1e-6).all())


def test_barmap_is_built_from_checkpoints_but_not_offered_for_training():
    assert isinstance(build_network("barmap", 1), BarMapNet)
    assert "barmap" not in available_networks()
    with pytest.raises(ValueError, match="one output"):
        build_network("barmap", 4)


def test_bar_evidence_explains_the_companion_and_keeps_the_classifiers_score(tmp_path):
    model = _save_pair(tmp_path)
    im = _image()
    ev = compute_saliency(model, im, "bar_evidence", n_samples=6, seed=3)
    sg = compute_saliency(model, im, "smoothgrad", n_samples=6, seed=3)
    # P(bar) is the classifier's in both
    assert ev.score == sg.score and ev.score.probability is not None
    # the map is SmoothGrad of the companion's output, not of the classifier's
    companion = model.bar_evidence_model()
    x = model.preprocessing.to_model(im).requires_grad_(True)
    with torch.enable_grad():
        direct = smoothgrad_attribution(companion.net, x, 0, n_samples=6, stdev=ev.params["sigma"], chunk=5, seed=3)
    expected = normalise_map(direct)
    assert np.allclose(ev.model_map, expected, atol=1e-5)
    assert not np.allclose(ev.model_map, sg.model_map, atol=1e-3)
    assert ev.map.shape == (48, 48)
    assert ev.params["bar_evidence_sha256"] == companion.sha256


def test_a_model_without_companion_says_so(tmp_path):
    torch.manual_seed(0)
    cls = LoadedModel(build_network("small", 1, widths=[4, 4, 4, 4, 4]),
                      ModelMeta("small", ["has_bar"], [True], preprocessing=PREP,
                                arch_kwargs={"widths": [4, 4, 4, 4, 4]}))
    with pytest.raises(SaliencyError, match="names no bar-evidence network"):
        resolve_request(cls, "bar_evidence")
    save_checkpoint(cls, tmp_path / "c.safetensors")
    with pytest.raises(SaliencyError, match="c.safetensors.*names no bar-evidence"):
        compute_saliency(load_checkpoint(tmp_path / "c.safetensors"), _image(), "bar_evidence", n_samples=2)


def test_a_companion_that_sees_the_galaxy_differently_is_refused(tmp_path):
    model = _save_pair(tmp_path, companion_prep=Preprocessing(input_size=32, crop_fraction=0.5))
    with pytest.raises(SaliencyError, match="evidence.safetensors.*sees its input differently"):
        resolve_request(model, "bar_evidence")


def test_a_companion_that_is_not_a_barmap_is_refused(tmp_path):
    model = _save_pair(tmp_path, arch="small")
    with pytest.raises(ModelLoadError, match="not a barmap"):
        model.bar_evidence_model()


def test_a_missing_companion_names_the_file(tmp_path):
    model = _save_pair(tmp_path)
    (tmp_path / "evidence.safetensors").unlink()
    with pytest.raises(SaliencyError, match="evidence.safetensors.*no such file"):
        resolve_request(model, "bar_evidence")


@pytest.mark.parametrize("bad", ["../x.safetensors", "sub/x.safetensors", "x.pt", ".hidden.safetensors", 3])
def test_the_checkpoint_field_must_be_a_sibling_file_name(tmp_path, bad):
    model = _save_pair(tmp_path)
    side = sidecar_path(tmp_path / "classifier.safetensors")
    d = json.loads(side.read_text())
    assert d["meta"]["bar_evidence"] == "evidence.safetensors"
    d["meta"]["bar_evidence"] = bad
    with pytest.raises(ValueError, match="^bar_evidence:"):
        ModelMeta.from_dict(d["meta"])
    assert model.meta.bar_evidence == "evidence.safetensors"


def test_the_shipped_model_names_its_companion():
    model = load_checkpoint(resources_dir() / "models" / "default.safetensors")
    companion = model.bar_evidence_model()
    assert companion.meta.architecture == "barmap" and companion.meta.output_names == ["bar_evidence"]
    assert companion.preprocessing.to_dict() == model.preprocessing.to_dict()
    assert model.bar_evidence_model() is companion  # loaded once


def test_a_version_trained_from_the_model_keeps_its_companion(tmp_path):
    from galaxyscope.model.checkpoint import carry_bar_evidence

    base = _save_pair(tmp_path)
    new = LoadedModel(build_network("small", 1, widths=[4, 4, 4, 4, 4]),
                      ModelMeta("small", ["has_bar"], [True], preprocessing=PREP, arch_kwargs={"widths": [4, 4, 4, 4, 4]}))
    (tmp_path / "versions").mkdir()
    out = tmp_path / "versions" / "v2.safetensors"
    assert carry_bar_evidence(base, new, out) == "evidence.safetensors"
    save_checkpoint(new, out)
    copied = tmp_path / "versions" / "evidence.safetensors"
    assert copied.read_bytes() == (tmp_path / "evidence.safetensors").read_bytes()
    assert sidecar_path(copied).exists()
    v2 = load_checkpoint(out)
    assert v2.bar_evidence_model().sha256 == base.bar_evidence_model().sha256
    # other framing: the companion would see another input, so nothing is carried
    other = LoadedModel(build_network("small", 1, widths=[4, 4, 4, 4, 4]),
                        ModelMeta("small", ["has_bar"], [True], preprocessing=Preprocessing(input_size=32, crop_fraction=0.5),
                                  arch_kwargs={"widths": [4, 4, 4, 4, 4]}))
    assert carry_bar_evidence(base, other, tmp_path / "versions" / "v3.safetensors") is None
    assert other.meta.bar_evidence == ""
    # a different file of the same name beside the new version is never overwritten nor named
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "evidence.safetensors").write_bytes(b"something else")
    third = LoadedModel(build_network("small", 1, widths=[4, 4, 4, 4, 4]),
                        ModelMeta("small", ["has_bar"], [True], preprocessing=PREP, arch_kwargs={"widths": [4, 4, 4, 4, 4]}))
    assert carry_bar_evidence(base, third, tmp_path / "elsewhere" / "v4.safetensors") is None
    assert (tmp_path / "elsewhere" / "evidence.safetensors").read_bytes() == b"something else"


def test_distributed_work_is_keyed_by_the_companion_too(tmp_path):
    """A replaced companion is new work (the partitions' key), and a worker that finds another
    companion than the client planned with refuses, as it does for another model file."""
    from galaxyscope.errors import GalaxyscopeError
    from galaxyscope.jobs.common import work_sha256
    from galaxyscope.jobs.distributed_measure import MeasureWork

    model = _save_pair(tmp_path)
    sg, ev = work_sha256(model, "smoothgrad"), work_sha256(model, "bar_evidence")
    assert sg == model.sha256 and ev == f"{model.sha256}+{model.bar_evidence_model().sha256}"
    planned = MeasureWork(model_path=str(model.path), model_sha256=ev, attribution="bar_evidence")
    planned.setup()  # the same files: the worker goes on
    torch.manual_seed(1)  # another companion, same name, other weights
    save_checkpoint(LoadedModel(BarMapNet(width=4), ModelMeta("barmap", ["bar_evidence"], [False], task="regress",
                                                              preprocessing=PREP, arch_kwargs={"width": 4})),
                    tmp_path / "evidence.safetensors")
    again = load_checkpoint(tmp_path / "classifier.safetensors")
    assert work_sha256(again, "smoothgrad") == sg and work_sha256(again, "bar_evidence") != ev
    with pytest.raises(GalaxyscopeError, match="another model file"):
        planned.setup()


def test_bar_evidence_is_computed_at_its_own_noise_unless_one_is_given(tmp_path, own_noise):
    """bar_evidence was validated at another noise than SmoothGrad's: every path that leaves the
    noise unset (library, command line, distributed work) uses the method's own."""
    import argparse

    from galaxyscope.jobs.distributed_measure import MeasureWork
    from galaxyscope.jobs.saliency_job import SaliencyWork
    from galaxyscope.saliency.cli_args import add_saliency_arguments, saliency_options
    from galaxyscope.saliency.methods import DEFAULT_NOISE, METHODS, default_noise

    own = METHODS["bar_evidence"].defaults["noise"]
    assert own != DEFAULT_NOISE and default_noise("bar_evidence") == own
    assert default_noise("smoothgrad") == DEFAULT_NOISE and default_noise("gradcam") == DEFAULT_NOISE
    model = _save_pair(tmp_path)
    im = _image()
    ev = compute_saliency(model, im, "bar_evidence", n_samples=4)
    assert ev.params["noise"] == own
    assert compute_saliency(model, im, "bar_evidence", n_samples=4, noise=DEFAULT_NOISE).params["noise"] == DEFAULT_NOISE
    assert compute_saliency(model, im, "smoothgrad", n_samples=4).params["noise"] == DEFAULT_NOISE
    ap = argparse.ArgumentParser()
    add_saliency_arguments(ap)
    assert saliency_options(ap.parse_args(["--attribution", "bar_evidence"])).noise == own
    assert saliency_options(ap.parse_args([])).noise == DEFAULT_NOISE
    assert saliency_options(ap.parse_args(["--attribution", "bar_evidence", "--noise", "0.2"])).noise == 0.2
    work = MeasureWork(model_path="m", model_sha256="x", attribution="bar_evidence")
    assert work.noise == own and work.fingerprint()["noise"] == own
    assert SaliencyWork(model_path="m", model_sha256="x", method="bar_evidence").noise == own
    assert SaliencyWork(model_path="m", model_sha256="x", method="bar_evidence", noise=0.3).noise == 0.3
