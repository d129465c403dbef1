"""Bar / no-bar labels: an annotator's answer to "is there a bar?", beside the drawn lines.

Why a table of its own: "no bar" has no line to draw, yet it is as much a label as
a drawn bar (fine-tuning needs both classes), and imported catalogues often give
"bar, 30 px long" without end points. The rules that keep labels and lines
consistent live here, in one place:

- a drawn (not deleted) line means "bar", with or without a label row;
- `mark_no_bar` deletes the annotator's lines on the image in the same transaction
  (soft, so `undo_no_bar` brings them back), so "no bar" never sits beside a line;
- drawing or restoring a line turns that annotator's "no bar" into "bar";
- every change keeps the previous version in ``bar_label_history``.

These methods are mixed into `AnnotationStore`; each public one is one transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from galaxyscope.store.convert import annotation_record, bar_label_record, finite
from galaxyscope.store.errors import StoreError
from galaxyscope.store.models import Annotation, BarLabel, BarLabelHistory, Image, utc_now
from galaxyscope.store.records import BarLabelRecord, BarLine, NoBarResult

if TYPE_CHECKING:
    from galaxyscope.store.annotation_store import AnnotationStore

#: where a label made in the window says it came from
WINDOW_SOURCE = "window"


@dataclass(frozen=True)
class AnnotatorLabel:
    """What one annotator says about one image, labels and lines combined (training input).

    ``lines`` are (bar, width line or None) pairs in original-image pixels;
    ``length_px`` is the longest drawn line, else the label's own length, else None.
    """

    image_id: int
    image_path: str
    annotator: str
    has_bar: bool
    lines: tuple[tuple[BarLine, BarLine | None], ...]
    length_px: float | None
    annotation_uids: tuple[str, ...]
    label_uid: str | None


class LabelMethods:
    """Bar-label methods of `AnnotationStore` (a mixin: it uses the store's transactions)."""

    # ------------------------------------------------------------------ writing

    def set_bar_label(self: AnnotationStore, image_id: int, annotator: str | int, has_bar: bool, *,
                      length_px: float | None = None, source: str | None = WINDOW_SOURCE,
                      note: str | None = None) -> BarLabelRecord:
        """Say whether ``annotator`` sees a bar on the image (created or changed, old
        version kept). "No bar" is refused while the annotator has lines on the image:
        use `mark_no_bar`, which deletes them with it."""
        with self.transaction() as s:
            img = self._image(s, image_id)
            who = self._annotator(s, annotator)
            if not has_bar and _active_lines(s, img.id, who.id):
                raise StoreError(self.path, f"{who.name} has drawn a bar on image {img.id}; "
                                            "mark_no_bar deletes it together with saying 'no bar'")
            label, _ = write_label(s, img.id, who.id, bool(has_bar), length_px=length_px, source=source,
                                   note=note)
            return bar_label_record(label)

    def mark_no_bar(self: AnnotationStore, image_id: int, annotator: str | int, *,
                    source: str | None = WINDOW_SOURCE, note: str | None = None) -> NoBarResult:
        """The annotator's "no bar" for the image: the label is set and the annotator's
        lines on the image are soft-deleted, in one transaction. Returns what
        `undo_no_bar` needs to put everything back."""
        with self.transaction() as s:
            img = self._image(s, image_id)
            who = self._annotator(s, annotator)
            before = _label_row(s, img.id, who.id)
            previous = bar_label_record(before) if before is not None and not before.deleted else None
            deleted: list[int] = []
            for ann in _active_lines(s, img.id, who.id):
                self._keep_history(s, ann, "delete")
                ann.deleted = True
                self._bump(ann)
                deleted.append(ann.id)
            label, _ = write_label(s, img.id, who.id, False, length_px=None, source=source, note=note)
            return NoBarResult(bar_label_record(label), previous, tuple(deleted))

    def undo_no_bar(self: AnnotationStore, result: NoBarResult) -> BarLabelRecord | None:
        """Undo `mark_no_bar` in one transaction: the previous label back (or none) and
        the deleted lines restored. Returns the label now (None: no label)."""
        with self.transaction() as s:
            label = s.get(BarLabel, result.label.id)
            if label is None:
                raise StoreError(self.path, f"no bar label with id {result.label.id}")
            prev = result.previous
            if prev is None:
                _change(s, label, "delete", deleted=True)
            else:
                _change(s, label, "update", has_bar=prev.has_bar, deleted=False,
                        length_px=None if prev.length is None else float(prev.length.value),
                        source=prev.source, note=prev.note)
            for ann_id in result.deleted_annotation_ids:
                ann = self._annotation(s, ann_id)
                if ann.deleted:
                    self._keep_history(s, ann, "restore")
                    ann.deleted = False
                    self._bump(ann)
            return None if label.deleted else bar_label_record(label)

    def clear_bar_label(self: AnnotationStore, image_id: int, annotator: str | int) -> BarLabelRecord | None:
        """Withdraw the annotator's label on the image (soft; the lines stay). Returns the
        withdrawn label, or None when there was none."""
        with self.transaction() as s:
            img = self._image(s, image_id)
            who = self._annotator(s, annotator)
            label = _label_row(s, img.id, who.id)
            if label is None or label.deleted:
                return None
            _change(s, label, "delete", deleted=True)
            return bar_label_record(label)

    # ------------------------------------------------------------------ reading

    def bar_label(self: AnnotationStore, image_id: int, annotator: str | int) -> BarLabelRecord | None:
        """The annotator's current (not withdrawn) label on the image, or None."""
        with self.reading() as s:
            who = self._annotator_row(s, annotator)
            if who is None:
                return None
            label = _label_row(s, int(image_id), who)
            return None if label is None or label.deleted else bar_label_record(label)

    def bar_labels(self: AnnotationStore, *, image_id: int | None = None, set_name: str | None = None,
                   include_deleted: bool = False) -> list[BarLabelRecord]:
        """Explicit labels (of one image, of one set), in id order."""
        with self.reading() as s:
            q = select(BarLabel).order_by(BarLabel.id)
            if image_id is not None:
                q = q.where(BarLabel.image_id == int(image_id))
            if set_name is not None:
                q = q.join(BarLabel.image).where(Image.set_name == set_name)
            if not include_deleted:
                q = q.where(BarLabel.deleted.is_(False))
            return [bar_label_record(b) for b in s.scalars(q)]

    def image_labels(self: AnnotationStore, image_ids: Iterable[int] | None = None
                     ) -> dict[int, list[AnnotatorLabel]]:
        """Image id -> what each annotator says about it (labels and lines combined by the
        rules above), for every image with at least one label or line."""
        wanted = None if image_ids is None else {int(i) for i in image_ids}
        with self.reading() as s:
            labels = list(s.scalars(select(BarLabel).where(BarLabel.deleted.is_(False))))
            lines = list(s.scalars(select(Annotation).where(Annotation.deleted.is_(False))
                                   .order_by(Annotation.id)))
            per: dict[tuple[int, int], dict[str, Any]] = {}
            for b in labels:
                if wanted is None or b.image_id in wanted:
                    per.setdefault((b.image_id, b.annotator_id), {"label": None, "lines": []})["label"] = b
            for a in lines:
                if wanted is None or a.image_id in wanted:
                    per.setdefault((a.image_id, a.annotator_id), {"label": None, "lines": []})["lines"].append(a)
            out: dict[int, list[AnnotatorLabel]] = {}
            for (image_id, _), item in sorted(per.items()):
                out.setdefault(image_id, []).append(_combined(item["label"], item["lines"]))
            return out


def _combined(label: BarLabel | None, lines: list[Annotation]) -> AnnotatorLabel:
    """One annotator's say on one image; an explicit "no bar" outranks stray lines."""
    has_bar = bool(label.has_bar) if label is not None else True
    drawn = tuple((annotation_record(a).bar, annotation_record(a).width_line) for a in lines) if has_bar else ()
    length = max((b.length_px for b, _ in drawn), default=None)
    if length is None and has_bar and label is not None:
        length = label.length_px
    first = label if label is not None else lines[0]
    return AnnotatorLabel(
        image_id=first.image_id, image_path=first.image.path, annotator=first.annotator.name,
        has_bar=has_bar, lines=drawn, length_px=length,
        annotation_uids=tuple(a.uid for a in lines) if has_bar else (),
        label_uid=None if label is None else label.uid,
    )


# ---------------------------------------------------------------------- session helpers


def _active_lines(s: Session, image_id: int, annotator_id: int) -> list[Annotation]:
    return list(s.scalars(select(Annotation).where(
        Annotation.image_id == image_id, Annotation.annotator_id == annotator_id,
        Annotation.deleted.is_(False)).order_by(Annotation.id)))


def _label_row(s: Session, image_id: int, annotator_id: int) -> BarLabel | None:
    return s.scalars(select(BarLabel).where(BarLabel.image_id == image_id,
                                            BarLabel.annotator_id == annotator_id)).one_or_none()


_VERSIONED = ("has_bar", "length_px", "source", "note", "revision", "deleted", "updated_utc")


def _change(s: Session, label: BarLabel, action: str, **values: Any) -> bool:
    """Set ``values`` on the label, keeping the old version first; False (and no history
    row) when nothing changes."""
    if all(getattr(label, k) == v for k, v in values.items()):
        return False
    s.add(BarLabelHistory(label_id=label.id, action=action, recorded_utc=utc_now(),
                          **{k: getattr(label, k) for k in _VERSIONED}))
    for k, v in values.items():
        setattr(label, k, v)
    label.revision += 1
    label.updated_utc = utc_now()
    return True


def write_label(s: Session, image_id: int, annotator_id: int, has_bar: bool, *,
                length_px: float | None, source: str | None, note: str | None = None) -> tuple[BarLabel, str]:
    """Inside a transaction: create or change the label of (image, annotator). Returns the
    row and "added", "updated" or "unchanged"."""
    length = finite(length_px)
    if length is not None and (length <= 0 or not has_bar):
        raise ValueError(f"a bar length of {length:g} px needs has_bar and a positive value")
    label = _label_row(s, image_id, annotator_id)
    if label is None:
        now = utc_now()
        label = BarLabel(uid=str(uuid.uuid4()), image_id=image_id, annotator_id=annotator_id,
                         has_bar=has_bar, length_px=length, source=source, note=note, revision=1,
                         deleted=False, created_utc=now, updated_utc=now)
        s.add(label)
        s.flush()
        s.refresh(label)
        return label, "added"
    changed = _change(s, label, "update" if not label.deleted else "restore", has_bar=has_bar,
                      length_px=length, source=source, note=note, deleted=False)
    return label, "updated" if changed else "unchanged"


def line_means_bar(s: Session, image_id: int, annotator_id: int) -> None:
    """Inside a transaction: a line was drawn or restored, so the annotator's "no bar" on
    that image (if any) becomes "bar"."""
    label = _label_row(s, image_id, annotator_id)
    if label is not None and not label.deleted and not label.has_bar:
        _change(s, label, "update", has_bar=True, length_px=None)


def label_from_export(store: AnnotationStore, s: Session, *, image: dict[str, Any], annotator: str,
                      has_bar: bool, length_px: float | None, uid: str | None, note: str | None,
                      created: Any, updated: Any, deleted: bool) -> str:
    """Inside a transaction: a label row of an ``annotations export`` (see `table_io`). Returns
    "added", "updated" (the row was newer; ours kept in the history) or "skipped"."""
    img = store._register(s, image["path"], sha256=image.get("sha256"), set_name=image.get("set_name"),
                          objid=image.get("objid"), pixel_scale=image.get("pixel_scale"),
                          redshift=image.get("redshift"))
    who = store._annotator(s, annotator)
    length = finite(length_px) if has_bar else None
    label = _label_row(s, img.id, who.id)
    if label is None:
        label = BarLabel(uid=uid or str(uuid.uuid4()), image_id=img.id, annotator_id=who.id, has_bar=has_bar,
                         length_px=length, source="export", note=note, revision=1, deleted=deleted,
                         created_utc=created, updated_utc=updated)
        s.add(label)
        s.flush()
        return "added"
    if updated <= label.updated_utc:
        return "skipped"
    _change(s, label, "update", has_bar=has_bar, length_px=length, note=note, deleted=deleted)
    label.updated_utc = updated
    return "updated"
