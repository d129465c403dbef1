"""Model-randomisation sanity check for saliency (Adebayo et al. 2018, "Sanity Checks for Saliency Maps").

Why: a saliency method that gives nearly the same map for a trained network
and for one whose weights are random explains the image (edges, bright
blobs), not the model. Cascading randomisation re-initialises the layers from
the output down, one more at a time, recomputes the maps and measures how much
they changed: Spearman rank correlation (scipy.stats.spearmanr) and SSIM
(skimage.metrics.structural_similarity) against the trained model's maps,
averaged over a few images. If the maps barely change after most layers are
random, the saliency is not to be trusted for measuring anything.

Everything runs on a deep copy of the network (the caller's model is left
untouched), with seeded re-initialisation and seeded SmoothGrad noise, so the
same call gives the same numbers.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import torch
from astropy.table import Table
from scipy.stats import spearmanr
from skimage.metrics import structural_similarity

from galaxyscope.errors import GalaxyscopeError, ImageReadError
from galaxyscope.images.galaxy_image import GalaxyImage
from galaxyscope.progress import CancelCheck, Progress, raise_if_cancelled
from galaxyscope.saliency.methods import DEFAULT_METHOD, DEFAULT_NOISE, DEFAULT_SAMPLES, DEFAULT_SEED

#: modules that fold into the layer registered just before them (a conv's batch norm)
_FOLLOWERS = (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d, torch.nn.GroupNorm, torch.nn.LayerNorm)


@dataclass(frozen=True)
class SanityStep:
    """Maps after randomising ``randomised`` (top-down, cumulative) compared with the trained model's.

    layer: the layer newly randomised at this step. spearman / ssim: mean over the
    images (std alongside); 1.0 means unchanged.
    """

    step: int
    layer: str
    randomised: tuple[str, ...]
    spearman: float
    spearman_std: float
    ssim: float
    ssim_std: float


@dataclass
class SanityReport:
    """The cascade, the images it used and the verdict.

    trusted: False when, with at least ``most_fraction`` of the layers random, the
    mean Spearman correlation is still above ``spearman_limit``.
    """

    steps: list[SanityStep]
    layers: list[str]
    images: list[str]
    trusted: bool
    verdict: str
    spearman_limit: float
    most_fraction: float
    failures: list[ImageReadError] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def table(self) -> Table:
        """One row per step: step, layer, n_random, spearman(_std), ssim(_std)."""
        return Table(
            rows=[(s.step, s.layer, len(s.randomised), s.spearman, s.spearman_std, s.ssim, s.ssim_std)
                  for s in self.steps],
            names=("step", "layer", "n_random", "spearman", "spearman_std", "ssim", "ssim_std"),
            dtype=(int, str, int, float, float, float, float),
        )

    def text(self) -> str:
        """The table as aligned lines plus the verdict (what the CLI prints)."""
        width = max([len(s.layer) for s in self.steps] + [5])
        lines = [f"cascading randomisation over {len(self.images)} image(s), {len(self.layers)} layers "
                 f"(top down)",
                 f"{'step':>4}  {'layer':<{width}}  {'random':>6}  {'spearman':>14}  {'ssim':>14}"]
        for s in self.steps:
            lines.append(f"{s.step:>4}  {s.layer:<{width}}  {len(s.randomised):>6}  "
                         f"{s.spearman:>6.3f} ± {s.spearman_std:<5.3f}  {s.ssim:>6.3f} ± {s.ssim_std:<5.3f}")
        lines.append(self.verdict)
        return "\n".join(lines)


def randomisable_layers(net: torch.nn.Module) -> list[tuple[str, list[torch.nn.Module]]]:
    """Layers with weights, output first: (name, modules), a conv grouped with its batch norm.

    Why groups: re-initialising a convolution but keeping the batch norm fitted to
    its old outputs is not a meaningful "layer randomised" state.
    """
    groups: list[tuple[str, list[torch.nn.Module]]] = []
    for name, module in net.named_modules():
        if not list(module.parameters(recurse=False)) or not hasattr(module, "reset_parameters"):
            continue
        if isinstance(module, _FOLLOWERS) and groups:
            groups[-1][1].append(module)
        else:
            groups.append((name, [module]))
    return groups[::-1]


def cascading_randomisation(
    model: Any,
    images: Sequence[GalaxyImage],
    *,
    method: str = DEFAULT_METHOD,
    n_samples: int = DEFAULT_SAMPLES,
    noise: float = DEFAULT_NOISE,
    seed: int = DEFAULT_SEED,
    target: str | int | None = None,
    spearman_limit: float = 0.8,
    most_fraction: float = 0.75,
    progress: Progress | None = None,
    cancel: CancelCheck | None = None,
) -> SanityReport:
    """Randomise ``model``'s layers from the output down and measure how the saliency changes.

    Why: see the module docstring. ``model`` (a LoadedModel) is not modified: the
    cascade runs on a deep copy. Step 0 is the trained model itself (compared with
    itself: a check that the maps are reproducible). Raises GalaxyscopeError when
    there are no images or no layers with weights; CancelledError on cancel.
    """
    from galaxyscope.model.loaded import LoadedModel
    from galaxyscope.saliency.attributions import compute_saliency

    if not images:
        raise GalaxyscopeError("the sanity check needs at least one image")
    net = copy.deepcopy(model.net)
    work = LoadedModel(net=net, meta=model.meta, device=model.device, sha256="", path=None)
    groups = randomisable_layers(work.net)
    if not groups:
        raise GalaxyscopeError("the model has no layers with weights to randomise")
    total = len(images) * (len(groups) + 2)
    done = 0

    def maps() -> list[np.ndarray]:
        nonlocal done
        out = []
        for image in images:
            raise_if_cancelled(cancel, "sanity check cancelled")
            out.append(compute_saliency(work, image, method, target=target, n_samples=n_samples, noise=noise,
                                        seed=seed, cancel=cancel).model_map)
            done += 1
            if progress is not None:
                progress(done, total)
        return out

    if progress is not None:
        progress(0, total)
    reference = maps()
    steps = [_compare(0, "(none)", (), reference, maps())]
    randomised: list[str] = []
    with torch.random.fork_rng(devices=[]):
        for k, (name, modules) in enumerate(groups, start=1):
            torch.manual_seed(seed * 1000 + k)
            with torch.no_grad():
                for m in modules:
                    m.reset_parameters()
            work.net.to(work.device).eval()
            randomised.append(name)
            steps.append(_compare(k, name, tuple(randomised), reference, maps()))
    trusted, verdict = _verdict(steps, len(groups), spearman_limit, most_fraction)
    return SanityReport(steps=steps, layers=[g[0] for g in groups], images=[str(im.id) for im in images],
                        trusted=trusted, verdict=verdict, spearman_limit=spearman_limit,
                        most_fraction=most_fraction,
                        meta={"model_sha256": getattr(model, "sha256", ""), "attribution": method,
                              "n_samples": n_samples, "noise": noise, "seed": seed})


def sanity_check_dataset(image_set: Any, model: Any, *, n_images: int = 8, seed: int = 0,
                         **kwargs: Any) -> SanityReport:
    """`cascading_randomisation` on ``n_images`` images drawn (seeded) from an image set.

    Unreadable files are skipped (listed in the report's failures) and replaced by
    the next drawn image.
    """
    n = len(image_set)
    if n == 0:
        raise GalaxyscopeError("the image set is empty")
    order = np.random.default_rng(seed).permutation(n)
    images: list[GalaxyImage] = []
    keys: list[str] = []
    failures: list[ImageReadError] = []
    for i in order:
        if len(images) >= n_images:
            break
        try:
            images.append(image_set[int(i)])
        except ImageReadError as exc:
            failures.append(exc)
        else:
            keys.append(image_set.entries[int(i)].key)
    if not images:
        raise GalaxyscopeError(f"none of the {n} images could be read")
    report = cascading_randomisation(model, images, seed=seed, **kwargs)
    report.failures = failures
    report.images = keys
    return report


def map_similarity(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(Spearman rank correlation, SSIM) of two [0, 1] maps of one shape.

    A constant map carries no ranking: its correlation is taken as 0.
    """
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        rho = 1.0 if np.array_equal(a, b) else 0.0
    else:
        rho = float(spearmanr(a.ravel(), b.ravel())[0])
    ssim = float(structural_similarity(a, b, data_range=1.0))
    return (rho if math.isfinite(rho) else 0.0), ssim


def _compare(step: int, layer: str, randomised: tuple[str, ...], reference: list[np.ndarray],
             maps: list[np.ndarray]) -> SanityStep:
    pairs = np.array([map_similarity(a, b) for a, b in zip(reference, maps)])
    return SanityStep(step=step, layer=layer, randomised=randomised,
                      spearman=float(pairs[:, 0].mean()), spearman_std=float(pairs[:, 0].std()),
                      ssim=float(pairs[:, 1].mean()), ssim_std=float(pairs[:, 1].std()))


def _verdict(steps: list[SanityStep], n_layers: int, limit: float, most: float) -> tuple[bool, str]:
    need = max(1, math.ceil(most * n_layers))
    late = [s for s in steps if len(s.randomised) >= need]
    worst = max(late, key=lambda s: s.spearman)
    final = steps[-1]
    if worst.spearman > limit:
        return False, (f"NOT TO BE TRUSTED: with {len(worst.randomised)} of {n_layers} layers randomised the "
                       f"maps barely change (Spearman {worst.spearman:.2f} > {limit:g}, SSIM {worst.ssim:.2f}); "
                       f"the saliency reflects the image more than what the model learned")
    return True, (f"passes: the maps change as the layers are randomised (Spearman {final.spearman:.2f}, "
                  f"SSIM {final.ssim:.2f} with all {n_layers} layers random; limit {limit:g} from "
                  f"{need} layers on)")
