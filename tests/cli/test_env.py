"""sercon's own lines on stderr end in CR LF on a terminal (it may be in raw mode: no staircase)."""

from __future__ import annotations

import io
import os
import tty

from sercon.cli.env import Env


def test_info_ends_lines_with_crlf_on_a_terminal_and_lf_in_a_pipe():
    master, slave = os.openpty()
    tty.setraw(slave)  # as during a session: no output processing, a bare LF would not return
    try:
        with open(slave, "w", closefd=False) as terminal:
            Env(io.StringIO(), io.StringIO(), terminal, {}).info("Azure answered HTTP 429; retrying in 1 s")
        assert os.read(master, 4096).endswith(b"retrying in 1 s\r\n")
    finally:
        os.close(master)
        os.close(slave)
    piped = io.StringIO()
    Env(io.StringIO(), io.StringIO(), piped, {}).info("x")
    assert piped.getvalue() == "sercon: x\n"
