"""Generate a synthetic dataset on disk: images, bar masks, FITS and ``catalog.ecsv``.

Why: honest validation needs galaxies whose bar is known exactly, and training needs many of
them framed like Galaxy Zoo 2. Output is a pure function of the arguments (same seed, same
bytes; the number of workers does not matter), because every galaxy draws from its own seeded
random streams and the dataset-level choices (which galaxies are barred, which carry an
artefact) are made up front.

Layout under OUTDIR:
  images/<id>.jpg        424x424 gri colour JPEG (quality 90), the GZ2 look
  fits/<id>.fits         r band + G, I extensions, WCS and truth (see fits_io)
  masks/<id>_bar.png     uint8 bar mask (255 inside the bar's outline), barred galaxies only
  catalog.ecsv           one row per image; columns in truth.GalaxyTruth plus id, filename,
                         fits_filename, bar_mask, pair_id (paths relative to OUTDIR)
Masks live in their own folder so that loading ``images/`` as an image set sees galaxies only.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.table import Table
from PIL import Image

from galaxyscope import __version__
from galaxyscope.errors import CancelledError, GalaxyscopeError
from galaxyscope.synth.params import ARTEFACT_KINDS, STYLES, GalaxyParams, sample_params
from galaxyscope.synth.render import SyntheticGalaxy, render_galaxy
from galaxyscope.synth.truth import GalaxyTruth

FORMATS = ("jpeg", "fits", "both")
ARTEFACT_TARGETS = ("bar", "nobar", "any")
JPEG_QUALITY = 90
CATALOG_NAME = "catalog.ecsv"


class SynthConfigError(GalaxyscopeError):
    """The dataset was asked for with impossible settings (e.g. a fraction outside [0, 1])."""


@dataclass(frozen=True)
class PlannedGalaxy:
    """Dataset-level decisions for galaxy ``index``: barred or not, and which artefact."""

    index: int
    has_bar: bool
    artefact: str


@dataclass(frozen=True)
class WrittenGalaxy:
    """One catalogue row: file names (relative to OUTDIR) plus the truth."""

    id: str
    filename: str
    fits_filename: str
    bar_mask: str
    pair_id: int
    truth: GalaxyTruth


def plan_dataset(
    n: int, seed: int, bar_fraction: float, artefact: str, artefact_on: str, artefact_fraction: float
) -> list[PlannedGalaxy]:
    """Decide up front which galaxies are barred (exactly round(bar_fraction * n)) and which
    carry the artefact (exactly round(artefact_fraction * size of the chosen class))."""
    _check_choices(n, bar_fraction, artefact, artefact_on, artefact_fraction)
    rng = np.random.default_rng([seed, 2**32, 0])
    has_bar = np.zeros(n, dtype=bool)
    has_bar[rng.permutation(n)[: int(round(bar_fraction * n))]] = True
    chosen: set[int] = set()
    if artefact != "none" and artefact_fraction > 0:
        pool = {"bar": np.flatnonzero(has_bar), "nobar": np.flatnonzero(~has_bar), "any": np.arange(n)}[artefact_on]
        k = int(round(artefact_fraction * len(pool)))
        if k:
            chosen = {int(i) for i in rng.choice(pool, size=k, replace=False)}
    return [PlannedGalaxy(i, bool(has_bar[i]), artefact if i in chosen else "none") for i in range(n)]


def _check_choices(n: int, bar_fraction: float, artefact: str, artefact_on: str, artefact_fraction: float) -> None:
    if n < 0:
        raise SynthConfigError(f"--n must be >= 0, got {n}")
    for name, value in (("bar fraction", bar_fraction), ("artefact fraction", artefact_fraction)):
        if not (0.0 <= value <= 1.0):
            raise SynthConfigError(f"{name} must be in [0, 1], got {value}")
    if artefact not in ARTEFACT_KINDS:
        raise SynthConfigError(f"unknown artefact {artefact!r}; choose from {', '.join(ARTEFACT_KINDS)}")
    if artefact_on not in ARTEFACT_TARGETS:
        raise SynthConfigError(f"unknown artefact target {artefact_on!r}; choose from {', '.join(ARTEFACT_TARGETS)}")


def galaxy_id(index: int, twin: bool = False) -> str:
    return f"synth_{index:06d}" + ("_nobar" if twin else "")


def rgb_to_uint8(rgb: np.ndarray) -> np.ndarray:
    """Float RGB in [0, 1] to the 8-bit values stored in the JPEG."""
    return np.clip(np.round(rgb * 255.0), 0, 255).astype(np.uint8)


def _write_one(outdir: Path, galaxy: SyntheticGalaxy, gid: str, fmt: str, pair_id: int) -> WrittenGalaxy:
    jpeg_name = fits_name = mask_name = ""
    if fmt in ("jpeg", "both"):
        jpeg_name = f"images/{gid}.jpg"
        Image.fromarray(rgb_to_uint8(galaxy.rgb)).save(outdir / jpeg_name, format="JPEG", quality=JPEG_QUALITY)
    if fmt in ("fits", "both"):
        from galaxyscope.synth.fits_io import write_fits

        fits_name = f"fits/{gid}.fits"
        write_fits(outdir / fits_name, galaxy, gid)
    if galaxy.truth.has_bar:
        mask_name = f"masks/{gid}_bar.png"
        Image.fromarray(galaxy.bar_mask.astype(np.uint8) * 255).save(outdir / mask_name, format="PNG")
    return WrittenGalaxy(
        id=gid,
        filename=jpeg_name or fits_name,
        fits_filename=fits_name,
        bar_mask=mask_name,
        pair_id=pair_id,
        truth=galaxy.truth,
    )


@dataclass(frozen=True)
class _Task:
    outdir: str
    params: GalaxyParams
    index: int
    fmt: str
    pairs: bool


def _run_task(task: _Task) -> list[WrittenGalaxy]:
    """Render and write one planned galaxy (and its bar-free twin with --pairs)."""
    outdir = Path(task.outdir)
    galaxy = render_galaxy(task.params)
    paired = task.pairs and task.params.has_bar
    pair_id = task.index if paired else -1
    rows = [_write_one(outdir, galaxy, galaxy_id(task.index), task.fmt, pair_id)]
    if paired:
        twin = render_galaxy(dataclasses.replace(task.params, has_bar=False))
        rows.append(_write_one(outdir, twin, galaxy_id(task.index, twin=True), task.fmt, pair_id))
    return rows


def generate_dataset(
    outdir: str | Path,
    n: int,
    seed: int,
    size: int = 424,
    bar_fraction: float = 0.5,
    fmt: str = "jpeg",
    artefact: str = "none",
    artefact_on: str = "bar",
    artefact_fraction: float = 0.0,
    pairs: bool = False,
    style: str = "mix",
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> Table:
    """Render ``n`` galaxies into ``outdir`` and write ``catalog.ecsv``; return the catalogue.

    With ``pairs`` every barred galaxy also gets a twin rendered without its bar (same noise
    realisation, stars, arms...) as an extra row right after it, has_bar = False; both rows
    share ``pair_id`` (= the barred galaxy's index; -1 for unpaired rows). ``workers`` > 1
    renders in that many processes with byte-identical output.
    """
    if fmt not in FORMATS:
        raise SynthConfigError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    if style not in (*STYLES, "mix"):
        raise SynthConfigError(f"unknown style {style!r}; choose from {', '.join((*STYLES, 'mix'))}")
    if size < 32:
        raise SynthConfigError(f"--size must be at least 32 px, got {size}")
    plan = plan_dataset(n, seed, bar_fraction, artefact, artefact_on, artefact_fraction)
    outdir = Path(outdir)
    for sub in ("images", "fits", "masks"):
        if sub == "masks" or (sub == "images" and fmt != "fits") or (sub == "fits" and fmt != "jpeg"):
            (outdir / sub).mkdir(parents=True, exist_ok=True)
    tasks = [
        _Task(str(outdir), sample_params(seed, g.index, size, g.has_bar, style, g.artefact), g.index, fmt, pairs)
        for g in plan
    ]
    rows: list[WrittenGalaxy] = []
    for done, task_rows in enumerate(_map_tasks(tasks, workers, cancel), start=1):
        rows.extend(task_rows)
        if progress is not None:
            progress(done, len(tasks))
    table = catalog_table(rows, fmt)
    table.meta.update(
        generator=f"galaxyscope.synth {__version__}",
        seed=int(seed), n=int(n), size=int(size), bar_fraction=float(bar_fraction), format=fmt,
        artefact=artefact, artefact_on=artefact_on, artefact_fraction=float(artefact_fraction),
        pairs=bool(pairs), style=style, jpeg_quality=JPEG_QUALITY,
        definitions="see galaxyscope.synth.truth (bar length = projected outline's major axis, "
        "PA = atan2(dy, dx) mod 180 with row 0 on top, masks = inside the bar's outline)",
    )
    table.write(outdir / CATALOG_NAME, format="ascii.ecsv", overwrite=True)
    return table


def read_catalog(path: str | Path) -> Table:
    """Read a ``catalog.ecsv`` keeping empty strings (e.g. bar_mask of unbarred rows) as "".

    Why: astropy reads an empty ECSV field as missing (a masked value) by default.
    """
    return Table.read(path, format="ascii.ecsv", fill_values=[])


def _map_tasks(tasks: list[_Task], workers: int, cancel: Callable[[], bool] | None):
    """Yield each task's rows in order, serially or from a process pool; honour ``cancel``."""
    if workers <= 1 or len(tasks) <= 1:
        for task in tasks:
            if cancel is not None and cancel():
                raise CancelledError("synthetic dataset generation cancelled")
            yield _run_task(task)
        return
    ctx = multiprocessing.get_context("spawn")  # no fork of a process that may hold threads
    with ctx.Pool(processes=workers) as pool:
        for rows in pool.imap(_run_task, tasks, chunksize=max(1, min(8, len(tasks) // (4 * workers)))):
            if cancel is not None and cancel():
                pool.terminate()
                raise CancelledError("synthetic dataset generation cancelled")
            yield rows


_UNITS = (("_px", u.pix), ("_deg", u.deg), ("_arcsec", u.arcsec), ("_kpc", u.kpc))


def catalog_table(rows: list[WrittenGalaxy], fmt: str = "jpeg") -> Table:
    """The catalogue as an astropy Table (units on *_px, *_deg, *_arcsec, *_kpc columns)."""
    names = ["id", "filename", "fits_filename", "bar_mask", "pair_id"]
    truth_names = [f.name for f in dataclasses.fields(GalaxyTruth) if f.name != "votes"]
    vote_names = list(rows[0].truth.as_row()) if rows else []
    vote_names = [c for c in vote_names if c not in truth_names]
    columns: dict[str, list] = {c: [] for c in names + truth_names + vote_names}
    for row in rows:
        for c in names:
            columns[c].append(getattr(row, c))
        for c, value in row.truth.as_row().items():
            columns[c].append(value)
    if fmt == "jpeg":
        del columns["fits_filename"]
    table = Table()
    for c, values in columns.items():
        if c in ("id", "filename", "fits_filename", "bar_mask", "style", "artefact"):
            table[c] = np.array(values, dtype=str) if values else np.array([], dtype=str)
        else:
            table[c] = np.array(values)
        for suffix, unit in _UNITS:
            if c.endswith(suffix) and c != "pixel_scale_arcsec":
                table[c].unit = unit
    table["pixel_scale_arcsec"].unit = u.arcsec / u.pix
    table["bar_mask_area_px"].unit = u.pix**2
    return table

