"""Benchmark: start-up time of the command line and of the window, as ratios to importing Qt's widgets.

Run: .venv/bin/python -m benchmarks.bench_startup [--runs 7] [--json PATH] [--src DIR] [--no-window]

Times, in one run, the median wall time of N fresh processes each of
``galaxyscope --help``, ``galaxyscope --version``, ``galaxyscope measure --help``,
``python -c "import PySide6.QtWidgets"`` (the reference: what any Qt app pays
before its first window) and ``python -c "pass"`` (the interpreter alone), and
of the window (``run_gui`` on the bundled examples with the shipped model, as
``galaxyscope demo`` opens it, in a child process): the time until the window is
first painted, until the first galaxy shows its saliency and bar ("settled"),
and how long quitting takes from then on (closing the window to the process's
exit). Each is printed with its ratio to the reference. Why a ratio: the absolute
numbers move with the machine and its load; the ratio says whether we cost more
than Qt does. Targets: ``galaxyscope --help`` under 1 s on the project's 2-core
machine; the window painted before the model has finished loading. ``--src DIR``
runs the galaxyscope found in DIR (e.g. ``git archive`` of an older commit)
instead of the installed one; given twice, both trees are timed in one interleaved
run, for before / after numbers under the same load. Without a display the
window runs on Qt's offscreen platform (or use ``xvfb-run -a``).
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
WINDOW_CASES = ("window painted", "window settled", "quit after settled")
#: what the child process prints when the window is first painted / has settled
PAINTED, SETTLED = "galaxyscope-bench: painted", "galaxyscope-bench: settled"
CHILD_TIMEOUT_S = 600.0


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


def window_once(env: dict[str, str]) -> dict[str, float]:
    """One fresh window process (``--child-window``): seconds from its start to the first paint,
    to settled, and from settled (when it closes itself) to its exit."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child-window"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    marks: dict[str, float] = {}
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith(PAINTED) and "painted" not in marks:
            marks["painted"] = time.perf_counter() - t0
        elif line.startswith(SETTLED):
            marks["settled"] = time.perf_counter() - t0
    code = proc.wait(timeout=CHILD_TIMEOUT_S)
    end = time.perf_counter() - t0
    if code != 0 or len(marks) < 2:
        err = proc.stderr.read() if proc.stderr is not None else ""
        raise SystemExit(f"the window benchmark child failed (exit {code}, saw {sorted(marks)}): {err[-800:]}")
    return {"window painted": marks["painted"], "window settled": marks["settled"],
            "quit after settled": end - marks["settled"]}


def child_window() -> int:
    """In the child process: run ``galaxyscope gui`` on the bundled examples (the CLI's own path, with
    private settings, cache and database), print PAINTED at the window's first paint and SETTLED once
    the first galaxy's saliency and bar are shown, then close the window as a user would; the
    command then ends the process."""
    import tempfile

    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    tmp = tempfile.mkdtemp(prefix="galaxyscope-bench-")
    os.environ["GALAXYSCOPE_CACHE"] = os.path.join(tmp, "cache")
    os.environ["GALAXYSCOPE_DB"] = os.path.join(tmp, "annotations.sqlite")
    os.environ["GALAXYSCOPE_SETTINGS"] = os.path.join(tmp, "settings.ini")
    from PySide6.QtCore import QEvent, QObject, QTimer
    from PySide6.QtWidgets import QApplication, QMainWindow

    from galaxyscope.cli import main
    from galaxyscope.gui.app import ensure_app
    from galaxyscope.resources import sample_path

    app = ensure_app()

    class Watch(QObject):
        """Reports the first paint of any widget inside the main window, then polls for settled."""

        painted = False

        def eventFilter(self, obj, event):  # noqa: N802 (Qt API)
            if not self.painted and event.type() == QEvent.Type.Paint and hasattr(obj, "window") \
                    and isinstance(obj.window(), QMainWindow) and obj.window().isVisible():
                self.painted = True
                print(PAINTED, flush=True)
                self.timer = QTimer()
                self.timer.timeout.connect(lambda: self.poll(obj.window()))
                self.timer.start(20)
            return False

        def poll(self, window):
            if window.is_settled():
                self.timer.stop()
                print(SETTLED, flush=True)
                window.close()

    watch = Watch()
    app.installEventFilter(watch)
    return main(["gui", str(sample_path("gz-bar-examples"))])


def measure(runs: int, envs: dict[str, dict[str, str]], window: bool = True) -> dict[str, dict[str, dict[str, float]]]:
    """Median and min of ``runs`` timings per case and source (label -> environment), runs interleaved
    case by case and source by source, so load drifts hit every case and every source alike."""
    commands = cases()
    names = list(commands) + (list(WINDOW_CASES) if window else [])
    times = {label: {name: [] for name in names} for label in envs}
    for env in envs.values():  # warm the file cache (first .pyc reads) outside the timings
        for cmd in commands.values():
            time_once(cmd, env)
        if window:
            window_once(env)
    for _ in range(runs):
        for label, env in envs.items():
            for name, cmd in commands.items():
                times[label][name].append(time_once(cmd, env))
            if window:
                for name, seconds in window_once(env).items():
                    times[label][name].append(seconds)
    out = {}
    for label, per_case in times.items():
        ref = statistics.median(per_case[f'python -c "{REFERENCE}"'])
        out[label] = {name: {"median_s": statistics.median(t), "min_s": min(t),
                             "ratio_to_qt": statistics.median(t) / ref} for name, t in per_case.items()}
    return out


def source_env(src: str | None) -> dict[str, str]:
    """The environment that runs the galaxyscope in ``src`` (None: the installed one)."""
    env = dict(os.environ)
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    if src:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(Path(src).resolve()), env.get("PYTHONPATH")) if p)
    return env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs per case (default %(default)s)")
    parser.add_argument("--json", metavar="PATH", help="also write the numbers as JSON to PATH")
    parser.add_argument("--src", metavar="DIR", action="append",
                        help="import galaxyscope from DIR (put first on PYTHONPATH); give it twice to compare "
                             "two trees (e.g. before and after a change) in one interleaved run")
    parser.add_argument("--no-window", action="store_true", help="time the command line only")
    parser.add_argument("--child-window", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_window:
        return child_window()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    envs = {src or "installed": source_env(src) for src in (args.src or [None])}
    results = measure(args.runs, envs, window=not args.no_window)
    print(f"median of {args.runs} runs ({os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.2f}); ratio to `{REFERENCE}` in the same run")
    for label, per_case in results.items():
        width = max(map(len, per_case))
        print(f"galaxyscope from {label}:")
        for name, r in per_case.items():
            print(f"  {name:<{width}}  {r['median_s']:6.3f} s  (min {r['min_s']:.3f} s)  x{r['ratio_to_qt']:.2f}")
    if args.json:
        payload = {"runs": args.runs, "cpus": os.cpu_count(), "reference": REFERENCE,
                   "src": args.src, "results": results}
        Path(args.json).write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
