"""Reading the console's last line: is a shell prompt or a login prompt showing?

Used to type `stty rows R cols C` only at a shell prompt (serial lines cannot carry the window
size), to tell after a logout whether a shell was left behind, and to keep typed passwords out of logs.
"""

from __future__ import annotations

import re

from sercon.stream.ansi import ESCAPE as ANSI  # noqa: F401 - the one pattern (stream/ansi.py), under its old name
from sercon.stream.ansi import strip

# Pattern sources, compiled on first use (re caches them): not at import, on the way to the first byte.
# `user@host:~$ `, `# `, `% `: a shell waiting for a command. Not `>` (a Python `>>> `, Windows
# `SAC>`, a continuation line), and the space after the mark is required (`5$` in output is not one).
SHELL_PROMPT = rb"[$#%] $"
LOGIN_PROMPT = rb"(?i)login: ?$"
SECRET_PROMPT = rb"(?i)(password|passphrase|pin)\b[^:\n]{0,60}: ?$"
TAIL = 4096


def last_line(tail: bytes) -> bytes:
    text = strip(tail[-TAIL:])
    return text.replace(b"\r\n", b"\n").rsplit(b"\n", 1)[-1].rsplit(b"\r", 1)[-1]


def at_shell_prompt(tail: bytes) -> bool:
    line = last_line(tail)
    return bool(re.search(SHELL_PROMPT, line)) and not re.search(LOGIN_PROMPT, line) and len(line) < 200


def at_login_prompt(tail: bytes) -> bool:
    return bool(re.search(LOGIN_PROMPT, last_line(tail)))


def at_secret_prompt(tail: bytes) -> bool:
    """A password prompt: what is typed now must not go into a log."""
    return bool(re.search(SECRET_PROMPT, last_line(tail)))


def stty_command(rows: int, cols: int) -> bytes:
    """A leading space keeps it out of shell history (HISTCONTROL=ignorespace)."""
    return f" stty rows {rows} cols {cols}\r".encode()
