"""The user-facing docs stay true: every relative link and anchor in the README and docs/ points
at something that exists, the user guide's shortcut table is the app's own table, every key the
README names is a real shortcut, and the changelog's newest release is the package version."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from galaxyscope import __version__

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", REPO / "CHANGELOG.md", *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    return {slug(m.group(1)) for m in re.finditer(r"^#+\s+(.*)$", page.read_text(encoding="utf-8"), re.M)}


def test_slug_matches_githubs_rule():
    assert slug("7. Keyboard shortcuts") == "7-keyboard-shortcuts"
    assert slug("4. Comparing with Hoyle et al. (2011)") == "4-comparing-with-hoyle-et-al-2011"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(REPO).as_posix())
def test_relative_links_and_anchors_exist(page):
    broken = []
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        if re.match(r"^[a-z]+:", target):  # http(s):, mailto:
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            broken.append(target)
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(target)
    assert not broken, f"{page.name}: broken links {broken}"


def _guide_table() -> list[tuple[str, str, tuple[str, ...]]]:
    text = (REPO / "docs" / "user-guide.md").read_text(encoding="utf-8")
    block = text[text.index("<!-- shortcut-table"):]
    rows = []
    for line in block.splitlines()[3:]:
        if not line.startswith("|"):
            break
        section, action, keys = (c.strip() for c in line.strip("|").split("|"))
        rows.append((section, action, tuple(re.findall(r"`([^`]+)`", keys))))
    return rows


def test_user_guide_shortcut_table_is_the_apps_table():
    shortcuts = pytest.importorskip("galaxyscope.gui.shortcuts")
    expected = [(s.section, s.text, tuple(s.keys)) for s in shortcuts.SHORTCUTS]
    assert _guide_table() == expected


def test_every_key_the_readme_names_is_a_shortcut():
    shortcuts = pytest.importorskip("galaxyscope.gui.shortcuts")
    known = {k for s in shortcuts.SHORTCUTS for k in s.keys}
    aliases = {"Del": "Delete"}  # Qt's short name of the same key
    text = (REPO / "README.md").read_text(encoding="utf-8")
    paragraph = text[text.index("Keyboard shortcuts (all under"):text.index("## Commands")]
    named = set()
    for code in re.findall(r"`([^`]+)`", paragraph):
        named.update(aliases.get(part, part) for part in code.split("/") if part)
    assert named, "no keys found in the README's shortcut paragraph"
    assert named <= known, f"keys the app does not have: {sorted(named - known)}"


def test_changelog_has_unreleased_and_the_current_version():
    text = (REPO / "CHANGELOG.md").read_text(encoding="utf-8")
    versions = re.findall(r"^## \[([^\]]+)\]", text, re.M)
    assert versions[0] == "Unreleased"
    assert versions[1] == __version__
