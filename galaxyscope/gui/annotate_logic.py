"""The decisions behind annotate mode, without Qt: coordinates, colours, what Enter saves, texts.

Why separate: the window only wires mouse and keys to these functions, so the
rules (half-pixel shift, which drawing replaces which, when the machine's bar is
worth storing, how agreement is worded) are tested without a display.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np

from galaxyscope.gui.overlay_geometry import PIXEL_CENTRE
from galaxyscope.store import UNSET, AnnotationRecord, AnnotationStore, BarLine, ImageRecord, MachineRecord
from galaxyscope.store.agreement import ImageAgreement, SetAgreement, VettingRow
from galaxyscope.store.operations import AddAnnotation, EditAnnotation

#: a drag shorter than this (image pixels) is a click, not a line
MIN_LINE_PX = 1.0

OWN_COLOUR = (255, 214, 0)  # gold: the person drawing, on every image
MACHINE_COLOUR = (0, 230, 255)  # cyan, as the live fitted bar
REFERENCE_COLOUR = (255, 60, 60)  # red, drawn dashed: a published length (Hoyle et al. 2011, imports)
#: other annotators, by annotator id; none of them close to gold, cyan or the orange of flagged bars
OTHER_COLOURS: tuple[tuple[int, int, int], ...] = (
    (255, 80, 210),   # magenta
    (150, 130, 255),  # violet
    (110, 255, 120),  # green
    (255, 110, 100),  # coral
    (240, 240, 240),  # white
    (80, 160, 255),   # blue
)

#: Hoyle et al. (2011): one person measuring again agrees to about 3 %, different people to under 20 %
HOYLE_REPEAT_SCATTER = 0.03
HOYLE_BETWEEN_SCATTER = 0.20



# ---------------------------------------------------------------------- coordinates


def scene_to_image(x: float, y: float) -> tuple[float, float]:
    """A view (scene) position -> core pixel coordinates (origin at the centre of pixel (0, 0))."""
    return float(x) - PIXEL_CENTRE, float(y) - PIXEL_CENTRE


def image_to_scene(x: float, y: float) -> tuple[float, float]:
    """Core pixel coordinates -> the view's coordinates (pyqtgraph puts pixel (0, 0)'s corner at 0)."""
    return float(x) + PIXEL_CENTRE, float(y) + PIXEL_CENTRE


def line_from_scene(p1: Sequence[float], p2: Sequence[float]) -> BarLine:
    """The BarLine (core pixels) between two view positions."""
    (x1, y1), (x2, y2) = scene_to_image(*p1[:2]), scene_to_image(*p2[:2])
    return BarLine(x1, y1, x2, y2)


def line_to_scene(line: BarLine) -> tuple[tuple[float, float], tuple[float, float]]:
    """A BarLine's two ends in the view's coordinates."""
    return image_to_scene(line.x1, line.y1), image_to_scene(line.x2, line.y2)


def is_a_line(line: BarLine | None) -> bool:
    """True when a drag drew something longer than a click."""
    return line is not None and line.length_px >= MIN_LINE_PX


def annotator_colour(annotator_id: int | None, *, own: bool) -> tuple[int, int, int]:
    """The colour of one annotator's lines: gold for whoever is drawing, else fixed per annotator id
    (stable from image to image and between sessions)."""
    if own:
        return OWN_COLOUR
    return OTHER_COLOURS[int(annotator_id or 0) % len(OTHER_COLOURS)]


def colour_hex(colour: Sequence[int]) -> str:
    """#rrggbb for rich text."""
    r, g, b = (int(c) for c in colour[:3])
    return f"#{r:02x}{g:02x}{b:02x}"


#: a rectangle on screen: (left, top, width, height), y growing downwards
Rect = tuple[float, float, float, float]


def _overlap(a: Rect, b: Rect) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def stack_labels(rects: Sequence[Rect], fixed: Sequence[Rect] = (), gap: float = 2.0) -> list[float]:
    """The new top of each label so that no two overlap (nor any ``fixed`` one): top to bottom,
    each label moves down just below whatever it would cover. Why: annotators draw nearly the
    same line, so labels placed at the lines' ends land on top of each other; pushed down in
    screen space they stay next to their lines and all readable, at any zoom."""
    placed = list(fixed)
    tops = [float(r[1]) for r in rects]
    for i in sorted(range(len(rects)), key=lambda k: (rects[k][1], rects[k][0])):
        x, y, w, h = (float(v) for v in rects[i])
        moved = True
        while moved:  # y only grows, to the bottom of one of finitely many rectangles: this ends
            moved = False
            for other in placed:
                if _overlap((x, y, w, h), other):
                    y = float(other[1] + other[3] + gap)
                    moved = True
        placed.append((x, y, w, h))
        tops[i] = y
    return tops


