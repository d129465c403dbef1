"""Regenerate every picture in the docs from the real app: ``python -m tools.screenshots`` (repository root).

Why: screenshots go stale whenever the model, the defaults or the window change; one
command that drives the real window (no mock-ups) keeps the README honest. Each
target runs with a private cache, settings file and annotation database in a
temporary folder, so nothing depends on (or touches) the user's own session, and
every saliency map is computed afresh with the shipped model. It lives in tools/, not in the
package, because it writes into the repository's docs/; the app's own ``galaxyscope demo
--screenshot FILE`` (galaxyscope.gui.app) is what the ``main`` target runs.

Targets (``--list`` prints them):

- ``main``: docs/screenshot.png, exactly ``galaxyscope demo --screenshot FILE``.
- ``annotate-blind``: docs/annotate-blind.png, annotate mode as the annotator sees it
  before saving: alice's unsaved line only (bob's line, the machine's and the saliency
  are hidden).
- ``annotate``: docs/annotate.png, the same galaxy after alice saved and pressed V: her
  line, bob's, the machine's one line and the saliency.
- ``vetting``: docs/vetting.png, the Agreement & vetting tab on the real Galaxy Builder
  galaxies that have a Hoyle et al. (2011) bar length (imported from
  ``$GALAXYSCOPE_SHARED_DATA/hoyle2011`` as ``annotations import --format hoyle`` does),
  shown in the reference column and the scatter plot.
  In these three the annotators ("bob", "alice") are demonstration lines the script
  draws through the window's own drawing path (the signal a mouse drag emits, then
  the save Enter does), placed along the elongation of each galaxy's inner light
  (`light_axis`) with seeded jitter: they show the tools, they are not real
  annotations. The Hoyle lengths are the published ones.
- ``bias``: docs/bias.png, the Bias tab with flagged images and their full reasons: a small
  shortcut model trained (seeded, about a minute of CPU) on synthetic galaxies where a planted star
  marks most barred ones, a fresh star set opened with it, Measure all, the set's scan against
  the clean synthetic reference, one flagged galaxy selected with its reasons under the table and
  the galaxy-mask outline on. Synthetic data and a deliberately biased model: the shipped
  model flags nothing on the bundled examples.
- ``mosaic``: docs/mosaic.png, real Galaxy Zoo examples beside synthetic galaxies
  (``tools.mosaic``; no window).
- ``icon``: resources/icons/galaxyscope.png, the 256 px icon rendered from the SVG
  with Qt's QSvgRenderer.

Without a display, run it under ``xvfb-run -a`` (packaging/screenshots.sh does) or
with ``QT_QPA_PLATFORM=offscreen`` (set automatically when there is no display).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from galaxyscope.gui.cli_gui import parse_window_size
from galaxyscope.gui.settings import DEFAULT_WINDOW_SIZE
from galaxyscope.paths import CACHE_ENV, DATABASE_ENV, SETTINGS_ENV, USER_FILE_ENV_VARS

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SIZE = DEFAULT_WINDOW_SIZE
SETTLE_TIMEOUT_S = 600.0
ICON_SIZE = 256
ANNOTATE_IMAGES = 6  # barred examples that both demonstration annotators draw on
ANNOTATE_SHOWN = "sdss/sloan-2_a-0_2.jpg"  # on screen in annotate(-blind).png: P(bar) 0.81 passes the gate
VETTING_SET = "galaxy-builder-dev"  # real galaxies with SDSS objids, some of them in Hoyle et al. (2011)
VETTING_SHOWN = "587727942423281732"  # on screen in vetting.png: a bar in Galaxy Builder, one the machine measures
BAR_EVIDENCE_SHOWN = "images/gzb_587742629057265796.png"  # a volunteers' bar (bar_Re 49 px) in Galaxy Builder
BIAS_SHORTCUT = ["--artefact", "star", "--artefact-on", "bar", "--artefact-fraction", "0.7"]  # as experiments.bias_grid
BIAS_SIDE = 212  # px side of the star sets (bias_grid's smaller side)
BIAS_TRAIN_N = 300  # galaxies the shortcut model trains on
BIAS_EPOCHS = 4
BIAS_SHOWN_N = 24  # galaxies of the star set the picture shows
BIAS_RESULTS_SHARE = 0.52  # of the window's height given to the Results dock in bias.png
BIAS_SAMPLES = 4  # SmoothGrad samples per map (scan-bias and Measure all alike)
PRIVATE_ENV = USER_FILE_ENV_VARS


@dataclass(frozen=True)
class Target:
    """One picture: its name on the command line, its file (relative to the repository),
    what it shows, and whether it needs a window."""

    name: str
    path: str
    what: str
    window: bool


TARGETS: tuple[Target, ...] = (
    Target("main", "docs/screenshot.png", "the window on a real Galaxy Zoo barred galaxy (demo --screenshot)", True),
    Target("annotate-blind", "docs/annotate-blind.png", "annotate mode before saving: only your own line", True),
    Target("annotate", "docs/annotate.png", "after saving, V: two annotators, the machine's line, saliency", True),
    Target("vetting", "docs/vetting.png", "the vetting view with Hoyle et al. (2011) reference lengths", True),
    Target("bias", "docs/bias.png", "the Bias tab: a shortcut model's flags on a planted-star set, full reasons", True),
    Target("bar-evidence", "docs/bar-evidence.png",
           "one real Galaxy Builder bar: the image view with smoothgrad, then with bar_evidence", True),
    Target("mosaic", "docs/mosaic.png", "real Galaxy Zoo examples beside synthetic galaxies", False),
    Target("icon", "resources/icons/galaxyscope.png", "the 256 px application icon from galaxyscope.svg", True),
)
TARGET_NAMES: tuple[str, ...] = tuple(t.name for t in TARGETS)


def target(name: str) -> Target:
    """The target called ``name`` (KeyError naming the known ones otherwise)."""
    for t in TARGETS:
        if t.name == name:
            return t
    raise KeyError(f"unknown screenshot target {name!r} (known: {', '.join(TARGET_NAMES)})")


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m tools.screenshots``."""
    p = argparse.ArgumentParser(
        prog="python -m tools.screenshots",
        description="Regenerate the pictures in docs/ (and the icon PNG) from the real app.",
    )
    p.add_argument("targets", nargs="*", metavar="TARGET",
                   help=f"what to make (default: all): {', '.join(TARGET_NAMES)}")
    p.add_argument("--root", type=Path, default=REPO,
                   help="write under this folder instead of the repository (same relative paths)")
    p.add_argument("--size", type=parse_window_size, default=DEFAULT_SIZE, metavar="WxH",
                   help="window size of the screenshots (default 1600x1000)")
    p.add_argument("--timeout", type=float, default=SETTLE_TIMEOUT_S, metavar="S",
                   help="most seconds to wait for a window to settle (default 600)")
    p.add_argument("--list", action="store_true", help="list the targets and their files, then exit")
    return p


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse and check the command line; ``targets`` becomes the chosen `Target`s in order."""
    parser = build_parser()
    args = parser.parse_args(argv)
    unknown = [n for n in args.targets if n not in TARGET_NAMES]
    if unknown:
        parser.error(f"unknown target(s) {', '.join(unknown)} (choose from {', '.join(TARGET_NAMES)})")
    names = args.targets or list(TARGET_NAMES)
    args.targets = [target(n) for n in dict.fromkeys(names)]
    return args


# ====================================================================== environment and window


@contextlib.contextmanager
def private_environment() -> Iterator[Path]:
    """A temporary folder holding this run's saliency cache, settings and annotation
    database (the GALAXYSCOPE_* variables point there), restored afterwards."""
    saved = {k: os.environ.get(k) for k in PRIVATE_ENV}
    with tempfile.TemporaryDirectory(prefix="galaxyscope-screenshots-") as tmp:
        root = Path(tmp)
        os.environ[CACHE_ENV] = str(root / "cache")
        os.environ[SETTINGS_ENV] = str(root / "settings.ini")
        os.environ[DATABASE_ENV] = str(root / "annotations.sqlite")
        try:
            yield root
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def _ensure_platform() -> None:
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def open_demo_window(tmp: Path, size: tuple[int, int], db: Path | None = None, data: Path | None = None,
                     model: Path | None = None) -> Any:
    """The main window on the bundled Galaxy Zoo examples (or ``data``) with the shipped model (or
    ``model``), as ``galaxyscope demo`` opens it, but with a fresh settings file and no restored layout."""
    from galaxyscope.gui.app import ensure_app, load_model_for_gui
    from galaxyscope.gui.main_window import MainWindow
    from galaxyscope.gui.settings import Settings
    from galaxyscope.images.imageset import ImageSet
    from galaxyscope.resources import sample_path
    from galaxyscope.saliency.cache import SaliencyCache

    _ensure_platform()
    image_set = ImageSet.open(data if data is not None else sample_path("gz-bar-examples"))
    loaded, note = load_model_for_gui(str(model) if model is not None else None)
    if loaded is None:
        from galaxyscope.errors import GalaxyscopeError

        raise GalaxyscopeError(f"screenshots need the shipped model: {note}")
    ensure_app()
    window = MainWindow(model=loaded, settings=Settings(tmp / "window.ini"), disk_cache=SaliencyCache(),
                        db_path=str(db) if db is not None else None, restore_state=False)
    window.resize(*size)
    window.show()
    window.set_image_set(image_set, source=str(image_set.root))
    return window


def wait_for(window: Any, predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Run the event loop until ``predicate()``; raise TimeoutError naming ``what`` otherwise."""
    from galaxyscope.gui.app import wait_until

    if not wait_until(predicate, timeout_s):
        raise TimeoutError(f"the window did not settle in {timeout_s:.0f} s ({what})")


