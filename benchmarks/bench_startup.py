"""Benchmark: start-up time of the command line, as a ratio to importing Qt's widgets.

Run: .venv/bin/python -m benchmarks.bench_startup [--runs 7] [--json PATH] [--src DIR]

Times, in one run, the median wall time of N fresh processes each of
``galaxyscope --help``, ``galaxyscope --version``, ``galaxyscope measure --help``,
``python -c "import PySide6.QtWidgets"`` (the reference: what any Qt app pays
before its first window) and ``python -c "pass"`` (the interpreter alone), and
prints each with its ratio to the reference. Why a ratio: the absolute numbers
move with the machine and its load; the ratio says whether the command line
costs more than Qt does. Target: ``galaxyscope --help`` under 1 s on the
project's 2-core machine. ``--src DIR`` runs the galaxyscope found in DIR
(e.g. an export of an older commit) instead of the installed one, for before /
after numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REFERENCE = "import PySide6.QtWidgets"


def galaxyscope_command() -> list[str]:
    """The ``galaxyscope`` console script beside this interpreter, else ``python -m galaxyscope``."""
    script = Path(sys.executable).with_name("galaxyscope")
    if script.exists():
        return [str(script)]
    found = shutil.which("galaxyscope")
    return [found] if found else [sys.executable, "-m", "galaxyscope"]


def cases() -> dict[str, list[str]]:
    """Name -> command line of every timed case, the reference last but one."""
    gs = galaxyscope_command()
    return {
        "galaxyscope --help": gs + ["--help"],
        "galaxyscope --version": gs + ["--version"],
        "galaxyscope measure --help": gs + ["measure", "--help"],
        f'python -c "{REFERENCE}"': [sys.executable, "-c", REFERENCE],
        'python -c "pass"': [sys.executable, "-c", "pass"],
    }


def time_once(cmd: list[str], env: dict[str, str]) -> float:
    """Wall seconds of one fresh process; a failing command is an error, not a fast time."""
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed (exit {proc.returncode}): {proc.stderr.decode()[-500:]}")
    return elapsed


def measure(runs: int, env: dict[str, str]) -> dict[str, dict[str, float]]:
    """Median and min of ``runs`` timings per case, runs interleaved so load drifts hit all cases alike."""
    commands = cases()
    times: dict[str, list[float]] = {name: [] for name in commands}
    for cmd in commands.values():  # warm the file cache (first .pyc reads) outside the timings
        time_once(cmd, env)
    for _ in range(runs):
        for name, cmd in commands.items():
            times[name].append(time_once(cmd, env))
    ref = statistics.median(times[f'python -c "{REFERENCE}"'])
    return {name: {"median_s": statistics.median(t), "min_s": min(t),
                   "ratio_to_qt": statistics.median(t) / ref} for name, t in times.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs per case (default %(default)s)")
    parser.add_argument("--json", metavar="PATH", help="also write the numbers as JSON to PATH")
    parser.add_argument("--src", metavar="DIR", help="import galaxyscope from DIR (put first on PYTHONPATH)")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    env = dict(os.environ)
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    if args.src:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(Path(args.src).resolve()), env.get("PYTHONPATH")) if p)
    results = measure(args.runs, env)
    width = max(map(len, results))
    print(f"median of {args.runs} runs ({os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.2f}); ratio to `{REFERENCE}`")
    for name, r in results.items():
        print(f"  {name:<{width}}  {r['median_s']:6.3f} s  (min {r['min_s']:.3f} s)  x{r['ratio_to_qt']:.2f}")
    if args.json:
        payload = {"runs": args.runs, "cpus": os.cpu_count(), "reference": REFERENCE,
                   "src": args.src, "results": results}
        Path(args.json).write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
