"""Look at what a path is before opening it.

Why: ``open()`` on a named pipe waits for a writer forever, and on a character
device such as /dev/zero reads forever, so one such entry in a folder stalls a
whole batch. Every reader of user files asks `not_regular_reason` first (a
``stat``, which never blocks) and refuses anything but a regular file, with a
reason that says what the path is instead.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

_KINDS = (
    (stat.S_ISDIR, "is a directory, not a file"),
    (stat.S_ISFIFO, "is a named pipe (FIFO), not a regular file; galaxyscope only reads regular files"),
    (stat.S_ISSOCK, "is a socket, not a regular file; galaxyscope only reads regular files"),
    (stat.S_ISCHR, "is a character device, not a regular file; galaxyscope only reads regular files"),
    (stat.S_ISBLK, "is a block device, not a regular file; galaxyscope only reads regular files"),
)


def not_regular_reason(path: str | Path) -> str | None:
    """None for a regular file (or a link to one); else why it must not be opened.

    Missing paths give "no such file", unreadable folders "permission denied".
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "no such file"
    except PermissionError:
        return "permission denied"
    except OSError as exc:
        return f"cannot open file ({exc.strerror or exc})"
    if stat.S_ISREG(mode):
        return None
    for test, reason in _KINDS:
        if test(mode):
            return reason
    return "not a regular file; galaxyscope only reads regular files"


def is_regular_file(path: str | Path) -> bool:
    """True for a regular file or a link to one (never blocks, never raises)."""
    return not_regular_reason(path) is None
