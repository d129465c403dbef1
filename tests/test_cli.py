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
