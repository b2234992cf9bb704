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

    Written by the reader only: a chunk is appended to a list of parts (no copy), and the parts are
    joined into one once they hold twice *size*, so a chunk costs no copy of the tail. Other threads
    read ``data`` (a join of the parts, a list whose appends are atomic) and ``count``: a consistent
    tail, if perhaps one chunk old."""

    __slots__ = ("_parts", "_held", "count", "size")

    def __init__(self, size: int = TAIL) -> None:
        self._parts: list[bytes] = []
        self._held = 0  # bytes in the parts
        self.count = 0
        self.size = size

    def rx(self, data: bytes) -> None:
        self._parts.append(data)
        self._held += len(data)
        self.count += len(data)
        if self._held >= 2 * self.size:
            kept = b"".join(self._parts)[-self.size:]
            self._parts, self._held = [kept], len(kept)  # a new list: a reader joins the old one undisturbed

    @property
    def data(self) -> bytes:
        return b"".join(self._parts)[-self.size:]

    @data.setter
    def data(self, data: bytes) -> None:
        """Only from the thread that feeds it (rescue cuts what it already searched)."""
        self._parts, self._held = [data], len(data)


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