def show_file(window: Any, key: str, timeout_s: float) -> None:
    """Select the image ``key`` and wait for its saliency, bar and annotation lines."""
    if not window.select_file(key):
        raise KeyError(f"{key} is not in the open set")
    wait_for(window, lambda: window.is_settled() and window.current_image is not None
             and window.annotate.image is window.current_image, timeout_s, key)


def _save(window: Any, path: Path, timeout_s: float) -> Path:
    from galaxyscope.gui.app import save_screenshot

    window.statusBar().clearMessage()  # the script's own last save, not what a user would see there
    path.parent.mkdir(parents=True, exist_ok=True)
    if not save_screenshot(window, path, timeout_s):
        raise TimeoutError(f"{path}: the window did not settle in {timeout_s:.0f} s")
    return path


# ====================================================================== the targets


def make_main(path: Path, size: tuple[int, int], timeout_s: float, tmp: Path) -> Path:
    """docs/screenshot.png: literally ``galaxyscope demo --screenshot FILE --size WxH``."""
    from galaxyscope.cli import main

    _ensure_platform()
    path.parent.mkdir(parents=True, exist_ok=True)
    code = main(["demo", "--screenshot", str(path), "--size", f"{size[0]}x{size[1]}"])
    if code != 0:
        raise RuntimeError(f"galaxyscope demo --screenshot exited with {code}")
    return path


