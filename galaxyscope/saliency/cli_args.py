"""The saliency options every batch command shares: ``--attribution``, ``--samples``, ``--noise``, ``--target``.

Why one home: ``measure``, ``scan-bias`` and ``sanity`` each declared these with
their own defaults (SmoothGrad samples 50, 20 and 20), so the same data gave
different maps depending on the command. Now the defaults come from the
method table (`galaxyscope.saliency.methods.METHODS`) and the parsed values are
checked once. No torch or Captum here: ``register()`` runs for ``--help``.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from galaxyscope.errors import GalaxyscopeError
from galaxyscope.saliency.methods import DEFAULT_METHOD, METHODS, SaliencyError, canonical_method, default_noise


@dataclass(frozen=True)
class SaliencyOptions:
    """What the command line asked for: a METHODS key and its shared parameters.

    ``n_samples`` and ``noise`` matter to the SmoothGrad-like methods only; the
    others ignore them (as `compute_saliency` does). ``target`` None: the bar output.
    """

    method: str
    n_samples: int
    noise: float
    target: str | None = None


def add_saliency_arguments(parser: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    """Add the shared saliency options, with defaults from ``METHODS["smoothgrad"]``.

    ``--saliency-method`` is accepted as another spelling of ``--attribution``.
    Returns the argument group (a "saliency" section of the command's help).
    """
    defaults = METHODS[DEFAULT_METHOD].defaults
    g = parser.add_argument_group("saliency")
    g.add_argument("--attribution", "--saliency-method", dest="attribution", default=DEFAULT_METHOD,
                   metavar="METHOD", help=f"saliency method: {', '.join(METHODS)} (default %(default)s)")
    g.add_argument("--samples", type=int, default=defaults["n_samples"], metavar="N",
                   help="SmoothGrad samples N (default %(default)s)")
    own = "".join(f", {spec.defaults['noise']} for {name}" for name, spec in METHODS.items()
                  if name != DEFAULT_METHOD and spec.defaults.get("noise", defaults["noise"]) != defaults["noise"])
    g.add_argument("--noise", type=float, default=None, metavar="F",
                   help="SmoothGrad noise sigma as a fraction of the input range (default: the attribution's "
                        f"own: {defaults['noise']} for {DEFAULT_METHOD}{own})")
    g.add_argument("--target", help="model output to explain (default: the bar output)")
    return g


def saliency_options(args: argparse.Namespace) -> SaliencyOptions:
    """The parsed shared options, checked; a bad value is a GalaxyscopeError naming its flag."""
    try:
        method = canonical_method(args.attribution)
    except SaliencyError as exc:
        raise GalaxyscopeError(f"--attribution: {exc}") from None
    if args.samples < 1:
        raise GalaxyscopeError(f"--samples must be at least 1, got {args.samples}")
    noise = default_noise(method) if args.noise is None else args.noise
    if not noise >= 0:
        raise GalaxyscopeError(f"--noise must not be negative, got {noise}")
    return SaliencyOptions(method=method, n_samples=int(args.samples), noise=float(noise),
                           target=args.target or None)
