"""What annotate mode draws over the galaxy: your lines (draggable), a draft, others' lines,
the machine's stored bar, and an invisible item that turns left-drags into new lines.

Why pyqtgraph ROIs for your own lines: LineSegmentROI gives draggable end handles
and a draggable body for free; everyone else's lines are plain curves (they are
not yours to move). All positions here are in the view's coordinates; the
controller converts to image pixels with `annotate_logic` (half a pixel apart).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QObject, QPointF, QRectF, Qt, Signal

from galaxyscope.gui.annotate_logic import (
    MACHINE_COLOUR,
    OWN_COLOUR,
    REFERENCE_COLOUR,
    line_from_scene,
    line_to_scene,
    stack_labels,
)
from galaxyscope.gui.reference_layer import ReferenceItems, ReferenceMark
from galaxyscope.store import BarLine

Z_CATCHER = 5       # over the image, under every overlay that takes the mouse
Z_OTHERS = 45
Z_MACHINE = 46
Z_OWN = 60
Z_DRAFT = 62
Z_LABEL = 70
HANDLE_RADIUS = 7  # screen pixels


class DrawCatcher(pg.GraphicsObject):
    """An invisible rectangle over the image that reports left-button drags.

    ``on_drag(phase, start, end, shift)`` with phase "move" or "finish" and positions in
    view coordinates. Other buttons and the wheel fall through to the ViewBox
    (middle-drag pans, right-drag and the wheel zoom), and so does everything while
    switched off.
    """

    def __init__(self, on_drag: Callable[[str, QPointF, QPointF, bool], None]) -> None:
        super().__init__()
        self.on_drag = on_drag
        self.rect = QRectF()
        self.active = False
        self.setZValue(Z_CATCHER)

    def set_rect(self, rect: QRectF) -> None:
        self.prepareGeometryChange()
        self.rect = QRectF(rect)

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt API)
        return self.rect

    def paint(self, painter: Any, *args: Any) -> None:
        pass

    def mouseDragEvent(self, ev: Any) -> None:  # noqa: N802 (pyqtgraph API)
        if not self.active or ev.button() != Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        ev.accept()
        shift = bool(ev.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        self.on_drag("finish" if ev.isFinish() else "move", ev.buttonDownPos(), ev.pos(), shift)


def _line_item(colour: tuple[int, ...], width: float, dashed: bool = False, symbol_size: int = 7) -> pg.PlotDataItem:
    style = Qt.PenStyle.DashLine if dashed else Qt.PenStyle.SolidLine
    return pg.PlotDataItem(pen=pg.mkPen(colour, width=width, style=style), symbol="o", symbolSize=symbol_size,
                           symbolBrush=pg.mkBrush(colour), symbolPen=pg.mkPen((0, 0, 0), width=1))


def _label(text: str, colour: tuple[int, ...]) -> pg.TextItem:
    item = pg.TextItem(text, color=colour, anchor=(0.0, 1.0), fill=pg.mkBrush(0, 0, 0, 150))
    item.setZValue(Z_LABEL)
    return item


def _label_pos(line: BarLine) -> tuple[float, float]:
    """Next to the line's right-hand end (where overlaps remain, `AnnotationLayer.restack` moves labels)."""
    (a, b) = line_to_scene(line)
    return max((a, b), key=lambda p: (p[0], -p[1]))


@dataclass
class OwnLines:
    """The draggable ROIs of one of your saved annotations."""

    annotation_id: int
    bar: pg.LineSegmentROI
    width: pg.LineSegmentROI | None
    label: pg.TextItem
    items: list[Any] = field(default_factory=list)


