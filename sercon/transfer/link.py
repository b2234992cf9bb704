"""The two calls a sender needs from a byte pipe, and the adapter that gives them to a sercon Transport."""

from __future__ import annotations

import time
from typing import Protocol

from sercon.transport.base import Transport


class ByteLink(Protocol):
    """A byte pipe as the XMODEM sender sees it."""

    def read(self, n: int, timeout: float) -> bytes:
        """Up to *n* bytes; b"" when none came within *timeout* seconds."""
        ...

    def write(self, data: bytes) -> None:
        """Send all of *data* (blocking until it has gone is fine)."""
        ...


class TransportLink:
    """A :class:`ByteLink` over a sercon Transport.

    A Transport's ``read`` hands back whatever arrived, so what the sender did not ask for yet is kept
    here; writes go out in pieces the far end accepts (``max_write``) and are drained, so that a
    block's timeout starts when the block has left, not when it was queued.
    """

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self._pending = bytearray()

    def read(self, n: int, timeout: float) -> bytes:
        deadline = time.monotonic() + timeout
        while not self._pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return b""
            self._pending += self.transport.read(remaining)
        taken = bytes(self._pending[:n])
        del self._pending[:n]
        return taken

    def write(self, data: bytes) -> None:
        step = self.transport.max_write or len(data) or 1
        for start in range(0, len(data), step):
            self.transport.write(data[start:start + step])
        self.transport.drain()
