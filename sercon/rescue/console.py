"""Following the console during a rescue: the screen GRUB draws, the text since a mark, deadlines.

Deadlines here follow progress: a wait given `idle=True` fails only after that many seconds in
which the console printed nothing (a slow guest still drawing or booting is not stuck), with a
hard cap so that a console that never stops printing still ends.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Protocol

from sercon.errors import ExitStatus, SerconError
from sercon.rescue.screen import Screen
from sercon.rescue.shell import LOGIN, REBOOT_WORDS, prompt_at_end
from sercon.stream import ansi
from sercon.stream.sinks import Call, Pipeline, Sink, Tail
from sercon.transport.base import Transport

# The new boot has begun: firmware banners, a screen clear (firmware and GRUB clear first), GRUB itself.
RESTARTED = re.compile(rb"SeaBIOS|Booting from |\x1bc|\x1b\[2J|\x1b\[H\x1b\[J|GNU GRUB  version")
# --no-reset: the user's reboot, as the kernel or the firmware says it (never a bare screen clear,
# which any program may print, since Esc follows).
REBOOTING = re.compile(REBOOT_WORDS.encode())
KERNEL = re.compile(r"Linux version \d|\[\s*0\.0+\] ")
MARK_TAIL = 65536  # the output since the mark that the searches look at
HARD_CAP = 5.0  # an idle wait ends after at most HARD_CAP times its quiet limit (and 15 minutes) all the same


class RescueFailed(SerconError):
    """A step did not happen in time or cannot happen on this machine.

    *where* says what is on the console for a person to take over: "menu" (GRUB's menu: Enter boots
    the highlighted entry), "prompt" (a prompt that waits for someone), or None. *refused*: the
    guest refused the rescue parameter itself (another mode may get past it)."""

    def __init__(self, message: str, hint: str | None, status: ExitStatus, where: str | None = None,
                 refused: bool = False) -> None:
        super().__init__(message, hint)
        self.exit_status = status
        self.where = where
        self.refused = refused


class Progress(Protocol):
    def step(self, message: str) -> None: ...

    def output(self, data: bytes) -> None: ...


class ConsoleWatch:
    """Reads the transport, keeps GRUB's screen and the raw output since the last mark.

    What the console prints goes through a receive pipeline (sercon/stream/sinks.py): the VT model,
    the tail since the mark, the user's terminal once the boot is under way, and *record* (--log and
    the journal, rescue/record.py)."""

    def __init__(self, transport: Transport, progress: Progress, clock: Callable[[], float] = time.monotonic,
                 record: Sink | None = None) -> None:
        self.transport, self.progress, self.clock = transport, progress, clock
        self.screen = Screen()
        self._tail = Tail(MARK_TAIL)
        self.last_data = clock()
        self.show = False  # pass output on to the user (after the boot)
        sinks: list[Sink] = [Call(self._feed_screen), self._tail, Call(self._shown)]
        if record is not None:
            sinks.append(record)
        self.rx = Pipeline(*sinks)

    @property
    def raw(self) -> bytes:
        return self._tail.data

    @raw.setter
    def raw(self, data: bytes) -> None:
        self._tail.data = data[-MARK_TAIL:]

    def mark(self) -> None:
        self.raw = b""

    def text(self) -> str:
        return strip_controls(self.raw)

    def quiet_for(self, seconds: float) -> bool:
        return self.clock() - self.last_data >= seconds

    def read_until(self, done: Callable[[], bool], timeout: float, failure: str | None = None,
                   hint: str | None = None, tick: float = 0.05, where: str | None = None,
                   idle: bool = False) -> bool:
        """Read until *done*; at the deadline raise *failure* (exit 3), or return False without one.

        *idle*: the deadline is *timeout* seconds with no output, not since the call."""
        start = self.clock()
        cap = start + min(HARD_CAP * timeout, max(timeout, 900.0)) if idle else start + timeout
        while not done():
            now = self.clock()
            deadline = min(cap, max(start, self.last_data) + timeout) if idle else cap
            if now >= deadline:
                if failure is None:
                    return False
                waited = f"nothing printed for {timeout:.0f} s" if idle and deadline < cap else \
                    f"waited {now - start:.0f} s"
                raise RescueFailed(f"{failure} ({waited})", hint, ExitStatus.TIMEOUT, where)
            data = self.transport.read(min(tick, deadline - now))
            if data:
                self.take(data)
        return True

    def settle(self, quiet: float) -> None:
        """Read until the console has been quiet for *quiet* seconds (GRUB is done drawing); 5 s at most."""
        limit = self.clock() + 5
        while self.clock() < limit:
            data = self.transport.read(quiet)
            if not data:
                return
            self.take(data)

    def take(self, data: bytes) -> None:
        self.rx.rx(data)
        self.last_data = self.clock()

    def _feed_screen(self, data: bytes) -> None:
        self.screen.feed(data)  # the driver starts a fresh screen for each boot: looked up each time

    def _shown(self, data: bytes) -> None:
        if self.show:
            self.progress.output(data)


def strip_controls(raw: bytes) -> str:
    """Console bytes as text: escape sequences and CRs removed."""
    return ansi.text(raw)


def reboot_shown(raw: bytes, quiet: bool) -> bool:
    """The console shows a reboot (--no-reset), so Esc may go: the firmware's or GRUB's banner with
    no prompt after it, or the kernel's `reboot: Restarting system` starting a line with nothing
    after it and *quiet* (a second of silence). A `dmesg`, a pager or `dmidecode` that prints those
    words is followed by a prompt or more text, and Esc is not pressed into that shell."""
    text = strip_controls(raw)
    firmware = list(_FIRMWARE_TEXT.finditer(text))
    kernel = list(_KERNEL_REBOOT.finditer(text))
    if firmware and (not kernel or firmware[-1].start() > kernel[-1].start()):
        after = text[firmware[-1].end():]
        return not (prompt_at_end(after) or LOGIN.search(after) or re.search(r"[$#%>] ?$", after))
    return bool(kernel) and quiet and not text[kernel[-1].end():].strip()


_FIRMWARE_TEXT = re.compile(r"SeaBIOS \(version|Booting from (?:Hard Disk|DVD|CD|Floppy|ROM)|GNU GRUB  version")
_KERNEL_REBOOT = re.compile(r"(?m)^(?:\[\s*\d+\.\d+\]\s*)?reboot: (?:Restarting system|machine restart)[^\n]*")
