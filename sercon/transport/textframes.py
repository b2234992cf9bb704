"""Console input as the Azure gateway takes it: TEXT frames of whole UTF-8 characters.

Every public client sends keystrokes as TEXT frames (docs/azure-protocol.md section 11); how the
gateway treats BINARY input is unknown. So input is cut into frames of at most *limit* bytes that
never split a character, an incomplete sequence at the end of a write waits for the next write,
and bytes that are not UTF-8 at all are not sent but counted, so the caller can say so.
"""

from __future__ import annotations


class TextFramer:
    def __init__(self, limit: int) -> None:
        if limit < 4:
            raise ValueError("a frame must hold a 4-byte character")
        self.limit = limit
        self._held = b""

    @property
    def held(self) -> int:
        """Bytes of an unfinished character waiting for the rest of it."""
        return len(self._held)

    def frames(self, data: bytes) -> tuple[list[str], int]:
        """The frames to send for *data*, and how many bytes were dropped as not UTF-8."""
        text, dropped = self._decode(self._held + data)
        return _split(text, self.limit), dropped

    def _decode(self, data: bytes) -> tuple[str, int]:
        pieces: list[str] = []
        dropped = 0
        self._held = b""
        while data:
            try:
                pieces.append(data.decode("utf-8"))
                break
            except UnicodeDecodeError as exc:
                pieces.append(data[: exc.start].decode("utf-8"))
                if exc.end == len(data) and _could_continue(data[exc.start :]):
                    self._held = data[exc.start :]  # the rest of the character is still to come
                    break
                dropped += exc.end - exc.start
                data = data[exc.end :]
        return "".join(pieces), dropped


def _could_continue(tail: bytes) -> bool:
    """True when *tail* is the valid start of a longer UTF-8 sequence.

    The second byte's valid range depends on the first (E0 needs A0-BF, F0 90-BF, ED and F4 less
    than A0 and 90), so the completions tried start with each of 80, 90 and A0."""
    for first in (0x80, 0x90, 0xA0):
        for size in range(len(tail) + 1, 5):
            completion = bytes([first]) + b"\x80" * (size - len(tail) - 1)
            try:
                (tail + completion).decode("utf-8")
                return True
            except UnicodeDecodeError:
                continue
    return False


def _split(text: str, limit: int) -> list[str]:
    """Cut *text* into pieces whose UTF-8 form is at most *limit* bytes, between characters."""
    encoded = text.encode("utf-8")
    frames: list[str] = []
    start = 0
    while start < len(encoded):
        end = min(start + limit, len(encoded))
        while end < len(encoded) and encoded[end] & 0xC0 == 0x80:
            end -= 1  # never cut inside a character: the cut point moves back to its first byte
        frames.append(encoded[start:end].decode("utf-8"))
        start = end
    return frames
