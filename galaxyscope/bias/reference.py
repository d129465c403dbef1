"""The clean reference set `scan-bias` compares a model's saliency with, made and cached on demand.

Why: a threshold such as "30 % of the saliency off the galaxy" means nothing
until one knows how much this model puts off the galaxy on galaxies that carry
no artefact at all. When the user names no clean set of their own, `scan-bias`
renders one with `galaxyscope.synth` (no planted artefact, the default survey
mix, a fixed seed) at the side of the images being scanned - everything in a
synthetic image scales with its side, so the galaxy fills the model's view as in
the scanned images, and the masks work at the same resolution.

Two caches, both under `galaxyscope.paths.cache_dir()` / ``bias-reference``:
- the rendered set (``synth-<side>px-n<N>-seed<S>/``), shared by every model;
- each model's rule values on it (``values-<key>.json``, keyed by the model's
  hash, the saliency settings and the reference), so a second scan with the same
  model needs no saliency at all.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from galaxyscope.errors import GalaxyscopeError

from galaxyscope.bias.defaults import DEFAULT_REFERENCE_N  # noqa: E402
#: seed of the synthetic reference (apart from every seed the experiments report on)
REFERENCE_SEED = 7_654_321
#: the side the reference is rendered at when the scanned images cannot tell
FALLBACK_SIDE = 424
REFERENCE_FOLDER = "bias-reference"
#: bump when the way reference values are computed changes (invalidates the value cache)
VALUES_VERSION = 3


@dataclass(frozen=True)
class ReferenceValues:
    """Each rule's values over a clean reference set scanned with one model.

    values: rule kind -> one value per image where it could be judged (see `flags.rule_values`).
    what: the reference in words, as the reasons quote it ("200 clean synthetic galaxies (424 px)").
    n_images: images scanned.
    """

    values: Mapping[str, np.ndarray]
    what: str
    n_images: int
    #: each image's off-galaxy share per cell of the model's view (n x G x G; `bias.spots`), or None
    grids: np.ndarray | None = None

    def to_json(self) -> dict[str, Any]:
        return {"version": VALUES_VERSION, "what": self.what, "n_images": self.n_images,
                "values": {k: [float(x) for x in v] for k, v in self.values.items()},
                "grids": None if self.grids is None else np.round(self.grids, 6).tolist()}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> ReferenceValues:
        if d.get("version") != VALUES_VERSION:
            raise ValueError("values cached by another version")
        grids = d.get("grids")
        return cls(values={k: np.asarray(v, float) for k, v in d["values"].items()}, what=str(d["what"]),
                   n_images=int(d["n_images"]), grids=None if grids is None else np.asarray(grids, np.float32))


def reference_root() -> Path:
    """Where synthetic references and cached reference values live."""
    from galaxyscope.paths import cache_dir

    return cache_dir() / REFERENCE_FOLDER


def synthetic_reference_dir(side: int, n: int = DEFAULT_REFERENCE_N, seed: int = REFERENCE_SEED,
                            root: Path | None = None) -> Path:
    """The folder of the synthetic reference for images of ``side`` pixels."""
    return (root or reference_root()) / f"synth-{int(side)}px-n{int(n)}-seed{int(seed)}"


def ensure_synthetic_reference(side: int, n: int = DEFAULT_REFERENCE_N, seed: int = REFERENCE_SEED, *,
                               root: Path | None = None, progress: Callable[[int, int], None] | None = None,
                               cancel: Callable[[], bool] | None = None) -> Path:
    """Render the clean synthetic reference unless it is already cached; return its folder."""
    out = synthetic_reference_dir(side, n, seed, root)
    _render_once(out, dict(n=n, seed=seed, size=int(side), artefact="none"), progress, cancel)
    return out


def _render_once(out: Path, synth_kwargs: Mapping[str, Any], progress: Callable[[int, int], None] | None,
                 cancel: Callable[[], bool] | None) -> None:
    """`galaxyscope.synth.generate_dataset` into ``out`` unless its catalogue is there.

    Rendered into a temporary sibling and renamed when complete, so an interrupted
    run never leaves a half set that a later scan would take for a whole one.
    """
    from galaxyscope.synth.dataset import generate_dataset

    if (out / "catalog.ecsv").is_file():
        return
    tmp = out.with_name(out.name + f".partial-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.parent.mkdir(parents=True, exist_ok=True)
        generate_dataset(tmp, progress=progress, cancel=cancel, **synth_kwargs)
        if out.exists():  # another scan made it meanwhile
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.rename(out)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise GalaxyscopeError(f"{out}: could not write the synthetic set ({exc})") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def typical_side(image_set: Any, sample: int = 5) -> int:
    """The side (max of height and width) of the scanned images: the median of the first few readable ones.

    Why the scanned images and not the model's input: the masks and scores work on the
    image at its own resolution, so the reference should be seen at the same one.
    """
    sides = []
    for i in range(min(len(image_set), 4 * sample)):
        try:
            image = image_set[i]
        except GalaxyscopeError:
            continue
        sides.append(max(int(image.height), int(image.width)))
        if len(sides) >= sample:
            break
    return int(np.median(sides)) if sides else FALLBACK_SIDE


def values_key(model: Any, reference: str | Path, saliency: Mapping[str, Any], extra: Mapping[str, Any] | None = None
               ) -> str:
    """Cache key of one model's values on one reference with one set of saliency settings.

    The target is keyed by the output index it resolves to, so the same output named as
    None (the bar output), by name or by index gives one key: `scan-bias` (target None by
    default) and the window (the bar output by name) then share the cached values.
    """
    saliency = dict(saliency)
    resolve = getattr(model, "output_index", None)
    if callable(resolve) and "target" in saliency:
        try:
            saliency["target"] = int(resolve(saliency["target"]))
        except (KeyError, IndexError, TypeError, ValueError, AttributeError):
            pass  # an unknown target keeps its own key (the scan itself will say what is wrong)
    ref = Path(reference).resolve()
    cat = ref / "catalog.ecsv" if ref.is_dir() else ref
    try:
        stamp = f"{cat.stat().st_size}:{cat.stat().st_mtime_ns}"
    except OSError:
        stamp = ""
    blob = json.dumps({"v": VALUES_VERSION, "model": getattr(model, "sha256", "") or id(model), "ref": str(ref),
                       "stamp": stamp, "saliency": dict(saliency), "extra": dict(extra or {})},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def load_cached_values(key: str, root: Path | None = None) -> ReferenceValues | None:
    """The cached values under ``key``, or None (missing or unreadable: they are recomputed)."""
    path = (root or reference_root()) / f"values-{key}.json"
    try:
        return ReferenceValues.from_json(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save_cached_values(key: str, values: ReferenceValues, root: Path | None = None) -> None:
    """Cache ``values`` (best effort: a read-only cache only costs a rescan next time)."""
    folder = root or reference_root()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f"values-{key}.json.partial-{os.getpid()}"
        tmp.write_text(json.dumps(values.to_json()))
        tmp.replace(folder / f"values-{key}.json")
    except OSError:
        pass


def describe_reference(path: str | Path, n_images: int, synthetic_side: int | None = None) -> str:
    """The reference in the words the reasons quote."""
    if synthetic_side is not None:
        return f"{n_images} clean synthetic galaxies ({synthetic_side} px)"
    return f"{n_images} images of the reference set {Path(path).name}"


def reference_values(model: Any, reference: str | Path, *, what: str, saliency: Mapping[str, Any],
                     cache: Any = None, mask_cache: Any = None, use_value_cache: bool = True, root: Path | None = None,
                     progress: Callable[[int, int], None] | None = None,
                     cancel: Callable[[], bool] | None = None) -> ReferenceValues:
    """Each rule's values over the reference set ``reference`` (a folder or catalogue) scanned with ``model``.

    ``saliency``: the scan's saliency settings (method, n_samples, noise, seed, target) -
    the reference must be seen exactly as the scanned set. Cached per model, settings
    and reference (``use_value_cache``). Raises GalaxyscopeError naming the reference
    when it holds no readable image or no image where a galaxy was found.
    """
    from galaxyscope.bias.calibrate import value_table
    from galaxyscope.bias.scan import score_dataset
    from galaxyscope.images.imageset import ImageSet

    key = values_key(model, reference, saliency, {"what": what})
    if use_value_cache:
        cached = load_cached_values(key, root)
        if cached is not None:
            return cached
    image_set = ImageSet.open(str(reference))
    if len(image_set) == 0:
        raise GalaxyscopeError(f"{reference}: the reference set holds no images")
    scored, _failures = score_dataset(image_set, model, cache=cache, mask_cache=mask_cache, progress=progress,
                                      cancel=cancel, **saliency)
    if not any(s.scores.galaxy_found for s in scored):
        raise GalaxyscopeError(f"{reference}: no image of the reference set could be read with a galaxy found in it")
    grids = np.stack([s.grid for s in scored if s.grid is not None]) if scored else None
    values = ReferenceValues(values=value_table([s.scores for s in scored]), what=what, n_images=len(scored),
                             grids=grids)
    if use_value_cache:
        save_cached_values(key, values, root)
    return values


def prepare_reference(image_set: Any, model: Any, *, reference: str | Path | None, saliency: Mapping[str, Any],
                      n: int = DEFAULT_REFERENCE_N, cache: Any = None, mask_cache: Any = None, use_value_cache: bool = True,
                      root: Path | None = None, on_stage: Callable[[str], None] | None = None,
                      progress: Callable[[int, int], None] | None = None,
                      cancel: Callable[[], bool] | None = None) -> ReferenceValues:
    """The values `scan-bias` compares with: the user's ``reference`` set, or the synthetic one.

    Without ``reference`` a clean synthetic set of ``n`` galaxies is rendered (once)
    at the scanned images' side (`typical_side`). ``on_stage`` hears what is being
    done ("rendering ...", "scanning ..."), for the CLI to print.
    """
    say = on_stage or (lambda _text: None)
    if reference is not None:
        ref = Path(reference)
        if not ref.exists():
            raise GalaxyscopeError(f"--reference {ref}: no such file or folder")
        from galaxyscope.images.imageset import ImageSet

        n_ref = len(ImageSet.open(str(ref)))
        what = describe_reference(ref, n_ref)
    else:
        side = typical_side(image_set)
        ref = synthetic_reference_dir(side, n, root=root)
        if not (ref / "catalog.ecsv").is_file():
            say(f"rendering the clean synthetic reference: {n} galaxies of {side} px into {ref} (once)")
            ref = ensure_synthetic_reference(side, n, root=root, progress=progress, cancel=cancel)
        what = describe_reference(ref, n, synthetic_side=side)
    key = values_key(model, ref, saliency, {"what": what})
    if not (use_value_cache and load_cached_values(key, root) is not None):
        say(f"scanning the reference ({what}) with this model")
    return reference_values(model, ref, what=what, saliency=saliency, cache=cache, mask_cache=mask_cache,
                            use_value_cache=use_value_cache,
                            root=root, progress=progress, cancel=cancel)
