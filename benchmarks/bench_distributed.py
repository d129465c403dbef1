"""Benchmark: batch measure throughput in one process and on Dask (1..N worker processes).

Run: python -m benchmarks.bench_distributed [--n 24] [--samples 50] [--workers 1 2] [--json FILE]

On synthetic 424 px galaxies with the shipped model, no saliency cache:
- the model-bound floor: one SmoothGrad (``compute_saliency``) per image, 1 torch thread;
- the single-process batch (``measure_dataset``, every method and the isophote check) with
  1 thread and with this machine's cores, as images/s and as a multiple of N x the floor;
  and the saliency-only batch (what ``galaxyscope saliency`` does per image);
- the same measure on a LocalCluster of W processes x 1 thread: images/s, speed-up over
  the single-process batch (1 thread), and multiple of the floor for W workers
  (N x one SmoothGrad / W); the cluster's start-up is timed apart;
- the scheduler's overhead per partition: a do-nothing Dask task's round trip, and a
  partition of a work that only reads its image, hashes it and writes its Parquet file.
Besides wall time, CPU seconds per image (this process's, or the sum over the workers'
processes) compare the paths independently of other load on a shared machine.
Numbers go to docs/cluster.md. The machine's load is printed: on a shared machine they vary.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class NoWork:
    """An `ImageWork` that does nothing per image: what is left is the partition's overhead."""

    name: str = "noop"
    columns: tuple = field(default=(("filename", "str"),))

    def fingerprint(self) -> dict:
        return {"noop": 1}

    def setup(self):
        return None

    def rows(self, state, key, image) -> list[dict]:
        return [{"filename": key}]