# ---------------------------------------------------------------------- drafts and what Enter saves


@dataclass(frozen=True)
class Draft:
    """Lines drawn on one image and not saved yet (Enter saves them)."""

    image_path: str
    bar: BarLine | None = None
    width: BarLine | None = None

    @property
    def empty(self) -> bool:
        return self.bar is None and self.width is None


class NothingToSave(ValueError):
    """Enter with a draft that cannot be saved (a width line but no bar)."""


def plan_save(image_id: int, annotator: str, draft: Draft | None,
              own: AnnotationRecord | None) -> AddAnnotation | EditAnnotation | None:
    """The store operation that saves ``draft``: a new annotation, or a new revision of the
    annotator's own one on this image (one bar per person per image; history keeps the old).

    None when there is nothing to save; `NothingToSave` for a width line without a bar.
    """
    if draft is None or draft.empty:
        return None
    if own is None:
        if draft.bar is None:
            raise NothingToSave("draw the bar first (drag along it), then its width (Shift+drag)")
        return AddAnnotation(image_id, annotator, draft.bar, width_line=draft.width,
                             text=f"draw bar ({draft.bar.length_px:.1f} px)")
    what = "redraw bar" if draft.bar is not None else "draw width"
    return EditAnnotation(own.id, bar=draft.bar, width_line=draft.width if draft.width is not None else UNSET,
                          text=f"{what} ({(draft.bar or own.bar).length_px:.1f} px)")


def own_annotation(records: Iterable[AnnotationRecord], annotator: str | None) -> AnnotationRecord | None:
    """The annotator's latest (not deleted) bar among ``records``."""
    if not annotator:
        return None
    name = annotator.strip()
    mine = [r for r in records if r.annotator == name and not r.deleted]
    return max(mine, key=lambda r: r.id) if mine else None


# ---------------------------------------------------------------------- registering images


def register_shown_image(store: AnnotationStore, image: Any, set_name: str | None) -> ImageRecord:
    """Register (or find) the image being annotated, with its content hash, pixel scale,
    objid and redshift, so the store can give the lengths in arcsec and kpc."""
    return store.register_galaxy_image(image, set_name=set_name, hash_file=True)


# ---------------------------------------------------------------------- the machine's bar


def latest_machine(records: Iterable[MachineRecord], method: str | None = None) -> MachineRecord | None:
    """The newest stored machine measurement (of ``method``) that has a line to draw."""
    found = [m for m in records if m.bar is not None and (method is None or m.method == method)]
    return max(found, key=lambda m: (m.created, m.id)) if found else None


def machine_is_new(measurement: Any, model_hash: str | None, stored: Iterable[MachineRecord]) -> bool:
    """True when the live fit differs from every stored measurement of this image (method,
    model, length, ends): what saving an annotation stores next to it for vetting. A "no bar"
    answer of the P(bar) gate counts too (stored without a line, once per method and model):
    a galaxy people drew a bar on and the machine refused is the first thing to vet."""
    if measurement is None:
        return False
    if "no_bar" in (getattr(measurement, "flags", ()) or ()):
        return not any(m.method == measurement.method and (m.model_hash or None) == (model_hash or None)
                       and m.bar is None for m in stored)
    if not getattr(measurement, "ok", False) or measurement.endpoints is None:
        return False
    (x1, y1), (x2, y2) = measurement.endpoints
    for m in stored:
        if m.method != measurement.method or (m.model_hash or None) != (model_hash or None) or m.bar is None:
            continue
        if math.isclose(m.length_px, measurement.length_px, rel_tol=1e-6, abs_tol=1e-6) and all(
                math.isclose(a, b, abs_tol=1e-6) for a, b in zip((m.bar.x1, m.bar.y1, m.bar.x2, m.bar.y2),
                                                                  (x1, y1, x2, y2))):
            return False
    return True


# ---------------------------------------------------------------------- words


def _fmt(q: u.Quantity | None, unit: str, digits: int, symbol: str) -> str | None:
    if q is None or not math.isfinite(float(q.value)):
        return None
    return f"{q.to_value(unit):.{digits}f}{symbol}"


def lengths_text(length_px: float, pixel_scale: u.Quantity | None, redshift: float | None) -> str:
    """"34.2 px · 13.5″ · 8.1 kpc": a drawn length in the units that are known (never guessed)."""
    from galaxyscope.measure.units import to_units

    try:
        q = to_units(length_px, math.nan, math.nan, pixel_scale, redshift)
    except ValueError:
        q = to_units(length_px, math.nan, math.nan, pixel_scale, None)
    parts = [_fmt(q.length, "pix", 1, " px"), _fmt(q.length_arcsec, "arcsec", 2, "″"),
             _fmt(q.length_kpc, "kpc", 2, " kpc")]
    return " · ".join(p for p in parts if p)