@dataclass(frozen=True)
class LightAxis:
    """Centre (x, y), direction and full major-axis length (px) of a galaxy's bright inner light."""

    x: float
    y: float
    angle_deg: float
    length_px: float


def light_axis(luminance: Any, radius_fraction: float = 0.15, percentile: float = 75.0) -> LightAxis:
    """The inner light's second moments: pixels brighter than ``percentile`` within
    ``radius_fraction`` of the side around the centre, weighted by brightness. Why: a
    person draws a bar along the elongated bright light they see, not along the saliency,
    so the demonstration annotators start from this and can disagree with the machine."""
    import numpy as np

    lum = np.nan_to_num(np.asarray(luminance, dtype=float))
    h, w = lum.shape
    yy, xx = np.mgrid[0:h, 0:w]
    near = np.hypot(xx - (w - 1) / 2, yy - (h - 1) / 2) <= radius_fraction * min(h, w)
    weight = np.where(near & (lum > np.percentile(lum[near], percentile)), lum, 0.0)
    total = weight.sum()
    if total <= 0:
        return LightAxis((w - 1) / 2, (h - 1) / 2, 0.0, radius_fraction * min(h, w))
    cx, cy = (weight * xx).sum() / total, (weight * yy).sum() / total
    cov = np.cov(np.stack([xx.ravel() - cx, yy.ravel() - cy]), aweights=weight.ravel(), bias=True)
    values, vectors = np.linalg.eigh(cov)
    major = vectors[:, -1]
    return LightAxis(float(cx), float(cy), math.degrees(math.atan2(major[1], major[0])),
                     4.0 * math.sqrt(max(values[-1], 0.0)))


