"""`galaxyscope scan-bias` on Dask distributed: the per-image scoring as an `ImageWork`, and its rows.

Why: the expensive part of a bias scan is per image (SmoothGrad, segmentation, placement
scores) and runs on the cluster; the thresholds, the recurring-spot rule and the set-level
notes need every image's scores, so they run afterwards, in the client
(`scan.scan_from_scores`). A worker runs `scan.score_image`, the very function the
single-process `score_dataset` runs, and writes each image as one flat Parquet row
(`scored_to_row`); the client turns the rows back into equal `ScoredImage`s
(`scored_from_row`): the same seeds give the same flags, scores and reasons.

No import of ``galaxyscope.jobs`` here (bias and jobs are sibling layers): the runner
(`jobs.distributed.run_partitions`) is called by the command, `bias.cli_scan`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import numpy as np

from galaxyscope.bias.masks import MaskParams
from galaxyscope.bias.scores import PlacementScores, ScoreParams
from galaxyscope.errors import GalaxyscopeError, ImageReadError
from galaxyscope.saliency.methods import DEFAULT_METHOD, DEFAULT_NOISE, DEFAULT_SAMPLES, DEFAULT_SEED

#: bump when a row's meaning changes for the same inputs (part of every partition's name)
ROW_FORMAT = 1
#: `PlacementScores.to_row`'s fields, in order
SCORE_FIELDS: tuple[tuple[str, str], ...] = (
    ("share_outside", "float"), ("share_sources", "float"), ("share_border", "float"),
    ("top_source_share", "float"), ("top_source_x", "float"), ("top_source_y", "float"),
    ("centroid_x", "float"), ("centroid_y", "float"), ("centroid_offset_px", "float"),
    ("centroid_offset_r", "float"), ("peak_x", "float"), ("peak_y", "float"), ("peak_on_source", "bool"),
    ("galaxy_radius_px", "float"), ("galaxy_found", "bool"), ("total_mass", "float"),
)
#: one row per scored image (the runner adds image_sha256, error and error_path)
SCORE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("filename", "str"), ("path", "str"), ("probability", "float"), ("logit", "float"), *SCORE_FIELDS,
    ("grid", "str"),
)


def scored_to_row(scored: Any) -> dict[str, Any]:
    """A `scan.ScoredImage` (labels left out: the client has the catalogue) as one flat row.

    The off-galaxy grid travels as JSON text of its shape, dtype and values (float32 values
    written as float64 decimals: exact both ways).
    """
    grid = None
    if scored.grid is not None:
        g = np.asarray(scored.grid)
        grid = json.dumps({"shape": list(g.shape), "dtype": str(g.dtype),
                           "values": g.astype(np.float64).ravel().tolist()})
    return {"filename": scored.filename, "path": scored.path, "probability": float(scored.probability),
            "logit": float(scored.logit), **scored.scores.to_row(), "grid": grid}


def scored_from_row(row: dict[str, Any], index: int, labels: dict[str, int] | None = None):
    """The `scan.ScoredImage` a row came from (``index``: its entry in the set; ``labels``
    from the client's catalogue, `scan.label_arrays`)."""
    from galaxyscope.bias.scan import ScoredImage

    grid = None
    if row.get("grid"):
        g = json.loads(row["grid"])
        grid = np.asarray(g["values"], dtype=np.float64).astype(g["dtype"]).reshape(g["shape"])
    prob = row.get("probability")
    return ScoredImage(index=int(index), filename=row["filename"], path=row["path"],
                       scores=PlacementScores.from_row(row),
                       probability=float("nan") if prob is None else float(prob), logit=float(row["logit"]),
                       labels=dict(labels or {}), grid=grid)


@dataclass(frozen=True)
class ScoreWork:
    """Everything a worker needs to score images as `scan.score_dataset` does (it pickles).

    ``model_sha256``: the checkpoint the client planned with; a worker that finds another
    file at ``model_path`` refuses to go on. ``device``, ``threads`` and the caches are how
    the work runs, not what it gives, so they stay out of `fingerprint`.
    """

    model_path: str
    model_sha256: str
    method: str = DEFAULT_METHOD
    n_samples: int = DEFAULT_SAMPLES
    noise: float = DEFAULT_NOISE
    seed: int = DEFAULT_SEED
    target: str | None = None
    mask_params: MaskParams = field(default_factory=MaskParams)
    score_params: ScoreParams = field(default_factory=ScoreParams)
    device: str | None = None
    threads: int = 1
    use_cache: bool = True
    name: str = field(default="scan-bias", init=False)
    columns: tuple[tuple[str, str], ...] = field(default=SCORE_COLUMNS, init=False)

    def fingerprint(self) -> dict[str, Any]:
        return {"format": ROW_FORMAT, "model": self.model_sha256, "method": self.method,
                "n_samples": self.n_samples, "noise": self.noise, "seed": self.seed, "target": self.target,
                "mask_params": asdict(self.mask_params), "score_params": asdict(self.score_params)}

    def setup(self) -> tuple[Any, Any, Any]:
        """(model, saliency cache, mask cache) for this process: threads first, model loaded once."""
        from galaxyscope.model.checkpoint import load_checkpoint

        _set_torch_threads(self.threads)
        model = load_checkpoint(self.model_path, device=self.device)
        if self.model_sha256 and model.sha256 and model.sha256 != self.model_sha256:
            raise GalaxyscopeError(f"{self.model_path}: this worker sees another model file than the client "
                                   f"(sha256 {model.sha256[:12]} != {self.model_sha256[:12]})")
        if not self.use_cache:
            return model, None, None
        from galaxyscope.bias.mask_cache import MaskCache
        from galaxyscope.paths import cache_dir
        from galaxyscope.saliency.cache import SaliencyCache

        return model, SaliencyCache(), MaskCache(cache_dir() / "bias-masks")

    def rows(self, state: tuple[Any, Any, Any], key: str, image: Any) -> list[dict[str, Any]]:
        from galaxyscope.bias.scan import score_image

        model, cache, mask_cache = state
        one = score_image(model, image, -1, key, mask_params=self.mask_params, score_params=self.score_params,
                          method=self.method, n_samples=self.n_samples, noise=self.noise, seed=self.seed,
                          target=self.target, cache=cache, mask_cache=mask_cache)
        return [scored_to_row(one)]


def gather_scores(rows: Sequence[dict[str, Any]], image_set: Any, partitions: Sequence[Any],
                  labels_by_col: dict[str, np.ndarray] | None = None):
    """(scored, failures) from a run's rows, in the set's order, as `scan.score_dataset` gives them.

    ``partitions``: the run's `Partition`s (entries and keys, in order), whose files gave
    ``rows`` in the same order; each image has exactly one row (its scores, or its error).
    An error row becomes an `ImageReadError` (path and reason); labels come from
    ``labels_by_col`` at the image's index.
    """
    labels_by_col = labels_by_col or {}
    expected = [(i, k) for p in partitions for i, k in zip(p.entries, p.keys)]
    if len(rows) != len(expected):
        raise GalaxyscopeError(f"the partitions hold {len(rows)} rows for {len(expected)} images; delete the "
                               "partition folder and run again")
    scored, failures = [], []
    for r, (index, key) in zip(rows, expected):
        if r["filename"] != key:
            raise GalaxyscopeError(f"partition row {r['filename']!r} where {key!r} was expected; delete the "
                                   "partition folder and run again")
        if r.get("error"):
            failures.append(ImageReadError(r.get("error_path") or key, r["error"]))
        else:
            scored.append(scored_from_row(r, index, {c: int(v[index]) for c, v in labels_by_col.items()}))
    return scored, failures


def _set_torch_threads(threads: int | None) -> None:
    """Cap torch's CPU threads (as `jobs.common.set_torch_threads`, which this layer may not import)."""
    if not threads:
        return
    import torch

    torch.set_num_threads(int(threads))
    try:
        torch.set_num_interop_threads(int(threads))
    except RuntimeError:  # only settable before the first parallel work of the process
        pass
