"""The headless demo: generate, load and summarise a set, then measure a few bars.

It exercises the whole chain a user would meet in the GUI (synthetic set with
truth -> ImageSet -> saliency -> bar measurement) and prints what it found.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Callable

import numpy as np

from galaxyscope.errors import GalaxyscopeError


def _summarise_set(name: str, image_set, say: Callable[[str], None]) -> None:
    n = len(image_set)
    has_bar = image_set.column("has_bar") if image_set.catalogue is not None and "has_bar" in image_set.catalogue.colnames else None
    say(f"{name}: {n} images in {image_set.root}")
    if has_bar is not None:
        say(f"  barred: {int(np.sum(has_bar == 1))}, not barred: {int(np.sum(has_bar == 0))}")
    shapes: dict[tuple, int] = {}
    scales = []
    for _, im in image_set.iter_images():
        shapes[im.shape] = shapes.get(im.shape, 0) + 1
        if im.pixel_scale_arcsec() is not None:
            scales.append(im.pixel_scale_arcsec())
    say("  shapes: " + ", ".join(f"{'x'.join(map(str, s))} ({c})" for s, c in shapes.items()))
    if scales:
        say(f"  pixel scale: {min(scales):.3f}-{max(scales):.3f} arcsec/px")
    for f in image_set.failures:
        say(f"  skipped: {f}")


def run_demo(out_dir: str | Path | None = None, n: int = 8, seed: int = 10, samples: int = 25,
             say: Callable[[str], None] = print) -> int:
    """Generate ``n`` synthetic galaxies, summarise them and the bundled real ones, measure bars."""
    from galaxyscope.images.imageset import ImageSet
    from galaxyscope.jobs.common import default_model_path, resolve_model
    from galaxyscope.resources import sample_path
    from galaxyscope.synth import generate_dataset

    out = Path(out_dir) if out_dir else Path(tempfile.mkdtemp(prefix="galaxyscope-demo-"))
    say(f"1. generating {n} synthetic Galaxy Zoo 2-like galaxies (seed {seed}) in {out}")
    truth = generate_dataset(out, n=n, seed=seed)
    synthetic = ImageSet.open(out)
    _summarise_set("synthetic set", synthetic, say)
    barred = truth[truth["has_bar"] == 1]
    if len(barred):
        say(f"  true bar lengths: {', '.join(f'{v:.0f}' for v in barred['bar_length_px'])} px")

    say("2. the bundled real Galaxy Zoo examples")
    real = ImageSet.open(sample_path("gz-bar-examples"))
    _summarise_set("gz-bar-examples", real, say)

    say("3. saliency (SmoothGrad) and bar measurement with the shipped model")
    if not default_model_path().exists():
        say(f"  no shipped model at {default_model_path()}: skipped")
        return 0
    from galaxyscope.jobs.measure_job import measure_dataset

    model = resolve_model(None)
    report = measure_dataset(synthetic, model, n_samples=samples)
    t = report.table
    truth_by_key = {str(r["filename"]): r for r in truth}
    say(f"  {'file':32s} {'method':8s} {'P(bar)':>6s} {'length px':>9s} {'true px':>7s} {'arcsec':>7s}  flags")
    for row in t:
        tr = truth_by_key.get(str(row["filename"]))
        true_len = f"{tr['bar_length_px']:.0f}" if tr is not None else "?"
        say(f"  {row['filename']:32s} {row['method']:8s} {row['bar_score']:6.2f} "
            f"{row['bar_length_px']:9.1f} {true_len:>7s} {row['bar_length_arcsec']:7.1f}  {row['flags'] or '-'}")
    say(f"  no_bar: P(bar) below the model's threshold ({t.meta.get('min_bar_probability', 0.5):.2f}), so no "
        "length is reported; see README, 'On real galaxies'")
    if report.failures:
        for f in report.failures:
            say(f"  skipped: {f}")
    return 0


def check_demo_args(n: int, samples: int) -> None:
    if n < 1:
        raise GalaxyscopeError("--n must be at least 1")
    if samples < 1:
        raise GalaxyscopeError("--samples must be at least 1")
