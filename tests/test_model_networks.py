"""Network registry, sizes, Captum compatibility, device choice and augmentation."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from galaxyscope.errors import GalaxyscopeError
from galaxyscope.model.augment import AugmentConfig, augment_batch
from galaxyscope.model.device import DeviceUnavailableError, pick_device
from galaxyscope.model.networks import available_networks, build_network, count_parameters


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_registry_names_and_unknown():
    assert {"small", "resnet"} <= set(available_networks())
    with pytest.raises(KeyError, match="small"):
        build_network("no-such-net", 1, 3)


def test_parameter_counts():
    small = count_parameters(build_network("small", 1, 3))
    resnet = count_parameters(build_network("resnet", 1, 3))
    assert 100_000 <= small <= 300_000
    assert resnet > 20 * small


@pytest.mark.parametrize("name,size", [("small", 32), ("small", 96), ("resnet", 32)])
@pytest.mark.parametrize("channels", [1, 3])
def test_output_shape(name, size, channels):
    net = build_network(name, 4, channels).eval()
    out = net(torch.rand(2, channels, size, size))
    assert out.shape == (2, 4)
    assert torch.isfinite(out).all()


def test_kwargs_change_the_network():
    narrow = build_network("small", 1, 3, widths=[8, 8, 16, 16, 32])
    assert count_parameters(narrow) < count_parameters(build_network("small", 1, 3)) / 4


@pytest.mark.parametrize("name", ["small", "resnet"])
def test_no_inplace_relu_and_no_reused_modules(name):
    """Hook-based attributions need each ReLU to be its own, out-of-place module."""
    net = build_network(name, 1, 3).eval()
    relus = [m for m in net.modules() if isinstance(m, nn.ReLU)]
    assert relus and not any(m.inplace for m in relus)
    calls: dict[int, int] = {}
    hooks = [m.register_forward_hook(lambda mod, i, o: calls.__setitem__(id(mod), calls.get(id(mod), 0) + 1))
             for m in relus]
    net(torch.rand(1, 3, 32, 32))
    for h in hooks:
        h.remove()
    assert set(calls.values()) == {1} and len(calls) == len(relus)


@pytest.mark.parametrize("name", ["small", "resnet"])
def test_captum_gradients(name):
    from captum.attr import NoiseTunnel, Saliency

    torch.manual_seed(0)
    net = build_network(name, 2, 3).eval()
    x = torch.rand(1, 3, 32, 32).requires_grad_()
    x0 = x.detach().clone()
    sal = Saliency(net).attribute(x, target=1, abs=True)
    assert sal.shape == x.shape
    assert torch.isfinite(sal).all() and sal.abs().sum() > 0
    assert torch.equal(x, x0)  # the input is not modified
    smooth = NoiseTunnel(Saliency(net)).attribute(x, nt_type="smoothgrad", nt_samples=4, stdevs=0.1, target=0)
    assert smooth.shape == x.shape and torch.isfinite(smooth).all()


def test_pick_device_auto_and_cpu():
    assert pick_device().type in ("cpu", "cuda", "mps")
    assert pick_device("cpu") == torch.device("cpu")
    assert pick_device(torch.device("cpu")) == torch.device("cpu")
    assert pick_device("auto") == pick_device(None)
    if torch.cuda.is_available():
        assert pick_device().type == "cuda"


def test_pick_device_refuses_what_is_missing():
    with pytest.raises(DeviceUnavailableError, match="unknown device"):
        pick_device("quantum")
    if not torch.cuda.is_available():
        with pytest.raises(GalaxyscopeError, match="CUDA is not available"):
            pick_device("cuda")


def test_augment_geometry_only_permutes_pixels():
    """With jitter off, quarter turns and flips move pixels without changing their values."""
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(16, 3, 12, 12)
    cfg = AugmentConfig(max_angle=0.0, max_shift=0.0, brightness=0.0, contrast=0.0)
    y = augment_batch(x, gen, cfg)
    assert y.shape == x.shape
    changed = 0
    for a, b in zip(x, y):
        candidates = [torch.rot90(a, k, dims=(1, 2)) for k in range(4)]
        candidates += [torch.flip(c, dims=(2,)) for c in candidates]
        assert any(torch.allclose(b, c, atol=1e-5) for c in candidates)
        changed += not torch.allclose(a, b, atol=1e-5)
    assert changed > 0


def test_augment_is_seeded_and_jitters():
    x = torch.rand(8, 1, 16, 16)
    a = augment_batch(x, torch.Generator().manual_seed(3))
    b = augment_batch(x, torch.Generator().manual_seed(3))
    c = augment_batch(x, torch.Generator().manual_seed(4))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    cfg = AugmentConfig(rot90=False, flip=False, max_angle=0.0, max_shift=0.0, brightness=0.1, contrast=0.0)
    shifted = augment_batch(x, torch.Generator().manual_seed(0), cfg)
    delta = (shifted - x).mean(dim=(1, 2, 3))
    assert torch.allclose(shifted - x, delta.view(-1, 1, 1, 1).expand_as(x), atol=1e-5)
    assert delta.abs().max() <= 0.1 + 1e-6 and delta.abs().max() > 0