class AnnotationLayer(QObject):
    """Annotation items inside one ViewBox.

    Signals (view coordinates already converted to image pixels):
    line_drawn(BarLine, is_width) when a drag ends; own_moved(annotation_id) when a drag
    of one of your lines ends; draft_moved() when a draft line was adjusted.
    """

    line_drawn = Signal(object, bool)
    own_moved = Signal(int)
    draft_moved = Signal()

    def __init__(self, view: pg.ViewBox, parent: QObject | None = None,
                 fixed_labels: tuple[pg.TextItem, ...] = ()) -> None:
        super().__init__(parent)
        self.view = view
        self.fixed_labels = fixed_labels  # labels of other layers (the machine's live bar): avoided, not moved
        self._natural: dict[int, tuple[float, float]] = {}  # id(label) -> where it would be alone
        self.catcher = DrawCatcher(self._dragged)
        view.addItem(self.catcher, ignoreBounds=True)
        self.preview = pg.PlotCurveItem(pen=pg.mkPen(OWN_COLOUR, width=2, style=Qt.PenStyle.DashLine))
        self.preview.setZValue(Z_DRAFT + 1)
        view.addItem(self.preview, ignoreBounds=True)
        self.width_next = False
        self.own: list[OwnLines] = []
        self.draft_bar: pg.LineSegmentROI | None = None
        self.draft_width: pg.LineSegmentROI | None = None
        self.draft_label: pg.TextItem | None = None
        self.others: list[tuple[str, tuple[int, int, int], list[Any]]] = []
        self.machine: tuple[pg.PlotDataItem, pg.TextItem] | None = None
        self.references: list[tuple[ReferenceItems, pg.TextItem]] = []  # published lengths (reference_layer)
        self.editable = False
        view.sigTransformChanged.connect(lambda *_: self.restack())  # zoom, pan, resize: labels change size

    # ------------------------------------------------------------------ labels

    def _place(self, label: pg.TextItem, pos: tuple[float, float]) -> None:
        """Put ``label`` at its own position (before any stacking)."""
        self._natural[id(label)] = (float(pos[0]), float(pos[1]))
        label.setPos(*pos)

    def _all_labels(self) -> list[pg.TextItem]:
        out = [own.label for own in self.own]
        if self.draft_label is not None:
            out.append(self.draft_label)
        out += [items[-1] for _name, _colour, items in self.others]
        if self.machine is not None:
            out.append(self.machine[1])
        out += [label for _items, label in self.references]
        return out

    def labels(self) -> list[pg.TextItem]:
        """Every label of this layer on screen: yours, the draft's, others', the machine's, the references'."""
        return [label for label in self._all_labels() if label.scene() is not None and label.isVisible()]

    @staticmethod
    def label_rect(label: pg.TextItem) -> Any:
        """The label's rectangle in scene (screen) coordinates."""
        label.updateTransform(force=True)
        return label.mapRectToScene(label.boundingRect())

    def restack(self) -> None:
        """Move labels down (on screen) until none overlaps another or a fixed label: each stays
        beside its line's end when it can, and every name and length stays readable."""
        alive = {id(label) for label in self._all_labels()}
        self._natural = {k: v for k, v in self._natural.items() if k in alive}
        labels = self.labels()
        if not labels:
            return
        for label in labels:
            label.setPos(*self._natural.get(id(label), (label.pos().x(), label.pos().y())))
        rects = [self.label_rect(label) for label in labels]
        fixed = [self.label_rect(f) for f in self.fixed_labels
                 if f.scene() is not None and f.isVisible() and f.toPlainText()]
        tops = stack_labels([(r.x(), r.y(), r.width(), r.height()) for r in rects],
                            [(r.x(), r.y(), r.width(), r.height()) for r in fixed])
        for label, rect, top in zip(labels, rects, tops):
            if top != rect.y():
                at = self.view.mapViewToScene(QPointF(*self._natural.get(id(label), (label.pos().x(),
                                                                                    label.pos().y()))))
                label.setPos(self.view.mapSceneToView(QPointF(at.x(), at.y() + top - rect.y())))

    # ------------------------------------------------------------------ mode

    def set_image_rect(self, width: int | None, height: int | None) -> None:
        """Where drags may start: the image (None: nowhere)."""
        self.catcher.set_rect(QRectF(0, 0, width, height) if width and height else QRectF())

    def set_editable(self, on: bool) -> None:
        """Annotate mode: drags draw, your lines can be dragged; off: everything is read-only."""
        self.editable = bool(on)
        self.catcher.active = self.editable
        for own in self.own:
            for roi in (own.bar, own.width):
                if roi is not None:
                    self._set_roi_editable(roi, self.editable)

    @staticmethod
    def _set_roi_editable(roi: pg.LineSegmentROI, on: bool) -> None:
        roi.translatable = on
        roi.setAcceptedMouseButtons(Qt.MouseButton.LeftButton if on else Qt.MouseButton.NoButton)
        for h in roi.getHandles():
            h.setVisible(on)
            h.setAcceptedMouseButtons(Qt.MouseButton.LeftButton if on else Qt.MouseButton.NoButton)

    # ------------------------------------------------------------------ drawing

    def _dragged(self, phase: str, start: QPointF, end: QPointF, shift: bool) -> None:
        if phase == "move":
            self.preview.setData([start.x(), end.x()], [start.y(), end.y()])
            return
        self.preview.setData([], [])
        line = line_from_scene((start.x(), start.y()), (end.x(), end.y()))
        self.line_drawn.emit(line, bool(shift or self.width_next))

    def _roi(self, line: BarLine, colour: tuple[int, ...], width: float, dashed: bool = False) -> pg.LineSegmentROI:
        style = Qt.PenStyle.DashLine if dashed else Qt.PenStyle.SolidLine
        a, b = line_to_scene(line)
        roi = pg.LineSegmentROI(
            positions=[a, b], pen=pg.mkPen(colour, width=width, style=style),
            hoverPen=pg.mkPen((255, 255, 255), width=width + 1, style=style),
            handlePen=pg.mkPen(colour, width=2), handleHoverPen=pg.mkPen((255, 255, 255), width=2),
            movable=True, removable=False, rotatable=False, resizable=False,
        )
        for handle in roi.getHandles():  # bigger than pyqtgraph's 5 px: easy to grab, hard to miss
            handle.radius = HANDLE_RADIUS
            handle.buildPath()
        roi.setZValue(Z_DRAFT if dashed else Z_OWN)
        self.view.addItem(roi, ignoreBounds=True)
        return roi

    @staticmethod
    def roi_line(roi: pg.LineSegmentROI) -> BarLine:
        """The ROI's current ends as a BarLine in image pixels."""
        p1, p2 = (roi.mapToParent(p) for p in roi.listPoints())
        return line_from_scene((p1.x(), p1.y()), (p2.x(), p2.y()))

    # ------------------------------------------------------------------ your saved lines

    def set_own(self, annotations: list[tuple[int, BarLine, BarLine | None, str]]) -> None:
        """Your saved bars: (annotation id, bar, width line or None, label text)."""
        for own in self.own:
            for item in own.items:
                self.view.removeItem(item)
        self.own = []
        for ann_id, bar, width, text in annotations:
            bar_roi = self._roi(bar, OWN_COLOUR, 3.0)
            width_roi = self._roi(width, OWN_COLOUR, 2.0) if width is not None else None
            label = _label(text, OWN_COLOUR)
            self._place(label, _label_pos(bar))
            self.view.addItem(label, ignoreBounds=True)
            own = OwnLines(ann_id, bar_roi, width_roi, label, [bar_roi, label] + ([width_roi] if width_roi else []))
            for roi in (bar_roi, width_roi):
                if roi is not None:
                    roi.sigRegionChangeFinished.connect(lambda _r, i=ann_id: self.own_moved.emit(i))
                    roi.sigRegionChanged.connect(lambda _r, o=own: self._follow_label(o))
                    self._set_roi_editable(roi, self.editable)
            self.own.append(own)
        self.restack()

    def _follow_label(self, own: OwnLines) -> None:
        self._place(own.label, _label_pos(self.roi_line(own.bar)))
        self.restack()

    def own_lines(self, annotation_id: int) -> tuple[BarLine, BarLine | None] | None:
        """Where the ROIs of your annotation ``annotation_id`` are now (after a drag)."""
        for own in self.own:
            if own.annotation_id == annotation_id:
                return self.roi_line(own.bar), (self.roi_line(own.width) if own.width is not None else None)
        return None

    # ------------------------------------------------------------------ the draft

    def set_draft(self, bar: BarLine | None, width: BarLine | None, text: str = "") -> None:
        """Show the unsaved lines (dashed, draggable); None clears each."""
        for roi in (self.draft_bar, self.draft_width, self.draft_label):
            if roi is not None:
                self.view.removeItem(roi)
        self.draft_bar = self.draft_width = self.draft_label = None
        if bar is not None:
            self.draft_bar = self._roi(bar, OWN_COLOUR, 3.0, dashed=True)
        if width is not None:
            self.draft_width = self._roi(width, OWN_COLOUR, 2.0, dashed=True)
        for roi in (self.draft_bar, self.draft_width):
            if roi is not None:
                roi.sigRegionChangeFinished.connect(lambda _r: self.draft_moved.emit())
        anchor = bar or width
        if anchor is not None and text:
            self.draft_label = _label(text, OWN_COLOUR)
            self._place(self.draft_label, _label_pos(anchor))
            self.view.addItem(self.draft_label, ignoreBounds=True)
        self.restack()

    def draft_lines(self) -> tuple[BarLine | None, BarLine | None]:
        """The draft's lines where they are now (the user may have dragged their ends)."""
        return (self.roi_line(self.draft_bar) if self.draft_bar is not None else None,
                self.roi_line(self.draft_width) if self.draft_width is not None else None)

    # ------------------------------------------------------------------ read-only lines

    def set_others(self, lines: list[tuple[str, tuple[int, int, int], BarLine, BarLine | None, str]]) -> None:
        """Other annotators' bars: (name, colour, bar, width or None, label text)."""
        for _name, _colour, items in self.others:
            for item in items:
                self.view.removeItem(item)
        self.others = []
        for name, colour, bar, width, text in lines:
            items = []
            for line, pen_width in ((bar, 2.5), (width, 1.5)):
                if line is None:
                    continue
                (a, b) = line_to_scene(line)
                item = _line_item(colour, pen_width, symbol_size=7 if line is bar else 5)
                item.setData([a[0], b[0]], [a[1], b[1]])
                item.setZValue(Z_OTHERS)
                items.append(item)
            label = _label(text, colour)
            self._place(label, _label_pos(bar))
            items.append(label)
            for item in items:
                self.view.addItem(item, ignoreBounds=True)
            self.others.append((name, colour, items))
        self.restack()

    def set_machine(self, bar: BarLine | None, text: str = "") -> None:
        """The machine's stored bar for comparison (dashed cyan); None clears it. The window draws
        the live fit itself; this one is for images without one (no model loaded, vetting)."""
        if self.machine is not None:
            for item in self.machine:
                self.view.removeItem(item)
            self.machine = None
        if bar is None:
            return
        (a, b) = line_to_scene(bar)
        item = _line_item(MACHINE_COLOUR, 2.0, dashed=True, symbol_size=6)
        item.setData([a[0], b[0]], [a[1], b[1]])
        item.setZValue(Z_MACHINE)
        label = _label(text, MACHINE_COLOUR)
        label.setAnchor((0.0, 0.0))  # under the line's end, away from the human labels
        self._place(label, _label_pos(bar))
        self.view.addItem(item, ignoreBounds=True)
        self.view.addItem(label, ignoreBounds=True)
        self.machine = (item, label)
        self.restack()

    def set_references(self, marks: list[ReferenceMark]) -> None:
        """Published reference lengths: a dashed circle each, labelled by source (none: cleared)."""
        for items, label in self.references:
            for item in (*items.lines, label):
                self.view.removeItem(item)
        self.references = []
        for mark in marks:
            items = ReferenceItems(mark)
            label = _label(mark.text, REFERENCE_COLOUR)
            label.setAnchor((0.0, 0.0))  # hangs under the circle
            self._place(label, items.label_pos())
            for item in (*items.lines, label):
                self.view.addItem(item, ignoreBounds=True)
            self.references.append((items, label))
        self.restack()

    def clear(self) -> None:
        """Remove every line (a new image is coming)."""
        self.set_own([])
        self.set_draft(None, None)
        self.set_others([])
        self.set_machine(None)
        self.set_references([])
        self.preview.setData([], [])

    # ------------------------------------------------------------------ for tests

    def other_colours(self) -> dict[str, tuple[int, int, int]]:
        """Annotator name -> the colour their line is drawn in (what the pen really uses)."""
        out = {}
        for name, _colour, items in self.others:
            c = items[0].opts["pen"].color()
            out[name] = (c.red(), c.green(), c.blue())
        return out
