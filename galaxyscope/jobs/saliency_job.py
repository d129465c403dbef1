"""Precompute saliency maps into the window's on-disk cache, as an `ImageWork`.

Why: the window computes a map when an image is shown (seconds on a CPU); a survey-sized
set is better done once, in batch, on a cluster: afterwards every image opens from the
cache in milliseconds. The maps are keyed exactly as the window asks for them
(`SaliencyCache.key`: image pixels, model, method, target, parameters).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from galaxyscope.saliency.methods import DEFAULT_METHOD, DEFAULT_SAMPLES, default_noise

#: one Parquet row per image: which cache entry holds its map, and the model's answer
SALIENCY_COLUMNS: tuple[tuple[str, str], ...] = (
    ("filename", "str"), ("cache_key", "str"), ("method", "str"), ("target", "str"),
    ("bar_logit", "float"), ("bar_score", "float"), ("from_cache", "bool"), ("seconds", "float"),
    ("device", "str"),
)


@dataclass(frozen=True)
class SaliencyWork:
    """Compute (or find) each image's map in the cache at ``cache_root`` (None: the worker's default)."""

    model_path: str
    model_sha256: str
    method: str = DEFAULT_METHOD
    n_samples: int = DEFAULT_SAMPLES
    noise: float | None = None  # None: the attribution's own (default_noise)
    target: str | None = None
    cache_root: str | None = None
    device: str | None = None
    threads: int = 1
    name: str = field(default="saliency", init=False)
    columns: tuple[tuple[str, str], ...] = field(default=SALIENCY_COLUMNS, init=False)

    def __post_init__(self) -> None:
        if self.noise is None:  # the fingerprint names the noise used, not "default"
            object.__setattr__(self, "noise", default_noise(self.method))

    def fingerprint(self) -> dict[str, Any]:
        return {"model": self.model_sha256, "method": self.method, "n_samples": self.n_samples,
                "noise": self.noise, "target": self.target, "cache": self.cache_root}

    def setup(self) -> tuple[Any, Any]:
        """The model (loaded once per process, threads first) and the cache."""
        from galaxyscope.jobs.common import set_torch_threads, worker_model
        from galaxyscope.saliency.cache import SaliencyCache

        set_torch_threads(self.threads)
        model = worker_model(self.model_path, self.device, self.method, self.model_sha256)
        return model, SaliencyCache(self.cache_root)

    def rows(self, state: tuple[Any, Any], key: str, image: Any) -> list[dict[str, Any]]:
        model, cache = state
        params = {"n_samples": self.n_samples, "noise": self.noise}
        result = cache.get_or_compute(model, image, self.method, target=self.target, **params)
        prob = result.score.probability
        return [{
            "filename": key, "cache_key": cache.key(model, image, self.method, target=self.target, **params),
            "method": result.method, "target": result.target, "bar_logit": result.score.logit,
            "bar_score": float("nan") if prob is None else prob, "from_cache": result.from_cache,
            "seconds": result.elapsed_s, "device": result.device,
        }]
