"""Read-only views of a console (`sercon watch`): a running session's output through its control
socket, or, with no session, any byte source (a device opened read-only, the boot diagnostics log).

A watcher never writes to the console: its keys are read only to notice Ctrl-C or the escape key
then q (the way out), and the terminal is put back as it was on every way out.
"""

from __future__ import annotations

import os
import select
from collections.abc import Callable
from typing import TextIO

from sercon.choices import key_name
from sercon.errors import ConnectionLost
from sercon.terminal.console import RawConsole
from sercon.terminal.screen import write_all
from sercon.transport.control import ControlTransport

CTRL_C = 0x03
QUIT = (ord("q"), ord("Q"))


class WatchKeys:
    """The watcher's keys: Ctrl-C, or the escape key then q, quits; nothing else does anything."""

    def __init__(self, escape: int | None) -> None:
        self.escape = escape
        self._armed = False  # the escape key was the last key

    def feed(self, data: bytes) -> bool:
        """True when *data* asks to quit."""
        for byte in data:
            if byte == CTRL_C or (self._armed and byte in QUIT):
                return True
            self._armed = self.escape is not None and byte == self.escape
        return False

    def how_to_quit(self) -> str:
        return "Ctrl-C" + (f" or {key_name(self.escape)} q" if self.escape is not None else "") + " quits"


class Watcher:
    """Shows one byte source on *out_fd* until it ends or the user quits; *status* says sercon's lines."""

    def __init__(self, stdin: TextIO, out_fd: int, status: Callable[[str], None], escape: int | None) -> None:
        self.stdin, self.out_fd, self.status = stdin, out_fd, status
        self.keys = WatchKeys(escape)

    def notice(self, what: str) -> None:
        """The one line that says the watcher is read-only, and how to leave."""
        self.status(f"{what}: read-only, your keys do not reach the console; {self.keys.how_to_quit()}")

    def session(self, running: ControlTransport) -> str:
        """A running session's output (its recent output first); how it ended, in words."""
        def pump() -> bool:
            try:
                while data := running.read(0):
                    write_all(self.out_fd, data)
            except ConnectionLost as exc:
                self._notices(running)
                raise _Over(exc.message) from exc
            self._notices(running)
            return True

        return self._run(running.sock.fileno(), pump, first=True)

    def source(self, fd: int | None, read: Callable[[], bytes | None], interval: float | None = None) -> str:
        """Any other source: *read* is called when *fd* is readable (or every *interval* seconds);
        an empty read from a readable *fd* is its end, None is nothing for now."""
        def pump() -> bool:
            data = read()
            if data is None:
                return True
            if data:
                write_all(self.out_fd, data)
            return bool(data) or fd is None

        return self._run(fd, pump, interval, first=fd is None)

    def _notices(self, running: ControlTransport) -> None:
        while running.notices:
            self.status(running.notices.popleft())

    def _run(self, fd: int | None, pump: Callable[[], bool], interval: float | None = None,
             first: bool = False) -> str:
        """*first*: pump once before waiting (what the source already holds)."""
        key_fd = self.stdin.fileno()
        watch = [key_fd] + ([fd] if fd is not None else [])
        with RawConsole(self.stdin, self.out_fd):
            try:
                if first and not pump():
                    return "the console's output ended"
            except _Over as over:
                return str(over)
            while True:
                ready, _, _ = select.select(watch, [], [], interval)
                if key_fd in ready:
                    data = os.read(key_fd, 1024)
                    if not data:
                        watch.remove(key_fd)  # no keyboard (stdin at its end): watch until the source ends
                    elif self.keys.feed(data):
                        return "quit"
                if (fd is None and not ready) or (fd is not None and fd in ready):
                    try:
                        if not pump():
                            return "the console's output ended"
                    except _Over as over:
                        return str(over)


class _Over(Exception):
    """The watched session ended (or dropped this watcher)."""
