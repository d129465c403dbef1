"""`galaxyscope gui`: the desktop app; `run_demo` backs `galaxyscope demo`.

Qt is imported only when the command runs, so `galaxyscope --help` works on a
machine without a display or without PySide6.
"""

from __future__ import annotations

import argparse

from galaxyscope.gui.shortcuts import shortcut_for  # Qt-free: the key list the window's Help shows

EXAMPLES = """\
examples:
  galaxyscope gui synth_set                             # a folder with its catalog.ecsv
  galaxyscope gui gz2/catalog.csv --db bars.sqlite      # annotate into bars.sqlite
  galaxyscope gui synth_set --screenshot window.png --size 1600x1000"""


def shortcuts_hint() -> str:
    """One sentence naming the key of Help > Keyboard shortcuts (from the shortcut table)."""
    key = shortcut_for("show_shortcuts").keys[0]
    return f"In the window, {key} (Help > Keyboard shortcuts) lists every keyboard shortcut."


def add_gui_arguments(p: argparse.ArgumentParser, *, path: bool = True) -> None:
    """The options `gui` and `demo` share (``path`` adds the optional PATH argument)."""
    if path:
        p.add_argument("path", nargs="?", metavar="PATH",
                       help="folder of images (optionally with catalog.ecsv/csv), a catalogue file or one image")
    p.add_argument("--model", help="checkpoint (.safetensors); default: the shipped model (if present)")
    p.add_argument("--db", help="annotation database (SQLite) to use; stored for the annotation tools")
    opened = "PATH" if path else "the bundled examples"
    p.add_argument("--screenshot", metavar="FILE",
                   help=f"open {opened}, select the first galaxy, compute its saliency and bar, save the "
                        "window as a PNG to FILE and exit")
    p.add_argument("--size", metavar="WxH", type=parse_window_size, default=None,
                   help="window size in pixels, e.g. 1600x1000 (default for --screenshot)")


def parse_window_size(text: str) -> tuple[int, int]:
    """argparse type for "WxH" window sizes (at least 200 x 200)."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 1600x1000, got {text!r}") from None
    if w < 200 or h < 200:
        raise argparse.ArgumentTypeError("size must be at least 200x200")
    return w, h


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "gui",
        help="open the desktop app (browse, saliency, live bar fits)",
        description="Open the galaxyscope window on PATH: browse the images, show each one's saliency "
        "and fitted bar, move the thresholds and see the bar re-fit, measure the whole set. "
        + shortcuts_hint(),
        epilog=EXAMPLES,
    )
    add_gui_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from galaxyscope.gui.app import run_gui

    return run_gui(args.path, model=args.model, db=args.db, screenshot=args.screenshot,
                   size=getattr(args, "size", None), exit_process=args.screenshot is None)


def run_demo(screenshot: str | None = None, model: str | None = None, db: str | None = None,
             size: tuple[int, int] | None = None) -> int:
    """Open the window on the bundled Galaxy Zoo bar examples with the shipped model."""
    from galaxyscope.gui.app import run_gui
    from galaxyscope.resources import sample_path

    return run_gui(sample_path("gz-bar-examples"), model=model, db=db, screenshot=screenshot, size=size,
                   exit_process=screenshot is None)
