"""Attribution maps (SmoothGrad and friends) through Captum, behind one call.

Why one interface: the GUI, the CLI, the bar measurement and the cache all ask
for "a [0, 1] map on the original image for output X" and should not care
which Captum class made it. Every method works on the raw network output (the
logit, before any sigmoid, as in Bhambra et al. 2022), in eval mode, with
gradients switched on even if the caller sits inside ``torch.no_grad()``.

Pipeline for every method: image -> ``Preprocessing.to_model`` -> Captum
attribution (1 x C x S x S, or 1 x 1 x S x S for Grad-CAM) -> |.| max over
colour channels -> min-max to [0, 1] (``model_map``) -> ``Preprocessing.map_back``
onto the original H x W grid, zero outside the crop (``map``).

The method table (`METHODS`, each spec carrying its compute function) lives in
`galaxyscope.saliency.methods`, which imports no torch; it is re-exported here.
"""

from __future__ import annotations

import contextlib
import importlib
import math
import sys
import threading
import time
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch

from galaxyscope.errors import GalaxyscopeError
from galaxyscope.images.galaxy_image import GalaxyImage
from galaxyscope.model.loaded import LoadedModel
from galaxyscope.progress import CancelCheck, Progress, raise_if_cancelled
from galaxyscope.saliency.methods import (  # noqa: F401 - re-exported: the public names live here too
    DEFAULT_CHUNK,
    DEFAULT_METHOD,
    DEFAULT_NOISE,
    DEFAULT_SAMPLES,
    DEFAULT_SEED,
    EXECUTION_PARAMS,
    IG_BASELINES,
    METHODS,
    MethodSpec,
    SaliencyError,
    canonical_method,
)


@dataclass(frozen=True)
class TargetScore:
    """The model's output for the target on the clean input.

    probability is sigmoid(logit) for sigmoid outputs, None otherwise.
    """

    logit: float
    probability: float | None


@dataclass
class SaliencyResult:
    """One attribution map and how it was made.

    map: float32, the original image's H x W, in [0, 1], zero outside the crop.
    model_map: float32, S x S at the model input, min-max normalised.
    params: the resolved parameters (defaults filled in) plus derived values
        (e.g. ``sigma``, ``layer``, ``window``).
    """

    map: np.ndarray
    model_map: np.ndarray
    method: str
    target: str
    params: dict[str, Any]
    score: TargetScore
    elapsed_s: float
    from_cache: bool = False
    device: str = "cpu"


@dataclass(frozen=True)
class SaliencyRequest:
    """A request with defaults filled in: what gets computed and what keys the cache."""

    method: str
    target_index: int
    target_name: str
    params: dict[str, Any] = field(default_factory=dict)

    def key_params(self) -> dict[str, Any]:
        """The params that define the result (execution-only ones such as chunk removed)."""
        return {k: v for k, v in self.params.items() if k not in EXECUTION_PARAMS}


_ALL_PARAM_NAMES = frozenset(k for spec in METHODS.values() for k in spec.defaults)


