"""The freedesktop entry parses and names a real icon; the icon files are a valid SVG and a
256 px PNG; install_desktop_entry.sh writes both under $XDG_DATA_HOME with an absolute Exec."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
DESKTOP = REPO / "packaging" / "galaxyscope.desktop"
INSTALL = REPO / "packaging" / "install_desktop_entry.sh"
ICONS = REPO / "resources" / "icons"


def read_entry(path: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keys are case-sensitive in desktop files
    parser.read_string(path.read_text(encoding="utf-8"))
    return parser["Desktop Entry"]


def test_desktop_entry_has_the_required_keys():
    entry = read_entry(DESKTOP)
    assert entry["Type"] == "Application"
    assert entry["Name"] == "galaxyscope"
    exec_words = entry["Exec"].split()
    assert exec_words[:2] == ["galaxyscope", "gui"]
    assert exec_words[2:] in (["%f"], ["%F"], ["%u"], ["%U"])  # one field code, for "open with"
    assert entry["Icon"] == "galaxyscope"
    categories = entry["Categories"].split(";")
    assert entry["Categories"].endswith(";")
    assert {"Science", "Astronomy", "Education"} <= set(categories)
    assert entry["Terminal"] == "false"


def test_icon_files_are_a_valid_svg_and_a_256_px_png():
    root = ET.parse(ICONS / "galaxyscope.svg").getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.get("viewBox") == "0 0 256 256"
    with Image.open(ICONS / "galaxyscope.png") as png:
        assert png.format == "PNG"
        assert png.size == (256, 256)
        png.load()
        rgba = png.convert("RGBA")
    # something drawn in the middle (the bulge), transparent corners (the rounded tile)
    assert rgba.getpixel((128, 128))[3] == 255 and sum(rgba.getpixel((128, 128))[:3]) > 500
    assert rgba.getpixel((0, 0))[3] == 0


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_install_script_writes_entry_and_icons_with_an_absolute_exec(tmp_path):
    exe = tmp_path / "my bin" / "galaxyscope"
    exe.parent.mkdir()
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "share"), "PATH": "/usr/bin:/bin"}
    run = subprocess.run(["bash", str(INSTALL), "--exec", str(exe)], env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    share = tmp_path / "share"
    installed = share / "applications" / "galaxyscope.desktop"
    entry = read_entry(installed)
    assert entry["Exec"] == f'"{exe}" gui %f'
    assert entry["TryExec"] == str(exe)
    assert entry["Icon"] == "galaxyscope"
    assert (share / "icons/hicolor/256x256/apps/galaxyscope.png").read_bytes() == (ICONS / "galaxyscope.png").read_bytes()
    assert (share / "icons/hicolor/scalable/apps/galaxyscope.svg").is_file()

    gone = subprocess.run(["bash", str(INSTALL), "--uninstall"], env=env, capture_output=True, text=True)
    assert gone.returncode == 0 and not installed.exists()


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_install_script_refuses_a_missing_executable(tmp_path):
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "share")}
    run = subprocess.run(["bash", str(INSTALL), "--exec", str(tmp_path / "nothing")], env=env,
                         capture_output=True, text=True)
    assert run.returncode == 1 and "no executable" in run.stderr
    assert not (tmp_path / "share" / "applications" / "galaxyscope.desktop").exists()
