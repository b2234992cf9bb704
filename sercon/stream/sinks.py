"""The receive pipeline: what the console printed, handed to small sinks that each do one thing.

pyserial miniterm's Transform classes are the model. A session kind builds its pipeline once
(connect: screen, paste flag, tail, resize, log, journal, watchers; send and rescue: their own
output, tail, log, journal) and hands every chunk to it. The per-chunk path allocates nothing and
takes no lock of its own: ``Pipeline.rx`` loops over a tuple, and a sink added later (the watchers,
once the control socket listens) replaces that tuple whole, so the reader never sees it half-made.

Every sink is fed by one thread, the reader; what other threads read from a sink (the tail's bytes
and count, the paste flag) is a value replaced whole, never mutated in place.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

TAIL = 4096  # the console's last bytes kept to read its prompt (prompt.py)
PASTE_SWITCH, PASTE_ON, PASTE_OFF = b"\x1b[?2004", b"\x1b[?2004h", b"\x1b[?2004l"


class Sink(Protocol):
    def rx(self, data: bytes) -> None: ...


class Pipeline:
    """The sinks of one session, in order: the first is what someone waits for (the screen)."""

    __slots__ = ("sinks",)

    def __init__(self, *sinks: Sink) -> None:
        self.sinks: tuple[Sink, ...] = sinks

    def add(self, sink: Sink) -> None:
        """From any thread: a new tuple, so a loop over the old one goes on undisturbed."""
        self.sinks = (*self.sinks, sink)

    def remove(self, sink: Sink) -> None:
        self.sinks = tuple(known for known in self.sinks if known is not sink)

    def rx(self, data: bytes) -> None:
        for sink in self.sinks:
            sink.rx(data)


class Tail:
    """The console's last *size* bytes (is a prompt showing?) and how many came in all.

    Written by the reader only; other threads read ``data`` and ``count``, each a value replaced
    whole (one copy a chunk), so a reader gets a consistent tail, if perhaps one chunk old."""

    __slots__ = ("data", "count", "size")

    def __init__(self, size: int = TAIL) -> None:
        self.data = b""
        self.count = 0
        self.size = size

    def rx(self, data: bytes) -> None:
        size = self.size
        self.data = data[-size:] if len(data) >= size else self.data[len(data) - size:] + data  # one copy
        self.count += len(data)


class PasteMode:
    """Whether the remote switched bracketed paste on (ESC[?2004h) and not off again since."""

    __slots__ = ("on",)

    def __init__(self) -> None:
        self.on = False

    def rx(self, data: bytes) -> None:
        if PASTE_SWITCH in data:
            self.on = data.rfind(PASTE_ON) > data.rfind(PASTE_OFF)


class Call:
    """Any callable as a sink (a watcher broadcast, rescue's progress, a resize check)."""

    __slots__ = ("rx",)

    def __init__(self, function: Callable[[bytes], None]) -> None:
        self.rx = function
