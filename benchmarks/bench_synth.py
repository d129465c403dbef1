"""Benchmark: time per synthetic galaxy (render only, and render + JPEG/mask/catalogue on disk).

Run: .venv/bin/python -m benchmarks.bench_synth [--n 40] [--size 424] [--workers 1]

Prints the median and 90th percentile CPU time of ``render_galaxy`` per galaxy (process time,
so other load on the machine matters less), the wall time, and the wall time per galaxy of
``generate_dataset`` writing JPEGs and masks. Target: well under 0.2 s per 424 px galaxy on
one core.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

from galaxyscope.synth.dataset import generate_dataset
from galaxyscope.synth.params import sample_params
from galaxyscope.synth.render import render_galaxy


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=40)
    parser.add_argument("--size", type=int, default=424)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()

    params = [sample_params(0, i, args.size, has_bar=bool(i % 2), artefact="none") for i in range(args.n)]
    render_galaxy(params[0])  # warm caches (imports, quantile table, grids)
    cpu, wall = [], []
    for p in params:
        c0, w0 = time.process_time(), time.perf_counter()
        render_galaxy(p)
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    cpu.sort()
    print(f"render_galaxy {args.size}px, {args.n} galaxies: CPU median {statistics.median(cpu) * 1000:.0f} ms, "
          f"p90 {cpu[int(0.9 * (len(cpu) - 1))] * 1000:.0f} ms; wall median {statistics.median(wall) * 1000:.0f} ms")

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        generate_dataset(tmp, n=args.n, seed=0, size=args.size, workers=args.workers)
        per = (time.perf_counter() - t0) / args.n
    print(f"generate_dataset (JPEG + masks + catalogue, workers={args.workers}): {per * 1000:.0f} ms wall per galaxy")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
