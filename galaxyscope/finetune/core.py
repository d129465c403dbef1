"""Improve a model from the annotation database: gather the labels of a dataset's images,
hold some out, fine-tune on the rest, compare base and fine-tuned on the held-out ones,
save the new model and record it as a version in the database.

Why a package of its own: it joins the store (labels, versions), the model (training),
the saliency and measurement (bar lengths) and the evaluation (bootstrap intervals),
so it sits above all of them, and the window's "Improve model" action and
``galaxyscope finetune`` call the same `finetune_from_database`.

Honesty of the before/after numbers: the held-out images (``test_fraction``, split by
image and stratified by bar / no bar, seeded) are used neither for training nor for
early stopping; the early-stopping share comes out of the training images.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from galaxyscope.errors import GalaxyscopeError, ImageReadError
from galaxyscope.model.finetune_config import FinetuneConfig
from galaxyscope.progress import CancelCheck, Progress, raise_if_cancelled

Log = Callable[[str], None]


@dataclass(frozen=True)
class FinetuneSettings(FinetuneConfig):
    """Everything a fine-tuning run needs besides its data: the model side (`FinetuneConfig`,
    inherited) and the report's.

    test_fraction: share of the labelled images held out for the before/after report (0: none).
    n_samples: SmoothGrad samples per image when the report measures bar lengths.
    length_method: the bar method the report measures lengths with.
    min_images: fewest labelled images worth fine-tuning on.
    """

    test_fraction: float = 0.25
    n_samples: int = 16
    length_method: str = "moments"
    n_resamples: int = 2000
    min_images: int = 8

    def config(self) -> FinetuneConfig:
        """The model-side part alone."""
        return FinetuneConfig(**{f.name: getattr(self, f.name) for f in fields(FinetuneConfig)})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ---------------------------------------------------------------------- labels


@dataclass
class LabelledSet:
    """A dataset's labelled images: ``rows`` are entry indices of ``images`` (an ImageSet),
    row-aligned with ``examples`` (`model.finetune.LabelledImage`)."""

    images: Any
    rows: list[int]
    examples: list[Any]

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def n_bar(self) -> int:
        return sum(e.has_bar for e in self.examples)


def gather_labels(store: Any, dataset: str | Path | Any) -> LabelledSet:
    """Every image of ``dataset`` (a folder / catalogue path, or an ImageSet) that someone
    labelled in ``store``, with the labels combined per image: the vote is the share of
    annotators who see a bar, the lines are every bar-sayer's lines, the length the
    median of their lengths."""
    from galaxyscope.images.identity import image_key
    from galaxyscope.images.imageset import ImageSet
    from galaxyscope.model.finetune import LabelledImage

    images = ImageSet.open(dataset) if isinstance(dataset, (str, Path)) else dataset
    ids = {rec.path: rec.id for rec in store.images()}
    entry_ids = [(i, ids.get(image_key(e.path))) for i, e in enumerate(images.entries)]
    said = store.image_labels([image_id for _, image_id in entry_ids if image_id is not None])
    rows, examples = [], []
    for i, image_id in entry_ids:
        says = said.get(image_id) if image_id is not None else None
        if not says:
            continue
        bar_sayers = [a for a in says if a.has_bar]
        lines = tuple((b.x1, b.y1, b.x2, b.y2, None if w is None else w.length_px)
                      for a in bar_sayers for b, w in a.lines)
        lengths = [a.length_px for a in bar_sayers if a.length_px is not None]
        uids = tuple(u for a in says for u in ((a.label_uid,) if a.label_uid else ()) + a.annotation_uids)
        rows.append(i)
        examples.append(LabelledImage(key=image_key(images.entries[i].path), vote=len(bar_sayers) / len(says),
                                      lines=lines, length_px=statistics.median(lengths) if lengths else None,
                                      uids=uids))
    return LabelledSet(images, rows, examples)


# ---------------------------------------------------------------------- scoring and comparing


@dataclass(frozen=True)
class ModelScores:
    """A model's P(bar) for each image, and its measured bar length (NaN where not measured)."""

    probability: np.ndarray
    length_px: np.ndarray


