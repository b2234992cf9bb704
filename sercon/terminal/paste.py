"""Pasted input, cut into writes the far end can take without dropping anything."""

from __future__ import annotations

from collections.abc import Iterator

PASTE_START, PASTE_END = b"\x1b[200~", b"\x1b[201~"
BURST = 64  # a single read of more than this many typed bytes is a paste, not typing


def paste_chunks(data: bytes, size: int) -> Iterator[bytes]:
    """Yield pieces of at most *size* bytes, cut after a newline when one is near the end,
    and never inside a UTF-8 character (the gateway's text frames must stay valid)."""
    if size < 4:
        raise ValueError("chunk size must be at least 4 bytes")
    pos = 0
    while len(data) - pos > size:
        end = pos + size
        newline = data.rfind(b"\n", end - size // 4, end)
        if newline != -1:
            end = newline + 1
        else:
            while end > pos and data[end] & 0xC0 == 0x80:  # a continuation byte: back off
                end -= 1
        yield data[pos:end]
        pos = end
    if pos < len(data):
        yield data[pos:]
