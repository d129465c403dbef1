"""Saliency maps: shape and range on the original grid, localisation on nets whose
answer is known, logits not sigmoids, seeding, chunking, progress and cancel."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from captum.attr import NoiseTunnel, Saliency
from torch import nn

from galaxyscope.errors import CancelledError
from galaxyscope.images.galaxy_image import GalaxyImage
from galaxyscope.model.loaded import LoadedModel, ModelMeta
from galaxyscope.model.preprocess import Preprocessing
from galaxyscope.saliency.attributions import (
    METHODS,
    SaliencyError,
    canonical_method,
    compute_saliency,
    normalise_map,
    smoothgrad_attribution,
)

S = 32
H, W = 110, 100  # original image; central crop is 50 px, resized to 32
PREP = Preprocessing(input_size=S, crop_fraction=0.5)
BAR_PATCH = (4, 12, 18, 28)  # rows r0:r1, cols c0:c1 in model-input pixels (off-centre on purpose)
OTHER_PATCH = (20, 28, 3, 11)

DEVICES = [
    "cpu",
    pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")),
]


def make_model(net: nn.Module, names=("has_bar",), sigmoid=(True,), device="cpu") -> LoadedModel:
    meta = ModelMeta(architecture="test", output_names=list(names), sigmoid_outputs=list(sigmoid),
                     preprocessing=PREP)
    return LoadedModel(net=net, meta=meta, device=torch.device(device))


def patch_net(patches=(BAR_PATCH,), scale: float = 1.0, bias: float = 0.0) -> nn.Sequential:
    """Logit j = scale * sum of a positive conv response over patch j: a fixed linear
    function of the pixels in (and one pixel around) that patch, and of nothing else."""
    conv = nn.Conv2d(3, 2, 3, padding=1)
    lin = nn.Linear(2 * S * S, len(patches))
    with torch.no_grad():
        conv.weight.fill_(1.0 / 27)
        conv.bias.fill_(0.5)  # keeps the ReLU active for inputs in [0, 1] plus noise: the net is linear
        w = torch.zeros(len(patches), 2, S, S)
        for j, (r0, r1, c0, c1) in enumerate(patches):
            w[j, :, r0:r1, c0:c1] = scale
        lin.weight.copy_(w.reshape(len(patches), -1))
        lin.bias.fill_(bias)
    return nn.Sequential(conv, nn.ReLU(), nn.Flatten(), lin)


def random_net(seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, stride=2, padding=1),
                         nn.ReLU(), nn.Flatten(), nn.Linear(4 * 16 * 16, 1))


def noise_image(seed: int = 1) -> GalaxyImage:
    return GalaxyImage(np.random.default_rng(seed).random((H, W, 3), dtype=np.float32), id=f"noise{seed}")


def original_box(patch, margin_px: float = 0.0) -> tuple[slice, slice]:
    """A model-input patch as slices of the original image (crop offset + resize), widened by a margin."""
    r0c, _, c0c, _ = PREP.crop_box(H, W)
    side = PREP.crop_box(H, W)[1] - r0c
    f = side / S
    r0, r1, c0, c1 = patch
    rows = slice(max(0, int(np.floor(r0c + (r0 - margin_px) * f))), int(np.ceil(r0c + (r1 + margin_px) * f)))
    cols = slice(max(0, int(np.floor(c0c + (c0 - margin_px) * f))), int(np.ceil(c0c + (c1 + margin_px) * f)))
    return rows, cols


def mass_in(m: np.ndarray, box: tuple[slice, slice]) -> float:
    return float(m[box].sum() / m.sum())


class ForwardCounter:
    """Counts forward calls and samples through a forward hook."""

    def __init__(self, net: nn.Module) -> None:
        self.calls = 0
        self.samples = 0
        net.register_forward_hook(self._hook)

    def _hook(self, module, inputs, output) -> None:
        self.calls += 1
        self.samples += int(inputs[0].shape[0])


# --------------------------------------------------------------------------- shape and range


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("method", sorted(m for m, spec in METHODS.items() if spec.network == "model"))
def test_map_has_image_shape_range_and_is_zero_outside_crop(method, device):
    model = make_model(random_net(), device=device)
    res = compute_saliency(model, noise_image(), method, n_samples=4, chunk=2, n_steps=8)
    assert res.map.shape == (H, W) and res.map.dtype == np.float32
    assert res.model_map.shape == (S, S) and res.model_map.dtype == np.float32
    assert res.map.min() >= 0.0 and res.map.max() == pytest.approx(1.0)
    assert res.model_map.min() == pytest.approx(0.0) and res.model_map.max() == pytest.approx(1.0)
    r0, r1, c0, c1 = PREP.crop_box(H, W)
    outside = np.ones((H, W), bool)
    outside[r0:r1, c0:c1] = False
    assert np.all(res.map[outside] == 0.0)
    assert res.map[r0:r1, c0:c1].max() == pytest.approx(1.0)
    assert res.method == method and res.target == "has_bar"
    assert res.elapsed_s > 0


# --------------------------------------------------------------------------- localisation


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("method,kw,margin,min_mass", [
    ("smoothgrad", {"n_samples": 8}, 1.5, 0.97),
    ("saliency", {}, 1.5, 0.97),
    ("ig", {"n_steps": 8, "baseline": "black"}, 1.5, 0.97),
    ("ig", {"n_steps": 8, "baseline": "blur"}, 1.5, 0.95),
    ("ig", {"n_steps": 8, "baseline": "axisymmetric"}, 1.5, 0.95),
    ("occlusion", {}, 4.5, 0.95),  # window 4 px at 32 px input
])
def test_map_highlights_the_patch_the_logit_reads(method, kw, margin, min_mass, device):
    model = make_model(patch_net(), device=device)
    res = compute_saliency(model, noise_image(), method, **kw)
    box = original_box(BAR_PATCH, margin)
    assert mass_in(res.map, box) >= min_mass
    peak = np.unravel_index(np.argmax(res.map), res.map.shape)
    assert box[0].start <= peak[0] < box[0].stop and box[1].start <= peak[1] < box[1].stop
    # the patch is off-centre: a flipped or transposed map would put its mass elsewhere
    flipped = original_box((S - BAR_PATCH[1], S - BAR_PATCH[0], BAR_PATCH[2], BAR_PATCH[3]), margin)
    assert mass_in(res.map, flipped) < 0.05


@pytest.mark.parametrize("target,patch,other", [(None, BAR_PATCH, OTHER_PATCH), ("smooth", OTHER_PATCH, BAR_PATCH)])
def test_target_selects_the_output(target, patch, other):
    """Two outputs reading two patches: the default (bar) output and a named one."""
    model = make_model(patch_net((OTHER_PATCH, BAR_PATCH)), names=("smooth", "bar_yes"), sigmoid=(True, True))
    res = compute_saliency(model, noise_image(), "saliency", target=target)
    assert res.target == ("bar_yes" if target is None else "smooth")
    assert mass_in(res.map, original_box(patch, 1.5)) > 0.97
    assert mass_in(res.map, original_box(other, 1.5)) < 0.01


def test_gradcam_uses_last_conv_and_highlights_bright_region():
    conv1, conv2 = nn.Conv2d(3, 2, 3, padding=1), nn.Conv2d(2, 2, 3, padding=1)
    lin = nn.Linear(2, 1)
    with torch.no_grad():
        for c in (conv1, conv2):
            c.weight.fill_(0.1)
            c.bias.zero_()
        lin.weight.fill_(1.0)
        lin.bias.zero_()
    net = nn.Sequential(conv1, nn.ReLU(), conv2, nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), lin)
    px = np.full((H, W, 3), 0.1, np.float32)
    rows, cols = original_box(BAR_PATCH)
    px[rows, cols] = 1.0
    res = compute_saliency(make_model(net), GalaxyImage(px, id="blob"), "gradcam")
    assert res.params["layer"] == "2"  # the second Conv2d, found automatically
    assert mass_in(res.map, original_box(BAR_PATCH, 2.0)) > 0.8


def test_gradcam_without_conv_layer_is_a_clear_error():
    net = nn.Sequential(nn.Flatten(), nn.Linear(3 * S * S, 1))
    with pytest.raises(SaliencyError, match="Conv2d"):
        compute_saliency(make_model(net), noise_image(), "gradcam")


def test_smoothgrad_x_input_is_zero_where_the_input_is_zero():
    px = np.random.default_rng(3).random((H, W, 3), dtype=np.float32)
    r0, r1, c0, c1 = PREP.crop_box(H, W)
    px[:, : c0 + 25] = 0.0  # left half of the crop is black
    img = GalaxyImage(px, id="half")
    model = make_model(random_net(2))
    sgx = compute_saliency(model, img, "smoothgrad_x_input", n_samples=6)
    sg = compute_saliency(model, img, "smoothgrad", n_samples=6)
    left = (slice(None), slice(0, 12))  # model columns well inside the black half
    assert np.all(sgx.model_map[left] == 0.0)
    assert sg.model_map[left].max() > 0.05  # plain SmoothGrad does see there: the product matters


# --------------------------------------------------------------------------- logits, not sigmoids


def test_saturated_sigmoid_still_gives_saliency_from_the_logit():
    net = patch_net(scale=50.0, bias=10.0)
    model = make_model(net)
    img = noise_image()
    res = compute_saliency(model, img, "smoothgrad", n_samples=4)
    assert res.score.logit > 100 and res.score.probability == 1.0  # sigmoid saturated in float32
    assert mass_in(res.map, original_box(BAR_PATCH, 1.5)) > 0.97
    # control: the gradient of the probability is exactly zero here, so a map taken
    # after the sigmoid would be flat (all zero after normalisation)
    x = PREP.to_model(img).requires_grad_(True)
    (g,) = torch.autograd.grad(torch.sigmoid(net(x)).sum(), x)
    assert float(g.abs().max()) == 0.0


def test_score_reports_logit_and_probability():
    net = random_net(4)
    img = noise_image()
    with torch.no_grad():
        logit = float(net(PREP.to_model(img))[0, 0])
    res = compute_saliency(make_model(net), img, "saliency")
    assert res.score.logit == pytest.approx(logit, rel=1e-5)
    assert res.score.probability == pytest.approx(1 / (1 + np.exp(-logit)), rel=1e-5)
    res = compute_saliency(make_model(random_net(4), sigmoid=(False,)), img, "saliency")
    assert res.score.probability is None


# --------------------------------------------------------------------------- seeding and chunking


@pytest.mark.parametrize("device", DEVICES)
def test_same_seed_same_map_other_seed_other_map(device):
    model = make_model(random_net(5), device=device)
    img = noise_image()
    a = compute_saliency(model, img, n_samples=6, seed=7)
    b = compute_saliency(model, img, n_samples=6, seed=7)
    c = compute_saliency(model, img, n_samples=6, seed=8)
    assert np.array_equal(a.map, b.map)
    assert not np.allclose(a.model_map, c.model_map, atol=1e-3)


def test_seeding_leaves_the_global_rng_alone():
    model = make_model(random_net())
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    compute_saliency(model, noise_image(), n_samples=3)
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("n,chunk", [(10, 3), (9, 9), (7, 1)])
def test_chunked_loop_equals_one_noise_tunnel_call_same_seed_stream(n, chunk, device):
    """Exact comparison: our per-chunk loop draws the same noise, in the same order,
    as a single Captum NoiseTunnel call with nt_samples_batch_size=chunk."""
    net = random_net(6).to(device).eval()
    x = PREP.to_model(noise_image()).to(device)
    sigma = 0.1 * float(x.max() - x.min())
    ours = smoothgrad_attribution(net, x, 0, n_samples=n, stdev=sigma, chunk=chunk, seed=11)
    torch.manual_seed(11)
    ref = NoiseTunnel(Saliency(net)).attribute(x.clone().requires_grad_(True), nt_type="smoothgrad",
                                               nt_samples=n, nt_samples_batch_size=chunk, stdevs=sigma,
                                               abs=True, target=0)
    torch.testing.assert_close(ours, ref.detach(), rtol=1e-5, atol=1e-7)
    res = compute_saliency(make_model(net, device=device), noise_image(), n_samples=n, chunk=chunk, seed=11)
    np.testing.assert_allclose(res.model_map, normalise_map(ref), atol=1e-5)


def test_chunk_size_does_not_change_the_estimate():
    """Statistical comparison across chunk sizes (the noise is drawn per chunk, so
    bit-equality is not promised): maps from chunk=1 and chunk=N agree closely."""
    model = make_model(random_net(7))
    img = noise_image()
    a = compute_saliency(model, img, n_samples=10, chunk=1).model_map
    b = compute_saliency(model, img, n_samples=10, chunk=10).model_map
    other_seed = compute_saliency(model, img, n_samples=10, chunk=10, seed=1).model_map
    r_ab = np.corrcoef(a.ravel(), b.ravel())[0, 1]
    r_seed = np.corrcoef(a.ravel(), other_seed.ravel())[0, 1]
    assert r_ab > 0.99 and r_ab >= r_seed


# --------------------------------------------------------------------------- progress and cancel


def test_progress_counts_increase_to_n():
    calls: list[tuple[int, int]] = []
    compute_saliency(make_model(random_net()), noise_image(), n_samples=10, chunk=3,
                     progress=lambda d, t: calls.append((d, t)))
    assert [d for d, _ in calls] == [0, 3, 6, 9, 10]
    assert all(t == 10 for _, t in calls)


def test_cancel_stops_between_chunks():
    net = random_net()
    counter = ForwardCounter(net)
    done: list[int] = []
    with pytest.raises(CancelledError):
        compute_saliency(make_model(net), noise_image(), n_samples=10, chunk=2,
                         progress=lambda d, t: done.append(d), cancel=lambda: bool(done) and done[-1] >= 4)
    assert done[-1] == 4
    assert counter.samples <= 1 + 4  # the score pass plus two chunks of two, not all ten


@pytest.mark.parametrize("method", ["ig", "occlusion", "gradcam", "saliency"])
def test_cancel_before_start_for_unchunked_methods(method):
    net = random_net()
    counter = ForwardCounter(net)
    with pytest.raises(CancelledError):
        compute_saliency(make_model(net), noise_image(), method, cancel=lambda: True)
    assert counter.calls == 0


# --------------------------------------------------------------------------- context and arguments


def test_works_inside_no_grad_and_inference_mode():
    model = make_model(random_net(8))
    img = noise_image()
    ref = compute_saliency(model, img, n_samples=4).map
    with torch.no_grad():
        a = compute_saliency(model, img, n_samples=4).map
    with torch.inference_mode():
        b = compute_saliency(model, img, n_samples=4).map
    assert np.array_equal(ref, a) and np.array_equal(ref, b)


def test_model_left_in_training_mode_is_put_in_eval():
    net = nn.Sequential(nn.Conv2d(3, 2, 3, padding=1), nn.BatchNorm2d(2), nn.ReLU(), nn.Flatten(),
                        nn.Linear(2 * S * S, 1))
    model = make_model(net)
    net.train()
    a = compute_saliency(model, noise_image(), n_samples=4)
    assert not net.training
    b = compute_saliency(model, noise_image(), n_samples=4)
    assert np.array_equal(a.map, b.map)


def test_method_names_aliases_and_bad_arguments():
    assert canonical_method("Integrated Gradients") == "ig"
    assert canonical_method("grad-cam") == "gradcam"
    model = make_model(random_net())
    with pytest.raises(SaliencyError, match="unknown saliency method"):
        compute_saliency(model, noise_image(), "lime")
    with pytest.raises(SaliencyError, match="n_sampels"):
        compute_saliency(model, noise_image(), n_sampels=3)
    with pytest.raises(SaliencyError, match="baseline"):
        compute_saliency(model, noise_image(), "ig", baseline="white")
    with pytest.raises(SaliencyError, match="no output"):
        compute_saliency(model, noise_image(), target="spiral")
    with pytest.raises(SaliencyError):
        compute_saliency(model, noise_image(), n_samples=0)


def test_methods_table_lists_defaults_and_params_record_them():
    assert set(METHODS) == {"smoothgrad", "saliency", "smoothgrad_x_input", "ig", "gradcam", "occlusion",
                            "bar_evidence"}
    assert METHODS["smoothgrad"].defaults["n_samples"] == 50 and METHODS["smoothgrad"].chunked
    res = compute_saliency(make_model(random_net()), noise_image(), "occlusion")
    assert res.params["window"] == 4 and res.params["stride"] == 2  # 1/8 of 32 px, half-window stride
    res = compute_saliency(make_model(random_net()), noise_image(), n_samples=3, noise=0.2)
    x = PREP.to_model(noise_image())
    assert res.params["sigma"] == pytest.approx(0.2 * float(x.max() - x.min()))
