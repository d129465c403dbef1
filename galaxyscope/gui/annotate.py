"""Annotate mode: draw true bar lengths by hand into the annotation database, and vet the machine.

How it works for the person drawing:
- D switches annotate mode on (the first time it asks for your name, remembered).
- Drag along the bar to draw it; Shift+drag (or X, then drag) draws its width.
  The drawing is dashed until saved; drag its ends to adjust.
- Enter saves it and shows the next galaxy. Leaving an image with a drawing saves
  it too (nothing drawn is ever dropped silently); Delete or Esc discards it.
- Shift+Enter (or the No bar button) answers "no bar" for the galaxy and shows the next
  one; it deletes your line there, if any, in the same undoable step (`MarkNoBar`). Your
  answer (a bar, or no bar) is shown in the dock; drawing a line later makes it "bar" again.
- Your saved bar is gold and stays draggable: letting go of an end saves the move at once.
- Blind by default: the machine's line, the saliency overlay and other people's lines are hidden
  on an image until you have answered there (saved your bar, or "no bar"); then V (Show the machine and others after
  saving) shows them, for vetting. V is remembered; leaving annotate mode shows the overlays as
  they were switched before.
- Other people's bars are drawn in their own colours; the machine's line once, in cyan, labelled
  by method (the window's live fit, else the stored one); a published reference length of the galaxy
  (Hoyle 2011 or an import, matched by objid) as a red dashed circle of that diameter (`reference_layer`;
  View > Show published reference lengths), hidden while blind. Labels are stacked so none covers another.
- Ctrl+Z / Ctrl+Shift+Z undo and redo; every step is one committed write
  (`annotate_commands.StoreCommand` around `galaxyscope.store.operations`).

A database problem (read-only, locked, written by a newer version) is shown in the
status bar and the log; the window keeps running and an unsaved drawing stays on
screen.
"""

from __future__ import annotations

import dataclasses
import html
import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QStandardPaths, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QUndoStack
from PySide6.QtWidgets import (
    QCheckBox,
    QDockWidget,
    QFileDialog,
    QGridLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QToolButton,
    QUndoView,
    QVBoxLayout,
    QWidget,
)

from galaxyscope import paths
from galaxyscope.images.identity import image_key, redshift_of
from galaxyscope.gui.annotate_commands import STORE_FAILURES, StoreCommand
from galaxyscope.gui.annotate_layer import AnnotationLayer
from galaxyscope.gui.reference_layer import ReferenceMark, marks_for_image
from galaxyscope.gui.vetting import VettingPanel
from galaxyscope.gui.window_services import AnnotateHost
from galaxyscope.gui.annotate_logic import (
    MACHINE_COLOUR,
    Draft,
    NothingToSave,
    annotator_colour,
    colour_hex,
    image_agreement_text,
    is_a_line,
    latest_machine,
    lengths_text,
    machine_is_new,
    own_annotation,
    plan_save,
    record_text,
    register_shown_image,
)
from galaxyscope.store import (
    UNSET,
    AnnotationRecord,
    AnnotationStore,
    BarLine,
    DatabaseReadOnlyError,
    ImageRecord,
    MachineRecord,
    StoreError,
)
from galaxyscope.store.agreement import image_agreements_from
from galaxyscope.store.operations import AnnotationOperation, DeleteAnnotation, EditAnnotation, MarkNoBar
from galaxyscope.store.records import BarLabelRecord

VETTING_MIN_HEIGHT = 330  # px: the Results dock's height when the vetting tab is first shown
HELP_TEXT = ("<b>drag</b> along the bar · <b>Shift+drag</b> its width · drag an end to adjust · "
             "<b>Enter</b> save and next · <b>Shift+Enter</b> no bar, next · <b>Del</b>/<b>Esc</b> discard · "
             "<b>Ctrl+Z</b> undo · "
             "middle-drag pans, the wheel zooms")


def default_database_path() -> Path:
    """Where annotations go when no ``--db`` was given: ``$GALAXYSCOPE_DB``, else the user's data
    folder (e.g. ~/.local/share/galaxyscope/annotations.sqlite)."""
    return paths.default_database_path(
        QStandardPaths.writableLocation(QStandardPaths.StandardLocation.GenericDataLocation))


