"""Network definitions, looked up by name.

A checkpoint stores only the architecture's name and keyword arguments, so
every network a checkpoint can name must be built here. All networks take a
``N x C x S x S`` float tensor and return ``N x n_outputs`` raw outputs
(logits: any sigmoid is applied outside, because saliency is taken on the raw
logit as in the paper).

Captum-friendly by construction: no in-place operations on activations, and
every ReLU is its own module (hook-based attributions such as DeepLift or
guided backprop must not see one module used twice).
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

NetworkFactory = Callable[..., nn.Module]


def _conv_bn_relu(cin: int, cout: int, kernel: int = 3, stride: int = 1) -> list[nn.Module]:
    return [
        nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=False),
    ]


class SmallCNN(nn.Module):
    """Five conv blocks (conv-BN-ReLU-maxpool), global average pool, linear head.

    About 0.2 M parameters at the default widths: trains on a laptop CPU in
    minutes at 96-128 px and still separates barred from unbarred discs.
    Inputs of 32 px or more work (five halvings).
    """

    def __init__(self, n_outputs: int, in_channels: int = 3,
                 widths: tuple[int, ...] | list[int] = (16, 32, 64, 96, 128),
                 dropout: float = 0.2) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = in_channels
        for w in widths:
            layers += _conv_bn_relu(cin, int(w))
            layers.append(nn.MaxPool2d(2))
            cin = int(w)
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(cin, n_outputs)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """N x width pooled features: what the head reads (domain adaptation aligns these)."""
        return self.pool(self.features(x)).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.embed(x)))


class BasicBlock(nn.Module):
    """ResNet basic block; the residual sum is out-of-place (autograd/Captum safe)."""

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu1 = nn.ReLU(inplace=False)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu2 = nn.ReLU(inplace=False)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False),
                                          nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu2(out + self.shortcut(x))


class ResNet(nn.Module):
    """ResNet-18-like network (about 11 M parameters at the default widths), for GPUs.

    Stem: 7x7 stride-2 conv and a max pool, then four stages of basic blocks.
    """

    def __init__(self, n_outputs: int, in_channels: int = 3,
                 widths: tuple[int, ...] | list[int] = (64, 128, 256, 512),
                 blocks: tuple[int, ...] | list[int] = (2, 2, 2, 2),
                 dropout: float = 0.2) -> None:
        super().__init__()
        if len(widths) != len(blocks):
            raise ValueError("widths and blocks need the same length")
        w0 = int(widths[0])
        self.stem = nn.Sequential(*_conv_bn_relu(in_channels, w0, kernel=7, stride=2),
                                  nn.MaxPool2d(3, stride=2, padding=1))
        stages: list[nn.Module] = []
        cin = w0
        for i, (w, n) in enumerate(zip(widths, blocks)):
            stride = 1 if i == 0 else 2
            for j in range(int(n)):
                stages.append(BasicBlock(cin, int(w), stride if j == 0 else 1))
                cin = int(w)
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(cin, n_outputs)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """N x width pooled features: what the head reads."""
        return self.pool(self.stages(self.stem(x))).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.embed(x)))


class EvidenceNet(nn.Module):
    """Keeps resolution: a per-pixel evidence map for every output, pooled to its logit.

    Two halvings only (the maps are at 1/4 of the input side, 32 x 32 at 128 px),
    then dilated convolutions (dilation 2, 4, 8) so one map pixel sees about 60
    input pixels - a whole bar. A 1 x 1 convolution gives one evidence map per
    output; each logit is the log-mean-exp of its map (a smooth maximum, Pinheiro
    & Collobert 2015) plus a bias. Why: the input gradient of such a logit can
    only come through map pixels, so saliency stays where the evidence is, and
    the evidence map can be supervised directly with bar masks
    (``GuidanceConfig(kind="evidence")``).
    """

    def __init__(self, n_outputs: int, in_channels: int = 3,
                 widths: tuple[int, ...] | list[int] = (16, 32, 64), dilations: tuple[int, ...] | list[int] = (2, 4, 8),
                 sharpness: float = 4.0) -> None:
        super().__init__()
        w1, w2, w3 = (int(w) for w in widths)
        layers: list[nn.Module] = [*_conv_bn_relu(in_channels, w1), nn.MaxPool2d(2),
                                   *_conv_bn_relu(w1, w2), nn.MaxPool2d(2), *_conv_bn_relu(w2, w3)]
        for d in dilations:
            layers += [nn.Conv2d(w3, w3, 3, padding=int(d), dilation=int(d), bias=False), nn.BatchNorm2d(w3),
                       nn.ReLU(inplace=False)]
        self.features = nn.Sequential(*layers)
        self.to_maps = nn.Conv2d(w3, n_outputs, 1)
        self.sharpness = float(sharpness)
        self.bias = nn.Parameter(torch.zeros(n_outputs))

    def evidence(self, x: torch.Tensor) -> torch.Tensor:
        """N x outputs x S/4 x S/4 evidence maps (logit units)."""
        return self.to_maps(self.features(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._pool_maps(self.to_maps(self.features(x)))

    def _pool_maps(self, maps: torch.Tensor) -> torch.Tensor:
        e = maps.flatten(2)
        r = self.sharpness
        pooled = (torch.logsumexp(r * e, dim=2) - math.log(e.shape[2])) / r
        return pooled + self.bias

    def logits_and_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits and N x width spatially averaged features, from one pass."""
        f = self.features(x)
        return self._pool_maps(self.to_maps(f)), f.mean(dim=(2, 3))


