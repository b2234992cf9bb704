"""Terminal escape sequences in console output: the one stripper, and the VT model re-exported.

Every place that needs console output as text (a prompt in the tail, a line redrawn after the menu,
rescue's searches, history's text view) strips with ESCAPE: CSI (colours, cursor moves, modes),
OSC up to BEL or ST, and the two-byte escapes (ESC c, a reset, and ESC 7 / ESC 8, the cursor saved and
restored, included). The pattern is a source,
compiled on first use (re caches it): importing this costs no compile on the way to the first byte.
"""

from __future__ import annotations

import re

from sercon.stream.vt import Screen as VTScreen

ESCAPE = rb"\x1b(?:\[[0-9;?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[0-?@-Z\\-_c])"

__all__ = ["ESCAPE", "VTScreen", "strip", "text"]


def strip(data: bytes) -> bytes:
    """*data* without its escape sequences (CRs and other control characters stay)."""
    return re.sub(ESCAPE, b"", data) if b"\x1b" in data else data


def text(raw: bytes) -> str:
    """Console bytes as text: escape sequences and CRs removed, bad UTF-8 replaced."""
    return strip(raw).decode("utf-8", "replace").replace("\r", "")
