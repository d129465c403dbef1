"""`LoadedModel`: a network in eval mode together with everything needed to use it.

Saliency, measuring and the GUI only talk to this object, never to a bare
``nn.Module``, so the preprocessing and output names can't drift apart.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import numpy as np
import torch

from galaxyscope.images.galaxy_image import GalaxyImage
from galaxyscope.model.preprocess import Preprocessing


@dataclass
class ModelMeta:
    """What a checkpoint says about its network (stored as JSON beside the weights).

    architecture: a name known to ``galaxyscope.model.networks`` (e.g. "small").
    output_names: one per network output, e.g. ["has_bar"] or GZ2 vote columns.
    sigmoid_outputs: per output, whether the prediction is sigmoid(logit);
        saliency is taken on the raw logit, as in the paper.
    task: "classify" (sigmoid outputs, BCE/MSE on fractions) or "regress".
    min_bar_probability: P(bar) below which no bar is reported (chosen on validation
        data, see ``tools/calibrate_real.py``); None = the default in measure.trust.
    domain: what the training images looked like, for out-of-domain checks
        (``galaxyscope.model.domain``): "colour" (bool), "view_r90" ([low, high]
        range of the model's view side in measured R90 over the training frames).
    """

    architecture: str
    output_names: list[str]
    sigmoid_outputs: list[bool]
    preprocessing: Preprocessing = field(default_factory=Preprocessing)
    task: str = "classify"
    arch_kwargs: dict[str, Any] = field(default_factory=dict)
    target_scale: list[float] | None = None  # regression: prediction = raw * scale (+ offset)
    target_offset: list[float] | None = None  # regression: added after scaling (standardised targets)
    training_data_hash: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    notes: str = ""
    min_bar_probability: float | None = None
    domain: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["preprocessing"] = self.preprocessing.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ModelMeta":
        d = dict(d)
        d["preprocessing"] = Preprocessing.from_dict(d.get("preprocessing", {}))
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in known})


@dataclass
class LoadedModel:
    """A ready-to-use model: ``net`` is in eval mode on ``device``.

    sha256: hash of the weights, part of every saliency cache key and of every
    stored machine measurement.
    """

    net: torch.nn.Module
    meta: ModelMeta
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    sha256: str = ""
    path: str | None = None

    def __post_init__(self) -> None:
        self.net.eval().to(self.device)

    @property
    def preprocessing(self) -> Preprocessing:
        return self.meta.preprocessing

    def output_index(self, name_or_index: str | int | None = None) -> int:
        """Index of an output; None means the bar output: ``has_bar`` if present, else the
        first name containing "bar" that is not a "no bar" answer (GZ2's
        ``t03_bar_a07_no_bar_fraction``), else output 0."""
        names = self.meta.output_names
        if name_or_index is None:
            if "has_bar" in names:
                return names.index("has_bar")
            for i, n in enumerate(names):
                low = n.lower()
                if "bar" in low and "no_bar" not in low and "nobar" not in low:
                    return i
            return 0
        if isinstance(name_or_index, int):
            if not 0 <= name_or_index < len(names):
                raise IndexError(f"output {name_or_index} out of range (model has {len(names)})")
            return name_or_index
        if name_or_index not in names:
            raise KeyError(f"model has no output {name_or_index!r}; it has {names}")
        return names.index(name_or_index)

    def batch(self, images: Sequence[GalaxyImage]) -> torch.Tensor:
        return torch.cat([self.preprocessing.to_model(im) for im in images]).to(self.device)

    @torch.no_grad()
    def logits(self, images: Sequence[GalaxyImage]) -> np.ndarray:
        return self.net(self.batch(images)).float().cpu().numpy()

    def predict(self, images: Sequence[GalaxyImage]) -> np.ndarray:
        """N x outputs predictions in the targets' units.

        Sigmoid where the output is sigmoid; regression: raw x target_scale + target_offset.
        """
        raw = self.logits(images)
        out = raw.copy()
        for j, sig in enumerate(self.meta.sigmoid_outputs):
            if sig:
                out[:, j] = 1.0 / (1.0 + np.exp(-raw[:, j]))
        if self.meta.target_scale:
            out = out * np.asarray(self.meta.target_scale, np.float32)[None, :]
        if self.meta.target_offset:
            out = out + np.asarray(self.meta.target_offset, np.float32)[None, :]
        return out