def score_model(model: Any, images: Sequence[Any], *, measure: Sequence[bool] | None = None,
                output: str | None = None, n_samples: int = 16, method: str = "moments",
                progress: Progress | None = None, cancel: CancelCheck | None = None) -> ModelScores:
    """P(bar) of every image; where ``measure`` is True also the bar length from the
    SmoothGrad map (the raw blob length of ``method``: no gate, no calibration, since
    rank agreement is what is compared)."""
    from galaxyscope.measure import measure_bar
    from galaxyscope.saliency.attributions import compute_saliency

    idx = model.output_index(output)
    n = len(images)
    prob = np.full(n, np.nan)
    length = np.full(n, np.nan)
    want = [False] * n if measure is None else list(measure)
    for i, image in enumerate(images):
        raise_if_cancelled(cancel, "scoring cancelled")
        if want[i]:
            sal = compute_saliency(model, image, target=idx, n_samples=n_samples)
            prob[i] = sal.score.probability if sal.score.probability is not None else np.nan
            try:
                m = measure_bar(sal.map, method, **model.preprocessing.measure_kwargs(image))
                length[i] = m.length_px if m.length_px is not None else np.nan
            except GalaxyscopeError:
                pass
        else:
            prob[i] = float(model.predict([image])[0, idx])
        if progress is not None:
            progress(i + 1, n)
    return ModelScores(prob, length)


@dataclass(frozen=True)
class Comparison:
    """Base against fine-tuned on held-out labelled images, each number with its 95 %
    bootstrap interval; the gains are paired (the same resampled images for both)."""

    n_images: int
    n_bar: int
    n_lengths: int
    auc_base: Any  # evaluate.classification.Estimate
    auc_tuned: Any
    auc_gain: Any
    rho_base: Any
    rho_tuned: Any
    rho_gain: Any

    def lines(self) -> list[str]:
        """The report, for people."""
        return [
            f"held-out labelled images: {self.n_images} ({self.n_bar} bar), {self.n_lengths} with a "
            "bar length from the annotators",
            f"P(bar) AUC      base {self.auc_base.format()}   fine-tuned {self.auc_tuned.format()}   "
            f"gain {self.auc_gain.format()}",
            f"length rho      base {self.rho_base.format()}   fine-tuned {self.rho_tuned.format()}   "
            f"gain {self.rho_gain.format()}",
        ]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"n_images": self.n_images, "n_bar": self.n_bar, "n_lengths": self.n_lengths}
        for name in ("auc_base", "auc_tuned", "auc_gain", "rho_base", "rho_tuned", "rho_gain"):
            e = getattr(self, name)
            out[name] = {"value": e.value, "low": e.low, "high": e.high, "n": e.n}
        return out


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    from scipy import stats

    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return math.nan
    return float(stats.spearmanr(a, b).statistic)


def paired_estimates(metric: Callable[[np.ndarray], float], n: int, *, n_resamples: int, seed: int,
                     confidence: float = 0.95) -> tuple[Any, Any, Any]:
    """``metric(rows)`` returns (base value, tuned value) for a set of row indices; the
    bootstrap resamples rows once per draw for both, so the gain's interval is paired."""
    from galaxyscope.evaluate.classification import Estimate

    full = np.arange(n)
    base, tuned = metric(full)
    rng = np.random.default_rng(seed)
    draws = np.full((n_resamples, 2), np.nan)
    for k in range(n_resamples):
        draws[k] = metric(rng.integers(0, n, n))

    def est(value: float, d: np.ndarray) -> Any:
        d = d[np.isfinite(d)]
        if not math.isfinite(value) or d.size < n_resamples // 2:
            return Estimate(value if math.isfinite(value) else math.nan, math.nan, math.nan, n)
        a = (1 - confidence) / 2
        lo, hi = np.quantile(d, [a, 1 - a])
        return Estimate(value, float(lo), float(hi), n)

    return est(base, draws[:, 0]), est(tuned, draws[:, 1]), est(tuned - base, draws[:, 1] - draws[:, 0])


