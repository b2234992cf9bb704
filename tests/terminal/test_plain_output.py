"""The plain-lines rule of `sercon send`'s output, over drawn bytes cut at drawn places."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from sercon.terminal.plain import PlainText, plain

# Pieces that meet the rule's edges: line ends, the dropped sequences, their starts, other escapes.
PIECES = [b"\r", b"\n", b"\x1b", b"[", b"?2004", b"h", b"l", b"\x1b[?2004h", b"\x1b[?2004l", b"\x1b[?2004l\r",
          b"\x1b[6n", b"\x1b[5n", b"\x1b[c", b"\x1b[0c", b"\x1b[0m", b"\x1b[?20", b"x", b"$ "]
OUTPUT = st.one_of(st.binary(max_size=300),
                   st.lists(st.one_of(st.sampled_from(PIECES), st.binary(max_size=4)), max_size=60).map(b"".join))
DOCUMENTED = re.compile(rb"\x1b\[\?2004[hl]|\x1b\[[56]n|\x1b\[0?c")


def fed(data: bytes, cuts: list[int]) -> bytes:
    text, out, start = PlainText(), b"", 0
    for cut in sorted(set(cuts)):
        out += text.feed(data[start:cut])
        start = cut
    return out + text.feed(data[start:]) + text.flush()


@given(OUTPUT, st.lists(st.integers(0, 300), max_size=30))
@settings(max_examples=600, deadline=None)
def test_the_same_bytes_whatever_the_reads(data, cuts):
    assert fed(data, [c for c in cuts if c <= len(data)]) == plain(data) == fed(data, [])


def test_every_cut_of_a_bash_line():
    data = b"echo done\r\n\x1b[?2004l\rdone\r\n\x1b[?2004h$ "
    for cut in range(len(data) + 1):
        assert fed(data, [cut]) == b"echo done\ndone\n$ "
    assert fed(data, list(range(len(data)))) == b"echo done\ndone\n$ "


@given(OUTPUT)
@settings(max_examples=600, deadline=None)
def test_only_the_documented_bytes_are_dropped(data):
    out = plain(data)
    without = DOCUMENTED.sub(b"", data)
    assert out.count(b"\n") == without.count(b"\n")  # no line end lost or made
    assert out.replace(b"\r", b"") == without.replace(b"\r", b"")  # every byte but CRs, in order
    kept = sum(len(run.group()) for run in re.finditer(rb"\r+", without)
               if without[run.start() - 1 : run.start()] != b"\n" and without[run.end() : run.end() + 1] != b"\n")
    assert out.count(b"\r") == kept  # a run of CRs that touches no LF stays whole; every other CR goes
