"""The saliency methods: name, label, defaults and the function that computes each (no torch at import).

Why a module of its own: the CLI builds its ``--samples`` / ``--noise`` /
``--attribution`` options and the GUI its method list from this table, and
``galaxyscope --help`` must not pay for importing Captum; so torch and Captum
are imported inside the compute functions, which run only when a map is made.
`attributions` re-exports everything here and calls ``METHODS[name].compute``.

Every compute function takes ``(net, x, target, params, progress, cancel)``:
``x`` is the 1 x C x S x S model input with ``requires_grad``, ``target`` the
Captum target, ``params`` the resolved parameters (derived values such as
``sigma`` or ``window`` are added to it); it returns the raw attribution.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from galaxyscope.errors import GalaxyscopeError
from galaxyscope.progress import CancelCheck, Progress

#: ``compute(net, x, target, params, progress, cancel) -> attribution tensor`` (see the module docstring)
AttributionFn = Callable[..., Any]


class SaliencyError(GalaxyscopeError):
    """A saliency request that cannot be run (unknown method, bad parameter, no conv layer)."""


@dataclass(frozen=True)
class MethodSpec:
    """One saliency method: what the GUI and CLI offer, and the function that computes it.

    chunked: the method reports progress and honours cancel between chunks of
        ``chunk`` samples; the others report (0, 1) and (1, 1) only.
    network: "model" explains the model's own output (the target); "bar_evidence" explains
        the model's companion bar-evidence network (``LoadedModel.bar_evidence_model``),
        while the score (P(bar)) still comes from the model.
    compute: the attribution function (see the module docstring).
    """

    name: str
    label: str
    defaults: Mapping[str, Any]
    description: str
    chunked: bool = False
    network: str = "model"
    compute: AttributionFn = field(kw_only=True, repr=False, compare=False)


# ----------------------------------------------------------------------------- compute functions


def _smoothgrad(net: Any, x: Any, target: int | None, params: dict[str, Any],
                progress: Progress | None, cancel: CancelCheck | None, *, signed: bool = False) -> Any:
    """Mean |gradient| (or, signed, mean gradient x input) over noisy copies; sigma from ``noise``."""
    from galaxyscope.saliency.attributions import smoothgrad_attribution

    sigma = params["noise"] * float(x.detach().max() - x.detach().min())
    params["sigma"] = sigma
    a = smoothgrad_attribution(net, x, target, n_samples=params["n_samples"], stdev=sigma,
                               chunk=params["chunk"], seed=params["seed"], absolute=not signed,
                               progress=progress, cancel=cancel)
    return a * x.detach() if signed else a


def _smoothgrad_x_input(net: Any, x: Any, target: int | None, params: dict[str, Any],
                        progress: Progress | None, cancel: CancelCheck | None) -> Any:
    return _smoothgrad(net, x, target, params, progress, cancel, signed=True)


def _bar_evidence(net: Any, x: Any, target: int | None, params: dict[str, Any],
                  progress: Progress | None, cancel: CancelCheck | None) -> Any:
    """SmoothGrad (mean |gradient|) of the companion bar-evidence network ``net`` (output 0)."""
    return _smoothgrad(net, x, target, params, progress, cancel)


def _gradient(net: Any, x: Any, target: int | None, params: dict[str, Any],
              progress: Progress | None, cancel: CancelCheck | None) -> Any:
    from galaxyscope.saliency.attributions import captum_class

    return captum_class("Saliency")(net).attribute(x, target=target, abs=True)


def _integrated_gradients(net: Any, x: Any, target: int | None, params: dict[str, Any],
                          progress: Progress | None, cancel: CancelCheck | None) -> Any:
    import torch

    from galaxyscope.saliency.attributions import captum_class

    IntegratedGradients = captum_class("IntegratedGradients")

    if params["baseline"] == "blur":
        from scipy.ndimage import gaussian_filter

        sigma = params["blur_fraction"] * x.shape[-1]
        params["blur_sigma_px"] = sigma
        blurred = gaussian_filter(x.detach().cpu().numpy(), sigma=(0, 0, sigma, sigma), mode="nearest")
        base = torch.from_numpy(blurred).to(x.device)
    elif params["baseline"] == "axisymmetric":
        from galaxyscope.saliency.axisymmetric import axisymmetric_model

        base = torch.from_numpy(axisymmetric_model(x.detach().cpu().numpy()[0])[None]).to(x.device, x.dtype)
    else:
        base = torch.zeros_like(x)
    return IntegratedGradients(net).attribute(x, baselines=base, target=target, n_steps=params["n_steps"],
                                              internal_batch_size=params["chunk"])


def _gradcam(net: Any, x: Any, target: int | None, params: dict[str, Any],
             progress: Progress | None, cancel: CancelCheck | None) -> Any:
    import torch

    from galaxyscope.saliency.attributions import captum_class

    LayerAttribution, LayerGradCam = captum_class("LayerAttribution"), captum_class("LayerGradCam")

    layer = dict(net.named_modules())[params["layer"]]
    cam = LayerGradCam(net, layer).attribute(x, target=target, relu_attributions=True)
    return torch.relu(LayerAttribution.interpolate(cam, tuple(x.shape[-2:]), interpolate_mode="bilinear"))


def _occlusion(net: Any, x: Any, target: int | None, params: dict[str, Any],
               progress: Progress | None, cancel: CancelCheck | None) -> Any:
    from galaxyscope.saliency.attributions import captum_class

    Occlusion = captum_class("Occlusion")

    c, size = x.shape[1], x.shape[-1]
    window = max(1, int(round(params["window_fraction"] * size)))
    stride = max(1, int(round(params["stride_fraction"] * window)))
    params.update(window=window, stride=stride)
    return Occlusion(net).attribute(x, sliding_window_shapes=(c, window, window), strides=(c, stride, stride),
                                    baselines=0.0, target=target, perturbations_per_eval=params["chunk"])


# ----------------------------------------------------------------------------- the table

METHODS: dict[str, MethodSpec] = {
    "smoothgrad": MethodSpec(
        "smoothgrad", "SmoothGrad",
        {"n_samples": 50, "noise": 0.1, "seed": 0, "chunk": 5},
        "Mean |gradient| over n_samples noisy copies (sigma = noise x input range).",
        chunked=True, compute=_smoothgrad,
    ),
    "saliency": MethodSpec(
        "saliency", "Gradient", {},
        "Plain |gradient| of the logit (one backward pass; noisy).",
        compute=_gradient,
    ),
    "smoothgrad_x_input": MethodSpec(
        "smoothgrad_x_input", "SmoothGrad x input",
        {"n_samples": 50, "noise": 0.1, "seed": 0, "chunk": 5},
        "|mean signed gradient over noisy copies x input|: zero where the input is zero.",
        chunked=True, compute=_smoothgrad_x_input,
    ),
    "bar_evidence": MethodSpec(
        "bar_evidence", "SmoothGrad of bar evidence",
        # its own noise (default_noise); 0.07 measured synthetic bars better and real ones worse, so
        # it stays at SmoothGrad's 0.1 (docs/experiments/measurable-bars.md, section 6)
        {"n_samples": 50, "noise": 0.1, "seed": 0, "chunk": 5},
        "SmoothGrad of the model's companion bar-evidence network (a U-Net trained on synthetic "
        "bar masks; its output is the log-mean-exp of its per-pixel bar logits), not of the "
        "classifier: the map follows the bar where the classifier's saliency lights up the bulge. P(bar) still comes "
        "from the classifier. Needs a model that names one (the shipped model does).",
        chunked=True, network="bar_evidence", compute=_bar_evidence,
    ),
    "ig": MethodSpec(
        "ig", "Integrated gradients",
        {"n_steps": 50, "baseline": "black", "blur_fraction": 0.0625, "chunk": 5},
        "Path integral of gradients from a baseline: black, a Gaussian-blurred copy "
        "(sigma = blur_fraction x input size) that keeps the disc but smears out a bar, or "
        "'axisymmetric': the galaxy's own median light on elliptical annuli (the galaxy without "
        "its bar, arms and stars; saliency.axisymmetric).",
        compute=_integrated_gradients,
    ),
    "gradcam": MethodSpec(
        "gradcam", "Grad-CAM", {"layer": None},
        "Grad-CAM on the last Conv2d (or the named layer), upsampled bilinearly, ReLU.",
        compute=_gradcam,
    ),
    "occlusion": MethodSpec(
        "occlusion", "Occlusion",
        {"window_fraction": 0.125, "stride_fraction": 0.5, "chunk": 5},
        "|change of the logit| when a black window (window_fraction x input size) slides "
        "over the input with stride = stride_fraction x window.",
        compute=_occlusion,
    ),
}

#: the method used when none is named (CLI, GUI, ``compute_saliency``)
DEFAULT_METHOD = "smoothgrad"
#: SmoothGrad's defaults, for signatures that name them (one source: the table above)
DEFAULT_SAMPLES: int = METHODS[DEFAULT_METHOD].defaults["n_samples"]
DEFAULT_NOISE: float = METHODS[DEFAULT_METHOD].defaults["noise"]
DEFAULT_CHUNK: int = METHODS[DEFAULT_METHOD].defaults["chunk"]
DEFAULT_SEED: int = METHODS[DEFAULT_METHOD].defaults["seed"]



def default_noise(method: str) -> float:
    """The method's own noise level (``bar_evidence`` has its own), else SmoothGrad's.

    Why: callers that leave ``noise`` unset (None) get the noise the method was
    validated with, not SmoothGrad's; methods without noise ignore the value.
    """
    return float(METHODS[canonical_method(method)].defaults.get("noise", DEFAULT_NOISE))


#: the baselines Integrated Gradients starts its path from
IG_BASELINES = ("black", "blur", "axisymmetric")

# Parameters that change how the work is split, not the result: left out of cache keys.
EXECUTION_PARAMS = frozenset({"chunk"})

_ALIASES = {
    "integrated_gradients": "ig",
    "integratedgradients": "ig",
    "grad_cam": "gradcam",
    "gradient": "saliency",
    "vanilla": "saliency",
    "smoothgrad_input": "smoothgrad_x_input",
    "smoothgradxinput": "smoothgrad_x_input",
}


def canonical_method(method: str) -> str:
    """Map user spellings ("Integrated Gradients", "grad-cam") to a METHODS key."""
    key = method.strip().lower().replace("-", "_").replace(" ", "_")
    key = _ALIASES.get(key, key)
    if key not in METHODS:
        raise SaliencyError(f"unknown saliency method {method!r}; choose one of {sorted(METHODS)}")
    return key
