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
    "galaxyscope.jobs.cli_saliency",
    "galaxyscope.evaluate.cli_evaluate",
    "galaxyscope.gui.cli_demo",
    "galaxyscope.gui.cli_gui",
    "galaxyscope.store.cli_annotations",
    "galaxyscope.bias.cli_scan",
    "galaxyscope.bias.cli_sanity",
    "galaxyscope.finetune.cli_finetune",
    "galaxyscope.finetune.cli_label_next",
)


EXAMPLES = """\
examples:
  galaxyscope demo                                   # the window on the bundled Galaxy Zoo examples
  galaxyscope synth synth_set --n 200 --seed 1       # galaxies with exactly known bars
  galaxyscope measure synth_set --out results.ecsv   # saliency bar lengths of every image
  galaxyscope evaluate --measured results.ecsv --reference synth_set/catalog.ecsv --column bar_length_px
  galaxyscope gui synth_set                          # browse, vet and annotate

'galaxyscope COMMAND --help' describes each command, with examples."""


class HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, except that indented lines (examples) are printed as written.

    Why: every command's ``--help`` ends with example command lines (its ``epilog``),
    which filling would run together; unindented prose (descriptions) is still wrapped
    to the terminal as before.
    """

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        blocks: list[str] = []
        prose: list[str] = []

        def flush() -> None:
            if prose:
                blocks.append(super(HelpFormatter, self)._fill_text(" ".join(prose), width, indent))
                prose.clear()

        for line in text.splitlines():
            if not line.strip():
                flush()
                blocks.append("")
            elif line[0].isspace():
                flush()
                blocks.append(indent + line.rstrip())
            else:
                prose.append(line)
        flush()
        return "\n".join(blocks)


class ArgumentParser(argparse.ArgumentParser):
    """Parser whose help keeps example lines; its subcommands' parsers get the same class."""

    def __init__(self, *args, formatter_class: type[argparse.HelpFormatter] = HelpFormatter, **kwargs) -> None:
        super().__init__(*args, formatter_class=formatter_class, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="galaxyscope",
        description="Measure galactic bars with explainable AI (saliency-based bar lengths).",
        epilog=EXAMPLES,
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
