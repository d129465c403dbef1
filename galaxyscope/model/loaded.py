"""`LoadedModel`: a network in eval mode together with everything needed to use it.

Saliency, measuring and the GUI only talk to this object, never to a bare
``nn.Module``, so the preprocessing and output names can't drift apart.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from galaxyscope.images.galaxy_image import GalaxyImage
from galaxyscope.measure.calibration import LengthCalibration, calibration_key, calibrations_from
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
    length_calibration: bar method -> `measure.calibration.LengthCalibration` as a dict
        (scale and relative scatter that put its saliency lengths on the scale of a
        tip-to-tip length; fitted by ``tools/calibrate_lengths.py``); empty = raw lengths.
    bar_evidence: file name (in the checkpoint's own folder) of a companion ``barmap``
        network with the same preprocessing, which the ``bar_evidence`` attribution
        explains instead of this network's bar logit; empty = none.
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
    length_calibration: dict[str, Any] = field(default_factory=dict)
    bar_evidence: str = ""

    def calibration(self, method: str, attribution: str = "smoothgrad") -> LengthCalibration | None:
        """The length calibration of ``method``'s lengths on ``attribution``'s maps, or None (raw)."""
        cal = calibrations_from(self.length_calibration).get(calibration_key(method, attribution))
        return cal if cal is not None and cal.applies_to(attribution) else None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["preprocessing"] = self.preprocessing.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ModelMeta":
        """From a checkpoint's JSON, every field checked (types, finite ranges, sizes).

        Raises ValueError whose message starts with the field at fault, e.g.
        ``"preprocessing.crop_fraction: must be a number above 0 ..."``: a checkpoint
        is a file from anywhere, and a bad value must fail here, not as a traceback
        (or a terabyte allocation) later.
        """
        if not isinstance(d, dict):
            raise ValueError(f"metadata: must be a JSON object, got {type(d).__name__}")
        d = dict(d)
        try:
            d["preprocessing"] = Preprocessing.from_dict(d.get("preprocessing", {}))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"preprocessing{_field_of(exc)}: {_text_of(exc)}") from None
        check_meta_fields(d)
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in known})


#: bounds on what a checkpoint's metadata may ask for
MAX_OUTPUTS = 10_000
MAX_NAME_LENGTH = 200
MAX_LIST_KWARG = 64
MAX_INT_KWARG = 65_536
TASKS = ("classify", "regress")


def _field_of(exc: BaseException) -> str:
    """'.input_size' from "input_size must be ...", for messages that name the field."""
    first = str(exc).split(" ", 1)[0]
    return f".{first}" if first in Preprocessing.__dataclass_fields__ else ""


def _text_of(exc: BaseException) -> str:
    text = str(exc)
    first = text.split(" ", 1)
    return first[1] if len(first) == 2 and first[0] in Preprocessing.__dataclass_fields__ else text


def _finite_number(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and bool(np.isfinite(value)))


def check_meta_fields(d: dict[str, Any]) -> None:
    """Raise ValueError("field: problem") for the first invalid metadata field of ``d``."""
    for key in ("architecture", "output_names", "sigmoid_outputs"):
        if key not in d:
            raise ValueError(f"{key}: missing")
    arch = d["architecture"]
    if not isinstance(arch, str) or not arch or len(arch) > MAX_NAME_LENGTH:
        raise ValueError(f"architecture: must be a network name, got {arch!r:.60}")
    names = d["output_names"]
    if (not isinstance(names, list) or not 1 <= len(names) <= MAX_OUTPUTS
            or not all(isinstance(n, str) and 0 < len(n) <= MAX_NAME_LENGTH for n in names)):
        raise ValueError(f"output_names: must be a list of 1 to {MAX_OUTPUTS} names, got {names!r:.60}")
    sig = d["sigmoid_outputs"]
    if not isinstance(sig, list) or not all(isinstance(b, bool) for b in sig):
        raise ValueError(f"sigmoid_outputs: must be a list of true/false, got {sig!r:.60}")
    if len(sig) != len(names):
        raise ValueError(f"sigmoid_outputs: {len(sig)} values for {len(names)} output_names")
    task = d.get("task", "classify")
    if task not in TASKS:
        raise ValueError(f"task: must be one of {TASKS}, got {task!r:.60}")
    kwargs = d.get("arch_kwargs", {})
    if not isinstance(kwargs, dict):
        raise ValueError(f"arch_kwargs: must be a JSON object, got {kwargs!r:.60}")
    for key, value in kwargs.items():
        _check_kwarg(f"arch_kwargs.{key}", value)
    for key in ("target_scale", "target_offset"):
        value = d.get(key)
        if value is None:
            continue
        if not isinstance(value, list) or not all(_finite_number(v) for v in value):
            raise ValueError(f"{key}: must be a list of finite numbers, got {value!r:.60}")
        if len(value) not in (1, len(names)):
            raise ValueError(f"{key}: {len(value)} values for {len(names)} outputs")
    mbp = d.get("min_bar_probability")
    if mbp is not None and not (_finite_number(mbp) and 0.0 <= mbp <= 1.0):
        raise ValueError(f"min_bar_probability: must be a probability from 0 to 1, got {mbp!r:.60}")
    for key in ("metrics", "domain"):
        if not isinstance(d.get(key, {}), dict):
            raise ValueError(f"{key}: must be a JSON object, got {d[key]!r:.60}")
    for key in ("notes", "training_data_hash"):
        if not isinstance(d.get(key, ""), str):
            raise ValueError(f"{key}: must be text, got {d[key]!r:.60}")
    calibrations_from(d.get("length_calibration"))  # raises ValueError naming the field
    companion = d.get("bar_evidence", "")
    if not isinstance(companion, str) or (companion and (
            not companion.endswith(".safetensors") or "/" in companion or "\\" in companion
            or companion.startswith(".") or len(companion) > MAX_NAME_LENGTH)):
        raise ValueError(f"bar_evidence: must be the file name of a .safetensors checkpoint in the model's "
                         f"folder, got {companion!r:.60}")
    view = (d.get("domain") or {}).get("view_r90")
    if view is not None and not (isinstance(view, list) and len(view) == 2 and all(_finite_number(v) for v in view)):
        raise ValueError(f"domain.view_r90: must be [low, high], got {view!r:.60}")


def _check_kwarg(field: str, value: Any) -> None:
    """Network keyword arguments: small numbers, short lists of them, booleans or short text."""
    if isinstance(value, bool) or (isinstance(value, str) and len(value) <= MAX_NAME_LENGTH):
        return
    if isinstance(value, int):
        if abs(value) > MAX_INT_KWARG:
            raise ValueError(f"{field}: {value} is larger than {MAX_INT_KWARG:,}")
        return
    if isinstance(value, float):
        if not np.isfinite(value):
            raise ValueError(f"{field}: must be a finite number, got {value!r}")
        return
    if isinstance(value, list):
        if len(value) > MAX_LIST_KWARG:
            raise ValueError(f"{field}: a list of {len(value)} values (at most {MAX_LIST_KWARG})")
        for i, v in enumerate(value):
            if isinstance(v, list):
                raise ValueError(f"{field}[{i}]: nested lists are not network arguments")
            _check_kwarg(f"{field}[{i}]", v)
        return
    raise ValueError(f"{field}: not a network argument ({value!r:.60})")


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
    _bar_evidence: "LoadedModel | None" = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.net.eval().to(self.device)

    @property
    def preprocessing(self) -> Preprocessing:
        return self.meta.preprocessing

    def bar_evidence_model(self) -> "LoadedModel":
        """The companion bar-evidence network that ``meta.bar_evidence`` names, loaded once.

        Raises ModelLoadError naming the file and the reason: no companion named, a model
        not read from a file, a missing or malformed file, a network that is not ``barmap``,
        or other preprocessing (the companion must see exactly the classifier's input).
        """
        from galaxyscope.errors import ModelLoadError
        from galaxyscope.model.checkpoint import load_checkpoint

        if self._bar_evidence is not None:
            return self._bar_evidence
        name = self.meta.bar_evidence
        where = self.path or "this model"
        if not name:
            raise ModelLoadError(where, "names no bar-evidence network (checkpoint field bar_evidence); "
                                        "use another attribution, e.g. smoothgrad")
        if not self.path:
            raise ModelLoadError(where, f"bar-evidence network {name!r} is named relative to the model's file, "
                                        "and this model was not read from a file")
        path = Path(self.path).parent / name
        companion = load_checkpoint(path, device=str(self.device))
        if companion.meta.architecture != "barmap":
            raise ModelLoadError(path, f"is a {companion.meta.architecture!r} network, not a barmap bar-evidence network")
        if companion.preprocessing != self.preprocessing:
            raise ModelLoadError(path, f"sees its input differently from {where} (preprocessing "
                                       f"{companion.preprocessing.to_dict()} against {self.preprocessing.to_dict()})")
        self._bar_evidence = companion
        return companion

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