def resolve_request(model: LoadedModel, method: str = DEFAULT_METHOD, *, target: str | int | None = None,
                    **params: Any) -> SaliencyRequest:
    """Fill in defaults and check parameters, without computing anything.

    Parameters that belong to other methods are ignored (the GUI may pass its
    whole form); names no method knows raise, to catch typos.
    """
    name = canonical_method(method)
    unknown = set(params) - _ALL_PARAM_NAMES
    if unknown:
        raise SaliencyError(f"unknown saliency parameter(s) {sorted(unknown)}")
    spec = METHODS[name]
    p: dict[str, Any] = {k: params.get(k, v) for k, v in spec.defaults.items()}
    for k in ("n_samples", "seed", "chunk", "n_steps"):
        if k in p:
            p[k] = int(p[k])
    for k in ("noise", "blur_fraction", "window_fraction", "stride_fraction"):
        if k in p:
            p[k] = float(p[k])
    if p.get("n_samples", 1) < 1 or p.get("chunk", 1) < 1 or p.get("n_steps", 1) < 1:
        raise SaliencyError(f"n_samples, n_steps and chunk must be >= 1, got {p}")
    if p.get("noise", 0.0) < 0:
        raise SaliencyError(f"noise must be >= 0, got {p['noise']}")
    if name == "ig":
        if p["baseline"] not in IG_BASELINES:
            raise SaliencyError(f"ig baseline must be one of {', '.join(IG_BASELINES)}, got {p['baseline']!r}")
        if p["baseline"] != "blur":
            p.pop("blur_fraction")
    if name == "occlusion" and not (0 < p["window_fraction"] <= 1 and 0 < p["stride_fraction"] <= 1):
        raise SaliencyError("occlusion window_fraction and stride_fraction must be in (0, 1]")
    if name == "gradcam":
        p["layer"] = _conv_layer_name(model.net, p["layer"])
    try:
        idx = model.output_index(target)
    except (KeyError, IndexError) as err:
        raise SaliencyError(str(err.args[0] if err.args else err)) from None
    if spec.network == "bar_evidence":
        try:
            companion = model.bar_evidence_model()
        except GalaxyscopeError as exc:
            raise SaliencyError(f"{name}: {exc}") from None
        p["bar_evidence_sha256"] = companion.sha256  # a new companion is a new map (cache key)
    return SaliencyRequest(name, idx, model.meta.output_names[idx], p)


def compute_saliency(
    model: LoadedModel,
    image: GalaxyImage,
    method: str = DEFAULT_METHOD,
    *,
    target: str | int | None = None,
    n_samples: int = DEFAULT_SAMPLES,
    noise: float | None = None,
    chunk: int = DEFAULT_CHUNK,
    seed: int = DEFAULT_SEED,
    progress: Progress | None = None,
    cancel: CancelCheck | None = None,
    **kw: Any,
) -> SaliencyResult:
    """Attribution map of one output (default: the bar output) for one image.

    Runs on ``model.device`` with the output's raw logit as the target. See
    METHODS for the methods and their extra keyword parameters (n_steps,
    baseline, blur_fraction, layer, window_fraction, stride_fraction).
    ``noise`` None: the method's own (`default_noise`).
    Raises CancelledError when ``cancel()`` turns True (checked between chunks).
    """
    if noise is not None:
        kw["noise"] = noise
    req = resolve_request(model, method, target=target, n_samples=n_samples, chunk=chunk, seed=seed, **kw)
    t0 = time.perf_counter()
    _check(cancel)
    net = model.net
    if net.training:
        net.eval()
    x = model.preprocessing.to_model(image).to(model.device)
    params = dict(req.params)
    with _grad_enabled():
        score, tgt = _score(model, x, req.target_index)
        if METHODS[req.method].network == "bar_evidence":  # explain the companion; the score stays the model's
            net, tgt = model.bar_evidence_model().net, 0
        attr = _attribute(net, x, tgt, req.method, params, progress, cancel)
    model_map = normalise_map(attr)
    full = original_grid_map(model, model_map, image.height, image.width,
                             box=model.preprocessing.box_for(image))
    return SaliencyResult(
        map=full, model_map=model_map, method=req.method, target=req.target_name, params=params,
        score=score, elapsed_s=time.perf_counter() - t0, device=str(model.device),
    )


def smoothgrad_attribution(
    net: torch.nn.Module,
    x: torch.Tensor,
    target: int | None,
    *,
    n_samples: int,
    stdev: float,
    chunk: int,
    seed: int,
    absolute: bool = True,
    progress: Progress | None = None,
    cancel: CancelCheck | None = None,
) -> torch.Tensor:
    """Captum SmoothGrad, run chunk by chunk so progress and cancel work between chunks.

    Each chunk is one ``NoiseTunnel.attribute`` call with nt_samples =
    nt_samples_batch_size = chunk; results are summed weighted by chunk size and
    divided by n_samples. Captum draws each partition's noise with one
    ``torch.normal`` call from torch's global RNG, so under the same seed this
    draws exactly the noise of a single ``NoiseTunnel`` call with
    ``nt_samples_batch_size=chunk`` (tests check the equality). The caller's RNG
    state is restored afterwards.
    """
    nt = captum_class("NoiseTunnel")(captum_class("Saliency")(net))
    total: torch.Tensor | None = None
    done = 0
    if progress:
        progress(0, n_samples)
    with _seeded(seed, x.device):
        while done < n_samples:
            _check(cancel)
            k = min(chunk, n_samples - done)
            a = nt.attribute(x, nt_type="smoothgrad", nt_samples=k, nt_samples_batch_size=k,
                             stdevs=stdev, abs=absolute, target=target).detach()
            total = a * k if total is None else total + a * k
            done += k
            if progress:
                progress(done, n_samples)
    assert total is not None
    return total / n_samples