def record_text(rec: AnnotationRecord) -> str:
    """A saved bar's lengths as the store computed them (arcsec / kpc where the image allows)."""
    parts = [_fmt(rec.length, "pix", 1, " px"), _fmt(rec.length_arcsec, "arcsec", 2, "″"),
             _fmt(rec.length_kpc, "kpc", 2, " kpc")]
    text = " · ".join(p for p in parts if p)
    if rec.width is not None:
        text += f" (width {rec.width.to_value(u.pix):.1f} px)"
    return text


def image_agreement_text(a: ImageAgreement) -> str:
    """How far this image's annotators agree, in one line."""
    if a.n_annotators == 0:
        return "nobody has drawn this bar yet"
    mean = a.mean.to_value(u.pix)
    if a.n_annotators == 1:
        return f"1 annotator: {mean:.1f} px"
    spread = a.std.to_value(u.pix)
    return (f"{a.n_annotators} annotators: {mean:.1f} ± {spread:.1f} px, relative scatter "
            f"{100 * a.relative_scatter:.1f} % (Hoyle+11: under {100 * HOYLE_BETWEEN_SCATTER:.0f} % between people)")


def set_agreement_text(s: SetAgreement) -> str:
    """Inter-annotator and repeat scatter over a set, next to Hoyle et al. (2011)'s numbers."""
    where = f"set {s.set_name}" if s.set_name else "all images"
    if s.n_images:
        between = (f"between annotators {100 * s.rms_relative_scatter:.1f} % RMS "
                   f"(median {100 * s.median_relative_scatter:.1f} %) over {s.n_images} images with ≥2 people")
    else:
        between = "between annotators: no image has two annotators yet"
    if s.n_repeat_groups:
        repeat = f"one person repeating {100 * s.repeat_relative_scatter:.1f} % over {s.n_repeat_groups} repeats"
    else:
        repeat = "no repeated drawings"
    return (f"{where}: {s.n_annotators} annotators · {between} · {repeat} "
            f"(Hoyle+11: ~{100 * HOYLE_REPEAT_SCATTER:.0f} % repeating, <{100 * HOYLE_BETWEEN_SCATTER:.0f} % between)")


def vetting_cells(row: VettingRow) -> list[tuple[str, float | str]]:
    """(text, sort value) per vetting-table column (VETTING_COLUMNS)."""
    human = row.human_length.to_value(u.pix)
    std = row.human_std.to_value(u.pix)
    machine = row.machine_length.to_value(u.pix) if row.machine_length is not None else math.nan
    reference = row.reference_length.to_value(u.pix) if row.reference_length is not None else math.nan
    rel = row.relative_difference
    objid = "" if row.objid is None else str(row.objid)
    return [
        (Path(row.image_path).name, Path(row.image_path).name),
        (str(row.n_annotators), float(row.n_annotators)),
        (f"{human:.1f}" + (f" ± {std:.1f}" if math.isfinite(std) else ""), human),
        (f"{machine:.1f}" if math.isfinite(machine) else "none", machine if math.isfinite(machine) else -1.0),
        (f"{reference:.1f} ({row.reference_source})" if math.isfinite(reference) else "",
         reference if math.isfinite(reference) else -1.0),
        (f"{100 * rel:+.0f} %" if math.isfinite(rel) else "machine found none",
         row.disagreement if math.isfinite(row.disagreement) else 1e300),
        (row.method, row.method),
        (objid, objid),
    ]


#: the numbers to compare first (people, machine, published reference), the long objid last
VETTING_COLUMNS: tuple[str, ...] = ("image", "people", "human px", "machine px", "reference px", "machine − human",
                                    "method", "objid")


def scatter_summary(rows: Sequence[VettingRow]) -> str:
    """Pearson r and the median relative difference of machine against human lengths, with the
    r of a constant prediction (always 0) for scale."""
    pairs = np.array([(r.human_length.to_value(u.pix), r.machine_length.to_value(u.pix)) for r in rows
                      if r.machine_length is not None and math.isfinite(r.machine_length.to_value(u.pix))])
    if len(pairs) < 3:
        return f"{len(pairs)} images with human and machine lengths"
    r = float(np.corrcoef(pairs[:, 0], pairs[:, 1])[0, 1]) if np.ptp(pairs[:, 1]) > 0 else math.nan
    med = float(np.median(np.abs(pairs[:, 1] - pairs[:, 0]) / pairs[:, 0]))
    return (f"{len(pairs)} images · Pearson r = {r:.2f} (a constant prediction: 0) · "
            f"median |machine − human| / human = {100 * med:.0f} %")