def demonstration_line(axis: LightAxis, ratio: float, turn_deg: float,
                       shift: tuple[float, float] = (0.0, 0.0)) -> Any:
    """A person-like bar line for the annotate screenshot: along ``axis`` turned by ``turn_deg``,
    ``ratio`` times its length, its centre moved by ``shift`` px (demonstration data, not a
    measurement)."""
    from galaxyscope.store import BarLine

    cx, cy = axis.x + shift[0], axis.y + shift[1]
    half = ratio * axis.length_px / 2
    angle = math.radians(axis.angle_deg + turn_deg)
    dx, dy = half * math.cos(angle), half * math.sin(angle)
    return BarLine(cx - dx, cy - dy, cx + dx, cy + dy)


def draw_demonstration(window: Any, name: str, rng: Any) -> None:
    """``name``'s demonstration line on the image on screen, as a mouse drag would draw it (unsaved)."""
    shift, turn_sd = DEMONSTRATION_STYLE[name]
    line = demonstration_line(light_axis(window.current_image.luminance()),
                              float(rng.uniform(0.8, 1.1)), float(rng.normal(0, turn_sd)), shift)
    window.annotate.layer.line_drawn.emit(line, False)  # what a mouse drag along the bar emits


def annotate_all(window: Any, keys: Sequence[str], names: Sequence[str], timeout_s: float, seed: int = 2022) -> None:
    """Each of ``names`` in turn draws and saves a demonstration line on every image of ``keys``."""
    import numpy as np

    rng = np.random.default_rng(seed)
    controller = window.annotate
    for name in names:
        controller.set_annotator(name)
        controller.set_active(True)
        for key in keys:
            show_file(window, key, timeout_s)
            draw_demonstration(window, name, rng)
            if not controller.save_draft():
                raise RuntimeError(f"the demonstration line on {key} was not saved")


#: demonstration annotator -> (shift of the line's centre in px, spread of its angle in degrees)
DEMONSTRATION_STYLE: dict[str, tuple[tuple[float, float], float]] = {
    "bob": ((5.0, -7.0), 12.0), "alice": ((-2.0, 2.0), 6.0)}


def make_annotate_blind(path: Path, size: tuple[int, int], timeout_s: float, tmp: Path) -> Path:
    """docs/annotate-blind.png: bob has saved a line on the galaxy; alice, in annotate mode, has
    drawn hers and not saved it yet, so she sees neither bob's, nor the machine's, nor the saliency."""
    import numpy as np

    window = open_demo_window(tmp, size, db=tmp / "shot.sqlite")
    try:
        annotate_all(window, [ANNOTATE_SHOWN], ["bob"], timeout_s)
        window.annotate.undo_stack.clear()  # bob drew in a session of his own: not in alice's history
        window.annotate.set_annotator("alice")
        window.annotate.set_reveal(False)
        draw_demonstration(window, "alice", np.random.default_rng(7))
        if not window.state.annotate.blind:
            raise RuntimeError("annotate mode is not blind before saving")
        window.annotate.dock.raise_()
        return _save(window, path, timeout_s)
    finally:
        window.close()


