"""What GRUB shows on a serial console, read off the screen: its menu, its editor, its lines.

Measured against GRUB 2.06 (Debian 12): the menu and the editor sit in a box from column 1 to 78;
the editor wraps a long line with a backslash in the box's last column; the highlighted menu entry
starts with `*`. The editor is moved with its Emacs keys (Ctrl-N, Ctrl-E), one byte each: an
arrow's `ESC [ B` split by a slow or busy GRUB would read as Esc, which closes the editor.
"""

from __future__ import annotations

import re

from sercon.rescue.screen import Screen

ESC = b"\x1b"
EDIT = b"e"
DOWN = b"\x0e"  # Ctrl-N: next line
END_OF_LINE = b"\x05"  # Ctrl-E
BOOT = b"\x18"  # Ctrl-X
ENTER = b"\r"

MENU_ANCHORS = ("Use the ^ and v keys", "Press enter to boot the selected OS")
EDITOR_ANCHOR = "Minimum Emacs-like screen editing"
BOOTING_ANCHOR = "Booting a command list"
PASSWORD_ANCHOR = "Enter username:"
_LINUX = re.compile(r"\s*(linux|linux16|linuxefi)\s")
_FIRST, _LAST = 2, 78  # the box's inside columns


def menu_showing(screen: Screen) -> bool:
    """GRUB's menu, in any language: its title and English help, or a highlighted (`*`) entry."""
    if not screen.contains("GNU GRUB") or editor_showing(screen):
        return False
    return any(screen.contains(anchor) for anchor in MENU_ANCHORS) or bool(highlighted_entry(screen))


def editor_showing(screen: Screen) -> bool:
    """GRUB's editor, in any language: its English help, or the `setparams` line it puts first."""
    return screen.contains(EDITOR_ANCHOR) or any(screen.text(row)[_FIRST:_LAST].startswith("setparams ")
                                                 for row in range(screen.rows))


def command_prompt(screen: Screen) -> str | None:
    """`grub>` or `grub rescue>` when GRUB sits at its command line (no menu to edit)."""
    line = screen.text(screen.row).lstrip()
    for prompt in ("grub rescue>", "grub>"):
        if line.startswith(prompt):
            return prompt
    return None


def nested_entry(screen: Screen) -> str | None:
    """The editor shows a submenu's source (a `menuentry` or `submenu` inside): its first such line."""
    for row in range(screen.rows):
        text = logical_line(screen, row).strip()
        if text.startswith(("menuentry ", "submenu ")):
            return text[:60]
    return None


def highlighted_entry(screen: Screen) -> str:
    """The menu entry GRUB would boot (marked `*`), or "" when none is recognised."""
    for line in screen.display():
        inside = line[_FIRST:_LAST].rstrip()
        if inside.startswith("*"):
            return inside[1:].strip()
    return ""


def logical_line(screen: Screen, row: int) -> str:
    """The editor line that starts on *row*, with its wrapped rows joined."""
    parts = []
    while row < screen.rows:
        inside = screen.text(row)[_FIRST:_LAST]
        if not inside.endswith("\\"):
            parts.append(inside.rstrip())
            break
        parts.append(inside[:-1])
        row += 1
    return "".join(parts)


def editor_lines(screen: Screen) -> list[str]:
    """The entry's lines as GRUB's editor shows them, wrapped rows joined."""
    lines, row = [], 0
    while row < screen.rows:
        line = logical_line(screen, row)
        lines.append(line)
        while row < screen.rows and screen.text(row)[_FIRST:_LAST].endswith("\\"):
            row += 1
        row += 1
    return [line.strip() for line in lines if line.strip()]


def line_at_cursor(screen: Screen) -> str:
    """The editor line the cursor is on, wherever its wrapped rows start (GRUB scrolls its box when
    a line grows past the last row)."""
    row = screen.row
    while row > 0 and screen.text(row - 1)[_FIRST:_LAST].endswith("\\"):
        row -= 1
    return logical_line(screen, row)


def is_linux_line(text: str) -> bool:
    return _LINUX.match(text) is not None


def cursor_on_linux_line(screen: Screen) -> bool:
    return is_linux_line(logical_line(screen, screen.row))