def warm(work, dataset: str) -> None:
    """On a worker: load its model and image set and measure one image (first-use imports), untimed."""
    from galaxyscope.jobs.distributed import worker_state

    state, image_set = worker_state(work, dataset)
    work.rows(state, image_set.entries[0].key, image_set[0])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=24, help="synthetic images (default 24)")
    ap.add_argument("--samples", type=int, default=50, help="SmoothGrad samples (default 50, the app's)")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="cluster sizes (default 1 2)")
    ap.add_argument("--partition-size", type=int, default=4, help="images per partition (default 4)")
    ap.add_argument("--json", help="also write the numbers to this JSON file")
    args = ap.parse_args(argv)

    import torch

    from galaxyscope.cli import main as cli
    from galaxyscope.images.imageset import ImageSet
    from galaxyscope.jobs.cluster_args import available_cores
    from galaxyscope.jobs.common import resolve_model, set_torch_threads
    from galaxyscope.jobs.distributed import dask_client, run_partitions
    from galaxyscope.jobs.distributed_measure import MeasureWork, measure_distributed
    from galaxyscope.jobs.measure_job import measure_dataset
    from galaxyscope.measure import BAR_METHODS
    from galaxyscope.saliency.attributions import compute_saliency

    out: dict = {"python": platform.python_version(), "torch": torch.__version__, "cpus": os.cpu_count(),
                 "usable_cores": available_cores(), "n_images": args.n, "samples": args.samples,
                 "load_before": os.getloadavg()}
    print(f"python {out['python']}, torch {out['torch']}, {out['cpus']} CPUs ({out['usable_cores']} usable), "
          f"load {out['load_before'][0]:.2f}; {args.n} images of 424 px, SmoothGrad {args.samples} samples")
    tmp = Path(tempfile.mkdtemp(prefix="bench_distributed_"))
    data = tmp / "set"
    assert cli(["synth", str(data), "--n", str(args.n), "--seed", "7"]) == 0
    image_set = ImageSet.open(data)
    model = resolve_model(None, device="cpu")
    images = [img for _, img in image_set.iter_images()]

    # -- the floor: one SmoothGrad per image, 1 thread
    set_torch_threads(1)
    compute_saliency(model, images[0], n_samples=args.samples)  # warm-up
    from galaxyscope.jobs.measure_job import image_measurer

    image_measurer(model, [], n_samples=1)[0](image_set.entries[0].key, images[0])  # first-use imports
    ts, cs = [], []
    for img in images[: min(6, len(images))]:
        t0, c0 = time.perf_counter(), time.process_time()
        compute_saliency(model, img, n_samples=args.samples)
        ts.append(time.perf_counter() - t0)
        cs.append(time.process_time() - c0)
    floor = statistics.median(ts)
    out["smoothgrad_s"], out["smoothgrad_cpu_s"] = floor, statistics.median(cs)
    print(f"\nfloor: one SmoothGrad {floor:.3f} s per image, {out['smoothgrad_cpu_s']:.3f} CPU s "
          f"(median of {len(ts)}, 1 thread)")

    # -- single process
    def single(threads: int, **kw) -> tuple[float, float]:
        set_torch_threads(threads)
        t0, c0 = time.perf_counter(), time.process_time()
        rep = measure_dataset(image_set, model, n_samples=args.samples, cache=None, **kw)
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
        assert len(set(rep.table["filename"])) == args.n
        return dt, cpu

    print(f"\n{'single process':44s} {'s':>7s} {'img/s':>7s} {'x floor':>8s} {'cpu s/img':>9s}")
    rows = {}
    cpu_rows = {}
    for label, threads, kw in (
        ("measure, 1 thread (all methods + isophote)", 1, {}),
        (f"measure, {available_cores()} threads", available_cores(), {}),
        ("measure, 1 thread, paper+moments, no isophote", 1, dict(methods=BAR_METHODS, check_agreement=False)),
    ):
        dt, cpu = single(threads, **kw)
        rows[label], cpu_rows[label] = dt, cpu / args.n
        print(f"{label:44s} {dt:7.2f} {args.n / dt:7.2f} {dt / (args.n * floor):8.2f} {cpu / args.n:9.2f}")
    set_torch_threads(1)
    from galaxyscope.jobs.saliency_job import SaliencyWork

    sal_work = SaliencyWork(model_path=str(model.path), model_sha256=model.sha256, n_samples=args.samples,
                            cache_root=str(tmp / "cache"), device="cpu", threads=1)
    t0 = time.perf_counter()
    run_partitions(sal_work, str(data), tmp / "sal_runs", image_set=image_set, partition_size=args.partition_size)
    dt = time.perf_counter() - t0
    rows["saliency command (cache fill), 1 thread"] = dt
    print(f"{'saliency command (cache fill), 1 thread':44s} {dt:7.2f} {args.n / dt:7.2f} {dt / (args.n * floor):8.2f}")
    out["single"] = rows
    out["single_cpu_s_per_image"] = cpu_rows
    base = rows["measure, 1 thread (all methods + isophote)"]

    # -- on a LocalCluster
    work = MeasureWork(model_path=str(model.path), model_sha256=model.sha256, n_samples=args.samples,
                       methods=BAR_METHODS + ("isophote",), use_cache=False, device="cpu", threads=1)
    print(f"\n{'LocalCluster':14s} {'start s':>8s} {'run s':>7s} {'img/s':>7s} {'vs 1 proc':>9s} "
          f"{'x floor/W':>9s} {'cpu s/img':>9s} {'task rt ms':>10s} {'partition ms':>12s}")
    out["cluster"] = {}
    for w in args.workers:
        t0 = time.perf_counter()
        with dask_client(workers=w, threads_per_worker=1, dashboard=False) as client:
            client.wait_for_workers(w)
            start = time.perf_counter() - t0
            # each worker loads its model and set and measures one image before timing (as the
            # single-process runs above had their imports done by the floor's warm-up)
            client.run(warm, work, str(data))
            cpu0 = sum(client.run(time.process_time).values())
            t0 = time.perf_counter()
            rep, run = measure_distributed(image_set, model, work, str(data), tmp / f"parts{w}", client=client,
                                           partition_size=args.partition_size)
            dt = time.perf_counter() - t0
            cpu = (sum(client.run(time.process_time).values()) - cpu0) / args.n
            assert len(set(rep.table["filename"])) == args.n and len(run.written) == len(run.partitions)
            # overheads: a bare task round trip; a do-nothing partition (read, hash, Parquet)
            futs = [client.submit(int, i, pure=False) for i in range(200)]
            t1 = time.perf_counter()
            client.gather(futs)
            rt = (time.perf_counter() - t1) / 200
            t1 = time.perf_counter()
            noop = run_partitions(NoWork(), str(data), tmp / f"noop{w}", client=client, image_set=image_set,
                                  partition_size=1)
            per_part = (time.perf_counter() - t1) / len(noop.partitions) * w  # per partition, per worker
        res = {"start_s": start, "run_s": dt, "images_per_s": args.n / dt, "vs_single": base / dt,
               "x_floor": dt / (args.n * floor / w), "cpu_s_per_image": cpu, "task_roundtrip_ms": rt * 1e3,
               "partition_overhead_ms": per_part * 1e3}
        out["cluster"][str(w)] = res
        print(f"{w:2d} x 1 thread  {start:8.1f} {dt:7.2f} {res['images_per_s']:7.2f} {res['vs_single']:9.2f} "
              f"{res['x_floor']:9.2f} {cpu:9.2f} {res['task_roundtrip_ms']:10.2f} {res['partition_overhead_ms']:12.1f}")
    out["load_after"] = os.getloadavg()
    print(f"\nload after: {out['load_after'][0]:.2f}; per-image cost of measure (1 thread): {base / args.n:.3f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