def compare_scores(base: ModelScores, tuned: ModelScores, labels: np.ndarray, reference_length: np.ndarray, *,
                   n_resamples: int = 2000, seed: int = 0) -> Comparison:
    """AUC of P(bar) against ``labels`` and Spearman rho of the measured lengths against
    ``reference_length`` (NaN: no reference), base and fine-tuned, with paired intervals."""
    from galaxyscope.model.val_metrics import binary_auc

    y = np.asarray(labels, bool)
    pb, pt = np.asarray(base.probability, float), np.asarray(tuned.probability, float)

    def auc(rows: np.ndarray) -> tuple[float, float]:
        yy = y[rows]
        if yy.all() or not yy.any():
            return math.nan, math.nan
        return float(binary_auc(pb[rows], yy)), float(binary_auc(pt[rows], yy))

    ref = np.asarray(reference_length, float)
    lb, lt = np.asarray(base.length_px, float), np.asarray(tuned.length_px, float)
    keep = np.flatnonzero(np.isfinite(ref) & np.isfinite(lb) & np.isfinite(lt))

    def rho(rows: np.ndarray) -> tuple[float, float]:
        r = keep[rows]
        return _spearman(lb[r], ref[r]), _spearman(lt[r], ref[r])

    a = paired_estimates(auc, len(y), n_resamples=n_resamples, seed=seed)
    r = paired_estimates(rho, len(keep), n_resamples=n_resamples, seed=seed + 1)
    return Comparison(len(y), int(y.sum()), int(len(keep)), *a, *r)


# ---------------------------------------------------------------------- the whole run


@dataclass
class FinetuneOutcome:
    """What `finetune_from_database` made: the model (saved at ``out``), how training went,
    the before/after comparison (None without held-out images) and the version recorded."""

    model: Any
    train: Any  # model.training.TrainResult
    comparison: Comparison | None
    out: Path
    sha256: str
    version: Any  # store.records.ModelVersionRecord
    n_train: int
    n_test: int
    seconds: dict[str, float] = field(default_factory=dict)

    def summary(self) -> str:
        lines = [self.train.summary()]
        labelled = (self.model.meta.metrics or {}).get("finetune", {}).get("settings", {}).get("label_outputs")
        bar = list(labelled) if labelled else [self.model.meta.output_names[self.model.output_index(None)]]
        others = [n for n in self.model.meta.output_names if n not in bar]
        if others:
            lines.append(f"({', '.join(others)} learnt the base model's own predictions, so their validation "
                         "numbers above compare with those, not with labels)")
        lines.append(f"fine-tuned on {self.n_train} labelled images ({self.train.n_val} of them for early "
                     f"stopping); {self.n_test} held out")
        if self.comparison is not None:
            lines += self.comparison.lines()
        else:
            lines.append("no held-out images: no before/after comparison (--test-fraction 0)")
        t = self.seconds
        lines.append(f"time: reading {t.get('read', 0):.1f} s, training {t.get('train', 0):.1f} s, "
                     f"comparing {t.get('compare', 0):.1f} s")
        lines.append(f"wrote {self.out} (sha256 {self.sha256[:12]}...), recorded as model version "
                     f"{self.version.name!r} (id {self.version.id})")
        return "\n".join(lines)


class _Stages:
    """One progress bar over several stages, each given a share of the whole."""

    def __init__(self, progress: Progress | None, weights: dict[str, float]) -> None:
        self.progress = progress
        total = sum(weights.values())
        self.spans: dict[str, tuple[float, float]] = {}
        start = 0.0
        for name, w in weights.items():
            self.spans[name] = (start / total, w / total)
            start += w

    def of(self, stage: str) -> Progress:
        lo, share = self.spans[stage]

        def update(done: int, total: int) -> None:
            if self.progress is not None and total > 0:
                self.progress(int(round(1000 * (lo + share * min(done, total) / total))), 1000)
        return update


