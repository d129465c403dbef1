"""SmoothGrad cost per image against the floor of N plain forward+backward passes.

Why: SmoothGrad is the slow step of every measurement. This prints, from one
run, the time of ``compute_saliency(..., "smoothgrad")`` for N = 25 and 50 at
chunk sizes 1, 5, 10, 25 and N, for 96 and 128 px inputs, and its ratio to the
floor: the fastest plain batched forward+backward over the same N noisy inputs
(best over the same chunk sizes). A ratio near 1 means Captum's bookkeeping
costs nothing; the chunk column with the lowest time is the one to use.

    .venv/bin/python -m benchmarks.bench_saliency [--threads 2] [--repeats 3] [--device cpu]
    .venv/bin/python -m benchmarks.bench_saliency --attributions [--threads 2]

``--attributions`` times the shipped model's attributions instead, in one run: ``smoothgrad``
against ``bar_evidence`` (SmoothGrad of the bar-evidence companion, a U-Net at full resolution),
both N = 50 at the default chunk, and prints their ratio.
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import torch
from torch import nn

from galaxyscope.images.galaxy_image import GalaxyImage
from galaxyscope.model.loaded import LoadedModel, ModelMeta
from galaxyscope.model.preprocess import Preprocessing
from galaxyscope.saliency.attributions import compute_saliency

try:
    from galaxyscope.model.device import pick_device
except ImportError:  # pragma: no cover - before model/device.py existed
    def pick_device(prefer=None) -> torch.device:
        if prefer not in (None, "auto"):
            return torch.device(prefer)
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def small_network() -> tuple[nn.Module, str]:
    """The project's "small" CNN if it exists, else a similar 5-layer CNN (~190k parameters)."""
    try:
        from galaxyscope.model.networks import build_network

        return build_network("small", 1), "galaxyscope.model.networks 'small'"
    except (ImportError, KeyError):
        layers: list[nn.Module] = []
        cin = 3
        for w in (16, 32, 64, 96, 128):
            layers += [nn.Conv2d(cin, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(), nn.MaxPool2d(2)]
            cin = w
        return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, 1)), "fallback 5-layer CNN"


def device_name(dev: torch.device) -> str:
    if dev.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(dev)}"
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"cpu: {cpu}, torch threads {torch.get_num_threads()}"


def sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def best_times(fns: dict, dev: torch.device, repeats: int, clock) -> dict:
    """Best time of each callable; repeats run round-robin so a burst of load on a
    shared machine hits all configurations alike instead of one."""
    for fn in fns.values():
        fn()  # warm-up (allocator, cuDNN choice)
    best = {k: float("inf") for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            sync(dev)
            t0 = clock()
            fn()
            sync(dev)
            best[k] = min(best[k], clock() - t0)
    return best


def floor_pass(net: nn.Module, x: torch.Tensor, n: int, chunk: int, sigma: float) -> None:
    """N noisy copies through forward+backward, `chunk` at a time: what SmoothGrad must do at least."""
    done = 0
    while done < n:
        k = min(chunk, n - done)
        xb = (x.repeat(k, 1, 1, 1) + sigma * torch.randn((k,) + tuple(x.shape[1:]), device=x.device))
        xb.requires_grad_(True)
        torch.autograd.grad(net(xb)[:, 0].sum(), xb)
        done += k


def compare_attributions(dev: torch.device, repeats: int, clock) -> int:
    """The shipped model's smoothgrad and bar_evidence per image (N = 50), and their ratio."""
    from galaxyscope.model.checkpoint import load_checkpoint
    from galaxyscope.resources import resources_dir

    model = load_checkpoint(resources_dir() / "models" / "default.safetensors", device=str(dev))
    image = GalaxyImage(np.random.default_rng(0).random((424, 424, 3), dtype=np.float32), id="bench")
    names = ("smoothgrad", "bar_evidence")
    t = best_times({m: (lambda m=m: compute_saliency(model, image, m, n_samples=50)) for m in names},
                   dev, repeats, clock)
    print(f"device   {device_name(dev)}; shipped model, N = 50, best of {repeats} after one warm-up")
    for m in names:
        print(f"{m:>13} {t[m]:7.3f} s/image")
    print(f"bar_evidence / smoothgrad = {t['bar_evidence'] / t['smoothgrad']:.2f}x")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    ap.add_argument("--repeats", type=int, default=3, help="timed repeats; the best is reported")
    ap.add_argument("--device", default=None, help="cpu, cuda, mps (default: best available)")
    ap.add_argument("--sizes", type=int, nargs="+", default=[96, 128])
    ap.add_argument("--samples", type=int, nargs="+", default=[25, 50])
    ap.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                    help="cpu = process CPU time: steadier on a busy shared machine with --threads 1 (CPU only)")
    ap.add_argument("--attributions", action="store_true",
                    help="time the shipped model's smoothgrad against bar_evidence instead")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    dev = pick_device(args.device)
    if args.attributions:
        return compare_attributions(dev, args.repeats, time.perf_counter)
    if args.clock == "cpu" and dev.type != "cpu":
        ap.error("--clock cpu only makes sense on the CPU")
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    torch.manual_seed(0)
    net, net_name = small_network()
    n_params = sum(p.numel() for p in net.parameters())
    print(f"device   {device_name(dev)}")
    print(f"network  {net_name}, {n_params:,} parameters; "
          f"best of {args.repeats} runs after one warm-up, {args.clock} clock")
    print("time = compute_saliency('smoothgrad') per image (424 px image, crop to input size);")
    print("floor = fastest plain forward+backward over the same N noisy inputs (any chunk); ratio = time / floor\n")

    rng = np.random.default_rng(0)
    header_chunks = ["1", "5", "10", "25", "N"]
    print(f"{'input':>5} {'N':>3} {'floor s':>8} {'(best c)':>8} | "
          + " | ".join(f"c={c:<3} s   ratio" for c in header_chunks))
    for size in args.sizes:
        meta = ModelMeta(architecture="small", output_names=["has_bar"], sigmoid_outputs=[True],
                         preprocessing=Preprocessing(input_size=size, crop_fraction=0.5))
        model = LoadedModel(net=net, meta=meta, device=dev)
        image = GalaxyImage(rng.random((424, 424, 3), dtype=np.float32), id="bench")
        x = meta.preprocessing.to_model(image).to(dev)
        sigma = 0.1 * float(x.max() - x.min())
        for n in args.samples:
            chunks = sorted({1, 5, 10, 25, n} & set(range(1, n + 1)))
            fns = {}
            for c in chunks:
                fns[("floor", c)] = lambda c=c: floor_pass(model.net, x, n, c, sigma)
                fns[("sg", c)] = lambda c=c: compute_saliency(model, image, "smoothgrad", n_samples=n, chunk=c)
            t = best_times(fns, dev, args.repeats, clock)
            floors = {c: t[("floor", c)] for c in chunks}
            sg = {c: t[("sg", c)] for c in chunks}
            best_c = min(floors, key=floors.get)
            floor = floors[best_c]
            cells = []
            for label in header_chunks:
                c = n if label == "N" else int(label)
                cells.append(f"{sg[c]:7.3f} {sg[c] / floor:5.2f}x" if c in sg else f"{'-':>7} {'':>6}")
            print(f"{size:>5} {n:>3} {floor:8.3f} {('c=' + str(best_c)):>8} | " + " | ".join(cells))
            print(f"{'':>5} {'':>3} {'':>8} {'floor c':>8} | "
                  + " | ".join(f"{floors[n if lab == 'N' else int(lab)]:7.3f} {'':>6}"
                               if (n if lab == 'N' else int(lab)) in floors else f"{'-':>7} {'':>6}"
                               for lab in header_chunks))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
