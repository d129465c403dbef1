"""Measure bars over a whole image set: saliency once per image, then each bar method.

The table it returns is what `galaxyscope measure` writes and what `evaluate`
reads: one row per image and method.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
from astropy.table import Column, MaskedColumn, Table

from galaxyscope.errors import CancelledError, GalaxyscopeError, ImageReadError
from galaxyscope.images.guarded_read import ReadLimits
from galaxyscope.images.identity import redshift_of
from galaxyscope.measure.api import BAR_METHODS
from galaxyscope.measure.calibration import calibrate
from galaxyscope.measure.orientation import sky_position_angle
from galaxyscope.saliency.methods import DEFAULT_METHOD, DEFAULT_SAMPLES, default_noise

#: every batch read is guarded (time limit, declared-size cap) unless told otherwise
READ_LIMITS_DEFAULT = ReadLimits()

COLUMNS = (
    "filename", "method", "bar_length_px", "bar_length_raw_px", "bar_width_px", "bar_pa_deg", "bar_pa_sky_deg", "bar_score", "bar_logit",
    "bar_length_arcsec", "bar_length_kpc", "length_err_px", "threshold", "n_pixels",
    "x1", "y1", "x2", "y2", "flags", "reasons", "framing", "crop_x0", "crop_y0", "crop_side_px",
)
#: column types, in COLUMNS order (an empty table keeps them)
COLUMN_DTYPES = [str, str] + [float] * 11 + [int] + [float] * 4 + [str, str, str, int, int, int]


@dataclass
class MeasureReport:
    """The results table plus the files that could not be measured (with reasons)."""

    table: Table
    failures: list[ImageReadError] = field(default_factory=list)
    n_images: int = 0


def _or_nan(value: float | None) -> float:
    return float("nan") if value is None else float(value)


def _quantity_value(q, unit: str) -> float:
    if q is None:
        return float("nan")
    return float(q.to_value(unit))


def measurement_row(key: str, method: str, m, score_prob: float, score_logit: float,
                    pixel_scale, redshift, framing: str = "", box: tuple[int, int, int, int] | None = None,
                    wcs: Any = None, raw_length_px: float | None = None) -> dict:
    """One table row from a BarMeasurement (units attached where known).

    ``bar_length_px`` is calibrated where the model carries a length calibration
    (`measure.calibration`); ``bar_length_raw_px`` is the saliency blob's own length.
    ``bar_pa_deg`` is the angle in the image (from +x towards +y); ``bar_pa_sky_deg`` the
    same bar east of north through the image's WCS (NaN without one).

    framing / box: how the network saw the image (``Preprocessing.describe_box`` and
    ``box_for``), recorded in every row so a result can be traced to its crop."""
    r0, _, c0, c1 = box if box is not None else (-1, -1, -1, -1)
    units = m.with_units(pixel_scale, redshift)
    (x1, y1), (x2, y2) = m.endpoints if m.endpoints is not None else ((np.nan, np.nan), (np.nan, np.nan))
    return {
        "filename": key,
        "method": method,
        "bar_length_px": float(m.length_px),
        "bar_length_raw_px": float(m.length_px if raw_length_px is None else raw_length_px),
        "bar_width_px": float(m.width_px),
        "bar_pa_deg": float(m.pa_deg),
        "bar_pa_sky_deg": _or_nan(sky_position_angle(m.endpoints, wcs)),
        "bar_score": float(score_prob),
        "bar_logit": float(score_logit),
        "bar_length_arcsec": _quantity_value(getattr(units, "length_arcsec", None), "arcsec"),
        "bar_length_kpc": _quantity_value(getattr(units, "length_kpc", None), "kpc"),
        "length_err_px": float(m.length_err_px),
        "threshold": float(m.threshold),
        "n_pixels": int(m.n_pixels),
        "x1": float(x1), "y1": float(y1), "x2": float(x2), "y2": float(y2),
        "flags": ",".join(m.flags),
        "reasons": "; ".join(getattr(m, "notes", ())),
        "framing": framing,
        "crop_x0": int(c0), "crop_y0": int(r0), "crop_side_px": int(c1 - c0) if box is not None else -1,
    }


def measure_dataset(
    image_set,
    model,
    *,
    methods: Sequence[str] = BAR_METHODS,
    attribution: str = DEFAULT_METHOD,
    n_samples: int = DEFAULT_SAMPLES,
    noise: float | None = None,
    target: str | None = None,
    cache=None,
    options: dict | None = None,
    keep_columns: Sequence[str] = (),
    min_bar_probability: float | None = None,
    calibrate_lengths: bool = True,
    check_agreement: bool = True,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    on_rows: Callable[[list[dict]], None] | None = None,
    read_limits=READ_LIMITS_DEFAULT,
) -> MeasureReport:
    """Saliency + bar measurement for every readable image of ``image_set``.

    Every saliency length goes through ``measure.trust``: below ``min_bar_probability``
    (default: the model's own, see ``model_min_bar_probability``) it becomes NaN with
    the flag ``no_bar``; images unlike the training set get ``out_of_domain``; with
    ``check_agreement`` the training-free isophote length is measured too and a
    saliency length it contradicts gets ``methods_disagree``. Method "isophote" adds
    that length as its own row.

    ``keep_columns`` are catalogue columns copied into every row after ``filename``
    (e.g. SDSS ``dr7objid``, exact), so results join to other catalogues by id.

    ``calibrate_lengths``: put saliency lengths on the tip-to-tip scale with the model's
    stored calibration (``ModelMeta.length_calibration``; none stored: raw lengths).

    ``options`` maps a bar method name to its parameters (PaperParams /
    MomentsParams), e.g. the GUI's current slider values; otherwise the settings the model's
    calibration for this attribution was fitted with (`measuring_params`), else the defaults.

    Bad files are skipped and listed in the report's failures; so is an image on which any
    step fails unexpectedly (the reason names the error): nothing else stops the batch
    except ``cancel``. ``on_rows`` gets each image's rows as soon as they exist (the CLI
    appends them to a partial file, so a killed run keeps what it finished).
    ``read_limits`` (`ReadLimits`): each image read runs under a time limit and a cap
    on the pixels its header declares; one over either is a skipped image (None: off).
    """
    check_keep_columns(image_set, keep_columns)
    noise = default_noise(attribution) if noise is None else noise  # the table records the number used
    if getattr(model.meta, "task", "classify") == "regress":
        report = _regress_dataset(image_set, model, target=target, progress=progress, cancel=cancel,
                                  on_rows=on_rows, read_limits=read_limits)
        return add_catalogue_columns(report, image_set, keep_columns)
    failures: list[ImageReadError] = []
    measure_one, threshold = image_measurer(
        model, failures, methods=methods, attribution=attribution, n_samples=n_samples, noise=noise,
        target=target, cache=cache, options=options, min_bar_probability=min_bar_probability,
        calibrate_lengths=calibrate_lengths, check_agreement=check_agreement)
    rows = rows_of_each(image_set, measure_one, failures, on_rows=on_rows, progress=progress, cancel=cancel,
                        read_limits=read_limits)
    table = results_table(rows, model, threshold=threshold, attribution=attribution, n_samples=n_samples,
                          noise=noise)
    report = MeasureReport(table=table, failures=failures + list(image_set.failures), n_images=len(image_set))
    return add_catalogue_columns(report, image_set, keep_columns)


def results_table(rows: list[dict], model, *, threshold: float, attribution: str, n_samples: int,
                  noise: float) -> Table:
    """The results table of saliency rows, with the run's settings in its meta.

    Why its own function: the single-process batch and the distributed one
    (`jobs.distributed_measure`, gathering Parquet partitions) must write the same table.
    """
    table = Table(rows=rows, names=COLUMNS) if rows else Table(names=COLUMNS, dtype=COLUMN_DTYPES)
    table.meta["min_bar_probability"] = threshold
    table.meta["framing"] = model.preprocessing.framing
    table.meta["attribution"] = attribution
    table.meta["n_samples"] = n_samples
    table.meta["noise"] = noise
    table.meta["model_sha256"] = getattr(model, "sha256", "")
    return table


def image_measurer(
    model,
    failures: list[ImageReadError],
    *,
    methods: Sequence[str] = BAR_METHODS,
    attribution: str = DEFAULT_METHOD,
    n_samples: int = DEFAULT_SAMPLES,
    noise: float | None = None,
    target: str | None = None,
    cache=None,
    options: dict | None = None,
    min_bar_probability: float | None = None,
    calibrate_lengths: bool = True,
    check_agreement: bool = True,
) -> tuple[Callable[[str, Any], list[dict]], float]:
    """``(measure_one, threshold)``: ``measure_one(key, image)`` gives one image's rows (see
    `measure_dataset`); a bar method failing on it is appended to ``failures``.

    Why a factory: every path that measures one image (this process's batch, a Dask
    worker's partition) runs this same function, so their results are identical.
    """
    from galaxyscope.measure import measure_bar
    from galaxyscope.model.domain import domain_reasons
    from galaxyscope.saliency.attributions import compute_saliency

    pre = model.preprocessing
    threshold = model_min_bar_probability(model) if min_bar_probability is None else float(min_bar_probability)
    saliency_methods = [m for m in methods if m != "isophote"]
    want_isophote = "isophote" in methods or (check_agreement and bool(saliency_methods))
    noise = default_noise(attribution) if noise is None else noise

    def measure_one(key: str, image) -> list[dict]:
        image_rows: list[dict] = []
        box = pre.box_for(image)
        framing = pre.describe_box(image)
        redshift = redshift_of(image.meta)
        iso = None
        if want_isophote:
            from galaxyscope.measure.isophote import measure_isophote

            iso = measure_isophote(image)
        # the saliency also gives P(bar), which the isophote rows are checked against
        kwargs = dict(method=attribution, target=target, n_samples=n_samples, noise=noise)
        if cache is not None:
            sal = cache.get_or_compute(model, image, **kwargs)
        else:
            sal = compute_saliency(model, image, **kwargs)
        prob = sal.score.probability if sal.score.probability is not None else float("nan")
        logit = sal.score.logit
        ood = domain_reasons(model, image)
        geometry = pre.measure_kwargs(image)
        for method in methods:
            if method == "isophote":
                image_rows.append(measurement_row(
                    key, method, isophote_checked(iso.measurement, prob, threshold), prob, logit,
                    image.pixel_scale, redshift, framing="isophote (no network)", box=None, wcs=image.wcs))
                continue
            try:
                opts = (options or {}).get(method)
                if opts is None:
                    opts = measuring_params(model, method, attribution)
                m = measure_bar(sal.map, method, options=opts, **geometry)
            except GalaxyscopeError as exc:
                failures.append(ImageReadError(image.path or key, f"{method}: {exc}"))
                continue
            raw = m.length_px
            m = assess(m, prob, threshold, ood, iso if check_agreement else None,
                       calibration=length_calibration(model, method, attribution) if calibrate_lengths else None,
                       params=opts)
            image_rows.append(measurement_row(key, method, m, prob, logit, image.pixel_scale, redshift,
                                              framing=framing, box=box, wcs=image.wcs, raw_length_px=raw))
        return image_rows

    return measure_one, threshold


def guarded(image, key: str, failures: list[ImageReadError], work: Callable[[], list[dict]]) -> list[dict]:
    """``work()``'s rows, or none with the reason appended to ``failures``.

    Why: one odd image (a 1-pixel frame, a map a method cannot handle) must cost its
    own rows only, never the batch. Cancelling still stops everything.
    """
    try:
        return work()
    except CancelledError:
        raise
    except GalaxyscopeError as exc:
        failures.append(exc if isinstance(exc, ImageReadError) else ImageReadError(image.path or key, str(exc)))
    except Exception as exc:  # noqa: BLE001 - reported per image with its type, never silent
        text = " ".join(str(exc).split())[:200]
        failures.append(ImageReadError(image.path or key,
                                       f"could not be measured ({type(exc).__name__}: {text or 'no message'})"))
    return []


def rows_of_each(image_set, work: Callable[[str, Any], list[dict]], failures: list[ImageReadError], *,
                 on_rows: Callable[[list[dict]], None] | None = None, progress=None, cancel=None,
                 read_limits=READ_LIMITS_DEFAULT) -> list[dict]:
    """``work(key, image)``'s rows for every readable image, each under `guarded`; ``on_rows``
    gets each image's rows as they come (the partial file of a batch)."""
    rows: list[dict] = []
    for i, image in image_set.iter_images(progress=progress, cancel=cancel, limits=read_limits):
        key = image_set.entries[i].key
        image_rows = guarded(image, key, failures, lambda: work(key, image))
        rows.extend(image_rows)
        if on_rows is not None and image_rows:
            on_rows(image_rows)
    return rows


def length_calibration(model, method: str, attribution: str):
    """The model's stored calibration of ``method``'s lengths on ``attribution``'s maps, or None
    (raw lengths): a calibration fitted on another attribution's maps does not apply."""
    find = getattr(getattr(model, "meta", None), "calibration", None)
    return find(method, attribution) if callable(find) else None


def measuring_params(model, method: str, attribution: str):
    """The parameters ``method`` measures ``attribution``'s maps with by default: those its
    stored calibration was fitted with (`LengthCalibration.settings`), else None (the library's)."""
    cal = length_calibration(model, method, attribution)
    return cal.params() if cal is not None and cal.settings else None


def model_min_bar_probability(model) -> float:
    """The P(bar) threshold stored with the model (chosen on validation data), else the default."""
    from galaxyscope.measure.trust import DEFAULT_MIN_BAR_PROBABILITY

    value = getattr(model.meta, "min_bar_probability", None)
    try:
        v = float(value) if value is not None else DEFAULT_MIN_BAR_PROBABILITY
    except (TypeError, ValueError):
        return DEFAULT_MIN_BAR_PROBABILITY
    return v if 0.0 <= v <= 1.0 else DEFAULT_MIN_BAR_PROBABILITY


def assess(m, probability: float, threshold: float, ood_reasons: Sequence[str], isophote=None,
           calibration=None, params=None):
    """Calibration, gate, domain and agreement flags on one saliency measurement (one rule
    for CLI and GUI).

    The length is calibrated first (`measure.calibration`; None: raw), so the agreement
    check compares tip-to-tip lengths; the P(bar) gate comes next: a withdrawn bar
    needs no agreement check."""
    from galaxyscope.measure import trust

    m = calibrate(m, calibration, params)  # params: what m was measured with (the note warns if not the calibration's)
    m = trust.gate_by_probability(m, probability, threshold)
    m = trust.mark_out_of_domain(m, ood_reasons)
    if isophote is not None:
        m = trust.check_agreement(m, isophote.measurement.length_px, isophote.reason)
    return m


def isophote_checked(m, probability: float, threshold: float):
    """The cross-check the other way round: an isophote bar where the network sees none
    (P(bar) below the threshold) is flagged ``methods_disagree``, not withdrawn: the
    isophotes are independent evidence, but not confirmed."""
    from galaxyscope.measure import trust

    if not m.ok or threshold <= 0 or not np.isfinite(probability) or probability >= threshold:
        return m
    return trust.with_flag(m, trust.METHODS_DISAGREE,
                           f"the network sees no bar (P = {probability:.2f} < {threshold:.2f})")


#: catalogue columns that identify a galaxy: the GUI's batch carries those present into its table
ID_COLUMNS = ("objid", "dr7objid", "dr8objid", "specobjid", "id", "name", "ra", "dec", "ra_deg", "dec_deg")


def identifier_columns(image_set) -> tuple[str, ...]:
    """The ID_COLUMNS the image set's catalogue has (none without a catalogue), in that order.

    Why: an exported table must join back to survey catalogues by id, not only by file name.
    """
    cat = getattr(image_set, "catalogue", None)
    if cat is None:
        return ()
    return tuple(c for c in ID_COLUMNS if c in cat.colnames and c not in COLUMNS)


def check_keep_columns(image_set, keep_columns: Sequence[str]) -> None:
    """Refuse, before any work, columns the catalogue lacks or the results already have."""
    if not keep_columns:
        return
    cat = image_set.catalogue
    if cat is None:
        raise GalaxyscopeError(f"--keep {', '.join(keep_columns)}: this image set has no catalogue")
    for name in keep_columns:
        if name in COLUMNS:
            raise GalaxyscopeError(f"--keep {name}: the results table already has a column {name!r}; "
                                   "compare with the catalogue through `galaxyscope evaluate` instead")
        if name not in cat.colnames:
            raise GalaxyscopeError(f"--keep {name}: no such catalogue column; columns: {', '.join(cat.colnames)}")


def add_catalogue_columns(report: MeasureReport, image_set, keep_columns: Sequence[str]) -> MeasureReport:
    """Copy catalogue columns into the results, row by row through the filename key.

    Values keep their type (19-digit ids stay exact); an image without a catalogue
    row gets a masked value.
    """
    if not keep_columns:
        return report
    table, cat = report.table, image_set.catalogue
    row_of = {e.key: e.row_index for e in image_set.entries}
    index = np.array([row_of.get(str(k), -1) for k in table["filename"]], dtype=np.int64)
    missing = index < 0
    rows = np.where(missing, 0, index)
    for pos, name in enumerate(keep_columns, start=1):
        src = cat[name]
        mask = missing | np.ma.getmaskarray(src)[rows]
        values = np.asarray(src)[rows]
        col = MaskedColumn(values, name=name, mask=mask) if mask.any() else Column(values, name=name)
        table.add_column(col, index=pos)
    return report


def _regress_dataset(image_set, model, *, target=None, progress=None, cancel=None, on_rows=None,
                     read_limits=READ_LIMITS_DEFAULT) -> MeasureReport:
    """The paper's control: a CNN that regresses the bar length directly (method "regressor").

    Its prediction is in the units of the column it was trained on (pixels for
    bar_length_px); no saliency, so width, angle and endpoints are NaN.
    """
    failures: list[ImageReadError] = []
    regress_one = image_regressor(model, target)
    rows = rows_of_each(image_set, regress_one, failures, on_rows=on_rows, progress=progress, cancel=cancel,
                        read_limits=read_limits)
    table = Table(rows=rows, names=COLUMNS) if rows else Table(names=COLUMNS)
    table.meta["model_sha256"] = getattr(model, "sha256", "")
    table.meta["regressed_column"] = model.meta.output_names[model.output_index(target if target is not None else 0)]
    return MeasureReport(table=table, failures=failures + list(image_set.failures), n_images=len(image_set))


def image_regressor(model, target: str | None = None) -> Callable[[str, Any], list[dict]]:
    """``regress_one(key, image)``: the direct-regression row of one image (method "regressor")."""
    idx = model.output_index(target if target is not None else 0)

    def regress_one(key: str, image) -> list[dict]:
        length = float(model.predict([image])[0, idx])
        scale = image.pixel_scale_arcsec()
        row = dict.fromkeys(COLUMNS, float("nan"))
        row.update(filename=key, method="regressor", bar_length_px=length, n_pixels=0,
                   flags="", bar_length_arcsec=length * scale if scale else float("nan"), reasons="",
                   framing=model.preprocessing.describe_box(image), crop_x0=-1, crop_y0=-1, crop_side_px=-1)
        return [row]

    return regress_one
