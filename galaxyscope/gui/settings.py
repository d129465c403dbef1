"""Settings remembered between runs (QSettings), with types that survive INI files.

Where they live: the platform's usual place under organisation/application
"galaxyscope"; ``$GALAXYSCOPE_SETTINGS`` (an .ini path) or an explicit path
overrides it, which is how tests and ``--screenshot`` stay away from the user's
own settings.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QByteArray, QSettings

from galaxyscope import paths

if TYPE_CHECKING:
    from galaxyscope.gui.session_state import SessionState

ORGANISATION = "galaxyscope"
APPLICATION = "galaxyscope"
#: window size (px) of screenshots and of the first run, before the user sized the window
DEFAULT_WINDOW_SIZE = (1600, 1000)


class Settings:
    """A thin typed wrapper over QSettings: ``get(key, default)`` returns default's type."""

    def __init__(self, path: str | Path | None = None) -> None:
        path = path if path is not None else paths.settings_path_from_env()
        if path is not None:
            self.qsettings = QSettings(str(path), QSettings.Format.IniFormat)
        else:
            self.qsettings = QSettings(ORGANISATION, APPLICATION)
        self.path = self.qsettings.fileName()

    def get(self, key: str, default: Any) -> Any:
        """The stored value converted to ``type(default)``; default when absent or unreadable."""
        value = self.qsettings.value(key, None)
        if value is None:
            return default
        try:
            if isinstance(default, bool):
                if isinstance(value, str):
                    return value.strip().lower() in ("1", "true", "yes", "on")
                return bool(value)
            if isinstance(default, int):
                return int(float(value))
            if isinstance(default, float):
                return float(value)
            if isinstance(default, str):
                return str(value)
            if isinstance(default, QByteArray):
                return value if isinstance(value, QByteArray) else QByteArray(value)
        except (TypeError, ValueError):
            return default
        return value

    def get_optional_float(self, key: str) -> float | None:
        """A float, or None when absent, empty or "none" (e.g. an automatic min_pixels)."""
        value = self.qsettings.value(key, None)
        if value in (None, "", "none", "None"):
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            return None

    def set(self, key: str, value: Any) -> None:
        self.qsettings.setValue(key, "none" if value is None else value)

    def contains(self, key: str) -> bool:
        return self.qsettings.contains(key)

    def remove(self, key: str) -> None:
        self.qsettings.remove(key)

    def load_session(self) -> SessionState:
        """The session state stored here: defaults where a value is missing, unknown or unreadable."""
        from galaxyscope.gui.session_state import SessionState

        return SessionState.from_dict({key: self.qsettings.value(key) for key in self.qsettings.allKeys()})

    def save_session(self, state: SessionState) -> None:
        """Store ``state.to_dict()`` (the window's layout is stored by the window itself)."""
        for key, value in state.to_dict().items():
            self.set(key, value)

    def sync(self) -> None:
        self.qsettings.sync()
