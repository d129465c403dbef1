"""Command-line entry point: ``galaxyscope <command> ...``.

Each command lives in its own module with ``register(subparsers)``; this file
only collects them, so packages can grow commands without touching each other.
A ``GalaxyscopeError`` becomes one line on stderr and exit code 2, never a
traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from galaxyscope import __version__
from galaxyscope.errors import GalaxyscopeError

# module path of every command; each defines register(subparsers)
COMMAND_MODULES: tuple[str, ...] = (
    "galaxyscope.images.cli_info",
    "galaxyscope.synth.cli_synth",
    "galaxyscope.model.cli_train",
    "galaxyscope.jobs.cli_measure",
    "galaxyscope.evaluate.cli_evaluate",
    "galaxyscope.gui.cli_demo",
    "galaxyscope.gui.cli_gui",
    "galaxyscope.store.cli_annotations",
    "galaxyscope.bias.cli_scan",
    "galaxyscope.bias.cli_sanity",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="galaxyscope",
        description="Measure galactic bars with explainable AI (saliency-based bar lengths).",
    )
    parser.add_argument("--version", action="version", version=f"galaxyscope {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:  # a command still being built
            if exc.name == name:
                continue
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    try:
        return int(args.func(args) or 0)
    except GalaxyscopeError as exc:
        print(f"galaxyscope {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `galaxyscope evaluate --json | head`: the reader left, not an error
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())  # Python's exit-time flush must not raise again
        except (OSError, ValueError):  # stdout without a file descriptor (e.g. captured)
            pass
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
