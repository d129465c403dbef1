"""Fit a checkpoint's length calibration: saliency lengths on the scale of tip-to-tip bar lengths.

    python -m tools.calibrate_lengths --model resources/models/default.safetensors \
        --synthetic $GALAXYSCOPE_DATA/val200_new --out resources/models/default.safetensors

On a synthetic VALIDATION set (never the test set you report; e.g. ``galaxyscope synth
$GALAXYSCOPE_DATA/val200_new --n 200 --seed 3030 --bar-fraction 0.6``) every image is
measured with the model's own framing and no P(bar) gate, raw (uncalibrated) lengths; on
the measurable bars (has_bar, simulated GZ2 bar vote >= 0.5) the scale true / raw and its
robust scatter are fitted per bar method (`galaxyscope.measure.calibration`) and stored
in the checkpoint's metadata. Only the metadata changes; the weights stay the same (the
file's hash changes). ``--table`` reuses a results table of ``galaxyscope measure
--min-bar-probability 0`` made with raw lengths instead of measuring again.

``--settings '{"moments": {"t_start": 0.4, "blur_sigma": 1.5, "length_from": "extent"}}'``
measures with those bar-method parameters (chosen on validation maps of this attribution)
and stores them with the calibration, so that `galaxyscope measure` and the window measure
this attribution's maps with them; a method not named is measured at the library defaults.
With ``--table`` the settings must be the ones that table was measured with.
"""

from __future__ import annotations

import argparse
import dataclasses
import json

import numpy as np
from astropy.table import Table

from experiments.common import display_path, shipped_model
from galaxyscope.images.imageset import ImageSet
from galaxyscope.measure import BAR_METHODS
from galaxyscope.measure.calibration import calibration_key, fit_length_calibration, measurable_bars
from galaxyscope.model.checkpoint import load_checkpoint, save_checkpoint


def raw_lengths(model, image_set, methods, table_path: str | None, attribution: str = "smoothgrad",
                settings: dict | None = None) -> Table:
    """One row per image and method with ``bar_length_raw_px`` (measured here unless a table is given)."""
    if table_path:
        table = Table.read(table_path)
        made_with = str(table.meta.get("attribution", "smoothgrad"))
        if made_with != attribution:
            raise SystemExit(f"{table_path}: made with the {made_with} attribution, not {attribution}")
        return table
    from galaxyscope.jobs.measure_job import measure_dataset
    from galaxyscope.measure.api import METHOD_PARAMS

    options = {m: METHOD_PARAMS[m](**(settings or {}).get(m, {})) for m in methods}  # never an old calibration's
    return measure_dataset(image_set, model, methods=methods, attribution=attribution, min_bar_probability=0.0,
                           calibrate_lengths=False, options=options).table


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=str(shipped_model()))
    ap.add_argument("--synthetic", required=True, help="synthetic validation set with the true bar_length_px")
    ap.add_argument("--table", help="raw measurement table of that set (skips measuring)")
    ap.add_argument("--method", action="append", choices=BAR_METHODS, help="bar method(s) (default: all)")
    ap.add_argument("--attribution", default="smoothgrad",
                    help="saliency method whose maps are calibrated (stored as METHOD@ATTRIBUTION unless smoothgrad)")
    ap.add_argument("--settings", type=json.loads, default={},
                    help='JSON: bar method -> its parameters to measure with and store, e.g. '
                         '\'{"moments": {"t_start": 0.4, "length_from": "extent"}}\'')
    ap.add_argument("--out", required=True, help="checkpoint to write (may be --model itself)")
    args = ap.parse_args(argv)
    if not isinstance(args.settings, dict) or not all(isinstance(v, dict) for v in args.settings.values()):
        raise SystemExit("--settings: a JSON object of bar method -> {parameter: value}")
    methods = tuple(args.method or BAR_METHODS)
    model = load_checkpoint(args.model)
    image_set = ImageSet.open(args.synthetic)
    cat = image_set.catalogue
    row_of = {e.key: e.row_index for e in image_set.entries}
    table = raw_lengths(model, image_set, methods, args.table, args.attribution, args.settings)
    raw_column = "bar_length_raw_px" if "bar_length_raw_px" in table.colnames else "bar_length_px"
    fitted = dict(model.meta.length_calibration)  # other attributions' calibrations stay
    for method in methods:
        rows = table[table["method"] == method]
        idx = np.array([row_of[str(f)] for f in rows["filename"]])
        keep = measurable_bars(np.asarray(cat["has_bar"])[idx], np.asarray(cat["t03_bar_a06_bar_fraction"])[idx])
        true = np.asarray(cat["bar_length_px"], float)[idx][keep]
        raw = np.asarray(rows[raw_column], float)[keep]
        cal = fit_length_calibration(raw, true, method, fitted_on=display_path(args.synthetic),
                                     attribution=args.attribution, settings=args.settings.get(method))
        fitted[calibration_key(method, args.attribution)] = cal.to_dict()
        print(f"{method}: {cal.describe()}; median |raw - true| / true = "
              f"{np.nanmedian(np.abs(raw - true) / true):.2f}, calibrated "
              f"{np.nanmedian(np.abs(cal.scale * raw - true) / true):.2f}")
    meta = dataclasses.replace(model.meta, length_calibration=fitted)
    save_checkpoint(dataclasses.replace(model, meta=meta), args.out)
    print(json.dumps({"out": display_path(args.out), "length_calibration": fitted}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
