"""Model > Improve model from annotations… and Model > Model versions…: the window's part of issue 19.

Why a controller of its own: fine-tuning is long work with its own life (start,
progress, cancel, a result to report and a model to offer), like Measure all; the
window only gives it a menu and Esc. The work is `finetune.core.finetune_from_database`
in a worker, given the *paths* of the database and of the model on screen (the worker
opens its own store and its own copy of the model, so neither the window's store nor
the network the saliency worker uses is touched from another thread). The versions
recorded in the database are listed in a small dialog; switching loads one with
`finetune.core.load_version` (which refuses a moved or changed file) in a worker,
and the image on screen gets its saliency from the new model.
"""

from __future__ import annotations

import html
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSpacerItem,
    QSpinBox,
    QTextBrowser,
    QVBoxLayout,
)

from galaxyscope.errors import GalaxyscopeError
from galaxyscope.gui.label_next import LabelNext
from galaxyscope.gui.model_loading import leave_a_core_for_the_gui
from galaxyscope.gui.workers import Task

if TYPE_CHECKING:
    from galaxyscope.gui.main_window import MainWindow

VERSION_ROLE = Qt.ItemDataRole.UserRole + 3


def version_summary(version: Any) -> str:
    """One line per recorded version: name, date, how many labels, AUC and rho before -> after."""
    comp = (version.metrics or {}).get("comparison") or {}

    def pair(name: str, label: str) -> str:
        base, tuned = comp.get(f"{name}_base") or {}, comp.get(f"{name}_tuned") or {}
        if base.get("value") is None or tuned.get("value") is None:
            return f"{label} –"
        return f"{label} {base['value']:.2f} → {tuned['value']:.2f}"

    return (f"{version.name} · {version.created:%Y-%m-%d %H:%M} · trained on {version.n_train}, "
            f"held out {version.n_test} · {pair('auc', 'AUC')} · {pair('rho', 'length ρ')}")


def comparison_html(comparison: Any, lines: list[str]) -> str:
    """The before/after numbers as a small table (the report's lines do not fit a dialog's width)."""
    if comparison is None:
        return f"<p>{html.escape(lines[0])}</p>"
    cells = "".join(
        f"<tr><td>{name}</td>" + "".join(f"<td nowrap>&nbsp;{html.escape(e.format())}&nbsp;</td>" for e in row) + "</tr>"
        for name, row in (("P(bar) AUC", (comparison.auc_base, comparison.auc_tuned, comparison.auc_gain)),
                          ("length ρ", (comparison.rho_base, comparison.rho_tuned, comparison.rho_gain))))
    return (f"<p>{html.escape(lines[0])}</p><table><tr><th></th><th>base</th><th>fine-tuned</th><th>gain</th></tr>"
            f"{cells}</table>")


def default_output(db_path: Path, base_path: str | Path) -> Path:
    """Where a fine-tuned model goes: ``models/`` beside the database, named after the base and the time
    (a new file every run: every recorded version stays loadable)."""
    stem = Path(base_path).stem
    return db_path.parent / "models" / f"{stem}-ft-{time.strftime('%Y%m%d-%H%M%S')}.safetensors"


