"""Write a scan's flags into the annotation database.

Why: flags in the database sit next to the annotations and measurements of the
same image, so the GUI can show them and a later session can find them; the
table file alone would be forgotten.
"""

from __future__ import annotations

from typing import Any

from galaxyscope.bias.scan import ScanReport


def store_flags(report: ScanReport, image_set: Any, store: Any, *, set_name: str | None = None) -> int:
    """Register every flagged image in ``store`` (an AnnotationStore) and add one flag row per reason.

    Each flag row carries the kind, the readable reason, the image's score and
    the numbers behind it (placement scores, the rule's value and threshold,
    the model's hash). Returns the number of flag rows written. Images are
    re-read from ``image_set`` for their catalogue ids and pixel scale.
    """
    written = 0
    model_hash = report.meta.get("model_sha256", "")
    for row in report.flagged:
        image = image_set[row.index]
        record = store.register_galaxy_image(image, set_name=set_name)
        for flag in row.flags:
            numbers = dict(row.numbers, value=flag.value, threshold=flag.threshold, model_sha256=model_hash,
                           filename=row.filename)
            store.add_flag(record.id, flag.kind, flag.reason, score=row.score, numbers=numbers)
            written += 1
    return written
