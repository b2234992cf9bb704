"""What `sercon rescue` must end in on a real guest: a root shell, booted with the parameter it added."""

from __future__ import annotations

import queue
import time
from typing import ClassVar

from sercon.transport.base import RESET, Transport
from tests.conftest import Terminal

PARAMETER = "rdinit=/bin/sh"


def assert_root_shell_with_parameter(term: Terminal, started: float, parameter: str = PARAMETER,
                                     timeout: float = 120) -> None:
    term.wait_raw(rb"a root shell on \S+, [\d.]+ s after", timeout=timeout)
    print(f"sercon rescue to a root shell: {time.monotonic() - started:.1f} s")
    term.wait_text("[sercon] connected to", timeout=10)
    assert_root_at(term, parameter)
    term.send(b"\x1dq")
    assert term.wait_exit() == 0


def assert_root_at(term: Terminal, parameter: str) -> None:
    """The shell on *term*'s console is root's, booted with *parameter*."""
    mark = len(term.raw)
    term.send(b"busybox mount -t proc proc /proc 2>/dev/null; echo uid=$(busybox id -u); busybox cat /proc/cmdline\r")
    found = term.wait_raw(rb"uid=(\d+)\r\n(.*)\r\n", timeout=30)
    assert found.start() >= mark
    assert found[1] == b"0"
    assert parameter.encode() in found[2].split()


class ScriptedConsole(Transport):
    """A console whose machine prints *after_reset* once reset; every key written is kept."""

    controls: ClassVar[frozenset[str]] = frozenset({RESET})

    def __init__(self, after_reset: bytes) -> None:
        self.label = "scripted"
        self.after_reset = after_reset
        self.pending: queue.Queue[bytes] = queue.Queue()
        self.written = b""
        self.resets = 0
        self.closed = False

    def read(self, timeout: float | None) -> bytes:
        try:
            return self.pending.get(timeout=timeout)
        except queue.Empty:
            return b""

    def write(self, data: bytes) -> None:
        self.written += data

    def discard_input(self) -> None:
        while not self.pending.empty():
            self.pending.get_nowait()

    def reset(self) -> None:
        self.resets += 1
        self.pending.put(self.after_reset)

    def close(self) -> None:
        self.closed = True
