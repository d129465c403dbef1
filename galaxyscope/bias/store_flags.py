"""Write a scan's flags into the annotation database, and read them back for an image set.

Why: flags in the database sit next to the annotations and measurements of the
same image, so the GUI can show them and a later session can find them; the
table file alone would be forgotten.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from galaxyscope.bias.flags import BiasFlag
from galaxyscope.bias.scan import ScanReport


def store_flags(report: ScanReport, image_set: Any, store: Any, *, set_name: str | None = None) -> int:
    """Register every flagged image in ``store`` (an AnnotationStore) and add one flag row per reason.

    Each flag row carries the kind, the readable reason (which says what the value was
    compared with), the image's score and the numbers behind it (placement scores, the
    rule's value, threshold and its basis, the model's hash, the scan's id, so a reader
    can keep only the latest scan). Returns the number of flag rows written. Images are
    re-read from ``image_set`` for their catalogue ids and pixel scale.
    """
    written = 0
    model_hash = report.meta.get("model_sha256", "")
    scan_id = report.meta.get("scan_id", "")
    mode = report.meta.get("threshold_mode", "")
    for row in report.flagged:
        image = image_set[row.index]
        record = store.register_galaxy_image(image, set_name=set_name)
        for flag in row.flags:
            numbers = dict(row.numbers, value=flag.value, threshold=flag.threshold, basis=flag.basis,
                           threshold_mode=mode, model_sha256=model_hash, scan_id=scan_id, filename=row.filename)
            store.add_flag(record.id, flag.kind, flag.reason, score=row.score, numbers=numbers)
            written += 1
    return written


@dataclass(frozen=True)
class StoredVerdict:
    """The latest stored scan's flags on one image of an open set (``key``: its file key there)."""

    key: str
    flags: tuple[BiasFlag, ...]
    score: float
    numbers: dict[str, Any]
    scan_id: str


def stored_verdicts(store: Any, entries: Iterable[tuple[str, Any]]) -> list[StoredVerdict]:
    """The flags `scan-bias --db` stored for the images ``entries`` ((file key, path) pairs) name.

    Images are matched by file (`images.identity.image_key`, as the store registers
    them). Each image keeps only the flags of the latest scan that flagged it (a
    database holds every scan ever stored). Images without flags are left out.
    """
    from galaxyscope.images.identity import image_key

    by_path: dict[str, str] = {}
    for key, path in entries:
        if path:
            by_path[image_key(path)] = key
    if not by_path:
        return []
    wanted = {rec.id: by_path[rec.path] for rec in store.images() if rec.path in by_path}
    grouped: dict[int, list[Any]] = {}
    for f in store.flags():
        if f.image_id in wanted:
            grouped.setdefault(f.image_id, []).append(f)
    out = []
    for image_id, flags in grouped.items():
        latest = max(str(f.numbers.get("scan_id", "")) or f.created.isoformat() for f in flags)
        keep = [f for f in flags if (str(f.numbers.get("scan_id", "")) or f.created.isoformat()) == latest]
        out.append(StoredVerdict(
            key=wanted[image_id],
            flags=tuple(BiasFlag(kind=f.kind, reason=f.reason, value=float(f.numbers.get("value", float("nan"))),
                                 threshold=float(f.numbers.get("threshold", float("nan"))),
                                 basis=str(f.numbers.get("basis", ""))) for f in keep),
            score=max((float(f.score) for f in keep if f.score is not None), default=1.0),
            numbers=dict(keep[0].numbers), scan_id=latest))
    return out
