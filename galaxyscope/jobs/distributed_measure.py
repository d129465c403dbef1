"""`galaxyscope measure` on Dask distributed: the measure job as an `ImageWork`, and the gather.

Why: the per-image code is `measure_job.image_measurer` (or `image_regressor`), the same
function the single-process batch runs, so a distributed run gives the same rows; the
gathered table goes through the same `results_table` and `add_catalogue_columns`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from galaxyscope.errors import GalaxyscopeError, ImageReadError
from galaxyscope.images.guarded_read import ReadLimits
from galaxyscope.jobs.distributed import RunReport, read_partitions, run_partitions
from galaxyscope.jobs.measure_job import (
    COLUMN_DTYPES,
    COLUMNS,
    MeasureReport,
    add_catalogue_columns,
    check_keep_columns,
    results_table,
)
from galaxyscope.measure.api import BAR_METHODS
from galaxyscope.saliency.methods import DEFAULT_METHOD, DEFAULT_SAMPLES, default_noise

_KIND = {str: "str", float: "float", int: "int", bool: "bool"}
#: the measure rows' Parquet columns (the results table's, in order)
MEASURE_COLUMNS: tuple[tuple[str, str], ...] = tuple((c, _KIND[t]) for c, t in zip(COLUMNS, COLUMN_DTYPES))


@dataclass(frozen=True)
class MeasureWork:
    """Everything a worker needs to measure images like `measure_dataset` does (it pickles).

    ``model_sha256`` is the checkpoint the client planned with (`jobs.common.work_sha256`: with
    the bar-evidence companion's when the attribution explains it): a worker that finds another
    file at ``model_path`` (or another companion) refuses to go on. ``device``, ``threads`` and the cache are how
    the work runs, not what it gives, so they stay out of `fingerprint`.
    ``keep``: catalogue columns (name, kind) copied into each Parquet row.
    """

    model_path: str
    model_sha256: str
    methods: tuple[str, ...] = BAR_METHODS
    attribution: str = DEFAULT_METHOD
    n_samples: int = DEFAULT_SAMPLES
    noise: float | None = None  # None: the attribution's own (default_noise)
    target: str | None = None
    min_bar_probability: float | None = None
    check_agreement: bool = True
    framing: str = "model"
    keep: tuple[tuple[str, str], ...] = ()
    device: str | None = None
    threads: int = 1
    use_cache: bool = True
    cache_root: str | None = None
    name: str = field(default="measure", init=False)

    def __post_init__(self) -> None:
        if self.noise is None:  # the fingerprint names the noise used, not "default"
            object.__setattr__(self, "noise", default_noise(self.attribution))

    @property
    def columns(self) -> tuple[tuple[str, str], ...]:
        return MEASURE_COLUMNS[:1] + self.keep + MEASURE_COLUMNS[1:]

    def fingerprint(self) -> dict[str, Any]:
        return {"model": self.model_sha256, "methods": list(self.methods), "attribution": self.attribution,
                "n_samples": self.n_samples, "noise": self.noise, "target": self.target,
                "min_bar_probability": self.min_bar_probability, "check_agreement": self.check_agreement,
                "framing": self.framing, "keep": [list(k) for k in self.keep], "calibrate_lengths": True}

    def setup(self) -> tuple[Callable[[str, Any], list[dict]], list[ImageReadError]]:
        """Load the model once in this process (threads first) and build the per-image function."""
        from galaxyscope.jobs.common import set_torch_threads, worker_model
        from galaxyscope.jobs.measure_job import image_measurer, image_regressor

        set_torch_threads(self.threads)
        model = worker_model(self.model_path, self.device, self.attribution, self.model_sha256)
        if self.framing != "model":
            from galaxyscope.model.framing import set_framing

            set_framing(model, self.framing)
        failures: list[ImageReadError] = []
        if getattr(model.meta, "task", "classify") == "regress":
            return image_regressor(model, self.target), failures
        cache = None
        if self.use_cache:
            from galaxyscope.saliency.cache import SaliencyCache

            cache = SaliencyCache(self.cache_root)
        fn, _ = image_measurer(model, failures, methods=self.methods, attribution=self.attribution,
                               n_samples=self.n_samples, noise=self.noise, target=self.target, cache=cache,
                               min_bar_probability=self.min_bar_probability,
                               check_agreement=self.check_agreement)
        return fn, failures

    def rows(self, state, key: str, image) -> list[dict[str, Any]]:
        fn, failures = state
        failures.clear()
        try:
            rows = fn(key, image)
        finally:
            errors = [{"filename": key, "error": f.reason, "error_path": str(f.path)} for f in failures]
            failures.clear()
        meta = getattr(image, "meta", None) or {}
        for r in rows:
            for name, _ in self.keep:
                r[name] = meta.get(name)
        return rows + errors


def keep_kinds(image_set, keep_columns) -> tuple[tuple[str, str], ...]:
    """(name, Parquet kind) of each kept catalogue column, from its dtype."""
    out = []
    for name in keep_columns:
        dt = np.asarray(image_set.catalogue[name]).dtype
        kind = ("bool" if dt.kind == "b" else "int" if dt.kind in "iu" else "float" if dt.kind == "f" else "str")
        out.append((name, kind))
    return tuple(out)


def measure_distributed(image_set, model, work: MeasureWork, dataset: str, folder: str | Path, *,
                        client=None, partition_size: int = 16, keep_columns=(),
                        read_limits: ReadLimits | None = ReadLimits(), progress=None,
                        cancel=None) -> tuple[MeasureReport, RunReport]:
    """Run ``work`` over ``image_set`` in partitions (`run_partitions`) and gather the results
    into the same `MeasureReport` that `measure_dataset` returns."""
    check_keep_columns(image_set, keep_columns)
    run = run_partitions(work, dataset, folder, client=client, image_set=image_set,
                         partition_size=partition_size, read_limits=read_limits, progress=progress,
                         cancel=cancel)
    return gather_measure(run, image_set, model, work, keep_columns), run


def gather_measure(run: RunReport, image_set, model, work: MeasureWork, keep_columns=()) -> MeasureReport:
    """The partitions' rows as the results table (row order: the set's), errors as failures."""
    from astropy.table import Table

    rows = read_partitions(run.paths()).to_pylist() if run.partitions else []
    failures: list[ImageReadError] = []
    result_rows: list[dict] = []
    for r in rows:
        if r.get("error"):
            failures.append(ImageReadError(r.get("error_path") or r["filename"], r["error"]))
        else:
            result_rows.append({c: _value(r[c]) for c in COLUMNS})
    if getattr(model.meta, "task", "classify") == "regress":
        table = Table(rows=result_rows, names=COLUMNS) if result_rows else Table(names=COLUMNS)
        table.meta["model_sha256"] = getattr(model, "sha256", "")
        idx = model.output_index(work.target if work.target is not None else 0)
        table.meta["regressed_column"] = model.meta.output_names[idx]
    else:
        from galaxyscope.jobs.measure_job import model_min_bar_probability

        threshold = (model_min_bar_probability(model) if work.min_bar_probability is None
                     else float(work.min_bar_probability))
        table = results_table(result_rows, model, threshold=threshold, attribution=work.attribution,
                              n_samples=work.n_samples, noise=work.noise)
    report = MeasureReport(table=table, failures=failures + list(image_set.failures), n_images=len(image_set))
    return add_catalogue_columns(report, image_set, keep_columns)


def _value(v: Any) -> Any:
    """Parquet nulls back to the table's missing values (NaN for floats; the rest as read)."""
    return float("nan") if v is None else v