def make_annotate(path: Path, size: tuple[int, int], timeout_s: float, tmp: Path) -> Path:
    """docs/annotate.png: bob, then alice, draw on the first barred examples through the window's
    own drawing and saving path; alice ends on the galaxy of annotate-blind.png, saved, with V on:
    her line, bob's, the machine's one line and the saliency."""
    window = open_demo_window(tmp, size, db=tmp / "shot.sqlite")
    try:
        keys = [k for k in window.browser.model.keys if "_a-0_" in k][:ANNOTATE_IMAGES]
        if ANNOTATE_SHOWN in keys:  # alice finishes on the image the picture shows
            keys.remove(ANNOTATE_SHOWN)
        annotate_all(window, keys + [ANNOTATE_SHOWN], ["bob", "alice"], timeout_s)
        window.annotate.set_reveal(True)
        if window.state.annotate.blind:
            raise RuntimeError("V did not reveal the machine's line after saving")
        window.annotate.dock.raise_()
        return _save(window, path, timeout_s)
    finally:
        window.close()


def make_vetting(path: Path, size: tuple[int, int], timeout_s: float, tmp: Path) -> Path:
    """docs/vetting.png: the real Galaxy Builder galaxies with a Hoyle et al. (2011) length, the Hoyle
    table imported as ``annotations import --format hoyle`` does; bob and alice draw on each; the
    vetting tab lists people, machine and reference side by side, one galaxy open with every line."""
    import csv

    from experiments.common import shared_data
    from galaxyscope.store import AnnotationStore
    from galaxyscope.store.table_io import import_hoyle

    data, hoyle = shared_data(VETTING_SET), shared_data("hoyle2011", "hoyle_barlengths.csv")
    for needed in (data, hoyle):
        if not needed.exists():
            raise FileNotFoundError(f"{needed} is missing (set GALAXYSCOPE_SHARED_DATA to the shared data folder)")
    db = tmp / "vetting.sqlite"
    with AnnotationStore(db) as store:
        import_hoyle(store, hoyle)
    with open(hoyle, newline="", encoding="utf-8") as f:
        objids = {row["objid"] for row in csv.DictReader(f)}
    window = open_demo_window(tmp, size, db=db, data=data)
    try:
        keys = [k for k in window.browser.model.keys if Path(k).stem.removeprefix("gzb_") in objids]
        shown = next(k for k in keys if VETTING_SHOWN in k)
        keys.remove(shown)
        annotate_all(window, keys + [shown], ["bob", "alice"], timeout_s)
        controller = window.annotate
        controller.set_active(False)  # vetting: everyone's lines, the machine's and the saliency
        window.bottom_tabs.setCurrentWidget(controller.vetting)
        controller.refresh_vetting()
        record, table = controller.image_record, controller.vetting.table
        for row in range(table.rowCount()):
            if record is not None and controller.vetting.image_id_at(row) == record.id:
                table.selectRow(row)
        controller.dock.raise_()
        return _save(window, path, timeout_s)
    finally:
        window.close()


