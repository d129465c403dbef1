"""`galaxyscope demo`: the app on the bundled samples, or a headless tour without a display.

Lives in gui/ because it opens the window; Qt is imported only when it does, so
``demo --headless`` works on machines without Qt's system libraries.
"""

from __future__ import annotations

import argparse
import os
import sys

from galaxyscope.gui.cli_gui import add_gui_arguments, shortcuts_hint

EXAMPLES = """\
examples:
  galaxyscope demo                                       # the window (xvfb-run -a: on a virtual display)
  galaxyscope demo --headless --n 8 --out demo_set       # no window: a text tour
  galaxyscope demo --screenshot demo.png --size 1600x1000"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="run the demo on bundled samples (the desktop app; --headless for a text tour)",
        description="Open the galaxyscope window on the bundled real Galaxy Zoo bar examples with the "
        "shipped model. With --headless (or when there is no display and no --screenshot), generate a "
        "small synthetic set instead, load it and the bundled examples, measure bars and print a summary. "
        + shortcuts_hint(),
        epilog=EXAMPLES,
    )
    add_gui_arguments(p, path=False)
    p.add_argument("--headless", action="store_true", help="no window: print a summary instead")
    p.add_argument("--out", help="headless: folder for the generated set (default: a temporary folder)")
    p.add_argument("--n", type=int, default=8, help="headless: synthetic galaxies to generate (default 8)")
    p.add_argument("--seed", type=int, default=10,
                   help="headless: seed of the synthetic set (default 10: a clearly visible bar among faint "
                        "and absent ones, so the P(bar) gate is seen passing and refusing)")
    p.add_argument("--samples", type=int, default=25, help="headless: SmoothGrad samples (default 25)")
    p.set_defaults(func=run)


def has_display() -> bool:
    """True where a window can open (always on macOS/Windows; on Linux only with X11 or Wayland)."""
    if not sys.platform.startswith("linux"):
        return True
    if os.environ.get("QT_QPA_PLATFORM", "").startswith("offscreen"):
        return False
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def run(args: argparse.Namespace) -> int:
    headless = args.headless or (not args.screenshot and not has_display())
    if headless:
        from galaxyscope.jobs.demo import check_demo_args, run_demo

        if not args.headless:
            print("no display found: running the headless demo (use `xvfb-run galaxyscope demo` or a "
                  "desktop session for the window)", file=sys.stderr)
        check_demo_args(args.n, args.samples)
        return run_demo(args.out, n=args.n, seed=args.seed, samples=args.samples)
    from galaxyscope.gui.cli_gui import run_demo as run_gui_demo

    return run_gui_demo(screenshot=args.screenshot, model=args.model, db=args.db, size=args.size)
