"""Where galaxyscope keeps its files, and the environment variables that move them (no Qt, torch or numpy).

Why one home: the cache, the settings file, the annotation database and the
bundled resources can each be redirected by a variable (tests, screenshots and
packaged apps do so), and the names and their precedence must be the same in
every module that asks. Bottom layer: imports nothing from galaxyscope.

| what | variable | default |
|---|---|---|
| cache (saliency maps in ``saliency/``) | ``GALAXYSCOPE_CACHE`` | ``$XDG_CACHE_HOME/galaxyscope``, ``~/.cache/galaxyscope`` |
| window settings (an .ini file) | ``GALAXYSCOPE_SETTINGS`` | the platform's QSettings place (the GUI decides) |
| annotation database | ``GALAXYSCOPE_DB`` | ``<user data folder>/galaxyscope/annotations.sqlite`` |
| shipped models and samples | ``GALAXYSCOPE_RESOURCES`` | the bundle's or the checkout's ``resources/`` |
"""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "GALAXYSCOPE_CACHE"
SETTINGS_ENV = "GALAXYSCOPE_SETTINGS"
DATABASE_ENV = "GALAXYSCOPE_DB"
RESOURCES_ENV = "GALAXYSCOPE_RESOURCES"
XDG_CACHE_ENV = "XDG_CACHE_HOME"
#: every galaxyscope variable above (XDG_CACHE_HOME is the platform's)
GALAXYSCOPE_ENV_VARS: tuple[str, ...] = (CACHE_ENV, SETTINGS_ENV, DATABASE_ENV, RESOURCES_ENV)
#: the ones that point at the user's own files: what a private run (screenshots, tests) redirects
USER_FILE_ENV_VARS: tuple[str, ...] = (CACHE_ENV, SETTINGS_ENV, DATABASE_ENV)

APP_FOLDER = "galaxyscope"
DATABASE_FILE = "annotations.sqlite"


def env_path(name: str) -> Path | None:
    """``$name`` as a Path (``~`` expanded), or None when it is unset or empty.

    Why empty counts as unset: ``VAR= galaxyscope ...`` is how a shell user
    switches an override off, and ``Path("")`` would mean the current folder.
    """
    value = os.environ.get(name)
    return Path(value).expanduser() if value else None


def cache_dir() -> Path:
    """galaxyscope's cache folder: ``$GALAXYSCOPE_CACHE``, else ``$XDG_CACHE_HOME/galaxyscope``,
    else ``~/.cache/galaxyscope``. Nothing is created."""
    own = env_path(CACHE_ENV)
    if own is not None:
        return own
    base = env_path(XDG_CACHE_ENV) or Path.home() / ".cache"
    return base / APP_FOLDER


def saliency_cache_dir() -> Path:
    """Where saliency maps are cached: ``cache_dir() / "saliency"``."""
    return cache_dir() / "saliency"


def settings_path_from_env() -> Path | None:
    """The settings file named by ``$GALAXYSCOPE_SETTINGS`` (an .ini path), or None.

    None means "the platform's usual place", which only Qt knows, so the GUI
    picks it (this module stays Qt-free).
    """
    return env_path(SETTINGS_ENV)


def database_path_from_env() -> Path | None:
    """The annotation database named by ``$GALAXYSCOPE_DB``, or None."""
    return env_path(DATABASE_ENV)


def default_database_path(data_dir: str | Path | None = None) -> Path:
    """The annotation database when no ``--db`` was given: ``$GALAXYSCOPE_DB``, else
    ``data_dir/galaxyscope/annotations.sqlite``.

    ``data_dir`` is the user's data folder (the GUI passes Qt's
    GenericDataLocation, e.g. ``~/.local/share``); when None or empty the home
    folder is used, as the GUI did when Qt found no data folder.
    """
    env = database_path_from_env()
    if env is not None:
        return env
    return Path(data_dir or Path.home()) / APP_FOLDER / DATABASE_FILE


def resources_override() -> Path | None:
    """The resources folder named by ``$GALAXYSCOPE_RESOURCES``, or None (then
    `galaxyscope.resources.resources_dir` looks in the bundle or the checkout)."""
    return env_path(RESOURCES_ENV)