class FinetuneController(QObject):
    """Improve model (a worker with progress in the status bar, Esc cancels) and model versions.

    Signals for tests and scripts: ``finished(outcome)`` ("succeeded", "failed", "refused",
    "cancelled"), ``model_switched(name)`` after a version was loaded into the window.
    """

    finished = Signal(str)
    model_switched = Signal(str)
    logged = Signal(str)  # from the worker thread; queued to the window's thread

    def __init__(self, host: MainWindow) -> None:
        super().__init__(host)
        self.host = host
        self.task: Task | None = None
        self.outcome: Any = None  # the last FinetuneOutcome
        self.result_dialog: QMessageBox | None = None
        self.versions_dialog: QDialog | None = None
        self.settings_dialog: QDialog | None = None
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setMaximumWidth(220)
        self.progress.setFormat("improving model %p %")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("stop fine-tuning (Esc); nothing is written")
        self.cancel_button.clicked.connect(self.cancel)
        for widget in (self.progress, self.cancel_button):
            widget.hide()
            host.statusBar().addPermanentWidget(widget)
        self.logged.connect(lambda text: self.host.report("info", f"fine-tune: {text}"))
        self.label_next = LabelNext(host)  # the browser's label-next column, fed by the same labels

    def action_handlers(self) -> dict[str, Any]:
        return {"improve_model": lambda *_: self.ask_and_start(), "model_versions": lambda *_: self.show_versions(),
                "sort_label_next": lambda *_: self.label_next.sort_first()}

    def running(self) -> bool:
        return self.task is not None and not self.task.is_finished

    # ------------------------------------------------------------------ improve model

    def _refuse(self, text: str) -> None:
        self.host.report("warning", text)
        self.finished.emit("refused")

    def ask_and_start(self) -> QDialog | None:
        """Model > Improve model from annotations…: a small dialog (epochs, held-out share, saliency guidance,
        version name) whose OK starts `start`. None when something needed is missing (said why)."""
        from galaxyscope.finetune.core import FinetuneSettings

        missing = self._missing()
        if missing is not None:
            return self._refuse(missing)
        d = FinetuneSettings()
        dialog = QDialog(self.host)
        dialog.setWindowTitle("Improve model from annotations")
        epochs, held_out, guide, name = QSpinBox(), QDoubleSpinBox(), QDoubleSpinBox(), QLineEdit()
        epochs.setRange(1, 200)
        epochs.setValue(d.epochs)
        held_out.setRange(0.0, 0.5)
        held_out.setSingleStep(0.05)
        held_out.setValue(d.test_fraction)
        held_out.setToolTip("share of the labelled images never trained on: the before/after numbers come from "
                            "them (0: no comparison)")
        guide.setRange(0.0, 10.0)
        guide.setValue(d.guide_weight)
        guide.setToolTip("how strongly the drawn bars guide the saliency (0: labels only)")
        name.setPlaceholderText("v<N>")
        form = QFormLayout(dialog)
        what = QLabel(f"Fine-tune {Path(self.host.model.path).name} on the labels in "
                      f"{self.host.annotate.store.path.name} for {Path(self.host.source).name}, in the background "
                      "(Esc or Cancel stops it; the new model is saved beside the database).")
        what.setWordWrap(True)
        form.addRow(what)
        form.addRow("epochs (at most; early stopping)", epochs)
        form.addRow("held-out share", held_out)
        form.addRow("saliency guidance weight", guide)
        form.addRow("version name", name)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Start")
        buttons.accepted.connect(dialog.accept)
        buttons.rejected.connect(dialog.reject)
        form.addRow(buttons)
        dialog.accepted.connect(lambda: self.start(settings=replace(
            d, epochs=epochs.value(), test_fraction=held_out.value(), guide_weight=guide.value()),
            name=name.text().strip() or None))
        dialog.setMinimumWidth(480)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.finished.connect(lambda *_: self.host.focus_view())
        dialog.open()
        self.settings_dialog = dialog
        return dialog

    def _missing(self) -> str | None:
        """What Improve model lacks (None: it can start)."""
        h = self.host
        store = h.annotate.store
        if h.image_set is None or not h.source:
            return "Improve model: open the image set you annotated first"
        if h.model is None or not getattr(h.model, "path", None):
            return "Improve model: load a model from a file first (File > Open model…)"
        if store is None:
            return ("Improve model: open the annotation database with your labels first "
                    "(File > Open annotation database…)")
        if store.readonly:
            return f"Improve model: {store.path} is read-only, and the new model version must be recorded in it"
        return None

    def start(self, out: str | Path | None = None, settings: Any = None, name: str | None = None) -> Task | None:
        """Fine-tune the model on screen on the open set's labels in a worker; ``out`` defaults to
        `default_output`, ``settings`` to `FinetuneSettings()`. Returns the task (None: refused, said why)."""
        from galaxyscope.finetune.core import FinetuneSettings

        h = self.host
        store = h.annotate.store
        if self.running():
            h.show_status("the model is being improved already (Esc cancels)", 4000)
            return None
        missing = self._missing()
        if missing is not None:
            return self._refuse(missing)
        out_path = Path(out) if out is not None else default_output(Path(store.path), h.model.path)
        try:
            out_path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            return self._refuse(f"Improve model: cannot create {out_path.parent} ({exc})")
        settings = settings or FinetuneSettings()
        dataset, db_path, base = h.source, str(store.path), str(h.model.path)
        log = self.logged.emit

        def work(progress: Any, cancel: Any) -> Any:
            from galaxyscope.finetune.core import finetune_from_database

            leave_a_core_for_the_gui()
            return finetune_from_database(dataset, db_path, base, out_path, settings, name=name, progress=progress,
                                          cancel=cancel, log=log)

        task = Task(work, name="improve model")
        task.progressed.connect(self._progressed)
        task.succeeded.connect(self._succeeded)
        task.failed.connect(self._failed)
        task.cancelled.connect(lambda: self._end("cancelled", "info", "fine-tuning cancelled: nothing was written"))
        self.task = task
        self.progress.setValue(0)
        self.progress.show()
        self.cancel_button.show()
        h.report("info", f"improving {Path(base).name} from the labels in {Path(db_path).name} for {dataset} "
                         f"(the window stays usable; Esc cancels); the new model goes to {out_path}")
        h.tasks.start(task, h.compute_pool, priority=0)
        return task

    def escape(self) -> None:
        """Esc: cancel, unless this Esc discards an unsaved annotate-mode drawing (a long run is not lost
        to a line being thrown away; the Cancel button still stops it)."""
        draft = self.host.annotate.draft
        if not (self.host.annotate.active and draft is not None and not draft.empty):
            self.cancel()

    def cancel(self) -> None:
        """Esc / the Cancel button: stop at the next check (nothing is written)."""
        if self.running():
            self.task.cancel()
            self.progress.setFormat("cancelling…")

    def _progressed(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)

    def _end(self, outcome: str, level: str, text: str) -> None:
        self.progress.hide()
        self.cancel_button.hide()
        self.progress.setFormat("improving model %p %")
        self.host.report(level, text)
        self.finished.emit(outcome)

    def _failed(self, exc: BaseException, tb: str) -> None:
        from galaxyscope.model.trainset import TrainingDataError

        if isinstance(exc, TrainingDataError):
            self.result_dialog = self._message("Not enough labels", f"The model was not changed: {exc}",
                                               QMessageBox.Icon.Information)
            self._end("failed", "warning", f"Improve model: {exc}")
        elif isinstance(exc, GalaxyscopeError):
            self._end("failed", "error", f"Improve model failed: {exc}")
        else:  # a bug: one line in the status bar, the traceback only in the log
            self.host.log.add("error", tb)
            self._end("failed", "error", f"Improve model failed: {type(exc).__name__}: {exc}")

    def _succeeded(self, outcome: Any) -> None:
        self.outcome = outcome
        lines = outcome.comparison.lines() if outcome.comparison is not None else [
            "no held-out images: no before/after comparison"]
        for line in lines:
            self.host.report("info", f"fine-tune: {line}")
        self._end("succeeded", "info", f"model improved: {outcome.out.name}, recorded as version "
                                       f"{outcome.version.name!r}")
        box = self._message("Model improved",
                            f"<p>Fine-tuned on {outcome.n_train} labelled images, {outcome.n_test} held out; "
                            f"saved as {html.escape(str(outcome.out))} (version "
                            f"{html.escape(repr(outcome.version.name))}).</p>"
                            "<p>Base → fine-tuned, on held-out annotations:</p>"
                            f"{comparison_html(outcome.comparison, lines)}<p>Use the new model now?</p>",
                            QMessageBox.Icon.Question, QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
        box.buttonClicked.connect(lambda button, v=outcome.version: self.switch_to(v) if box.standardButton(button)
                                  == QMessageBox.StandardButton.Yes else None)
        self.result_dialog = box

    def _message(self, title: str, text: str, icon: QMessageBox.Icon,
                 buttons: QMessageBox.StandardButton = QMessageBox.StandardButton.Ok) -> QMessageBox:
        """A window-modal message that does not block the event loop (or a test)."""
        box = QMessageBox(icon, title, text, buttons, self.host)
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        grid = box.layout()  # QMessageBox sizes itself narrow; a spacer is the documented way to widen it
        if isinstance(grid, QGridLayout):
            grid.addItem(QSpacerItem(640, 0, QSizePolicy.Policy.Minimum, QSizePolicy.Policy.Expanding),
                         grid.rowCount(), 0, 1, grid.columnCount())
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.finished.connect(lambda *_: self.host.focus_view())
        box.open()
        return box

    # ------------------------------------------------------------------ versions

    def versions(self) -> list[Any]:
        """The model versions recorded in the open database (newest last; [] without one)."""
        store = self.host.annotate.store
        if store is None:
            return []
        try:
            return list(store.model_versions())
        except GalaxyscopeError as exc:
            self.host.report("error", f"model versions: {exc}")
            return []

    def switch_to(self, version: Any) -> Task:
        """Load ``version`` (checked against its recorded SHA-256) in a worker and use it; errors are reported."""
        from galaxyscope.finetune.core import load_version

        h = self.host
        h.show_status(f"loading model version {version.name!r} …", 10000)

        def work(progress: Any, cancel: Any) -> Any:
            leave_a_core_for_the_gui()
            return load_version(version)

        def done(model: Any) -> None:
            h.set_model(model)
            h.report("info", f"now using model version {version.name!r} ({Path(version.path).name})")
            self.model_switched.emit(version.name)

        task = Task(work, name=f"load version {version.name}")
        task.succeeded.connect(done)
        task.failed.connect(lambda exc, tb: h.report("error", f"could not switch to model version "
                                                              f"{version.name!r}: {exc}"))
        h.tasks.start(task, h.io_pool, priority=30)
        return task

    def show_versions(self) -> QDialog:
        """Model > Model versions…: the recorded versions with their numbers; "Use this model" switches."""
        dialog = QDialog(self.host)
        dialog.setWindowTitle("Model versions")
        listing = QListWidget()
        details = QTextBrowser()
        versions = self.versions()
        current = getattr(self.host.model, "sha256", None)
        for v in versions:
            item = QListWidgetItem(version_summary(v) + ("  (in use)" if v.sha256 == current else ""))
            item.setData(VERSION_ROLE, v)
            listing.addItem(item)
        tuned = {str(Path(v.path)) for v in versions}
        for base in dict.fromkeys(str(Path(v.base_path)) for v in versions if v.base_path):
            if base not in tuned and Path(base).is_file():  # the models they came from: a way back
                item = QListWidgetItem(f"base model {Path(base).name} (not fine-tuned here)")
                item.setData(VERSION_ROLE, base)
                listing.addItem(item)
        note = QLabel("no annotation database open" if self.host.annotate.store is None else
                      "no model versions in this database yet: Model > Improve model from annotations…"
                      if not versions else f"{len(versions)} version{'s' if len(versions) != 1 else ''} in "
                                                      f"{self.host.annotate.store.path.name}")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        use = buttons.addButton("Use this model", QDialogButtonBox.ButtonRole.ApplyRole)
        use.setEnabled(False)

        def selected() -> None:
            item = listing.currentItem()
            v = item.data(VERSION_ROLE) if item is not None else None
            use.setEnabled(v is not None)
            if isinstance(v, str):
                details.setPlainText(f"{v}\nloaded like File > Open model… (not checked against a record)")
                return
            details.setPlainText("" if v is None else (
                f"{v.path}\nsha256 {v.sha256}\nbase {v.base_path or '?'} (sha256 {(v.base_sha256 or '?')[:12]}…)\n"
                f"dataset {v.dataset or '?'}\n{version_summary(v)}" + (f"\n{v.note}" if v.note else "")))

        def use_selected() -> None:
            item = listing.currentItem()
            if item is not None:
                v = item.data(VERSION_ROLE)
                if isinstance(v, str):
                    self.host.load_model(v)  # a base model: an ordinary model file
                else:
                    self.switch_to(v)
                dialog.accept()

        listing.currentItemChanged.connect(lambda *_: selected())
        listing.itemActivated.connect(lambda *_: use_selected())
        use.clicked.connect(use_selected)
        buttons.rejected.connect(dialog.reject)
        layout = QVBoxLayout(dialog)
        layout.addWidget(note)
        layout.addWidget(listing, 2)
        layout.addWidget(details, 1)
        layout.addWidget(buttons)
        dialog.resize(720, 380)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.finished.connect(lambda *_: self.host.focus_view())
        dialog.open()
        self.versions_dialog = dialog
        return dialog
