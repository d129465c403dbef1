"""Model > Improve model from annotations… and Model > Model versions… in the real window (issue 19):
a worker fine-tunes a tiny model on a handful of labels, records a version and writes a model file;
cancel writes nothing; too few labels is a clear message; switching version changes the window's model."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtWidgets import QDialogButtonBox, QListWidget, QMessageBox  # noqa: E402

from galaxyscope.finetune.core import FinetuneSettings  # noqa: E402
from galaxyscope.images.imageset import ImageSet  # noqa: E402
from galaxyscope.model.checkpoint import load_checkpoint, save_checkpoint  # noqa: E402
from galaxyscope.store import AnnotationStore, BarLine  # noqa: E402
from model_testdata import write_bar_dataset  # noqa: E402
from tests.test_gui_window import (  # noqa: E402
    _private_settings_and_cache,
    _quiet_torch,
    make_window,
    tiny_model,
    wait_settled,
)

__all__ = ["_private_settings_and_cache", "_quiet_torch", "make_window"]

WAIT_MS = 120000
FAST = FinetuneSettings(epochs=1, batch_size=8, n_samples=2, n_resamples=20, test_fraction=0.25, min_images=4,
                        augment=False)  # (its 2-image early-stopping share may hold no drawn bar: that must work)


@pytest.fixture(autouse=True)
def _private_database(tmp_path, monkeypatch):
    monkeypatch.setenv("GALAXYSCOPE_DB", str(tmp_path / "default.sqlite"))


def setup(tmp_path: Path, n_labelled: int) -> tuple[Path, Path, Path]:
    """A 12-image set, the first ``n_labelled`` labelled by alice (bars drawn, the rest 'no bar'),
    and a tiny untrained model saved to a file."""
    data = write_bar_dataset(tmp_path / "set", n=12, size=48, seed=1)
    db = tmp_path / "ann.sqlite"
    images = ImageSet.open(data)
    with AnnotationStore(db) as store:
        for i, entry in enumerate(images.entries[:n_labelled]):
            rec = store.register_galaxy_image(images[i], set_name=data.name)
            if entry.row["has_bar"]:
                store.add_annotation(rec.id, "alice", BarLine(14, 24, 34, 24))
            else:
                store.mark_no_bar(rec.id, "alice")
    model_path = tmp_path / "base.safetensors"
    save_checkpoint(tiny_model(), model_path)
    return data, db, model_path


def open_window(make_window, qtbot, data: Path, db: Path, model_path: Path):
    w = make_window(load_checkpoint(model_path), db_path=str(db))
    assert w.open_path(data)
    return w


def idle(qtbot, w) -> None:
    """Let the window's saliency (and its bias check) finish here, not in the next test's event loop."""
    qtbot.waitUntil(lambda: w.is_settled() and not w.tasks.running(), timeout=WAIT_MS)


def versions(db: Path):
    with AnnotationStore(db, readonly=True) as s:
        return s.model_versions()


def test_improve_model_makes_a_version_and_switching_uses_it(make_window, qtbot, tmp_path):
    data, db, model_path = setup(tmp_path, 12)
    w = open_window(make_window, qtbot, data, db, model_path)
    assert any(a.text() == "&Model" for a in w.menuBar().actions())
    out = tmp_path / "tuned.safetensors"
    with qtbot.waitSignal(w.finetune.finished, timeout=WAIT_MS) as sig:
        task = w.finetune.start(out=out, settings=FAST)
        assert task is not None and not task.is_finished  # start() returned at once: the work is in a worker
        assert w.finetune.progress.isVisible() and w.finetune.cancel_button.isVisible()  # in the status bar
    assert sig.args == ["succeeded"], w.log.text()[-2000:]
    assert out.is_file() and not w.finetune.progress.isVisible()
    [version] = versions(db)
    assert Path(version.path) == out and version.n_train + version.n_test == 12
    box = w.finetune.result_dialog
    assert box is not None and box.isVisible()
    assert "P(bar) AUC" in box.text() and "length ρ" in box.text()  # before/after on held-out annotations
    assert "P(bar) AUC" in w.log.text()
    assert w.model.sha256 != version.sha256  # not switched until asked

    wait_settled(qtbot, w, 0)
    with qtbot.waitSignals([w.finetune.model_switched, w.saliency_shown], timeout=WAIT_MS, order="strict"):
        box.button(QMessageBox.StandardButton.Yes).click()  # the image's saliency is made again, by the new model
    assert w.model.sha256 == version.sha256 and Path(w.model.path) == out

    with qtbot.waitSignal(w.finetune.finished, timeout=WAIT_MS):  # a second version, from the tuned model
        w.finetune.start(out=tmp_path / "tuned2.safetensors", settings=FAST)
    assert len(versions(db)) == 2
    w.finetune.result_dialog.button(QMessageBox.StandardButton.No).click()
    dialog = w.finetune.show_versions()
    listing = dialog.findChild(QListWidget)
    assert listing.count() == 3 and "(in use)" in listing.item(0).text()
    assert listing.item(2).text() == "base model base.safetensors (not fine-tuned here)"  # a way back
    listing.setCurrentRow(1)
    use = [b for b in dialog.findChild(QDialogButtonBox).buttons() if b.text() == "Use this model"][0]
    with qtbot.waitSignal(w.finetune.model_switched, timeout=WAIT_MS) as sig:
        use.click()
    assert sig.args == [versions(db)[1].name]
    assert w.model.sha256 == versions(db)[1].sha256
    idle(qtbot, w)


def test_cancel_writes_nothing(make_window, qtbot, tmp_path):
    data, db, model_path = setup(tmp_path, 12)
    w = open_window(make_window, qtbot, data, db, model_path)
    out = tmp_path / "tuned.safetensors"
    with qtbot.waitSignal(w.finetune.finished, timeout=WAIT_MS) as sig:
        w.finetune.start(out=out, settings=FAST)
        w.cancel_work()  # Esc
    assert sig.args == ["cancelled"]
    assert not out.exists() and versions(db) == []
    assert "nothing was written" in w.log.text()
    assert not w.finetune.progress.isVisible() and not w.finetune.cancel_button.isVisible()
    idle(qtbot, w)


def test_esc_that_discards_a_drawing_does_not_cancel_fine_tuning(make_window, qtbot, tmp_path):
    from galaxyscope.gui.annotate_logic import Draft

    data, db, model_path = setup(tmp_path, 12)
    w = open_window(make_window, qtbot, data, db, model_path)
    w.annotate.set_annotator("alice")
    assert w.annotate.set_active(True)
    w.annotate.draft = Draft("x", bar=BarLine(10, 20, 30, 20))
    with qtbot.waitSignal(w.finetune.finished, timeout=WAIT_MS) as sig:
        task = w.finetune.start(out=tmp_path / "tuned.safetensors", settings=FAST)
        w.cancel_work()  # Esc: throws the drawing away, the fine-tuning goes on
        assert w.annotate.draft is None and not task.cancel_requested
        w.cancel_work()  # a second Esc stops it
        assert task.cancel_requested
    assert sig.args == ["cancelled"]
    idle(qtbot, w)


def test_too_few_labels_is_a_message_not_a_traceback(make_window, qtbot, tmp_path):
    data, db, model_path = setup(tmp_path, 3)
    w = open_window(make_window, qtbot, data, db, model_path)
    out = tmp_path / "tuned.safetensors"
    with qtbot.waitSignal(w.finetune.finished, timeout=WAIT_MS) as sig:
        w.finetune.start(out=out, settings=FAST)
    assert sig.args == ["failed"]
    assert not out.exists() and versions(db) == []
    box = w.finetune.result_dialog or [b for b in w.findChildren(QMessageBox) if b.isVisible()][0]
    assert "only 3 labelled images" in box.text()
    assert "Traceback" not in w.log.text()
    assert "only 3 labelled images" in w.statusBar().currentMessage()
    idle(qtbot, w)


def test_switching_to_a_version_whose_file_changed_is_refused(make_window, qtbot, tmp_path):
    data, db, model_path = setup(tmp_path, 0)
    with AnnotationStore(db) as store:
        store.add_model_version(model_path, sha256="0" * 64, name="v-moved", n_train=1, n_test=0)
    w = open_window(make_window, qtbot, data, db, model_path)
    before = w.model
    [version] = w.finetune.versions()
    task = w.finetune.switch_to(version)
    qtbot.waitUntil(lambda: task.is_finished, timeout=WAIT_MS)
    assert w.model is before
    idle(qtbot, w)
    assert "could not switch to model version 'v-moved'" in w.log.text() and "changed" in w.log.text()


def test_improve_model_says_what_is_missing(make_window, qtbot, tmp_path):
    data, db, model_path = setup(tmp_path, 12)
    w = make_window(tiny_model(), db_path=str(db))  # a model made in memory: no file to fine-tune from
    assert w.open_path(data)
    with qtbot.waitSignal(w.finetune.finished, timeout=WAIT_MS) as sig:
        assert w.finetune.start() is None
    assert sig.args == ["refused"] and "load a model from a file" in w.statusBar().currentMessage()
    bare = make_window(load_checkpoint(model_path))  # no annotation database open
    assert bare.open_path(data)
    with qtbot.waitSignal(bare.finetune.finished, timeout=WAIT_MS) as sig:
        bare.actions_by_id["improve_model"].trigger()  # the menu entry
    assert sig.args == ["refused"] and "open the annotation database" in bare.statusBar().currentMessage()
    assert versions(db) == [] and not list(tmp_path.glob("**/*-ft-*.safetensors"))
    idle(qtbot, w)
    idle(qtbot, bare)


def test_the_menu_entry_asks_for_settings_then_starts(make_window, qtbot, tmp_path):
    from PySide6.QtWidgets import QLineEdit, QSpinBox

    data, db, model_path = setup(tmp_path, 12)
    w = open_window(make_window, qtbot, data, db, model_path)
    w.actions_by_id["improve_model"].trigger()
    dialog = w.finetune.settings_dialog
    assert dialog is not None and dialog.isVisible() and not w.finetune.running()  # nothing starts unasked
    dialog.findChild(QSpinBox).setValue(1)  # epochs
    dialog.findChild(QLineEdit).setText("mine")
    with qtbot.waitSignal(w.finetune.finished, timeout=WAIT_MS) as sig:
        dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok).click()
    assert sig.args == ["succeeded"], w.log.text()[-2000:]
    [version] = versions(db)
    assert version.name == "mine" and version.params["epochs"] == 1
    assert Path(version.path).parent == tmp_path / "models" and Path(version.path).is_file()  # beside the database
    w.finetune.result_dialog.button(QMessageBox.StandardButton.No).click()
    idle(qtbot, w)
