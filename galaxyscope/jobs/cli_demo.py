"""`galaxyscope demo`: the demo on bundled samples and a freshly generated synthetic set."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="run the demo on bundled samples",
        description="Generate a small synthetic set, load it and the bundled real Galaxy Zoo examples, "
        "and measure bars with the shipped model (headless: prints a summary).",
    )
    p.add_argument("--out", help="folder for the generated set (default: a new temporary folder)")
    p.add_argument("--n", type=int, default=8, help="synthetic galaxies to generate (default 8)")
    p.add_argument("--seed", type=int, default=7, help="seed of the synthetic set (default 7)")
    p.add_argument("--samples", type=int, default=25, help="SmoothGrad samples (default 25)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from galaxyscope.jobs.demo import check_demo_args, run_demo

    check_demo_args(args.n, args.samples)
    return run_demo(args.out, n=args.n, seed=args.seed, samples=args.samples)
