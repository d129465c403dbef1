"""Parameters of the two bar-measuring methods, with the ranges a GUI slider needs.

Each field carries ``metadata`` (low, high, step, label, help, and ``choices`` for
text options) so the GUI can build its controls from the dataclass alone; read them
with :func:`param_specs`.  Every measurement stores the parameters it used (with
``min_pixels`` resolved to a number) in ``BarMeasurement.params``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

# The paper's numbers (Bhambra, Joachimi & Lahav 2022).
PAPER_MIN_PIXELS = 40
PAPER_INPUT_SIZE = 224
PAPER_STOP_PEARSON = 0.85

# 1 - lambda2/lambda1 at which a bar at 45 degrees has |Pearson(row, col)| = 0.85:
# there |r| = (l1 - l2) / (l1 + l2), so l2/l1 = 0.15 / 1.85.
PAPER_EQUIVALENT_ELONGATION = 1.0 - (1.0 - PAPER_STOP_PEARSON) / (1.0 + PAPER_STOP_PEARSON)


def _p(default: Any, low: float | None = None, high: float | None = None, step: float | None = None,
       label: str = "", help: str = "", choices: tuple[str, ...] = (), advanced: bool = False) -> Any:
    return field(default=default, metadata={
        "low": low, "high": high, "step": step, "label": label, "help": help,
        "choices": choices, "advanced": advanced,
    })


@dataclass(frozen=True)
class ParamSpec:
    """One parameter as a GUI control sees it."""

    name: str
    default: Any
    low: float | None
    high: float | None
    step: float | None
    label: str
    help: str
    choices: tuple[str, ...]
    advanced: bool


def param_specs(params: type | object) -> tuple[ParamSpec, ...]:
    """The controls (name, default, range, step, label) of a parameter dataclass or instance."""
    cls = params if isinstance(params, type) else type(params)
    out = []
    for f in fields(cls):
        md = f.metadata
        default = getattr(params, f.name) if not isinstance(params, type) else f.default
        out.append(ParamSpec(name=f.name, default=default, low=md.get("low"), high=md.get("high"),
                             step=md.get("step"), label=md.get("label") or f.name,
                             help=md.get("help", ""), choices=tuple(md.get("choices", ())),
                             advanced=bool(md.get("advanced", False))))
    return tuple(out)


@dataclass(frozen=True)
class PaperParams:
    """Bhambra et al. (2022): raise a threshold until the pixels look like a line.

    ``min_pixels`` None means "the paper's 40 px at 224 px input, scaled to this map"
    (see :func:`galaxyscope.measure.resolution.scaled_min_pixels`); a number is a
    pixel count on the saliency map's own grid.
    """

    t_start: float = _p(0.5, 0.0, 0.99, 0.01, "start threshold",
                        "first threshold of the sweep (fraction of the map's range)")
    t_end: float = _p(1.0, 0.01, 1.0, 0.01, "end threshold", "last threshold of the sweep")
    t_step: float = _p(1e-4, 1e-4, 0.05, 1e-4, "threshold step", "step of the sweep")
    stop_pearson: float = _p(PAPER_STOP_PEARSON, 0.5, 0.99, 0.01, "stop |Pearson|",
                             "stop when |Pearson(row, col)| of the pixels exceeds this")
    min_pixels: float | None = _p(None, 1, 5000, 1, "minimum pixels",
                                  "stop when fewer pixels remain; empty = paper's 40 px @ 224, scaled")
    reference_min_pixels: float = _p(PAPER_MIN_PIXELS, 1, 500, 1, "paper's minimum",
                                     "minimum pixel count on the reference input", advanced=True)
    reference_input_size: int = _p(PAPER_INPUT_SIZE, 16, 1024, 1, "paper's input size",
                                   "input side (px) at which the reference minimum holds",
                                   advanced=True)


@dataclass(frozen=True)
class MomentsParams:
    """Our fit: blur, rotation-free elongation sweep, central component, weighted ellipse.

    threshold_mode "fixed" (default) measures at ``t_start``; "sweep" raises the threshold
    from ``t_start`` until 1 - lambda2/lambda1 of the central component reaches
    ``stop_elongation`` (falling back to ``t_start`` if it never does): the paper's rule
    made rotation-free, but its stop makes lengths jumpy (see ``measure.moments``).
    ``blur_sigma`` is in model-input pixels because SmoothGrad speckle has the model's
    grain (map pixels when the model's input size is unknown).
    length_from "extent" is the end-to-end extent of the mask along the fitted major
    axis (what volunteers draw, and what the paper's rule measures); "axis" is the
    weighted ellipse's full major axis 4 sqrt(lambda1).
    The length is calibrated as ``calibration_slope * raw + calibration_intercept``
    (pixels); the defaults leave it unchanged.
    """

    blur_sigma: float = _p(3.0, 0.0, 6.0, 0.1, "blur sigma (model px)",
                           "Gaussian blur before thresholding, in model-input pixels "
                           "(map pixels when the model's input size is not given)")
    t_start: float = _p(0.5, 0.05, 0.95, 0.01, "threshold",
                        "threshold as a fraction of the blurred map's central peak (sweep start)")
    peak_radius: float = _p(0.25, 0.02, 1.0, 0.01, "peak radius",
                            "the peak is the maximum within this fraction of the region's side "
                            "from the centre (1.0: effectively the whole map)")
    t_end: float = _p(1.0, 0.1, 1.0, 0.01, "end threshold", "last threshold of the sweep")
    t_step: float = _p(1e-3, 1e-4, 0.05, 1e-4, "threshold step", "step of the sweep")
    threshold_mode: str = _p("fixed", label="threshold mode",
                             help="sweep: raise until elongated; fixed: use the threshold",
                             choices=("sweep", "fixed"))
    stop_elongation: float = _p(round(PAPER_EQUIVALENT_ELONGATION, 4), 0.3, 0.99, 0.01,
                                "stop elongation",
                                "stop when 1 - l2/l1 reaches this (0.919 = paper's |r| 0.85 at 45°)")
    min_elongation: float = _p(0.5, 0.0, 0.95, 0.01, "minimum elongation",
                               "below this the result is flagged not_elongated")
    min_pixels: float | None = _p(None, 1, 5000, 1, "minimum pixels",
                                  "smallest component to trust; empty = paper's 40 px @ 224, scaled")
    length_from: str = _p("axis", label="length from",
                          help="extent: mask extent along the major axis; axis: 4 sqrt(l1)",
                          choices=("extent", "axis"))
    err_step: float = _p(0.02, 0.0, 0.1, 0.005, "error threshold step",
                         "threshold step used to estimate the length uncertainty")
    err_steps: int = _p(2, 0, 5, 1, "error steps", "steps either side for the uncertainty")
    max_centre_distance: float = _p(0.15, 0.0, 1.0, 0.01, "max centre distance",
                                    "flag off_centre beyond this fraction of the region side")
    calibration_slope: float = _p(1.0, 0.1, 5.0, 0.01, "calibration slope",
                                  "length = slope * raw + intercept", advanced=True)
    calibration_intercept: float = _p(0.0, -100.0, 100.0, 0.1, "calibration intercept (px)",
                                      "length = slope * raw + intercept", advanced=True)
    reference_min_pixels: float = _p(PAPER_MIN_PIXELS, 1, 500, 1, "paper's minimum",
                                     "minimum pixel count on the reference input", advanced=True)
    reference_input_size: int = _p(PAPER_INPUT_SIZE, 16, 1024, 1, "paper's input size",
                                   "input side (px) at which the reference minimum holds",
                                   advanced=True)
