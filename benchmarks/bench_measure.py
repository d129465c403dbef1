"""Benchmark: re-fitting a bar on a cached 424 x 424 saliency map, both methods.

Run: python -m benchmarks.bench_measure [--runs 200]   (from the repository root)

Prints the median (and 90th percentile) time per ``measure_bar`` call for "paper" and
"moments" on saliency-like maps (computed at the model's input size, resized into the
central half of a 424 px frame, zero outside), and the speed-up of the sorted sweep
over a literal loop over the paper's thresholds, both to its stop and through all 5001
(they must agree on the threshold).  Target:
<= 5 ms per call for both methods.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import time

import numpy as np

from galaxyscope.measure import measure_bar, paper_sweep
from galaxyscope.measure.testmaps import saliency_like_map


def timed(fn, runs: int) -> tuple[float, float]:
    """(median, 90th percentile) seconds per call after a warm-up call."""
    fn()
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    ts.sort()
    return statistics.median(ts), ts[min(len(ts) - 1, int(0.9 * len(ts)))]


def literal_paper_loop(s: np.ndarray, min_pixels: float, t_start=0.5, t_end=1.0, step=1e-4,
                       stop=0.85, run_all: bool = False) -> tuple[float, int]:
    """The rule as written: one threshold at a time. Returns (measured threshold, steps run).

    ``run_all`` keeps going through all thresholds (same work per step) to time the
    full 5001-step loop; the returned threshold is still the first stop.
    """
    s = s.astype(np.float64)
    n_steps = int(math.floor((t_end - t_start) / step + 1e-9))
    previous = math.nan
    found = None
    for k in range(n_steps + 1):
        t = t_start + k * step
        ys, xs = np.nonzero(s > t)
        if xs.size < min_pixels:
            hit = previous if k else t
        elif xs.size >= 2 and xs.std() > 0 and ys.std() > 0 and abs(np.corrcoef(xs, ys)[0, 1]) > stop:
            hit = t
        else:
            hit = None
        if hit is not None and found is None:
            found = (hit, k + 1)
            if not run_all:
                return found
        previous = t
    return found if found is not None else (previous, n_steps + 1)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=200, help="timed calls per case")
    args = ap.parse_args(argv)
    cpu = platform.processor() or platform.machine()
    print(f"python {platform.python_version()}, numpy {np.__version__}, {cpu}, {os.cpu_count()} CPUs")
    cases = {
        "128 px input, bulge 0.3": dict(input_size=128, bulge_amp=0.3),
        "96 px input, bulge 0.3": dict(input_size=96, bulge_amp=0.3),
        "128 px input, no bulge": dict(input_size=128, bulge_amp=0.0),
    }
    print(f"\nmeasure_bar on a cached 424x424 map (median / p90 of {args.runs} calls)")
    print(f"{'map':28s} {'method':8s} {'median ms':>10s} {'p90 ms':>8s} {'length px':>10s}")
    for name, kw in cases.items():
        s = saliency_like_map(frame=424, crop_fraction=0.5, length=90, width=18, pa_deg=35, noise=0.3,
                              seed=1, **kw)
        for method in ("paper", "moments"):
            call = lambda: measure_bar(s, method, model_input_size=kw["input_size"],  # noqa: E731
                                       crop_fraction=0.5)
            med, p90 = timed(call, args.runs)
            print(f"{name:28s} {method:8s} {med * 1e3:10.2f} {p90 * 1e3:8.2f} {call().length_px:10.1f}")

    print("\nthe paper's sweep: sorted prefix sums vs a literal loop over thresholds")
    for name, kw in cases.items():
        s = saliency_like_map(frame=424, crop_fraction=0.5, length=90, width=18, pa_deg=35, noise=0.3,
                              seed=1, **kw)
        m = measure_bar(s, "paper", model_input_size=kw["input_size"], crop_fraction=0.5)
        min_px = m.params.min_pixels
        fast, _ = timed(lambda: paper_sweep(s, min_pixels=min_px), args.runs)
        t0 = time.perf_counter()
        t_literal, steps = literal_paper_loop(s, min_px)
        lit = time.perf_counter() - t0
        t0 = time.perf_counter()
        t_all, _ = literal_paper_loop(s, min_px, run_all=True)
        full = time.perf_counter() - t0
        assert t_literal == t_all == m.threshold, (t_literal, t_all, m.threshold)
        print(f"{name:28s} sweep {fast * 1e3:5.2f} ms | literal to the stop ({steps} steps) "
              f"{lit * 1e3:7.1f} ms (x{lit / fast:,.0f}) | all 5001 steps {full * 1e3:,.0f} ms "
              f"(x{full / fast:,.0f}) | same threshold {t_literal:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
