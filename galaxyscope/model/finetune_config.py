"""How a model is fine-tuned on people's labels: the settings alone, without torch.

Why a module of its own: the window's "Improve model" dialog and `galaxyscope
finetune --help` need the defaults, and `model.finetune` imports torch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class FinetuneConfig:
    """How a model is fine-tuned on labels (defaults chosen for a CPU and ~50-500 labels).

    label_outputs: outputs that learn the annotators' vote (None: the bar output).
    guide_weight: strength of the saliency guidance on images with drawn bars (0: off).
    width_fraction: a line's width when none was drawn, as a share of its length.
    lr: lower than training from scratch; the base model is already good at something.
    val_fraction: share of the training images held out for early stopping.
    """

    label_outputs: tuple[str, ...] | None = None
    epochs: int = 8
    batch_size: int = 16
    lr: float = 3e-4
    val_fraction: float = 0.2
    patience: int = 3
    seed: int = 0
    guide_weight: float = 1.0
    guide_kind: str = "match"
    guide_noise: float = 0.1
    width_fraction: float = 0.3
    augment: bool = True
    device: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
