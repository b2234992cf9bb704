"""The session in a real pty against a pty device: terminal replies are not keystrokes, and the menu
fits the window and leaves the screen as it was (read with pyte)."""

from __future__ import annotations

import re

import pytest

MENU_KEY = b"\x1d"


def test_enter_tilde_dot_quits_after_the_terminal_answered_a_cursor_query(device, terminal):
    """busybox asks for the cursor position at every prompt; the terminal's answer is not typing."""
    term = terminal("connect", device.path).connected()
    term.send(b"\r")
    device.expect(re.escape(b"\r"))
    device.write(b"\r\n~ # \x1b[6n")  # the prompt, then: where is the cursor?
    term.wait_raw(rb"\x1b\[6n")
    term.send(b"\x1b[5;23R")  # what the local terminal answers
    device.expect(re.escape(b"\x1b[5;23R"))  # still forwarded to the remote, unchanged
    term.send(b"~.")
    assert term.wait_exit() == 0
    assert b"~" not in device.buffer[device.pos:]


def test_device_attribute_and_status_replies_do_not_break_the_escape(device, terminal):
    term = terminal("connect", device.path).connected()
    term.send(b"\r\x1b[?1;2c\x1b[0n\x1b]11;rgb:0000/0000/0000\x07")
    device.expect(re.escape(b"\r\x1b[?1;2c\x1b[0n\x1b]11;rgb:0000/0000/0000\x07"))
    term.send(b"~.")
    assert term.wait_exit() == 0


def test_typed_escape_sequences_still_end_the_line_start(device, terminal):
    term = terminal("connect", device.path).connected()
    term.send(b"\r\x1b[A~.")  # an arrow key is typing: ~. is then data, as in ssh
    device.expect(re.escape(b"\r\x1b[A~."))
    term.send(MENU_KEY + b"q")
    assert term.wait_exit() == 0


@pytest.mark.parametrize("cols, rows", [(80, 24), (40, 20)])
def test_menu_and_help_fit_the_window_and_the_screen_comes_back(device, terminal, cols, rows):
    term = terminal("connect", device.path, cols=cols, rows=rows).connected()
    prompt = "x" * (cols - 12) + " prompt> "  # the cursor near the right edge
    device.write(f"\x1b[2J\x1b[Hline one\r\nline \x1b[1mtwo\x1b[0m\r\n{prompt}".encode())
    term.wait_text(prompt.rstrip())
    before, cursor = list(term.screen.display), (term.screen.cursor.x, term.screen.cursor.y)
    term.send(MENU_KEY)
    term.wait_text("sercon:")
    menu_row = term.screen.display[cursor[1]].rstrip()
    assert menu_row.startswith("sercon:") and menu_row.endswith(("help)", "help", "^]"))  # whole, not cut
    pages = []
    for _ in range(12):
        term.send(b"?")
        term.wait_screen(lambda t: re.match(r"\d+/\d+ ", t.screen.display[cursor[1]]) and
                         t.screen.display[cursor[1]].rstrip() not in pages[-1:], 5, "a help page")
        page = term.screen.display[cursor[1]].rstrip()
        assert page.endswith("(?)") and len(page) < cols  # whole, within the window
        pages.append(page)
        number, total = map(int, re.match(r"(\d+)/(\d+) ", page).groups())
        if number == total:
            break
    assert pages[0].startswith("1/") and "q quit sercon" in " ".join(pages) and "<Enter>~." in " ".join(pages)
    assert all(row == old for row, old in zip(term.screen.display[cursor[1] + 1 :], before[cursor[1] + 1 :],
                                                  strict=True))  # nothing below was touched
    term.send(b"\x1b")
    term.wait_screen(lambda t: list(t.screen.display) == before, 5, "the screen as it was")
    assert (term.screen.cursor.x, term.screen.cursor.y) == cursor
