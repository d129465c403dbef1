"""Unsupervised domain adaptation: make synthetic and real galaxies look alike to the network.

Why: the shipped model learnt synthetic galaxies only and has never seen a real
one. Real images without labels still tell the network what the target domain
looks like; these methods pull the pooled features the head reads (see
``networks.logits_and_features``) of synthetic ("source") and real ("target")
images together, while the labelled loss keeps them useful:

* ``dann`` (Ganin & Lempitsky 2015): a small domain classifier on the features,
  behind a gradient-reversal layer. The classifier learns to tell the domains
  apart; the reversed gradient teaches the network to make that impossible.
  The reversal strength ramps 0 -> 1 as 2 / (1 + exp(-10 p)) - 1 over the
  training progress p, so the early, noisy domain head does not wreck the
  features.
* ``coral`` (Sun & Saenko 2016, deep CORAL): match the feature covariances,
  ||C_s - C_t||_F^2 / (4 d^2).
* ``mmd``: maximum mean discrepancy with a sum of Gaussian kernels (bandwidths
  around the median pairwise distance).

The domain head exists only during training; it is never saved with the model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

METHODS = ("dann", "coral", "mmd")


class _GradientReversal(torch.autograd.Function):
    """Identity forward; the backward pass multiplies the gradient by -lambda."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, strength: float) -> torch.Tensor:  # type: ignore[override]
        ctx.strength = strength
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        return -ctx.strength * grad, None


def grad_reverse(x: torch.Tensor, strength: float = 1.0) -> torch.Tensor:
    """``x`` unchanged, but gradients flowing back through it are scaled by ``-strength``."""
    return _GradientReversal.apply(x, float(strength))


def dann_strength(progress: float, gamma: float = 10.0) -> float:
    """Ganin & Lempitsky's reversal schedule 2 / (1 + exp(-gamma p)) - 1 for p in [0, 1]."""
    p = min(max(float(progress), 0.0), 1.0)
    return 2.0 / (1.0 + math.exp(-gamma * p)) - 1.0


class DomainHead(nn.Module):
    """Two-layer classifier: pooled features -> logit of "this is a real image"."""

    def __init__(self, n_features: int, hidden: int = 64, dropout: float = 0.1) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(n_features, hidden), nn.ReLU(), nn.Dropout(dropout),
                                 nn.Linear(hidden, 1))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net(features).squeeze(1)


def coral_loss(source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Deep CORAL: squared Frobenius distance of the feature covariances / (4 d^2).

    0 for two sets with the same covariance (e.g. identical sets), > 0 otherwise.
    """
    d = source.shape[1]
    cs = _covariance(source)
    ct = _covariance(target)
    return ((cs - ct) ** 2).sum() / (4.0 * d * d)


def _covariance(x: torch.Tensor) -> torch.Tensor:
    xc = x - x.mean(dim=0, keepdim=True)
    return xc.T @ xc / max(x.shape[0] - 1, 1)


def mmd_loss(source: torch.Tensor, target: torch.Tensor, scales: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 4.0)
             ) -> torch.Tensor:
    """Squared MMD (biased estimate) with Gaussian kernels at ``scales`` x the median squared distance.

    The median is taken without gradient, so the bandwidth does not chase the loss.
    """
    x = torch.cat([source, target])
    d2 = torch.cdist(x, x).pow(2)
    with torch.no_grad():
        off = d2[~torch.eye(len(x), dtype=torch.bool, device=x.device)]
        base = off.median().clamp_min(1e-6) if off.numel() else torch.tensor(1.0, device=x.device)
    k = sum(torch.exp(-d2 / (s * base)) for s in scales)
    n = len(source)
    return k[:n, :n].mean() + k[n:, n:].mean() - 2.0 * k[:n, n:].mean()


@dataclass
class AdaptConfig:
    """Which alignment to use and how strongly (``weight`` multiplies its loss)."""

    method: str = "dann"
    weight: float = 0.1
    hidden: int = 64  # DANN domain head width

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"adaptation method must be one of {', '.join(METHODS)}, got {self.method!r}")
        if self.weight < 0:
            raise ValueError("adaptation weight must not be negative")

    def to_dict(self) -> dict:
        return {"method": self.method, "weight": self.weight, "hidden": self.hidden}


@dataclass
class DomainAdapter:
    """The training-only part of domain adaptation: its head (DANN) and running statistics.

    ``loss(features, n_source, progress)`` returns the weighted alignment loss for
    one batch whose first ``n_source`` feature rows are synthetic, the rest real.
    ``epoch_summary()`` gives the epoch's mean loss (and, for DANN, the domain
    head's accuracy and the reversal strength) and resets the running sums.
    """

    config: AdaptConfig
    n_features: int
    head: DomainHead | None = None
    _sums: dict[str, float] = field(default_factory=dict)
    _n: int = 0

    def __post_init__(self) -> None:
        if self.config.method == "dann" and self.head is None:
            self.head = DomainHead(self.n_features, self.config.hidden)

    def parameters(self) -> list[nn.Parameter]:
        """What the optimiser must train besides the network (the DANN head; nothing else)."""
        return list(self.head.parameters()) if self.head is not None else []

    def to(self, device: torch.device) -> "DomainAdapter":
        if self.head is not None:
            self.head.to(device)
        return self

    def train(self, mode: bool = True) -> None:
        if self.head is not None:
            self.head.train(mode)

    def loss(self, features: torch.Tensor, n_source: int, progress: float) -> torch.Tensor:
        source, target = features[:n_source], features[n_source:]
        method = self.config.method
        stats: dict[str, float] = {}
        if method == "dann":
            assert self.head is not None
            strength = dann_strength(progress)
            logits = self.head(grad_reverse(features, strength))
            labels = torch.cat([torch.zeros(len(source)), torch.ones(len(target))]).to(logits)
            raw = F.binary_cross_entropy_with_logits(logits, labels)
            stats = {"domain_accuracy": float(((logits.detach() > 0).to(labels) == labels).float().mean()),
                     "strength": strength}
        elif method == "coral":
            raw = coral_loss(source, target)
        else:
            raw = mmd_loss(source, target)
        stats["loss"] = float(raw.detach())
        for k, v in stats.items():
            self._sums[k] = self._sums.get(k, 0.0) + v
        self._n += 1
        return self.config.weight * raw

    def epoch_summary(self) -> dict[str, float] | None:
        if not self._n:
            return None
        out = {k: v / self._n for k, v in self._sums.items()}
        self._sums, self._n = {}, 0
        return out
