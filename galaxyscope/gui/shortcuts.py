"""Every keyboard shortcut in one table (no Qt), so the menus and Help agree.

Why a table: the main window builds its actions from it and Help > Keyboard
shortcuts prints it, so a shortcut can't exist without being listed.
Single letters work whenever focus is not in a text field (Qt gives printable
keys to a focused line edit or spin box first).
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class ShortcutSpec:
    """One action: its id (attribute name on the window), menu text, key sequences, menu section."""

    action: str
    text: str
    keys: tuple[str, ...]
    section: str
    tip: str = ""


SHORTCUTS: tuple[ShortcutSpec, ...] = (
    ShortcutSpec("open_folder", "Open folder…", ("Ctrl+O",), "File", "open a folder of images (with its catalogue)"),
    ShortcutSpec("open_file", "Open catalogue or image…", ("Ctrl+Shift+O",), "File"),
    ShortcutSpec("open_model", "Open model…", ("Ctrl+M",), "File", "load a .safetensors checkpoint"),
    ShortcutSpec("open_database", "Open annotation database…", (), "File",
                 "open or create the SQLite file hand-drawn bars are saved in"),
    ShortcutSpec("export_table", "Export measurements…", ("Ctrl+E",), "File"),
    ShortcutSpec("quit", "Quit", ("Ctrl+Q",), "File"),
    ShortcutSpec("next_image", "Next image", ("N", "PgDown"), "Navigate", "also Down in the browser"),
    ShortcutSpec("prev_image", "Previous image", ("P", "PgUp"), "Navigate", "also Up in the browser"),
    ShortcutSpec("first_image", "First image", ("Home",), "Navigate"),
    ShortcutSpec("last_image", "Last image", ("End",), "Navigate"),
    ShortcutSpec("focus_filter", "Filter the browser", ("Ctrl+F",), "Navigate"),
    ShortcutSpec("sort_label_next", "Sort: label next first", (), "Navigate",
                 "after Measure all: the images a label would teach the model most on top (not while drawing blind)"),
    ShortcutSpec("fit_view", "Fit image in view", ("F",), "View", "zoom with the wheel, pan by dragging"),
    ShortcutSpec("zoom_model", "Zoom to the region the model saw", ("Z",), "View",
                 "the central crop the network was given (dotted box)"),
    ShortcutSpec("toggle_saliency", "Show saliency overlay", ("S",), "View"),
    ShortcutSpec("toggle_mask", "Show threshold mask outline", ("O",), "View"),
    ShortcutSpec("toggle_bar", "Show fitted bar", ("B",), "View"),
    ShortcutSpec("toggle_width", "Show bar width box", ("W",), "View"),
    ShortcutSpec("toggle_label", "Show length label", ("L",), "View"),
    ShortcutSpec("toggle_reference", "Show published reference lengths", (), "View",
                 "a dashed circle of the reference length (Hoyle 2011, imports) on the galaxy, matched by "
                 "objid; hidden while you draw blind"),
    ShortcutSpec("cycle_stretch", "Next stretch", ("T",), "View", "linear, sqrt, log, asinh"),
    ShortcutSpec("switch_method", "Switch bar method (paper / moments)", ("M",), "Measure"),
    ShortcutSpec("cycle_attribution", "Next attribution method", ("A",), "Measure"),
    ShortcutSpec("compute_saliency", "Compute saliency now", ("R", "Ctrl+Return"), "Measure"),
    ShortcutSpec("reset_params", "Reset thresholds (the attribution's settings, else the defaults)", ("Ctrl+0",), "Measure"),
    ShortcutSpec("batch_measure", "Measure the whole set", ("Ctrl+B",), "Measure"),
    ShortcutSpec("cancel", "Cancel running work", ("Esc",), "Measure"),
    ShortcutSpec("annotate_mode", "Annotate mode", ("D",), "Annotate",
                 "draw bar lengths by hand; each one is saved in the annotation database"),
    ShortcutSpec("annotate_save", "Save the drawing and go to the next galaxy", ("Return", "Enter"), "Annotate",
                 "with the image or the browser focused"),
    ShortcutSpec("annotate_no_bar", "No bar on this galaxy (and go to the next)", ("Shift+Return", "Shift+Enter"),
                 "Annotate", "your answer 'no bar' (deletes your line here, if any); undoable with Ctrl+Z"),
    ShortcutSpec("annotate_width", "Draw the width line next", ("X",), "Annotate", "or hold Shift while dragging"),
    ShortcutSpec("annotate_delete", "Delete my bar (or discard the drawing)", ("Delete",), "Annotate",
                 "with the image or the browser focused; Esc also discards a drawing"),
    ShortcutSpec("annotate_reveal", "Show the machine and others after saving", ("V",), "Annotate",
                 "annotate mode is blind: the machine's line, the saliency and other people's lines show on "
                 "an image only once you have saved your bar there, and only while this is on"),
    ShortcutSpec("annotate_undo", "Undo", ("Ctrl+Z",), "Annotate", "every step is written to the database at once"),
    ShortcutSpec("annotate_redo", "Redo", ("Ctrl+Shift+Z", "Ctrl+Y"), "Annotate"),
    ShortcutSpec("annotator", "Change annotator…", (), "Annotate", "the name saved with every bar you draw"),
    ShortcutSpec("improve_model", "Improve model from annotations…", (), "Model",
                 "fine-tune the model on the bar / no-bar labels of the open set, in the background"),
    ShortcutSpec("model_versions", "Model versions…", (), "Model",
                 "the models fine-tuned from this database: their before/after numbers, and switch to one"),
    ShortcutSpec("show_shortcuts", "Keyboard shortcuts", ("F1",), "Help"),
    ShortcutSpec("about", "About galaxyscope", (), "Help"),
)


def shortcut_for(action: str) -> ShortcutSpec:
    """The spec of one action id (KeyError if it is not in SHORTCUTS)."""
    for spec in SHORTCUTS:
        if spec.action == action:
            return spec
    raise KeyError(action)


def shortcut_rows(specs: Iterable[ShortcutSpec] = SHORTCUTS) -> list[tuple[str, str, str]]:
    """(section, keys as "N, PgDown", text) for every action that has a key."""
    return [(s.section, ", ".join(s.keys), s.text.rstrip("…")) for s in specs if s.keys]


def shortcut_help_html(specs: Iterable[ShortcutSpec] = SHORTCUTS) -> str:
    """An HTML table of the shortcuts, grouped by section (for Help > Keyboard shortcuts)."""
    rows = []
    section = None
    for sec, keys, text in shortcut_rows(specs):
        if sec != section:
            rows.append(f"<tr><td colspan=2><b>{html.escape(sec)}</b></td></tr>")
            section = sec
        rows.append(f"<tr><td><code>{html.escape(keys)}</code>&nbsp;&nbsp;</td><td>{html.escape(text)}</td></tr>")
    extra = ("<p>Mouse: wheel zooms, drag pans, right-click for view options. "
             "Drag the histogram's handles to set display levels.</p>"
             "<p>Annotate mode (D): drag along the bar to draw it, Shift+drag for its width, drag an end "
             "to adjust, Enter saves and moves on, Shift+Enter says 'no bar' and moves on; middle-drag pans. You draw blind: the machine's line, "
             "the saliency and other people's lines stay hidden until you have saved your bar (or 'no bar') "
             "on the image; then V shows them.</p>")
    return "<table>" + "".join(rows) + "</table>" + extra