class BarMapNet(nn.Module):
    """Bar-evidence network: a small U-Net whose per-pixel logits say "bar here".

    Trained on the synthetic bar masks (``experiments.exp_saliency masknet``), not on
    labels. Its one output, the bar evidence, is the log-mean-exp of the per-pixel
    logits (a smooth maximum). Why explain this and not the classifier: its input
    gradient can only come through pixels the network calls bar, so SmoothGrad of it
    (the ``bar_evidence`` attribution) follows the bar where the classifier's saliency
    lights up the bulge (issue 20, measurable validation bars: rho 0.58-0.61 against
    0.45; the expected bar area as the output did better on one validation set and
    worse on the other). Inputs must have a side divisible by 4 (two halvings).
    """

    def __init__(self, n_outputs: int = 1, in_channels: int = 3, width: int = 24) -> None:
        super().__init__()
        if n_outputs != 1:
            raise ValueError(f"barmap has one output (the bar evidence), not {n_outputs}")

        def block(cin: int, cout: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=False),
                                 nn.Conv2d(cout, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=False))

        w = int(width)
        self.e1, self.e2, self.e3 = block(in_channels, w), block(w, 2 * w), block(2 * w, 4 * w)
        self.d2, self.d1 = block(6 * w, 2 * w), block(3 * w, w)
        self.out = nn.Conv2d(w, 1, 1)

    def pixel_logits(self, x: torch.Tensor) -> torch.Tensor:
        """N x 1 x S x S per-pixel bar logits (sigmoid: the probability of bar at that pixel)."""
        a = self.e1(x)
        b = self.e2(F.max_pool2d(a, 2))
        c = self.e3(F.max_pool2d(b, 2))
        u = self.d2(torch.cat([F.interpolate(c, scale_factor=2.0), b], 1))
        return self.out(self.d1(torch.cat([F.interpolate(u, scale_factor=2.0), a], 1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.pixel_logits(x).flatten(1)
        return (torch.logsumexp(z, dim=1) - math.log(z.shape[1]))[:, None]


NETWORKS: dict[str, NetworkFactory] = {
    "small": SmallCNN,
    "resnet": ResNet,
    "evidence": EvidenceNet,
}
#: networks a checkpoint may name that ``galaxyscope train`` does not build (trained on masks, not labels)
COMPANION_NETWORKS: dict[str, NetworkFactory] = {
    "barmap": BarMapNet,
}


def available_networks() -> list[str]:
    """Classifier architectures `galaxyscope train` builds (CLI choices, GUI menus); `build_network`
    also builds the companion networks of COMPANION_NETWORKS."""
    return sorted(NETWORKS)


def build_network(name: str, n_outputs: int, in_channels: int = 3, **kwargs) -> nn.Module:
    """Build an untrained network by registry name, so checkpoints can name it.

    Raises KeyError naming the known architectures if ``name`` is unknown.
    """
    factory = NETWORKS.get(name) or COMPANION_NETWORKS.get(name)
    if factory is None:
        known = ", ".join(available_networks() + sorted(COMPANION_NETWORKS))
        raise KeyError(f"unknown architecture {name!r}; known: {known}")
    return factory(n_outputs=n_outputs, in_channels=in_channels, **kwargs)


def logits_and_features(net: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(N x outputs logits, N x F pooled features) from one forward pass.

    Why: domain adaptation (``model.adapt``) aligns the features the head reads
    on synthetic and real images, and must not pay for a second pass.
    """
    if hasattr(net, "logits_and_features"):
        return net.logits_and_features(x)
    if hasattr(net, "embed") and hasattr(net, "head"):
        f = net.embed(x)
        return net.head(net.dropout(f) if hasattr(net, "dropout") else f), f
    raise TypeError(f"{type(net).__name__} exposes no pooled features (needs embed() and head)")


def output_layer_names(net: nn.Module) -> list[str]:
    """State-dict keys whose first dimension is the number of outputs (the head's rows)."""
    if isinstance(net, EvidenceNet):
        return ["to_maps.weight", "to_maps.bias", "bias"]
    return ["head.weight", "head.bias"]


def load_extended(net: nn.Module, state: dict[str, torch.Tensor]) -> int:
    """Load ``state`` (a model with fewer outputs) into ``net``, keeping ``net``'s extra outputs new.

    Every weight is copied; in the output layer (``output_layer_names``) the
    first rows, one per old output, are copied and the remaining rows keep the
    fresh initialisation ``net`` was built with. So before any training the old
    outputs predict exactly what the old model predicted. Returns the number of
    new outputs. Raises ValueError for any other mismatch.
    """
    own = net.state_dict()
    if set(own) != set(state):
        raise ValueError(f"the starting model's layers differ: missing {sorted(set(own) - set(state))[:3]}, "
                         f"unexpected {sorted(set(state) - set(own))[:3]}")
    grow = set(output_layer_names(net))
    merged, added = {}, 0
    for key, mine in own.items():
        theirs = state[key]
        if mine.shape == theirs.shape:
            merged[key] = theirs.to(mine)
        elif key in grow and mine.shape[1:] == theirs.shape[1:] and mine.shape[0] > theirs.shape[0]:
            t = mine.clone()
            t[: theirs.shape[0]] = theirs.to(mine)
            merged[key] = t
            added = mine.shape[0] - theirs.shape[0]
        else:
            raise ValueError(f"layer {key}: the starting model has shape {tuple(theirs.shape)}, "
                             f"this network {tuple(mine.shape)}")
    net.load_state_dict(merged)
    return added


def count_parameters(net: nn.Module) -> int:
    """Number of trainable parameters (for reports and the model card)."""
    return sum(p.numel() for p in net.parameters() if p.requires_grad)
