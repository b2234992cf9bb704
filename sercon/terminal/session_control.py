"""The session's end of the control socket: what other sercon commands send through a running
`sercon connect` goes out in order with the user's own typing (control_server.py is the socket).

Apart from session.py so that the socket's code is imported once the session is running: nothing
on the way to the console's first byte needs it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from sercon.errors import ConnectionLost, TakenOver
from sercon.terminal.actions import Actions
from sercon.terminal.control_server import ControlServer
from sercon.terminal.paste import BURST
from sercon.terminal.sender import PACED, TYPED, Sender
from sercon.transport.base import Transport

CONTROL_WAIT = 60.0  # how long input from the control socket may wait behind the user's own


class ControlBridge:
    """Input and actions from control clients, handed to the session's writer thread in order."""

    def __init__(self, transport: Transport, sender: Sender, actions: Actions,
                 post_fatal: Callable[[BaseException], None],
                 keyboard: Callable[[str | None], None] | None = None) -> None:
        self.transport, self.sender, self.actions, self.post_fatal = transport, sender, actions, post_fatal
        self.keyboard = keyboard  # told when another sercon takes the keyboard (`connect`, "take the keyboard")

    def start(self, path: Path, stdin: TextIO, interactive: bool) -> ControlServer:
        """Listen on *path*; "hello" tells clients this process and, when interactive, its terminal."""
        fd = stdin.fileno()
        tty = os.ttyname(fd) if interactive and os.isatty(fd) else None
        server = ControlServer(path, self.write, self.act, {"pid": os.getpid(), "tty": tty}, self.keyboard)
        server.start()
        return server

    def write(self, data: bytes) -> None:
        """Input from `sercon send` through the control socket: in order with the user's typing, and
        only answered once it went out, so a send during a reconnect fails (exit 7) instead of
        vanishing with a success."""
        done, failed = threading.Event(), []

        def job() -> None:
            try:
                self.sender.send_now(data, PACED if len(data) > BURST else TYPED)
            except ConnectionLost:
                failed.append(True)
                raise
            finally:
                done.set()

        self.sender.put(job)
        if not done.wait(CONTROL_WAIT) or failed:
            raise ConnectionLost(f"{self.transport.label} is not connected right now: the input was not sent",
                                 "send it again once the session says it reconnected")

    def act(self, op: str, key: str | None) -> str:
        """An action from another sercon command, run in order by the writer thread; its result returned."""
        if op == "release":  # the same user's `sercon connect --force`
            self.post_fatal(TakenOver(f"another sercon of yours took over the console of {self.transport.label}",
                                      "only one sercon session per console: use the other one"))
            return "released"
        return self.actions.run_and_wait(op, key)