def make_shortcut_model(tmp: Path) -> tuple[Path, Path]:
    """(a star set to show, a shortcut model): the planted-star sets of ``experiments.bias_grid``, small,
    and the clean reference the window's bias scan compares with.

    What a user would run (seeded, so the same model and flags every time):

        galaxyscope synth TRAIN --n 300 --size 212 --seed 103 --artefact star --artefact-on bar --artefact-fraction 0.7
        galaxyscope synth SHOWN --n 24 --size 212 --seed 202 (same artefact options)
        galaxyscope train TRAIN --target has_bar --out MODEL --epochs 4 --seed 1 --threads 1
        galaxyscope scan-bias SHOWN --model MODEL --out FLAGS.ecsv --samples 4 --target has_bar

    A saturated star beside 70 % of the barred galaxies: the network learns to look at it. The
    scan renders and scans the default clean synthetic reference once and caches its values (in
    the private cache), which is what the window's own scan after Measure all then compares with
    (without it the window falls back on the set's own spread, which cannot see a shortcut that
    many images carry); the scan's saliency maps are cached too, so Measure all reuses them.
    ``--target has_bar`` names the output the window explains: the cached values are keyed by the
    saliency settings, and the window's request names the bar output where the CLI's default is None."""
    from galaxyscope.cli import main

    train, shown, model = tmp / "star-train", tmp / "star-shown", tmp / "shortcut.safetensors"
    for folder, n, seed in ((train, BIAS_TRAIN_N, 103), (shown, BIAS_SHOWN_N, 202)):
        code = main(["synth", str(folder), "--n", str(n), "--size", str(BIAS_SIDE), "--seed", str(seed), *BIAS_SHORTCUT])
        if code != 0:
            raise RuntimeError(f"galaxyscope synth {folder.name} exited with {code}")
    code = main(["train", str(train), "--target", "has_bar", "--out", str(model), "--epochs", str(BIAS_EPOCHS),
                 "--seed", "1", "--threads", "1", "--quiet"])
    if code != 0:
        raise RuntimeError(f"galaxyscope train exited with {code}")
    code = main(["scan-bias", str(shown), "--model", str(model), "--out", str(tmp / "flags.ecsv"),
                 "--samples", str(BIAS_SAMPLES), "--target", "has_bar", "--quiet"])
    if code != 0:
        raise RuntimeError(f"galaxyscope scan-bias exited with {code}")
    return shown, model


def make_bias(path: Path, size: tuple[int, int], timeout_s: float, tmp: Path) -> Path:
    """docs/bias.png: a model trained on a set where a planted star marks most barred galaxies (a
    shortcut), a fresh set made the same way opened with it, Measure all, then the Bias tab's scan of the
    whole set: a flagged galaxy selected, its full reasons under the table, the galaxy-mask outline on."""
    shown, model = make_shortcut_model(tmp)
    window = open_demo_window(tmp, size, data=shown, model=model)
    try:
        window.saliency_controls.samples.setValue(BIAS_SAMPLES)
        bias = window.bias
        wait_for(window, window.is_settled, timeout_s, "the first galaxy")
        finished: list[str] = []
        window.batch_finished.connect(finished.append)
        window.batch_measure()
        wait_for(window, lambda: bool(finished), timeout_s, "Measure all")
        if finished[0] != "succeeded":
            raise RuntimeError(f"Measure all ended {finished[0]!r}")
        wait_for(window, lambda: bias.last_report is not None, timeout_s, "the bias scan of the set")
        flagged = [r for r in bias.last_report.rows if r.flagged]
        if not flagged or bias.last_report.meta.get("threshold_mode") != "reference":
            raise RuntimeError(f"the window's bias scan ({bias.last_report.meta.get('threshold_mode')} thresholds) "
                               f"flagged {len(flagged)} image(s) of the star set: the picture needs flags and reasons")
        key = max(flagged, key=lambda r: len(r.reasons)).filename  # the one with the most reasons
        show_file(window, key, timeout_s)
        wait_for(window, lambda: bias.current is not None and bias.current.key == key, timeout_s, f"bias check of {key}")
        panel = bias.panel
        bias.show_report(bias.last_report, window.image_set)  # the set's verdicts again over the viewed one's
        row = next(r for r in range(panel.table.rowCount()) if panel.key_at(r) == key)
        panel.table.selectRow(row)
        panel.show_detail(key)
        panel.show_mask.setChecked(True)
        window.bottom_tabs.setCurrentWidget(panel)
        from PySide6.QtCore import Qt

        # room for the set's notes, several rows and the selected row's reasons, whole
        window.resizeDocks([window.bottom_dock], [int(BIAS_RESULTS_SHARE * size[1])], Qt.Orientation.Vertical)
        return _save(window, path, timeout_s)
    finally:
        window.close()


