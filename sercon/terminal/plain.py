"""Console output as plain lines: what `sercon send` (and a one-shot `sysrq`) prints unless --raw.

A shell behind a serial console writes for a terminal: CR LF line ends, bash switching its
bracketed-paste mode on before each prompt and off after each line (`ESC[?2004h`, `ESC[?2004l`,
readline puts a CR after the latter), and questions only a terminal can answer (busybox asks where
the cursor is before each prompt). In a pipe these break `grep '^Linux'`, `^` and `$` anchors. The
rule, in this order (docs/commands.md, send):

1. the bracketed-paste switches ESC[?2004h and ESC[?2004l, and the terminal queries ESC[5n, ESC[6n,
   ESC[c and ESC[0c, are dropped;
2. then every CR in a run of CRs that touches an LF is dropped (CR LF, CR CR LF, LF CR: a line end is
   a bare LF).

Every other byte passes, in order. PlainText gives the same bytes however the output was cut into
reads: a switch or a run of CRs cut short at the end of a read waits for the next one, or flush().
"""

from __future__ import annotations

import re

SEQUENCES = (b"\x1b[?2004h", b"\x1b[?2004l", b"\x1b[5n", b"\x1b[6n", b"\x1b[c", b"\x1b[0c")
DROPPED = re.compile(b"|".join(re.escape(sequence) for sequence in SEQUENCES))
UNFINISHED = frozenset(sequence[:end] for sequence in SEQUENCES for end in range(1, len(sequence)))
LINE_END = re.compile(rb"\r*\n\r*")


def plain(data: bytes) -> bytes:
    """The rule applied to the whole output at once (PlainText gives the same, read by read)."""
    return LINE_END.sub(b"\n", DROPPED.sub(b"", data))


class PlainText:
    """The rule applied to output as it arrives."""

    def __init__(self) -> None:
        self._held = b""  # the start of a dropped sequence at the end of the last read
        self._crs = 0  # CRs at the end of what came so far: an LF may follow them
        self._after_lf = False  # the last byte given out was an LF: CRs right after it are dropped

    def feed(self, data: bytes) -> bytes:
        data = self._held + data
        escape = data.rfind(b"\x1b")
        if escape != -1 and data[escape:] in UNFINISHED:
            data, self._held = data[:escape], data[escape:]
        else:
            self._held = b""
        return self._line_ends(DROPPED.sub(b"", data))

    def flush(self) -> bytes:
        """The end of the output: what was held back goes out as it is."""
        held, self._held = self._held, b""
        out = self._line_ends(held)
        crs, self._crs = self._crs, 0
        return out + b"\r" * crs

    def _line_ends(self, data: bytes) -> bytes:
        if not data:
            return b""
        data = b"\r" * self._crs + data
        if self._after_lf:
            data = data.lstrip(b"\r")
        out = LINE_END.sub(b"\n", data)
        body = out.rstrip(b"\r")
        self._crs = len(out) - len(body)
        if body:
            self._after_lf = body.endswith(b"\n")
        return body


class RawText:
    """--raw: the console's bytes exactly."""

    def feed(self, data: bytes) -> bytes:
        return data

    def flush(self) -> bytes:
        return b""


def output_filter(raw: bool) -> PlainText | RawText:
    return RawText() if raw else PlainText()
