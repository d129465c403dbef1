"""galaxyscope.progress and galaxyscope.paths: the one home of the progress/cancel types and of
the environment variables; both import without torch or numpy, and the old names still work."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from galaxyscope import paths, progress
from galaxyscope.errors import CancelledError

REPO = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------- progress


def test_cancel_token_is_a_cancel_check_set_from_another_thread():
    token = progress.CancelToken()
    assert token() is False
    t = threading.Thread(target=token.cancel)
    t.start()
    t.join()
    assert token() is True


def test_raise_if_cancelled_raises_only_when_asked():
    progress.raise_if_cancelled(None, "never")
    progress.raise_if_cancelled(lambda: False, "not yet")
    with pytest.raises(CancelledError, match="stopped at 3"):
        progress.raise_if_cancelled(lambda: True, "stopped at 3")
    token = progress.CancelToken()
    token.cancel()
    with pytest.raises(CancelledError):
        progress.raise_if_cancelled(token)


def test_modules_share_the_one_token_and_types():
    from galaxyscope.bias import scan
    from galaxyscope.model import real_images, training
    from galaxyscope.saliency import cache

    assert training.Progress is progress.Progress and training.Cancel is progress.CancelCheck
    assert real_images.Progress is progress.Progress and scan.CancelCheck is progress.CancelCheck
    assert cache.Progress is progress.Progress


def test_gui_workers_reuse_the_cancel_token():
    pytest.importorskip("PySide6")
    from galaxyscope.gui import workers

    assert workers.CancelToken is progress.CancelToken


def test_model_lock_gives_up_when_cancelled_while_waiting():
    pytest.importorskip("PySide6")
    from galaxyscope.gui.workers import ModelLock

    lock = ModelLock()
    lock.acquire()
    token = progress.CancelToken()
    token.cancel()
    with pytest.raises(CancelledError, match="waiting for the model"):
        lock.acquire(token, poll_s=0.001)
    lock.release()


def test_bottom_modules_import_no_torch_numpy_or_qt():
    code = ("import sys, galaxyscope.progress, galaxyscope.paths, galaxyscope.resources, "
            "galaxyscope.saliency.methods, galaxyscope.saliency.cli_args; "
            "print(sorted(m for m in ('torch', 'numpy', 'captum', 'PySide6', 'astropy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.strip() == "[]"


# ---------------------------------------------------------------- paths


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for name in (*paths.GALAXYSCOPE_ENV_VARS, paths.XDG_CACHE_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return monkeypatch


def test_cache_dir_precedence(clean_env, tmp_path):
    assert paths.cache_dir() == tmp_path / "home" / ".cache" / "galaxyscope"
    clean_env.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert paths.cache_dir() == tmp_path / "xdg" / "galaxyscope"
    clean_env.setenv("GALAXYSCOPE_CACHE", str(tmp_path / "mine"))
    assert paths.cache_dir() == tmp_path / "mine"
    assert paths.saliency_cache_dir() == tmp_path / "mine" / "saliency"


def test_empty_variable_counts_as_unset_and_tilde_is_expanded(clean_env, tmp_path):
    clean_env.setenv("GALAXYSCOPE_CACHE", "")
    assert paths.cache_dir() == tmp_path / "home" / ".cache" / "galaxyscope"
    clean_env.setenv("GALAXYSCOPE_DB", "~/notes.sqlite")
    assert paths.database_path_from_env() == tmp_path / "home" / "notes.sqlite"


def test_settings_and_database_from_env(clean_env, tmp_path):
    assert paths.settings_path_from_env() is None and paths.database_path_from_env() is None
    assert paths.default_database_path(tmp_path / "data") == tmp_path / "data" / "galaxyscope" / "annotations.sqlite"
    assert paths.default_database_path("") == tmp_path / "home" / "galaxyscope" / "annotations.sqlite"
    clean_env.setenv("GALAXYSCOPE_SETTINGS", str(tmp_path / "s.ini"))
    clean_env.setenv("GALAXYSCOPE_DB", str(tmp_path / "a.sqlite"))
    assert paths.settings_path_from_env() == tmp_path / "s.ini"
    assert paths.default_database_path(tmp_path / "data") == tmp_path / "a.sqlite"


def test_resources_and_saliency_cache_follow_paths(clean_env, tmp_path):
    from galaxyscope import resources
    from galaxyscope.saliency.cache import default_cache_root

    assert resources.ENV_VAR == paths.RESOURCES_ENV == "GALAXYSCOPE_RESOURCES"
    assert paths.resources_override() is None
    assert resources.resources_dir() == REPO / "resources"
    clean_env.setenv("GALAXYSCOPE_RESOURCES", str(tmp_path / "res"))
    assert resources.resources_dir() == tmp_path / "res"
    clean_env.setenv("GALAXYSCOPE_CACHE", str(tmp_path / "c"))
    assert default_cache_root() == tmp_path / "c" / "saliency"