def make_mosaic(path: Path, size: tuple[int, int], timeout_s: float, tmp: Path) -> Path:
    """docs/mosaic.png via ``python -m tools.mosaic --out FILE``."""
    from tools import mosaic

    mosaic.main(["--out", str(path)])
    return path


def render_icon(svg: Path, png: Path, size: int = ICON_SIZE) -> Path:
    """Render the SVG icon to a square PNG of ``size`` px with Qt's SVG renderer."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    from galaxyscope.gui.app import ensure_app

    _ensure_platform()
    ensure_app()
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise ValueError(f"{svg}: not a valid SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    png.parent.mkdir(parents=True, exist_ok=True)
    if not image.save(str(png), "PNG"):
        raise OSError(f"{png}: could not write the icon")
    return png


def make_icon(path: Path, size: tuple[int, int], timeout_s: float, tmp: Path) -> Path:
    """resources/icons/galaxyscope.png from resources/icons/galaxyscope.svg (beside it)."""
    return render_icon(REPO / "resources" / "icons" / "galaxyscope.svg", path)


def make_bar_evidence(path: Path, size: tuple[int, int], timeout_s: float, tmp: Path) -> Path:
    """docs/bar-evidence.png: the same real barred galaxy's image view with the classifier's
    SmoothGrad (left) and with SmoothGrad of the bar-evidence companion (right), side by side,
    the P(bar) gate set to 0 so that both fitted bars are drawn."""
    from PySide6.QtGui import QImage, QPainter

    from experiments.common import shared_data
    from galaxyscope.gui.controls import _set_combo

    window = open_demo_window(tmp, size, data=shared_data(VETTING_SET))
    window.bar_controls.min_probability.setValue(0.0)  # P(bar) 0.57 is below the gate: show both fits anyway
    shots = []
    for attribution in ("smoothgrad", "bar_evidence"):
        _set_combo(window.saliency_controls.method, attribution)
        show_file(window, BAR_EVIDENCE_SHOWN, timeout_s)
        window.statusBar().clearMessage()
        shots.append(window.image_view.grab().toImage())
    w, h = sum(im.width() for im in shots), max(im.height() for im in shots)
    out = QImage(w, h, QImage.Format.Format_RGB32)
    out.fill(0)
    painter = QPainter(out)
    x = 0
    for im in shots:
        painter.drawImage(x, 0, im)
        x += im.width()
    painter.end()
    window.close()
    path.parent.mkdir(parents=True, exist_ok=True)
    if not out.save(str(path)):
        raise OSError(f"{path}: could not be written")
    return path


MAKERS: dict[str, Callable[[Path, tuple[int, int], float, Path], Path]] = {
    "main": make_main, "annotate-blind": make_annotate_blind, "annotate": make_annotate, "vetting": make_vetting,
    "bias": make_bias, "bar-evidence": make_bar_evidence, "mosaic": make_mosaic, "icon": make_icon,
}


def make(t: Target, root: Path = REPO, size: tuple[int, int] = DEFAULT_SIZE,
         timeout_s: float = SETTLE_TIMEOUT_S) -> Path:
    """Make one target under ``root`` in a private environment; returns the file written."""
    out = root / t.path
    with private_environment() as tmp:
        return MAKERS[t.name](out, size, timeout_s, tmp)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.list:
        for t in TARGETS:
            print(f"{t.name:14s} {t.path:34s} {t.what}")
        return 0
    import time

    failed = 0
    for t in args.targets:
        start = time.monotonic()
        try:
            out = make(t, args.root, args.size, args.timeout)
        except Exception as exc:  # report and go on with the other pictures
            failed += 1
            print(f"{t.name}: FAILED: {exc}", file=sys.stderr)
            continue
        print(f"{t.name}: wrote {out} ({time.monotonic() - start:.0f} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