class AnnotatePanel(QWidget):
    """The Annotate dock: database, annotator, tool buttons, this image's lines and agreement, history."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.database = QLabel("no database")
        self.database.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.database.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.open_database = QPushButton("Open…")
        self.annotator = QLabel("")
        self.change_annotator = QPushButton("Change…")
        self.mode = QToolButton()
        self.width_next = QToolButton()
        self.save = QToolButton()
        self.no_bar = QToolButton()
        self.delete = QToolButton()
        self.undo = QToolButton()
        self.redo = QToolButton()
        for b in (self.mode, self.width_next, self.save, self.no_bar, self.delete, self.undo, self.redo):
            b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.reveal = QToolButton()
        self.reveal.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.show_others = QCheckBox("show others' and the machine's lines")
        self.show_others.setToolTip("in annotate mode they show only on images you have saved, with V on")
        self.help = QLabel(HELP_TEXT)
        self.help.setWordWrap(True)
        self.info = QLabel("")
        self.info.setWordWrap(True)
        self.info.setTextFormat(Qt.TextFormat.RichText)
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.history = QUndoView()
        self.history.setEmptyLabel("(nothing done yet)")
        self.history.setMaximumHeight(150)

        grid = QGridLayout()
        grid.addWidget(QLabel("database"), 0, 0)
        grid.addWidget(self.database, 0, 1)
        grid.addWidget(self.open_database, 0, 2)
        grid.addWidget(QLabel("annotator"), 1, 0)
        grid.addWidget(self.annotator, 1, 1)
        grid.addWidget(self.change_annotator, 1, 2)
        grid.setColumnStretch(1, 1)
        tools = QGridLayout()
        for i, b in enumerate((self.mode, self.width_next, self.save, self.no_bar, self.delete, self.undo,
                               self.redo)):
            tools.addWidget(b, i // 2, i % 2)
        tools.addWidget(self.reveal, 4, 0, 1, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(grid)
        layout.addLayout(tools)
        layout.addWidget(self.show_others)
        layout.addWidget(self.help)
        layout.addWidget(self.info)
        layout.addWidget(QLabel("history (click a step to go back to it)"))
        layout.addWidget(self.history)
        layout.addStretch(1)


class AnnotateController(QObject):
    """Annotate mode and the vetting view for one main window (seen through ``AnnotateHost``).

    Signals for tests and scripts: ``written(action)`` after every committed write
    ("do", "undo", "redo"), ``lines_shown()`` after the current image's lines were drawn.
    """

    written = Signal(str)
    lines_shown = Signal()

    def __init__(self, host: AnnotateHost) -> None:
        super().__init__(host.dialog_parent())
        self.host = host
        self.settings = host.settings
        self.store: AnnotationStore | None = None
        self.store_error: str | None = None
        self.annotator: str = self.settings.get("annotate/annotator", "")
        self.state = host.state.annotate
        self.undo_stack = QUndoStack(self)
        self.layer = AnnotationLayer(host.image_view.view, self, fixed_labels=(host.image_view.overlays.label_item,))
        self.image: Any = None
        self.image_path: str | None = None
        self.image_set_name: str | None = None
        self.image_record: ImageRecord | None = None
        self.records: list[AnnotationRecord] = []
        self.labels: list[BarLabelRecord] = []  # everyone's bar / no-bar answers on this image
        self.machine: list[MachineRecord] = []
        self.references: list[ReferenceMark] = []  # published lengths of this galaxy, in its pixels
        self.draft: Draft | None = None
        self._registered: dict[str, ImageRecord] = {}
        self._entries: tuple[int, dict[str, int]] | None = None
        self._vetting_dirty = True
        self._vetting_sized = False
        self.actions: dict[str, QAction] = {}

        self.panel = AnnotatePanel()
        self.panel.history.setStack(self.undo_stack)
        self.dock = QDockWidget("Annotate", host.dialog_parent())
        self.dock.setObjectName("dock_annotate")
        scroll = QScrollArea()  # like the Controls dock: the panel never forces the window wider
        scroll.setWidget(self.panel)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.dock.setWidget(scroll)
        host.add_side_dock(self.dock)
        self.vetting = VettingPanel()
        host.add_result_tab(self.vetting, "Agreement && vetting")

        self.panel.show_others.setChecked(self.settings.get("annotate/show_others", True))
        self.panel.show_others.toggled.connect(self._show_others_toggled)
        self.panel.open_database.clicked.connect(self.choose_database)
        self.panel.change_annotator.clicked.connect(self.ask_annotator)
        self.layer.line_drawn.connect(self._line_drawn)
        self.layer.own_moved.connect(self._own_moved)
        self.layer.draft_moved.connect(self._draft_moved)
        self.vetting.image_activated.connect(self.show_image_id)
        self.vetting.refresh_requested.connect(self.refresh_vetting)
        host.bottom_tabs.currentChanged.connect(lambda _i: self._vetting_maybe())
        host.bar_fitted.connect(self._draw_machine)  # a live fit replaces the stored machine line
        self.state.watch_any(lambda _changes: self._blind_changed())
        host.state.overlays.watch("reference", lambda _change: self._draw_references())
        self._update_panel()

    @property
    def active(self) -> bool:
        """Annotate mode is on (kept in the session state, where the overlays follow it)."""
        return self.state.active

    # ================================================================== wiring with the window

    def action_handlers(self) -> dict[str, Any]:
        """Handlers for the actions in `shortcuts.SHORTCUTS` that belong to annotate mode."""
        return {
            "open_database": self.choose_database,
            "annotate_mode": lambda *_: self.set_active(self.actions["annotate_mode"].isChecked()),
            "annotate_save": self.save_and_next,
            "annotate_no_bar": self.no_bar_and_next,
            "annotate_width": lambda *_: self._width_next_toggled(),
            "annotate_delete": self.delete_or_discard,
            "annotate_undo": self.undo_stack.undo,
            "annotate_redo": self.undo_stack.redo,
            "annotate_reveal": lambda *_: self.set_reveal(self.actions["annotate_reveal"].isChecked()),
            "annotator": self.ask_annotator,
        }

    def attach_actions(self, actions: dict[str, QAction]) -> None:
        """Finish the window's annotate actions: check states, where Enter/Delete apply, undo state."""
        self.actions = {k: v for k, v in actions.items() if k in self.action_handlers()}
        for name in ("annotate_mode", "annotate_width", "annotate_reveal"):
            actions[name].setCheckable(True)
            actions[name].setChecked(False)
        actions["annotate_reveal"].setChecked(self.state.reveal)
        # Enter and Delete act on the image (or the browser), so Enter in the filter box still filters
        for name in ("annotate_save", "annotate_no_bar", "annotate_delete"):
            self.host.act_on_image(actions[name])
        undo, redo = actions["annotate_undo"], actions["annotate_redo"]
        undo.setEnabled(False)
        redo.setEnabled(False)
        self.undo_stack.canUndoChanged.connect(undo.setEnabled)
        self.undo_stack.canRedoChanged.connect(redo.setEnabled)
        self.undo_stack.undoTextChanged.connect(lambda t: undo.setText(f"Undo {t}" if t else "Undo"))
        self.undo_stack.redoTextChanged.connect(lambda t: redo.setText(f"Redo {t}" if t else "Redo"))
        p = self.panel
        for button, name, short in ((p.mode, "annotate_mode", "Annotate (D)"),
                                    (p.width_next, "annotate_width", "Width next (X)"),
                                    (p.save, "annotate_save", "Save + next (Enter)"),
                                    (p.no_bar, "annotate_no_bar", "No bar + next (Shift+Enter)"),
                                    (p.delete, "annotate_delete", "Delete (Del)"),
                                    (p.undo, "annotate_undo", "Undo (Ctrl+Z)"),
                                    (p.redo, "annotate_redo", "Redo (Ctrl+Shift+Z)"),
                                    (p.reveal, "annotate_reveal", "Show machine + others after saving (V)")):
            actions[name].setIconText(short)  # what a tool button shows; menus keep the full text
            button.setDefaultAction(actions[name])
        self._update_panel()

    def report(self, level: str, text: str) -> None:
        self.host.report(level, text)

    # ================================================================== database and annotator

    def open_database(self, path: str | Path, *, readonly: bool = False) -> bool:
        """Use the annotation database at ``path`` (created if new). A file we may not write is
        opened read-only (look, but not save); any other problem is reported and the previous
        database, if any, stays in use. Returns True when ``path`` is now open."""
        path = Path(path).expanduser()
        try:
            store = AnnotationStore(path, readonly=readonly)
        except DatabaseReadOnlyError as exc:
            if readonly:
                return self._open_failed(exc)
            try:
                store = AnnotationStore(path, readonly=True)
            except StoreError as exc2:
                return self._open_failed(exc2)
            self.report("warning", f"{exc} — opened read-only: you can look at the lines but not save")
        except (StoreError, OSError) as exc:
            return self._open_failed(exc)
        try:  # a file can pass the open checks and still fail on the first read
            counts = store.counts()
        except (StoreError, OSError) as exc:
            store.close()
            return self._open_failed(exc)
        if self.store is not None:
            self.store.close()
        self.store = store
        self.store_error = None
        self.undo_stack.clear()  # its steps belong to the previous file
        self._registered.clear()
        if not store.readonly:
            self.settings.set("annotate/database", str(path))
        note = f", upgraded from schema version {store.upgraded_from}" if store.upgraded_from else ""
        self.report("info", f"annotation database {path}: {counts.annotations} bars by {counts.annotators} "
                            f"annotators on {counts.images} images{note}" + (" (read-only)" if store.readonly else ""))
        self._vetting_dirty = True
        self._load_lines()
        self._vetting_maybe()
        self._update_panel()
        return True

    def _open_failed(self, exc: BaseException) -> bool:
        self.store_error = str(exc)
        self.report("error", f"annotation database not opened: {exc}")
        self._update_panel()
        return False

    def choose_database(self, *_: Any) -> None:
        """File > Open annotation database… (an existing file, or a new name to create one)."""
        start = self.settings.get("annotate/database", str(default_database_path()))
        path, _ = QFileDialog.getSaveFileName(
            self.host.dialog_parent(), "Open or create an annotation database", start,
            "Annotation databases (*.sqlite *.sqlite3 *.db);;All files (*)",
            options=QFileDialog.Option.DontConfirmOverwrite)
        if path:
            self.open_database(path)

    def ensure_database(self) -> bool:
        """Open the last used (or the default) database if none is open yet. After a failed
        open (say ``--db`` named a newer file) nothing is opened in its place behind your back."""
        if self.store is not None or self.store_error is not None:
            return self.store is not None
        path = Path(self.settings.get("annotate/database", "") or default_database_path())
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            return self._open_failed(exc)
        return self.open_database(path)

    def set_annotator(self, name: str) -> bool:
        """Who is drawing (saved with every bar, remembered between runs)."""
        name = (name or "").strip()
        if not name:
            return False
        self.annotator = name
        self.settings.set("annotate/annotator", name)
        self._load_lines()  # whose lines are editable changes
        self._update_panel()
        return True

    def ask_annotator(self, *_: Any) -> bool:
        """Ask for the annotator's name (once; Annotate > Change annotator… asks again)."""
        name, ok = QInputDialog.getText(self.host.dialog_parent(), "Who is annotating?",
                                        "Your name (saved with every bar you draw):",
                                        QLineEdit.EchoMode.Normal, self.annotator or os.environ.get("USER", ""))
        return bool(ok) and self.set_annotator(name)

    # ================================================================== mode

    def set_active(self, on: bool) -> bool:
        """Switch annotate mode on or off; on needs an annotator's name (asked if unknown)."""
        if on and not self.annotator and not self.ask_annotator():
            on = False
            self.report("warning", "annotate mode needs your name")
        if on:
            self.ensure_database()
        self.state.active = bool(on)  # the overlays and lines follow (_blind_changed)
        mode = self.actions.get("annotate_mode")
        if mode is not None and mode.isChecked() != self.active:
            mode.setChecked(self.active)  # (setChecked does not emit triggered, so no loop)
        self.layer.set_editable(self.active)
        if self.active:
            self.dock.show()
            self.dock.raise_()
            self.host.focus_view()  # also after the name dialog
            self.host.show_status("annotate mode: drag along the bar; Enter saves and moves on, Shift+Enter says "
                                  "no bar (the machine's line and others' stay hidden until you have answered)", 8000)
        elif self.draft is not None and not self.draft.empty:
            self.save_draft(reason="saved the drawing you left on")
        self._update_panel()
        return self.active

    def set_reveal(self, on: bool) -> None:
        """V: after saving on an image, show the machine's line, the saliency and others' lines."""
        self.state.reveal = bool(on)
        action = self.actions.get("annotate_reveal")
        if action is not None and action.isChecked() != self.state.reveal:
            action.setChecked(self.state.reveal)
        if self.active and self.state.reveal and not self.state.saved_here:
            self.host.show_status("the machine's line and others' show once you have answered on this image "
                                  "(your bar, or no bar)", 6000)

    def _blind_changed(self) -> None:
        """Annotate mode, V or this image's saved state changed: hide or show what the annotator may see."""
        self.host.image_view.overlays.set_blind(self.state.blind)
        self._draw_lines()

    def _width_next_toggled(self) -> None:
        action = self.actions.get("annotate_width")
        self.layer.width_next = bool(action.isChecked()) if action is not None else not self.layer.width_next

    def _show_others_toggled(self, on: bool) -> None:
        self.settings.set("annotate/show_others", bool(on))
        self._load_lines()

    # ================================================================== images

    def image_changed(self, entry: int | None) -> None:
        """The window is about to show another image: save a drawing left on this one, clear the lines."""
        if self.draft is not None and not self.draft.empty:
            self.save_draft(reason="saved the drawing you left on")
        self.image = None
        self.image_path = None
        self.image_record = None
        self.records = []
        self.labels = []
        self.machine = []
        self.references = []
        self.draft = None
        self.state.saved_here = False  # blind until this image's own bar is known
        self.layer.clear()
        self.layer.set_image_rect(None, None)
        self._update_panel()

    def image_shown(self, entry: int, image: Any) -> None:
        """The window shows ``image``: draw its stored lines and let drags draw on it."""
        self.image = image
        self.image_path = image_key(image.path) if getattr(image, "path", None) is not None else None
        self.image_set_name = self._set_name()  # kept: a drawing is saved after the next set may be open
        self.image_record = self._registered.get(self.image_path) if self.image_path else None
        self.layer.set_image_rect(image.width, image.height)
        self._load_lines()

    def _set_name(self) -> str | None:
        image_set = self.host.image_set
        root = getattr(image_set, "root", None)
        return Path(root).absolute().name if root is not None else None

    def _load_lines(self) -> None:
        """Read the current image's annotations and machine bar and draw them."""
        self.records, self.labels, self.machine, self.references = [], [], [], []
        if self.store is not None and self.image_path is not None:
            try:
                record = self.image_record or self.store.find_image(self.image_path)
                self.image_record = record
                if record is not None:
                    self.records = self.store.annotations_for_image(record.id)
                    self.labels = self.store.bar_labels(image_id=record.id)
                    self.machine = self.store.machine_measurements(image_id=record.id)
                self.references = marks_for_image(self.store, self.image, record)
            except StoreError as exc:
                self.report("error", f"could not read the annotations: {exc}")
        # answered = a line drawn or an explicit label ("no bar" counts): the reveal rule's "saved"
        saved = own_annotation(self.records, self.annotator) is not None or self.own_label() is not None
        if not self.state.update(saved_here=saved):  # a change redraws through _blind_changed
            self._draw_lines()

    def _others_visible(self) -> bool:
        """Others' and the machine's lines may be shown: the check box, and not blind."""
        return self.panel.show_others.isChecked() and not self.state.blind

    def _draw_lines(self) -> None:
        """Draw the lines read by _load_lines: yours always, others' and the machine's unless blind."""
        own = own_annotation(self.records, self.annotator)
        mine = [r for r in self.records if r.annotator == self.annotator]
        self.layer.set_own([(r.id, r.bar, r.width_line, f"{r.annotator} {r.length_px:.1f} px") for r in mine])
        others = [r for r in self.records if r.annotator != self.annotator] if self._others_visible() else []
        self.layer.set_others([(r.annotator, annotator_colour(r.annotator_id, own=False), r.bar, r.width_line,
                                f"{r.annotator} {r.length_px:.1f} px") for r in others])
        self._draw_machine()
        self._draw_references()
        self._show_draft()
        self._update_panel(own)
        self.lines_shown.emit()

    def _draw_machine(self) -> None:
        """The stored machine line, only where the window has no live fit to draw (one machine line)."""
        live, _hash = self.host.machine_bar()
        m = latest_machine(self.machine) if self._others_visible() else None
        if m is not None and live is not None and getattr(live, "ok", False):
            m = None
        self.layer.set_machine(m.bar if m is not None else None,
                               f"machine ({m.method}) {m.length_px:.1f} px" if m is not None else "")
        self.layer.restack()  # the live label may have moved

    def _draw_references(self) -> None:
        """Published reference lengths (View > Show published reference lengths), never while blind."""
        shown = bool(self.host.state.overlays.reference) and not self.state.blind
        self.layer.set_references(self.references if shown else [])

    # ================================================================== drawing

    def _line_drawn(self, line: BarLine, is_width: bool) -> None:
        if not self.active or self.image is None or not is_a_line(line):
            return
        draft = self.draft or Draft(self.image_path or "")
        if is_width:
            if draft.bar is None and own_annotation(self.records, self.annotator) is None:
                self.report("warning", "draw the bar first (drag along it), then its width (Shift+drag)")
                return
            draft = dataclasses.replace(draft, width=line)
            action = self.actions.get("annotate_width")
            if action is not None and action.isChecked():
                action.setChecked(False)  # one width line per press of X
                self.layer.width_next = False
        else:
            draft = dataclasses.replace(draft, bar=line)
        self.draft = draft
        self._show_draft()
        self._update_panel()

    def _draft_moved(self) -> None:
        if self.draft is None:
            return
        bar, width = self.layer.draft_lines()
        self.draft = dataclasses.replace(self.draft, bar=bar, width=width)
        self._update_panel()

    def _show_draft(self) -> None:
        d = self.draft
        if d is None or d.empty:
            self.layer.set_draft(None, None)
            return
        line = d.bar or d.width
        self.layer.set_draft(d.bar, d.width, f"unsaved {line.length_px:.1f} px · Enter saves")

    def discard_draft(self, quiet: bool = False) -> bool:
        """Drop the unsaved drawing (Delete / Esc). True if there was one."""
        had = self.draft is not None and not self.draft.empty
        self.draft = None
        self.layer.set_draft(None, None)
        if had and not quiet:
            self.host.show_status("drawing discarded", 4000)
        self._update_panel()
        return had

    def cancel(self) -> None:
        """Esc: discard the drawing in progress."""
        if self.active:
            self.discard_draft()

    # ================================================================== saving

    def save_and_next(self, *_: Any) -> bool:
        """Enter: save the drawing (if any) and show the next galaxy. A failed save stays put."""
        if not self.active:
            return False
        if not self.save_draft():
            return False
        if not self.host.browser.step(1):
            self.report("info", "that was the last image of the set")
        return True

    def own_label(self) -> BarLabelRecord | None:
        """The annotator's explicit bar / no-bar answer on the image on screen (None: none given)."""
        return next((lab for lab in self.labels if lab.annotator == self.annotator), None)

    def no_bar_and_next(self, *_: Any) -> bool:
        """Shift+Enter: answer "no bar" for this galaxy (undoable; your line here, if any, is deleted
        with it, and an unsaved drawing is dropped), then show the next galaxy like Enter does."""
        if not self.active:
            return False
        if self.image is None:
            self.host.show_status("no image to answer for yet", 4000)
            return False
        if self.store is None:
            self.report("error", "no annotation database open (File > Open annotation database…): 'no bar' was "
                                 "not saved" + (f" — {self.store_error}" if self.store_error else ""))
            return False
        if not self.annotator:
            self.report("error", "no annotator name: Annotate > Change annotator…")
            return False
        label = self.own_label()
        already = label is not None and not label.has_bar and own_annotation(self.records, self.annotator) is None
        self.discard_draft(quiet=True)  # a drawing contradicts the answer
        if not already:
            try:
                record = self._register_current()
            except STORE_FAILURES as exc:
                self.report("error", f"'no bar' was not saved: {exc}")
                return False
            if not self._push(MarkNoBar(record.id, self.annotator, text="no bar"), record.path):
                return False
            self._store_machine(record)
            self._load_lines()
        if not self.host.browser.step(1):
            self.report("info", "that was the last image of the set")
        return True

    def save_draft(self, reason: str = "") -> bool:
        """Write the drawing to the database now (undoable). True when saved or nothing to save."""
        draft = self.draft
        if draft is None or draft.empty:
            return True
        if self.layer.draft_bar is not None or self.layer.draft_width is not None:
            bar, width = self.layer.draft_lines()  # where the user left the ends
            draft = dataclasses.replace(draft, bar=bar, width=width)
        if self.store is None:
            self.report("error", "no annotation database open (File > Open annotation database…): "
                                 "the drawing was not saved" + (f" — {self.store_error}" if self.store_error else ""))
            return False
        if not self.annotator:
            self.report("error", "no annotator name: Annotate > Change annotator…")
            return False
        try:
            record = self._register_current()
            op = plan_save(record.id, self.annotator, draft, own_annotation(self.records, self.annotator))
        except NothingToSave as exc:
            self.report("warning", str(exc))
            return False
        except STORE_FAILURES as exc:
            self.report("error", f"the drawing was not saved: {exc}")
            return False
        if op is None:
            return True
        if not self._push(op, record.path):
            return False
        self.draft = None
        if reason:
            self.report("info", f"{reason} {Path(record.path).name}")
        self._store_machine(record)
        self._load_lines()
        return True

    def _register_current(self) -> ImageRecord:
        if self.image_path in self._registered:  # checked (content hash) once per session
            return self._registered[self.image_path]
        record = register_shown_image(self.store, self.image, self.image_set_name)
        self.image_record = record
        self._registered[record.path] = record
        return record

    def _store_machine(self, record: ImageRecord) -> None:
        """Keep the machine's live bar next to the person's, for vetting (only when it is new)."""
        measurement, model_hash = self.host.machine_bar()
        if measurement is None or not machine_is_new(measurement, model_hash, self.machine):
            return
        try:
            self.store.add_machine_measurement(record.id, measurement, model_hash=model_hash)
        except STORE_FAILURES as exc:
            self.report("warning", f"the machine's bar was not stored for vetting: {exc}")

    def _push(self, op: AnnotationOperation, image_path: str) -> bool:
        command = StoreCommand(op, self.store, image_path, self._written, self._write_failed)
        try:
            command.run_first()
        except STORE_FAILURES as exc:
            self.report("error", f"not saved ({op.text}): {exc}")
            self._load_lines()
            return False
        self.undo_stack.push(command)
        return True

    def _own_moved(self, annotation_id: int) -> None:
        # after the ROI's own signal has returned: saving redraws (and so replaces) that ROI
        QTimer.singleShot(0, lambda: self._commit_move(annotation_id))

    def _commit_move(self, annotation_id: int) -> None:
        lines = self.layer.own_lines(annotation_id)
        before = next((r for r in self.records if r.id == annotation_id), None)
        if lines is None or before is None or self.store is None:
            return
        bar, width = lines
        if bar == before.bar and width == before.width_line:
            return
        op = EditAnnotation(annotation_id, bar=bar, width_line=width if before.width_line is not None else UNSET,
                            text=f"move bar ends ({bar.length_px:.1f} px)")
        self._push(op, before.image_path)

    def delete_or_discard(self, *_: Any) -> None:
        """Delete: drop the unsaved drawing, else delete your bar on this image (undoable)."""
        if not self.active or self.discard_draft():
            return
        own = own_annotation(self.records, self.annotator)
        if own is None:
            self.host.show_status("nothing of yours to delete on this image", 4000)
            return
        if self.store is not None:
            self._push(DeleteAnnotation(own.id, text=f"delete bar ({own.length_px:.1f} px)"), own.image_path)

    # ================================================================== after each write

    def _written(self, command: StoreCommand, record: AnnotationRecord | None, action: str) -> None:
        self._vetting_dirty = True
        verb = {"do": "saved", "undo": "undone", "redo": "redone"}[action]
        text = None
        if isinstance(command.op, MarkNoBar):  # its record is the label (None after undo)
            text = f"{verb}: {command.text()} · {self.annotator} · {Path(command.image_path).name}"
        elif record is not None:
            state = " (deleted)" if record.deleted else ""
            text = (f"{verb}: {command.text()} · {record.annotator} · {Path(record.image_path).name} · "
                    f"{record_text(record)}{state}")
        if text is not None:
            self.host.report("info", text)
            self.host.show_status(text, 6000)
        if action != "do":
            if command.image_path == self.image_path:
                self._load_lines()
            else:
                self.show_image_path(command.image_path)  # show what was undone
        QTimer.singleShot(0, self._vetting_maybe)
        self.written.emit(action)

    def _write_failed(self, command: StoreCommand, exc: BaseException) -> None:
        self.report("error", f"could not undo/redo '{command.text()}': {exc} (the step was dropped from the "
                             "history; the database keeps its last saved state)")
        self._load_lines()

    # ================================================================== vetting and navigation

    def _entry_map(self) -> dict[str, int]:
        image_set = self.host.image_set
        if image_set is None:
            return {}
        if self._entries is None or self._entries[0] != id(image_set):
            self._entries = (id(image_set), {image_key(e.path): i for i, e in enumerate(image_set.entries)})
        return self._entries[1]

    def show_image_path(self, path: str) -> bool:
        """Select the image stored under ``path`` in the browser (opening it alone if it is not
        in the open set)."""
        entry = self._entry_map().get(path)
        browser = self.host.browser
        if entry is not None and browser.model is not None:
            if browser.model.row_of(entry) < 0:
                browser.filter_edit.clear()
                browser.apply_filter()
            return browser.select_entry(entry)
        if not Path(path).exists():
            self.report("error", f"{path}: the annotated image is not there any more")
            return False
        self.report("info", f"{path} is not in the open set: opening it on its own")
        return self.host.open_path(path)

    def show_image_id(self, image_id: int) -> bool:
        """Open the database image ``image_id`` with everyone's lines and the machine's (vetting)."""
        if self.store is None:
            return False
        try:
            record = self.store.get_image(image_id)
        except StoreError as exc:
            self.report("error", str(exc))
            return False
        if not self.panel.show_others.isChecked():
            self.panel.show_others.setChecked(True)
        return self.show_image_path(record.path)

    def _vetting_maybe(self) -> None:
        if self.host.bottom_tabs.currentWidget() is not self.vetting:
            return
        if not self._vetting_sized:  # the scatter plot needs more room than a log line
            self._vetting_sized = True
            self.host.make_room_for_results(VETTING_MIN_HEIGHT)
        if self._vetting_dirty:
            self.refresh_vetting()

    def refresh_vetting(self) -> None:
        """Recompute agreement and the vetting list (when the tab is shown, or on Refresh)."""
        try:
            self.vetting.refresh(self.store, self._set_name())
        except StoreError as exc:
            self.report("error", f"vetting: {exc}")
            return
        self._vetting_dirty = False

    # ================================================================== the panel

    def _update_panel(self, own: AnnotationRecord | None = None) -> None:
        p = self.panel
        if self.store is not None:
            p.database.setText(self.store.path.name + (" (read-only)" if self.store.readonly else ""))
            p.database.setToolTip(f"{self.store.path}\n{self.store!r}")
        else:
            p.database.setText("none" + (f": {self.store_error}" if self.store_error else ""))
            p.database.setToolTip(self.store_error or "File > Open annotation database…")
        p.annotator.setText(self.annotator or "(asked when annotate mode starts)")
        for name in ("annotate_save", "annotate_no_bar", "annotate_delete", "annotate_width"):
            if name in self.actions:
                self.actions[name].setEnabled(self.active)
        p.info.setText(self._info_html(own if own is not None else own_annotation(self.records, self.annotator)))

    def _info_html(self, own: AnnotationRecord | None) -> str:
        if self.image is None:
            return "<i>no image</i>"
        scale = getattr(self.image, "pixel_scale", None)
        z = redshift_of(getattr(self.image, "meta", None))
        rows = []
        if self.draft is not None and not self.draft.empty:
            line = self.draft.bar or self.draft.width
            rows.append(f"<span style='color:{colour_hex((255, 214, 0))}'>■</span> <b>unsaved</b> "
                        f"{html.escape(lengths_text(line.length_px, scale, z))}"
                        + (" + width" if self.draft.bar is not None and self.draft.width is not None else ""))
        visible = self._others_visible()
        for r in self.records:
            mine = r.annotator == self.annotator
            if not mine and not visible:
                continue
            colour = annotator_colour(r.annotator_id, own=mine)
            rows.append(f"<span style='color:{colour_hex(colour)}'>■</span> {html.escape(r.annotator)}"
                        f"{' (you)' if mine else ''}: {html.escape(record_text(r))}")
        for lab in self.labels:  # answers without a line: "no bar" (or "bar" from an imported table)
            mine = lab.annotator == self.annotator
            if (not mine and not visible) or (lab.has_bar and any(r.annotator == lab.annotator for r in self.records)):
                continue
            colour = annotator_colour(lab.annotator_id, own=mine)
            rows.append(f"<span style='color:{colour_hex(colour)}'>■</span> {html.escape(lab.annotator)}"
                        f"{' (you)' if mine else ''}: <b>{'bar' if lab.has_bar else 'no bar'}</b>")
        m = latest_machine(self.machine)
        if m is not None and visible:
            rows.append(f"<span style='color:{colour_hex(MACHINE_COLOUR)}'>■</span> machine ({html.escape(m.method)}):"
                        f" {m.length_px:.1f} px")
        if not rows:
            rows.append("<i>no bar drawn on this image yet</i>")
        if self.state.blind:
            rows.append("<small>drawing blind: the machine's line, the saliency and others' lines show here once "
                        "you have saved your bar (or 'no bar')" + (" (V is on)" if self.state.reveal else ", with V") + "</small>")
        elif self.records:
            agreement = image_agreements_from(self.records)
            if agreement:
                rows.append(html.escape(image_agreement_text(agreement[0])))
        if scale is None:
            rows.append("<small>no pixel scale known: lengths in px only</small>")
        return "<br>".join(rows)

    # ================================================================== closing

    def close(self) -> None:
        """Save a drawing left on screen, then close the database (everything else is committed)."""
        if self.draft is not None and not self.draft.empty:
            self.save_draft(reason="saved the drawing you left on")
        if self.store is not None:
            self.store.close()