def finetune_from_database(dataset: str | Path | Any, store: Any, base: Any, out: str | Path,
                           settings: FinetuneSettings = FinetuneSettings(), *, name: str | None = None,
                           note: str | None = None, progress: Progress | None = None,
                           cancel: CancelCheck | None = None, log: Log | None = None) -> FinetuneOutcome:
    """Fine-tune ``base`` (a LoadedModel or a model path) on the labels ``store`` (an
    AnnotationStore or a database path) holds for ``dataset``'s images; write the new
    model to ``out`` (.safetensors), record it in the database and return the outcome.

    ``progress(done, 1000)`` covers the whole run (reading, training, comparing);
    ``cancel()`` is polled throughout (`CancelledError`; nothing is written then).
    The window runs this in a worker thread.
    """
    from galaxyscope.model.checkpoint import carry_bar_evidence, load_checkpoint, save_checkpoint
    from galaxyscope.model.finetune import build_finetune_data, finetune_model, split_examples
    from galaxyscope.model.trainset import TrainingDataError
    from galaxyscope.store.annotation_store import AnnotationStore

    say = log or (lambda _m: None)
    out = Path(out)
    if out.suffix != ".safetensors":
        raise GalaxyscopeError(f"{out}: the new model file must end in .safetensors")
    if not out.parent.is_dir():
        raise GalaxyscopeError(f"{out}: folder {out.parent} does not exist")
    if not 0 <= settings.test_fraction < 1:
        raise GalaxyscopeError("the held-out share (test fraction) must be in [0, 1)")
    own_store = not isinstance(store, AnnotationStore)
    db = AnnotationStore(store) if own_store else store
    try:
        model = load_checkpoint(base, device=settings.device) if isinstance(base, (str, Path)) else base
        if model.path and Path(model.path).resolve() == out.resolve():
            raise GalaxyscopeError(f"{out}: that is the base model's own file; write the fine-tuned model "
                                   "to another file (every version stays loadable)")
        stages = _Stages(progress, {"read": 1.0, "train": 6.0, "compare": 2.0 if settings.test_fraction else 0.0})
        t0 = time.perf_counter()
        labelled = gather_labels(db, dataset)
        if len(labelled) < settings.min_images:
            raise TrainingDataError(
                f"only {len(labelled)} labelled images of {dataset} in {db.path} (need at least "
                f"{settings.min_images}): label more in the window (draw the bar, or say 'no bar') or import a table")
        if labelled.n_bar == 0 or labelled.n_bar == len(labelled):
            raise TrainingDataError(f"all {len(labelled)} labelled images are "
                                    f"{'bars' if labelled.n_bar else 'without a bar'}: fine-tuning needs both")
        images = []
        read = stages.of("read")
        kept_rows, kept_examples = [], []
        for k, (row, example) in enumerate(zip(labelled.rows, labelled.examples)):
            raise_if_cancelled(cancel, "fine-tuning cancelled; nothing was written")
            try:
                images.append(labelled.images[row])
            except ImageReadError as err:  # a labelled file that went bad: left out, said so
                say(f"left out: {err}")
            else:
                kept_rows.append(row)
                kept_examples.append(example)
            read(k + 1, len(labelled.rows))
        labelled = LabelledSet(labelled.images, kept_rows, kept_examples)
        if len(labelled) < settings.min_images:
            raise TrainingDataError(f"only {len(labelled)} labelled images of {dataset} could be read "
                                    f"(need at least {settings.min_images})")
        split = split_examples(labelled.examples, settings.test_fraction, settings.seed)
        say(f"{len(labelled)} labelled images ({labelled.n_bar} bar): {len(split.train)} to train on, "
            f"{len(split.test)} held out")
        train_rows = list(split.train)
        data = build_finetune_data([images[i] for i in train_rows], [labelled.examples[i] for i in train_rows],
                                   model, label_outputs=settings.label_outputs,
                                   width_fraction=settings.width_fraction, cancel=cancel)
        t1 = time.perf_counter()
        result = finetune_model(data, model, settings.config(), progress=stages.of("train"), cancel=cancel, log=say)
        t2 = time.perf_counter()
        comparison = None
        if len(split.test):
            test = [int(i) for i in split.test]
            comparison = compare_on(model, result.model, [images[i] for i in test],
                                    [labelled.examples[i] for i in test], settings,
                                    progress=stages.of("compare"), cancel=cancel)
            for line in comparison.lines():
                say(line)
        t3 = time.perf_counter()
        raise_if_cancelled(cancel, "fine-tuning cancelled; nothing was written")
        result.model.meta.metrics = dict(result.model.meta.metrics or {})
        result.model.meta.metrics["finetune"] = {
            "base_sha256": model.sha256, "settings": settings.to_dict(),
            "n_labelled": len(labelled), "n_train": len(split.train), "n_test": len(split.test),
            "comparison": comparison.to_dict() if comparison is not None else None}
        carry_bar_evidence(model, result.model, out)
        digest = save_checkpoint(result.model, out)
        used = {"train": sorted(u for i in split.train for u in labelled.examples[int(i)].uids),
                "test": sorted(u for i in split.test for u in labelled.examples[int(i)].uids)}
        version = db.add_model_version(
            out, sha256=digest, base_sha256=model.sha256 or None, base_path=model.path, dataset=_dataset_path(dataset),
            name=name, n_train=len(split.train), n_test=len(split.test), annotations=used,
            metrics={"comparison": comparison.to_dict() if comparison is not None else None,
                     "best_epoch": result.best_epoch, "epochs_run": len(result.history),
                     "validation": result.best.to_dict() if result.best is not None else None},
            params=settings.to_dict(), note=note)
        return FinetuneOutcome(result.model, result, comparison, out, digest, version, len(split.train),
                               len(split.test), {"read": t1 - t0, "train": t2 - t1, "compare": t3 - t2})
    finally:
        if own_store:
            db.close()


