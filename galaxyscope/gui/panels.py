"""Small text panels: the log (every error the app met, with its file) and the FITS header."""

from __future__ import annotations

import time

from PySide6.QtGui import QFont, QFontDatabase, QTextCursor
from PySide6.QtWidgets import QPlainTextEdit, QWidget

from galaxyscope.gui.readout import header_text

LEVELS = ("info", "warning", "error")


class LogPanel(QPlainTextEdit):
    """Read-only, time-stamped messages; ``entries`` keeps (level, text) for tests and export."""

    def __init__(self, parent: QWidget | None = None, max_lines: int = 5000) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setMaximumBlockCount(max_lines)
        self.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.entries: list[tuple[str, str]] = []

    def add(self, level: str, text: str) -> None:
        if level not in LEVELS:
            level = "info"
        self.entries.append((level, text))
        stamp = time.strftime("%H:%M:%S")
        tag = {"info": "", "warning": "WARNING ", "error": "ERROR "}[level]
        self.appendPlainText(f"{stamp} {tag}{text}")
        self.moveCursor(QTextCursor.MoveOperation.End)

    def errors(self) -> list[str]:
        return [t for lvl, t in self.entries if lvl == "error"]

    def text(self) -> str:
        return self.toPlainText()


class HeaderPanel(QPlainTextEdit):
    """The current image's FITS header, card by card, in a fixed-width font."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        font.setStyleHint(QFont.StyleHint.Monospace)
        self.setFont(font)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.set_header(None)

    def set_header(self, header: object) -> None:
        self.setPlainText(header_text(header))
