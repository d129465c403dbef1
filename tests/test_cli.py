"""The command line: --version, and every subcommand answers --help."""

from __future__ import annotations

import subprocess
import sys

import pytest

from galaxyscope import __version__
from galaxyscope.cli import build_parser, main


def subcommands() -> list[str]:
    parser = build_parser()
    for action in parser._subparsers._group_actions:  # argparse keeps them here
        return sorted(action.choices)
    return []


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert __version__ in capsys.readouterr().out


def test_python_dash_m_version():
    res = subprocess.run([sys.executable, "-m", "galaxyscope", "--version"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0
    assert res.stdout.strip() == f"galaxyscope {__version__}"


def test_expected_subcommands_exist():
    names = subcommands()
    for expected in ("info", "synth", "train", "measure", "evaluate", "demo", "annotations", "gui", "scan-bias", "sanity"):
        assert expected in names, f"missing subcommand {expected}: have {names}"


@pytest.mark.parametrize("name", ["info", "synth", "train", "measure", "evaluate", "demo", "annotations", "gui", "scan-bias", "sanity"])
def test_every_subcommand_has_help(name, capsys):
    with pytest.raises(SystemExit) as exc:
        main([name, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: galaxyscope " + name)


def test_no_command_prints_help(capsys):
    assert main([]) == 1
    assert "usage: galaxyscope" in capsys.readouterr().out


def test_a_closed_pipe_ends_quietly():
    """`galaxyscope info --json ... | head -c 1`: the reader leaves early; no traceback, exit 0."""
    from galaxyscope.resources import sample_path

    fits = str(next(sample_path("sdss-fits").glob("*.fits")))
    many = " ".join([fits] * 400)  # ~170 kB of JSON: more than a pipe buffer holds
    cmd = f"{sys.executable} -m galaxyscope info --json {many} | head -c 1"
    out = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], capture_output=True, text=True, timeout=120)
    assert out.stdout == "[" or out.stdout == "{"
    assert "Traceback" not in out.stderr and "BrokenPipe" not in out.stderr


# ----------------------------------------------------------------------------- help texts (issue 17, item 10)


def all_parsers(parser=None, path=()):
    """(command path, parser) of the top level and every command and subcommand."""
    import argparse

    parser = parser or build_parser()
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from all_parsers(sub, path + (name,))


def example_commands(help_text: str) -> list[list[str]]:
    """The command lines of a help's ``examples:`` section (continuation lines joined, comments dropped)."""
    import shlex

    section = help_text.split("\nexamples:\n", 1)[1]
    lines, current = [], ""
    for line in section.splitlines():
        if not line.startswith("  "):  # the section ends at the first unindented line
            break
        current += line.strip()
        if current.endswith("\\"):
            current = current[:-1] + " "
            continue
        lines.append(shlex.split(current, comments=True))
        current = ""
    return lines


@pytest.mark.parametrize("path", [p for p, _ in all_parsers()], ids=lambda p: " ".join(p) or "top")
def test_every_help_ends_with_examples_that_parse(path):
    parser = dict(all_parsers())[path]
    text = parser.format_help()
    assert "\nexamples:\n" in text, f"galaxyscope {' '.join(path)} --help has no examples"
    commands = example_commands(text)
    assert len(commands) >= (3 if not path else 1)
    if path:  # a command's help ends with its examples: nothing unindented after the heading
        section = text.split("\nexamples:\n", 1)[1]
        assert all(line.startswith("  ") for line in section.splitlines() if line.strip()), section
    for argv in commands:
        assert argv[0] == "galaxyscope" and tuple(argv[1:1 + len(path)]) == path, argv
        args = build_parser().parse_args(argv[1:])  # a misspelt flag or choice exits 2 here
        assert getattr(args, "func", None) is not None, argv


def test_top_level_examples_cover_several_commands():
    commands = example_commands(build_parser().format_help())
    assert {argv[1] for argv in commands} >= {"demo", "synth", "measure", "evaluate"}


def test_every_option_has_help():
    import argparse

    missing = [(" ".join(path), a.option_strings or a.dest) for path, p in all_parsers() for a in p._actions
               if not isinstance(a, argparse._SubParsersAction) and not a.help]
    assert missing == []


def help_of(*command: str) -> str:
    return dict(all_parsers())[command].format_help()


def option_help(command: tuple[str, ...], flag: str) -> str:
    parser = dict(all_parsers())[command]
    (action,) = [a for a in parser._actions if flag in a.option_strings]
    return parser._get_formatter()._expand_help(action)


def test_demo_screenshot_does_not_speak_of_a_path():
    text = option_help(("demo",), "--screenshot")
    assert "PATH" not in text and "bundled examples" in text
    assert "open PATH" in option_help(("gui",), "--screenshot")  # gui does take one


def test_attribution_lists_its_choices_and_noise_its_default():
    from galaxyscope.saliency.methods import DEFAULT_METHOD, METHODS

    for command in (("measure",), ("scan-bias",), ("sanity",)):
        text = option_help(command, "--attribution")
        assert all(name in text for name in METHODS), text
        assert f"default {DEFAULT_METHOD}" in text
        noise = " ".join(option_help(command, "--noise").split())
        assert f"{METHODS[DEFAULT_METHOD].defaults['noise']} for {DEFAULT_METHOD}" in noise, noise


def test_noise_help_names_an_attribution_with_its_own_noise(own_noise):
    assert f"{own_noise} for bar_evidence" in " ".join(option_help(("measure",), "--noise").split())


def test_train_batch_size_seed_and_regress_help():
    from galaxyscope.synth.truth import GalaxyTruth

    assert "default 32" in option_help(("train",), "--batch-size")
    assert "default 0" in option_help(("train",), "--seed")
    regress = option_help(("train",), "--regress")
    assert "bar_length_px" in regress and "bar_length_px" in GalaxyTruth.__dataclass_fields__
    assert "--regress bar_length_px" in help_of("train") and "--regress bar_length " not in help_of("train")


def test_gui_and_demo_help_name_the_shortcuts_key():
    from galaxyscope.gui.shortcuts import shortcut_for

    key = shortcut_for("show_shortcuts").keys[0]
    assert key == "F1"
    for command in ("gui", "demo"):
        assert f"{key} (Help > Keyboard shortcuts)" in " ".join(help_of(command).split())


def test_help_formatter_keeps_examples_and_wraps_prose():
    from galaxyscope.cli import HelpFormatter

    f = HelpFormatter("prog", width=40)
    text = f._fill_text("word " * 20 + "\n\nexamples:\n  galaxyscope a --very-long-option-name value --another-one",
                        40, "")
    lines = text.splitlines()
    assert max(len(line) for line in lines[:-1]) <= 40  # prose wrapped
    assert lines[-1] == "  galaxyscope a --very-long-option-name value --another-one"  # example verbatim
    assert lines[-2] == "examples:" and "" in lines
