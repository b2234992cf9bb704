"""The one paced writer: input in pieces the console can take, each drained before the next.

A serial line (or a gateway) that is sent a paste faster than it drains drops bytes or blocks the
reader; paste_chunks cuts on UTF-8 character boundaries. Used by the session's writer (pastes and
`send` through a running session) and by `sercon send`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

from sercon.errors import InputNotText
from sercon.transport.base import Transport


class PacedWriter:
    """*before(piece)* runs before each piece goes (send notes where the output stood), *after(piece)*
    once it went (the log). *tolerate_not_text*: a piece the transport refuses as not text (a text-only
    gateway) is counted in ``not_text`` and the rest goes on, instead of ending the write."""

    def __init__(self, transport: Transport, chunk: int, before: Callable[[bytes], None] | None = None,
                 after: Callable[[bytes], None] | None = None, stop: threading.Event | None = None,
                 tolerate_not_text: bool = False) -> None:
        self.transport, self.chunk = transport, chunk
        self.before, self.after, self.stop = before, after, stop
        self.tolerate_not_text = tolerate_not_text
        self.not_text = 0

    def write(self, data: bytes) -> None:
        for piece in paste_chunks(data, min(self.chunk, self.transport.max_write or self.chunk)):
            if self.before is not None:
                self.before(piece)
            try:
                self.transport.write(piece)
            except InputNotText as exc:
                if not self.tolerate_not_text:
                    raise
                self.not_text += exc.dropped
            else:
                if self.after is not None:
                    self.after(piece)
            self.transport.drain()
            if self.stop is not None and self.stop.is_set():
                return


def paste_chunks(data: bytes, size: int) -> Iterator[bytes]:
    """Yield non-empty pieces of at most *size* bytes that rejoin to *data*: cut after a newline when
    one is near the end, and never inside a UTF-8 character (the gateway's text frames must stay
    valid). Bytes that are not UTF-8 form no character, so they are cut at the limit."""
    if size < 4:
        raise ValueError("chunk size must be at least 4 bytes")
    pos = 0
    while len(data) - pos > size:
        end = pos + size
        newline = data.rfind(b"\n", end - size // 4, end)
        end = newline + 1 if newline != -1 else _char_start(data, pos, end)
        yield data[pos:end]
        pos = end
    if pos < len(data):
        yield data[pos:]


def _char_start(data: bytes, pos: int, end: int) -> int:
    """Where to cut near *end*: before the valid character that *end* falls inside, else *end* itself.

    A lead byte always starts a fresh decode, so the nearest one at most 3 bytes back is the only
    character the cut can split; it moves whole to the next piece (size >= 4 keeps this one non-empty)."""
    start = end
    while start > max(pos, end - 3) and data[start] & 0xC0 == 0x80:
        start -= 1
    if start == end:
        return end  # not inside a character
    length = _utf8_length(data[start])
    if start + length <= end or start + length > len(data):
        return end  # the character ends before the cut, or there is none (truncated input)
    try:
        data[start : start + length].decode("utf-8")
    except UnicodeDecodeError:
        return end  # a lead byte followed by garbage: not a character
    return start


def _utf8_length(lead: int) -> int:
    """The length a lead byte announces (0 for a byte that cannot start a multi-byte character)."""
    if 0xC2 <= lead <= 0xDF:
        return 2
    if 0xE0 <= lead <= 0xEF:
        return 3
    if 0xF0 <= lead <= 0xF4:
        return 4
    return 0