def _dataset_path(dataset: Any) -> str | None:
    if isinstance(dataset, (str, Path)):
        return str(dataset)
    root = getattr(dataset, "root", None)
    return None if root is None else str(root)


def compare_on(base: Any, tuned: Any, images: Sequence[Any], examples: Sequence[Any],
               settings: FinetuneSettings = FinetuneSettings(), *, progress: Progress | None = None,
               cancel: CancelCheck | None = None) -> Comparison:
    """Score both models on labelled images and compare them (`compare_scores`); lengths are
    measured only where the annotators gave one."""
    from galaxyscope.model.finetune import label_output_names

    output = label_output_names(base, settings.label_outputs)[0]
    measure = [e.has_bar and e.length_px is not None for e in examples]
    half = (lambda d, t: progress(d, 2 * t)) if progress else None
    rest = (lambda d, t: progress(t + d, 2 * t)) if progress else None
    sb = score_model(base, images, measure=measure, output=output, n_samples=settings.n_samples,
                     method=settings.length_method, progress=half, cancel=cancel)
    st = score_model(tuned, images, measure=measure, output=output, n_samples=settings.n_samples,
                     method=settings.length_method, progress=rest, cancel=cancel)
    labels = np.array([e.has_bar for e in examples], bool)
    ref = np.array([e.length_px if (e.has_bar and e.length_px is not None) else np.nan for e in examples], float)
    return compare_scores(sb, st, labels, ref, n_resamples=settings.n_resamples, seed=settings.seed)


def load_version(version: Any, device: str | None = None) -> Any:
    """The model of a recorded version (`store.records.ModelVersionRecord`), after checking
    that its file is still there and unchanged (same SHA-256 as recorded).

    Why: the window switches models by version; a moved or overwritten file must say so
    instead of silently loading other weights under the version's name.
    """
    from galaxyscope.errors import ModelLoadError
    from galaxyscope.model.checkpoint import file_sha256, load_checkpoint

    path = Path(version.path)
    if not path.is_file():
        raise ModelLoadError(path, f"model version {version.name!r} is recorded here, but the file is gone")
    digest = file_sha256(path)
    if digest != version.sha256:
        raise ModelLoadError(path, f"model version {version.name!r}: the file changed since it was recorded "
                                   f"(sha256 {digest[:12]}..., recorded {version.sha256[:12]}...)")
    return load_checkpoint(path, device=device)
