"""The shared saliency options of measure / scan-bias / sanity (defaults from METHODS, old flag
names, checks naming the flag) and the method table whose specs carry their compute function."""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np
import pytest

from galaxyscope.cli import build_parser, main
from galaxyscope.errors import GalaxyscopeError
from galaxyscope.saliency.cli_args import SaliencyOptions, add_saliency_arguments, saliency_options
from galaxyscope.saliency.methods import DEFAULT_METHOD, METHODS

SMOOTH = METHODS["smoothgrad"].defaults
# the positional / required arguments each command needs to parse
COMMANDS = {
    "measure": ["measure", "DATA", "--out", "o.ecsv"],
    "scan-bias": ["scan-bias", "DATA", "--out", "f.ecsv"],
    "sanity": ["sanity", "DATA"],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_takes_its_defaults_from_the_method_table(command):
    args = build_parser().parse_args(COMMANDS[command])
    assert (args.attribution, args.samples, args.noise, args.target) == (
        DEFAULT_METHOD, SMOOTH["n_samples"], None, None)  # noise None: the attribution's own
    opts = saliency_options(args)
    assert opts == SaliencyOptions("smoothgrad", SMOOTH["n_samples"], SMOOTH["noise"], None)
    ev = build_parser().parse_args([*COMMANDS[command], "--attribution", "bar_evidence"])
    assert saliency_options(ev).noise == METHODS["bar_evidence"].defaults["noise"]


def test_an_attribution_with_its_own_noise_gets_it_unless_one_is_given(own_noise):
    parser = build_parser()
    assert saliency_options(parser.parse_args([*COMMANDS["measure"], "--attribution", "bar_evidence"])).noise == own_noise
    assert saliency_options(parser.parse_args(COMMANDS["measure"])).noise == SMOOTH["noise"]
    told = parser.parse_args([*COMMANDS["measure"], "--attribution", "bar_evidence", "--noise", "0.2"])
    assert saliency_options(told).noise == 0.2


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_old_flag_names_and_the_new_spelling_parse(command):
    parser = build_parser()
    old = parser.parse_args([*COMMANDS[command], "--attribution", "Integrated Gradients", "--samples", "7",
                             "--noise", "0.25", "--target", "p_bar"])
    assert saliency_options(old) == SaliencyOptions("ig", 7, 0.25, "p_bar")
    new = parser.parse_args([*COMMANDS[command], "--saliency-method", "grad-cam"])
    assert saliency_options(new).method == "gradcam"


def test_help_shows_the_table_default(capsys):
    with pytest.raises(SystemExit):
        main(["scan-bias", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert f"SmoothGrad samples N (default {SMOOTH['n_samples']})" in text
    assert "ig, gradcam, occlusion" in text


@pytest.mark.parametrize("extra, message", [
    (["--attribution", "lime"], "--attribution: unknown saliency method 'lime'"),
    (["--samples", "0"], "--samples must be at least 1"),
    (["--noise", "-0.1"], "--noise must not be negative"),
])
def test_bad_values_are_rejected_naming_the_flag(extra, message):
    p = argparse.ArgumentParser()
    add_saliency_arguments(p)
    with pytest.raises(GalaxyscopeError, match=message):
        saliency_options(p.parse_args(extra))


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_commands_stop_before_any_work_on_a_bad_option(command, tmp_path, capsys):
    argv = [a.replace("DATA", str(tmp_path / "no-such-set")).replace("o.ecsv", str(tmp_path / "o.ecsv"))
            .replace("f.ecsv", str(tmp_path / "f.ecsv")) for a in COMMANDS[command]]
    assert main([*argv, "--samples", "0"]) == 2
    err = capsys.readouterr().err
    assert "--samples must be at least 1" in err and "no-such-set" not in err


# ---------------------------------------------------------------- specs carry their function


def test_every_spec_carries_a_compute_function():
    assert all(callable(spec.compute) and spec.name == name for name, spec in METHODS.items())
    assert len({spec.compute for spec in METHODS.values()}) == len(METHODS)


def test_compute_saliency_calls_the_specs_function(monkeypatch):
    torch = pytest.importorskip("torch")
    from galaxyscope.images.galaxy_image import GalaxyImage
    from galaxyscope.model.loaded import LoadedModel, ModelMeta
    from galaxyscope.model.preprocess import Preprocessing
    from galaxyscope.saliency.attributions import compute_saliency

    net = torch.nn.Sequential(torch.nn.Conv2d(3, 1, 3, padding=1), torch.nn.AdaptiveAvgPool2d(1),
                              torch.nn.Flatten())
    model = LoadedModel(net=net, meta=ModelMeta(architecture="t", output_names=["has_bar"],
                                                sigmoid_outputs=[True],
                                                preprocessing=Preprocessing(input_size=16, crop_fraction=1.0)),
                        device=torch.device("cpu"))
    calls = []

    def fake(net, x, target, params, progress, cancel):
        calls.append((tuple(x.shape), x.requires_grad, target))
        params["fake"] = True
        a = torch.zeros_like(x)
        a[..., 2:5, 3:9] = 1.0
        return a

    monkeypatch.setitem(METHODS, "saliency", dataclasses.replace(METHODS["saliency"], compute=fake))
    seen = []
    res = compute_saliency(model, GalaxyImage(pixels=np.ones((16, 16, 3), np.float32), id="x"), "gradient",
                           progress=lambda d, t: seen.append((d, t)))
    assert calls == [((1, 3, 16, 16), True, 0)]
    assert res.params["fake"] and seen == [(0, 1), (1, 1)]  # unchunked: (0, 1) before, (1, 1) after
    assert res.model_map[3, 4] == 1.0 and res.model_map[10, 10] == 0.0
