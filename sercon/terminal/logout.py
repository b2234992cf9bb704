"""--logout-on-exit: log the console out before leaving (Azure keeps a disconnected user logged in).

The logout is typed again while a fresh shell prompt answers it (`sudo -i` or `su` left a shell
below), and the outcome is one status line. What the console shows is read from the session's tail
(sercon/stream/sinks.py), which the reader thread keeps.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from sercon.stream.sinks import Tail
from sercon.terminal.prompt import at_login_prompt, at_secret_prompt, at_shell_prompt
from sercon.terminal.sender import TYPED, TxItem

LOGOUT_WAIT = 5.0
LOGOUT_TRIES = 4  # shells to leave at most: `sudo -i` and `su` nest shells inside the login shell


def log_out(tail: Tail, put: Callable[[TxItem], None], sequence: bytes, status: Callable[[str], None],
            failed: Callable[[], bool]) -> None:
    """Type *sequence* (through the writer's *put*) until a login prompt answers; say how it went.
    *failed*: the session is ending on an error (stop waiting)."""
    if at_login_prompt(tail.data) or at_secret_prompt(tail.data):  # `exit` would be a user name or password
        status("the console is at a login or password prompt: nothing typed to log out")
        return
    exited = 0
    for _ in range(LOGOUT_TRIES):
        answer = _logout_once(tail, put, sequence, failed)
        if answer == "login":
            shells = f"{exited + 1} shells exited, " if exited else ""
            status(f"logged out: {shells}the console is at a login prompt")
            return
        if answer != "shell":
            break
        exited += 1
    if at_shell_prompt(tail.data):
        status(f"a shell prompt is still showing after {exited + 1} logouts: the console may still be logged in")
    else:
        status("could not tell whether the console logged out (no login prompt seen)")


def _logout_once(tail: Tail, put: Callable[[TxItem], None], sequence: bytes, failed: Callable[[], bool]) -> str | None:
    """Type the logout; "login" or "shell" for the prompt that answers it, None for none in time."""
    start = seen = tail.count
    put((sequence, TYPED))
    deadline = time.monotonic() + LOGOUT_WAIT
    while time.monotonic() < deadline and not failed():
        time.sleep(0.3)
        count, data = tail.count, tail.data
        fresh = data[-max(1, count - start):]
        if count > start and at_login_prompt(data):
            return "login"
        # A new line was printed (the logout was taken, not just redrawn) and the prompt stays.
        if count > start and count == seen and b"\n" in fresh and at_shell_prompt(data):
            return None if re.search(rb"(?i)(stopped|suspended) jobs", fresh) else "shell"  # bash's guard
        seen = count
    return None
