"""The screenshot command (tools/screenshots.py): its targets cover every picture the README and docs/ show, its
argument parsing, the private environment it runs in, the demonstration line's geometry,
and (cheap, offscreen) the icon target writing a real PNG."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import re
from pathlib import Path

import numpy as np
import pytest

from tools import screenshots as shots

REPO = Path(__file__).resolve().parents[1]


def test_targets_cover_every_picture_in_the_readme_and_docs():
    made = {t.path for t in shots.TARGETS}
    shown = set()
    # the user-facing pages (evaluation.md's plots come from experiments/eval_engine.py)
    for page in [REPO / "README.md", *(REPO / "docs" / n for n in ("user-guide.md", "gz2.md", "packaging.md"))]:
        for link in re.findall(r"!\[[^\]]*\]\(([^)]+\.png)\)", page.read_text(encoding="utf-8")):
            shown.add((page.parent / link).resolve().relative_to(REPO).as_posix())
    assert shown, "no pictures found in README.md"
    assert shown <= made, f"pictures no target regenerates: {sorted(shown - made)}"
    assert {"docs/screenshot.png", "docs/annotate.png", "docs/bias.png", "docs/mosaic.png"} <= made
    assert set(shots.MAKERS) == set(shots.TARGET_NAMES)


def test_parse_args_defaults_to_every_target_in_order():
    args = shots.parse_args([])
    assert [t.name for t in args.targets] == list(shots.TARGET_NAMES)
    assert args.size == shots.DEFAULT_SIZE and args.root == shots.REPO


def test_parse_args_keeps_the_order_given_without_repeats(tmp_path):
    args = shots.parse_args(["bias", "main", "bias", "--root", str(tmp_path), "--size", "800x600"])
    assert [t.name for t in args.targets] == ["bias", "main"]
    assert args.root == tmp_path and args.size == (800, 600)


@pytest.mark.parametrize("argv", [["nonsense"], ["--size", "10x10"], ["--size", "big"]])
def test_parse_args_rejects_bad_input(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        shots.parse_args(argv)
    assert exc.value.code == 2
    assert "error" in capsys.readouterr().err


def test_list_prints_every_target_and_its_file(capsys):
    assert shots.main(["--list"]) == 0
    out = capsys.readouterr().out
    for t in shots.TARGETS:
        assert re.search(rf"^{t.name}\s+{re.escape(t.path)}\s", out, re.M)


def test_private_environment_points_at_a_temporary_folder_and_restores(monkeypatch):
    monkeypatch.setenv("GALAXYSCOPE_CACHE", "/somewhere/mine")
    monkeypatch.delenv("GALAXYSCOPE_DB", raising=False)
    with shots.private_environment() as tmp:
        assert os.environ["GALAXYSCOPE_CACHE"].startswith(str(tmp))
        assert os.environ["GALAXYSCOPE_SETTINGS"].startswith(str(tmp))
        assert os.environ["GALAXYSCOPE_DB"].startswith(str(tmp))
        assert tmp.is_dir()
    assert os.environ["GALAXYSCOPE_CACHE"] == "/somewhere/mine"
    assert "GALAXYSCOPE_DB" not in os.environ
    assert not tmp.exists()


def test_light_axis_follows_an_elongated_galaxy():
    yy, xx = np.mgrid[0:101, 0:101].astype(float)
    angle = np.radians(30.0)
    u = (xx - 52) * np.cos(angle) + (yy - 49) * np.sin(angle)  # along the bar
    v = -(xx - 52) * np.sin(angle) + (yy - 49) * np.cos(angle)
    lum = np.exp(-0.5 * ((u / 8.0) ** 2 + (v / 2.5) ** 2))
    axis = shots.light_axis(lum, radius_fraction=0.3, percentile=50)
    assert (axis.x, axis.y) == pytest.approx((52.0, 49.0), abs=0.5)
    assert axis.angle_deg % 180 == pytest.approx(30.0, abs=2.0)
    assert 10 < axis.length_px < 40  # 4 sigma of the bright core along the bar


def test_demonstration_line_is_centred_scaled_and_turned():
    axis = shots.LightAxis(x=150.0, y=200.0, angle_deg=0.0, length_px=100.0)
    line = shots.demonstration_line(axis, 0.4, 90.0, shift=(3.0, -2.0))
    assert line.length_px == pytest.approx(40.0)
    assert ((line.x1 + line.x2) / 2, (line.y1 + line.y2) / 2) == pytest.approx((153.0, 198.0))
    assert line.pa_deg == pytest.approx(90.0)
    same = shots.demonstration_line(axis, 1.0, 0.0)
    assert (same.x1, same.y1, same.x2, same.y2) == pytest.approx((100.0, 200.0, 200.0, 200.0))


def test_icon_target_renders_a_256_px_png(tmp_path):
    pytest.importorskip("PySide6.QtSvg")
    from PIL import Image

    assert shots.main(["icon", "--root", str(tmp_path)]) == 0
    out = tmp_path / "resources" / "icons" / "galaxyscope.png"
    with Image.open(out) as png:
        assert png.format == "PNG" and png.size == (256, 256)
        centre = png.convert("RGBA").getpixel((128, 128))
    assert centre[3] == 255 and sum(centre[:3]) > 500  # the bright bulge


def test_a_failing_target_is_reported_and_gives_exit_1(tmp_path, monkeypatch, capsys):
    def broken(*_args):
        raise RuntimeError("no window today")

    monkeypatch.setitem(shots.MAKERS, "mosaic", broken)
    assert shots.main(["mosaic", "--root", str(tmp_path)]) == 1
    assert "mosaic: FAILED: no window today" in capsys.readouterr().err