def normalise_map(attr: torch.Tensor) -> np.ndarray:
    """|attribution| max over channels, min-max scaled to [0, 1] (all zero if flat)."""
    a = torch.nan_to_num(attr.detach().float(), nan=0.0, posinf=0.0, neginf=0.0)
    m = a.abs().amax(dim=1)[0].cpu().numpy().astype(np.float32)
    lo, hi = float(m.min()), float(m.max())
    if not hi > lo:
        return np.zeros_like(m)
    return ((m - lo) / (hi - lo)).astype(np.float32)


def original_grid_map(model: LoadedModel, model_map: np.ndarray, height: int, width: int,
                      box: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """``map_back`` onto H x W, then min-max again inside the crop.

    Bilinear resampling lowers the peak (and can lift the floor) a little; the
    paper's threshold sweep runs up to 1.0, so the map on the original grid
    must span [0, 1] again. Outside the crop stays 0.
    """
    from galaxyscope.model.preprocess import visible_box

    full = model.preprocessing.map_back(model_map, height, width, box=box)
    box = model.preprocessing.crop_box(height, width) if box is None else box
    r0, r1, c0, c1 = visible_box(box, height, width)
    crop = full[r0:r1, c0:c1]
    lo, hi = float(crop.min()), float(crop.max())
    full[r0:r1, c0:c1] = (crop - lo) / (hi - lo) if hi > lo else 0.0
    np.clip(full, 0.0, 1.0, out=full)
    return full


def last_conv_layer(net: torch.nn.Module) -> tuple[str, torch.nn.Module]:
    """(name, module) of the last Conv2d in registration order, for Grad-CAM."""
    found = None
    for name, mod in net.named_modules():
        if isinstance(mod, torch.nn.Conv2d):
            found = (name, mod)
    if found is None:
        raise SaliencyError("Grad-CAM needs a network with a Conv2d layer; this one has none")
    return found


# ----------------------------------------------------------------------------- Captum classes

#: where each Captum class we use is defined (captum 0.7-0.9; stable since 0.2)
CAPTUM_HOMES: dict[str, str] = {
    "NoiseTunnel": "captum.attr._core.noise_tunnel",
    "Saliency": "captum.attr._core.saliency",
    "IntegratedGradients": "captum.attr._core.integrated_gradients",
    "LayerGradCam": "captum.attr._core.layer.grad_cam",
    "Occlusion": "captum.attr._core.occlusion",
    "LayerAttribution": "captum.attr._utils.attribution",
}
_CAPTUM_LOCK = threading.Lock()
_CAPTUM_LOADED: dict[str, type] = {}


def captum_class(name: str) -> type:
    """One Captum attribution class, loaded without Captum's package initialisers when possible.

    Why: ``import captum.attr`` (or any ``captum.attr._core.X``: Python runs the parent
    packages' ``__init__`` first) loads every attribution, the LLM ones and the
    visualisation helpers: 1.2-1.5 s of a batch's start, paid once per process and so
    once per Dask worker. The classes we use need only their own modules plus
    ``captum._utils`` and ``captum.log`` (about 20 ms). So, unless the public package is
    already loaded (then its classes are used), the modules in `CAPTUM_HOMES` are imported
    once with ``captum`` and ``captum.attr`` stood in for by bare packages, and every
    module that this loaded is taken out of ``sys.modules`` again: a later
    ``import captum.attr`` elsewhere runs the real initialisers as if nothing had happened
    (its classes are then equal copies of these). Any failure (another Captum layout)
    falls back to the public ``captum.attr``.
    """
    if name not in CAPTUM_HOMES:
        raise KeyError(f"no Captum home recorded for {name!r}")
    public = sys.modules.get("captum.attr")
    if public is not None and hasattr(public, name):
        return getattr(public, name)
    with _CAPTUM_LOCK:
        if not _CAPTUM_LOADED:
            try:
                _CAPTUM_LOADED.update(_load_without_package_init())
            except Exception:  # noqa: BLE001 - any surprise: the documented public import
                public = importlib.import_module("captum.attr")
                _CAPTUM_LOADED.update({n: getattr(public, n) for n in CAPTUM_HOMES})
    return _CAPTUM_LOADED[name]


def _load_without_package_init() -> dict[str, type]:
    """Every class of `CAPTUM_HOMES`, imported under bare ``captum``/``captum.attr`` packages;
    the modules this added to ``sys.modules`` are removed again (see `captum_class`)."""
    import importlib.util

    spec = importlib.util.find_spec("captum")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("captum is not installed")
    root = Path(list(spec.submodule_search_locations)[0])
    before = set(sys.modules)
    try:
        for pkg, folder in (("captum", root), ("captum.attr", root / "attr")):
            if pkg not in sys.modules:
                stub = types.ModuleType(pkg)
                stub.__path__ = [str(folder)]
                stub.__package__ = pkg
                sys.modules[pkg] = stub
        return {n: getattr(importlib.import_module(m), n) for n, m in CAPTUM_HOMES.items()}
    finally:
        for mod in set(sys.modules) - before:
            if mod == "captum" or mod.startswith("captum."):
                del sys.modules[mod]


# ----------------------------------------------------------------------------- internals


def _conv_layer_name(net: torch.nn.Module, layer: str | None) -> str:
    if layer is None:
        return last_conv_layer(net)[0]
    if layer not in dict(net.named_modules()):
        raise SaliencyError(f"network has no layer named {layer!r}")
    return layer


def _attribute(net: torch.nn.Module, x: torch.Tensor, tgt: int | None, method: str,
               params: dict[str, Any], progress: Progress | None, cancel: CancelCheck | None) -> torch.Tensor:
    """Raw Captum attribution for one method (its spec's compute function); derived values
    are added to params. Unchunked methods get progress (0, 1) before and (1, 1) after."""
    spec = METHODS[method]
    x = x.detach().clone().requires_grad_(True)
    if spec.chunked:
        return spec.compute(net, x, tgt, params, progress, cancel)
    if progress:
        progress(0, 1)
    a = spec.compute(net, x, tgt, params, progress, cancel)
    if progress:
        progress(1, 1)
    return a


def _score(model: LoadedModel, x: torch.Tensor, idx: int) -> tuple[TargetScore, int | None]:
    """The target's logit (and probability) on the clean input, and Captum's target
    argument: the column for N x K outputs, None for a bare N-vector."""
    with torch.no_grad():
        out = model.net(x)
    logit = float(out.reshape(out.shape[0], -1)[0, idx])
    sig = model.meta.sigmoid_outputs
    prob = _sigmoid(logit) if idx < len(sig) and sig[idx] else None
    return TargetScore(logit=logit, probability=prob), (idx if out.dim() > 1 else None)


def _sigmoid(v: float) -> float:
    if v >= 0:
        return 1.0 / (1.0 + math.exp(-v))
    e = math.exp(v)
    return e / (1.0 + e)


def _check(cancel: CancelCheck | None) -> None:
    raise_if_cancelled(cancel, "saliency cancelled")


@contextlib.contextmanager
def _grad_enabled() -> Iterator[None]:
    """Gradients on even when the caller runs under no_grad or inference_mode."""
    with torch.inference_mode(False), torch.enable_grad():
        yield


@contextlib.contextmanager
def _seeded(seed: int, device: torch.device) -> Iterator[None]:
    """torch.manual_seed for the block, the caller's RNG state restored afterwards."""
    if device.type in ("cuda", "mps"):
        idx = device.index if device.index is not None else 0
        ctx = torch.random.fork_rng(devices=[idx], device_type=device.type)
    else:
        ctx = torch.random.fork_rng(devices=[])
    with ctx:
        torch.manual_seed(seed)
        yield
