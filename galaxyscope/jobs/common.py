"""Pieces every job and command shares: the default model, progress bars."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

from galaxyscope.errors import ModelLoadError
from galaxyscope.progress import Progress



def default_model_path() -> Path:
    """The shipped model (resources/models/default.safetensors)."""
    from galaxyscope.resources import resources_dir

    return resources_dir() / "models" / "default.safetensors"


def resolve_model(path: str | Path | None = None, device: str | None = None):
    """Load ``path``, or the shipped default model when None."""
    from galaxyscope.model.checkpoint import load_checkpoint

    p = Path(path) if path else default_model_path()
    if not p.exists():
        hint = "" if path else " (the shipped model is missing: train one with `galaxyscope train`)"
        raise ModelLoadError(p, "model file not found" + hint)
    return load_checkpoint(p, device=device)


def work_sha256(model, attribution: str) -> str:
    """The sha256 of every checkpoint ``attribution``'s maps depend on: the model's, and its
    bar-evidence companion's when the attribution explains that network. Why: distributed work
    is keyed by it (a replaced companion is new work) and a worker that sees other files refuses."""
    from galaxyscope.saliency.methods import METHODS, canonical_method

    sha = model.sha256 or ""
    if getattr(model.meta, "task", "classify") == "regress":  # a length regressor has no attribution
        return sha
    if sha and METHODS[canonical_method(attribution)].network == "bar_evidence":
        sha += "+" + (model.bar_evidence_model().sha256 or "")
    return sha


def worker_model(path: str, device: str | None, attribution: str, planned_sha256: str):
    """The model a distributed worker loads, refused (naming the file) if it is not what the
    client planned with (`work_sha256`)."""
    from galaxyscope.errors import GalaxyscopeError

    model = resolve_model(path, device=device)
    found = work_sha256(model, attribution)
    if planned_sha256 and model.sha256 and found != planned_sha256:
        raise GalaxyscopeError(f"{path}: this worker sees another model file (or bar-evidence companion) than "
                               f"the client (sha256 {found[:12]}... != {planned_sha256[:12]}...)")
    return model


def tqdm_progress(desc: str, disable: bool = False) -> tuple[Progress, Callable[[], None]]:
    """A (progress, close) pair that drives a tqdm bar on stderr."""
    from tqdm import tqdm

    bar = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, desc=desc, file=sys.stderr, disable=disable, leave=False)
        bar.total = total
        bar.n = done
        bar.refresh()

    def close() -> None:
        if bar is not None:
            bar.close()

    return progress, close


def open_dataset_and_model(dataset: str, model: str | None, device: str | None = None,
                           threads: int | None = None):
    """(ImageSet, LoadedModel) for a batch command; an empty set is a clear error.

    ``threads`` caps torch's CPU threads first (None leaves torch's choice).
    """
    from galaxyscope.errors import GalaxyscopeError
    from galaxyscope.images.imageset import ImageSet

    set_torch_threads(threads)
    image_set = ImageSet.open(dataset)
    if len(image_set) == 0:
        raise GalaxyscopeError(f"{dataset}: no images found")
    return image_set, resolve_model(model, device=device)


def set_torch_threads(threads: int | None) -> None:
    """Cap torch's CPU threads (intra-op, and inter-op while torch still allows it); None: torch's choice.

    Why: torch takes every core by default, so two batch processes (or a batch beside other
    work) oversubscribe the CPU and each runs several times slower than with its share.
    """
    if not threads:
        return
    import torch

    torch.set_num_threads(int(threads))
    try:
        torch.set_num_interop_threads(int(threads))
    except RuntimeError:  # only settable before the first parallel work of the process
        pass


def saliency_cache(enabled: bool = True):
    """The user's on-disk saliency cache, or None when the command was told not to use one."""
    if not enabled:
        return None
    from galaxyscope.saliency.cache import SaliencyCache

    return SaliencyCache()
