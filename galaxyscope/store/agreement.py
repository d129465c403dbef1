"""How well annotators agree with each other, and with the machine.

Why: a human bar length is only a reference if people agree on it. Hoyle et
al. (2011) found about 3 % scatter for one person drawing the same bar again and
under 20 % between people. Here, per image: each annotator's length is the mean of
their (non-deleted) drawings on it; the image's spread is the standard deviation
(ddof=1) of those per-annotator lengths and its relative scatter that std over
their mean. Per set: the root-mean-square and the median of the per-image relative
scatters (images with at least two annotators), and the repeat scatter of single
annotators (images someone drew more than once). All lengths in pixels of the
original image, so they compare within an image whatever its scale.

The functions named ``*_from`` are pure functions of records; the others read a
store first.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import astropy.units as u
import numpy as np

from galaxyscope.store.annotation_store import AnnotationStore
from galaxyscope.measure.units import to_pixels
from galaxyscope.store.records import AnnotationRecord, ImageRecord, MachineRecord, ReferenceRecord


@dataclass(frozen=True)
class ImageAgreement:
    """Spread between the annotators of one image (std and relative scatter NaN below two)."""

    image_id: int
    annotators: tuple[str, ...]  # sorted by name
    lengths: u.Quantity  # per annotator (mean of their drawings), pix, same order
    n_annotations: int
    mean: u.Quantity  # pix
    std: u.Quantity  # pix, ddof=1 over annotators
    relative_scatter: float  # std / mean

    @property
    def n_annotators(self) -> int:
        """How many different people drew this bar."""
        return len(self.annotators)


@dataclass(frozen=True)
class SetAgreement:
    """Inter-annotator agreement over a set of images."""

    set_name: str | None
    n_images: int  # images with at least two annotators (the ones the scatter is over)
    n_annotators: int
    rms_relative_scatter: float  # sqrt(mean(relative_scatter**2)) over those images
    median_relative_scatter: float
    repeat_relative_scatter: float  # one person, same image: RMS of std/mean over repeats
    n_repeat_groups: int  # (annotator, image) pairs drawn at least twice


@dataclass(frozen=True)
class VettingRow:
    """One image where people and the machine both measured the bar, for the vetting list."""

    image_id: int
    image_path: str
    objid: int | str | None
    n_annotators: int
    human_length: u.Quantity  # pix, mean over annotators
    human_std: u.Quantity  # pix (NaN with one annotator)
    machine_length: u.Quantity | None  # pix; None when the machine measured nothing
    machine_id: int
    method: str
    difference: u.Quantity | None  # machine - human, pix
    relative_difference: float  # (machine - human) / human; NaN when nothing was measured
    disagreement: float  # |relative_difference|; inf when the machine measured nothing
    reference_length: u.Quantity | None = None  # pix: a published length of this galaxy (by objid)
    reference_source: str = ""  # e.g. "hoyle2011"; "" without a reference


def reference_pixels(references: Iterable[ReferenceRecord], image: ImageRecord) -> tuple[u.Quantity | None, str]:
    """(length in this image's pixels, source) of the first reference of the image's galaxy
    that can be converted (`measure.units.to_pixels`), else (None, "")."""
    if image.objid is None:
        return None, ""
    for ref in references:
        if ref.objid == image.objid:
            px = to_pixels(ref.length, image.pixel_scale, image.redshift)
            if px is not None:
                return px, ref.source
    return None, ""


def _per_annotator(records: Iterable[AnnotationRecord]) -> dict[int, dict[str, list[float]]]:
    """image id -> annotator name -> lengths (px) of their non-deleted drawings."""
    out: dict[int, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        if not r.deleted:
            out[r.image_id][r.annotator].append(r.length_px)
    return out


def _image_agreement(image_id: int, by_annotator: dict[str, list[float]]) -> ImageAgreement:
    names = tuple(sorted(by_annotator))
    lengths = np.array([float(np.mean(by_annotator[n])) for n in names])
    mean = float(lengths.mean()) if lengths.size else math.nan
    std = float(lengths.std(ddof=1)) if lengths.size >= 2 else math.nan
    rel = std / mean if mean > 0 else math.nan
    return ImageAgreement(
        image_id=image_id, annotators=names, lengths=lengths * u.pix,
        n_annotations=sum(len(v) for v in by_annotator.values()),
        mean=mean * u.pix, std=std * u.pix, relative_scatter=rel,
    )


def image_agreements_from(records: Iterable[AnnotationRecord]) -> list[ImageAgreement]:
    """Per-image agreement for every image that has at least one annotation, by image id."""
    grouped = _per_annotator(records)
    return [_image_agreement(i, grouped[i]) for i in sorted(grouped)]


def set_agreement_from(records: Iterable[AnnotationRecord], *,
                       set_name: str | None = None) -> SetAgreement:
    """Inter-annotator relative scatter (RMS and median over images with two or more
    annotators) and the single-annotator repeat scatter, from annotation records."""
    records = [r for r in records if not r.deleted]
    grouped = _per_annotator(records)
    rel = np.array([a.relative_scatter for a in (_image_agreement(i, g) for i, g in grouped.items())
                    if a.n_annotators >= 2 and math.isfinite(a.relative_scatter)])
    repeats = []
    for by_annotator in grouped.values():
        for lengths in by_annotator.values():
            if len(lengths) >= 2 and np.mean(lengths) > 0:
                repeats.append(float(np.std(lengths, ddof=1) / np.mean(lengths)))
    return SetAgreement(
        set_name=set_name, n_images=int(rel.size),
        n_annotators=len({r.annotator for r in records}),
        rms_relative_scatter=float(np.sqrt(np.mean(rel**2))) if rel.size else math.nan,
        median_relative_scatter=float(np.median(rel)) if rel.size else math.nan,
        repeat_relative_scatter=float(np.sqrt(np.mean(np.square(repeats)))) if repeats else math.nan,
        n_repeat_groups=len(repeats),
    )


def vetting_rows_from(records: Sequence[AnnotationRecord], machine: Sequence[MachineRecord],
                      images: Sequence[ImageRecord],
                      references: Sequence[ReferenceRecord] = ()) -> list[VettingRow]:
    """Images with both human and machine lengths, most disagreeing first, each with the
    published reference length of its galaxy where one was imported (matched by objid).

    The machine side is each image's latest measurement in ``machine`` (filter
    before calling to compare one method or model). Disagreement is
    |machine - human| / human with human the mean over annotators; an image
    where the machine measured nothing but people drew a bar sorts first (inf).
    """
    by_image = {i.id: i for i in images}
    latest: dict[int, MachineRecord] = {}
    for m in machine:
        if m.image_id not in latest or (m.created, m.id) > (latest[m.image_id].created, latest[m.image_id].id):
            latest[m.image_id] = m
    refs_by_objid: dict[object, list[ReferenceRecord]] = defaultdict(list)
    for ref in references:
        refs_by_objid[ref.objid].append(ref)
    rows = []
    for agreement in image_agreements_from(records):
        m = latest.get(agreement.image_id)
        image = by_image.get(agreement.image_id)
        if m is None or image is None:
            continue
        human = float(agreement.mean.to_value(u.pix))
        measured = m.length_px
        if math.isfinite(measured):
            diff = measured - human
            rel = diff / human if human > 0 else math.nan
            dis = abs(rel) if math.isfinite(rel) else math.inf
        else:
            diff, rel, dis = math.nan, math.nan, math.inf
        ref_px, ref_source = reference_pixels(refs_by_objid.get(image.objid, ()), image)
        rows.append(VettingRow(
            image_id=image.id, image_path=image.path, objid=image.objid,
            n_annotators=agreement.n_annotators, human_length=agreement.mean,
            human_std=agreement.std, machine_length=m.length, machine_id=m.id, method=m.method,
            difference=None if not math.isfinite(diff) else diff * u.pix,
            relative_difference=rel, disagreement=dis,
            reference_length=ref_px, reference_source=ref_source,
        ))
    rows.sort(key=lambda r: (-r.disagreement, r.image_id))
    return rows


# ---------------------------------------------------------------------- over a store


def image_agreement(store: AnnotationStore, image_id: int) -> ImageAgreement:
    """Spread between the annotators of one image (no annotation: n_annotators 0, NaN)."""
    found = image_agreements_from(store.annotations_for_image(image_id))
    return found[0] if found else _image_agreement(image_id, {})


def set_agreement(store: AnnotationStore, set_name: str | None = None) -> SetAgreement:
    """Inter-annotator agreement over one image set (``None``: every image)."""
    return set_agreement_from(store.all_annotations(set_name=set_name), set_name=set_name)


def vetting_list(store: AnnotationStore, *, set_name: str | None = None, method: str | None = None,
                 model_hash: str | None = None) -> list[VettingRow]:
    """Images sorted by disagreement between the annotators and the machine (latest
    measurement of ``method`` / ``model_hash`` per image), most disagreeing first."""
    images = store.images(set_name=set_name)
    ids = {i.id for i in images}
    machine = [m for m in store.machine_measurements(method=method, model_hash=model_hash)
               if m.image_id in ids]
    return vetting_rows_from(store.all_annotations(set_name=set_name), machine, images, store.references())
