"""Pasted input: the bracketed-paste markers, and paste_chunks (sercon/stream/pacing.py) to cut it."""

from __future__ import annotations

from sercon.stream.pacing import paste_chunks

PASTE_START, PASTE_END = b"\x1b[200~", b"\x1b[201~"
BURST = 64  # a single read of more than this many typed bytes is a paste, not typing

__all__ = ["BURST", "PASTE_END", "PASTE_START", "paste_chunks"]
