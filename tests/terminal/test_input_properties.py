"""Properties over raw bytes of what the key loop does with input: nothing swallowed, nothing invented."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sercon.terminal.console import _typed_chunks
from sercon.terminal.escape import EscapeMachine, Forward

ESC = 0x1D


@settings(derandomize=True, database=None, max_examples=300)
@given(st.binary(max_size=200))
def test_reply_splitting_keeps_every_byte_in_order(data):
    chunks = _typed_chunks(data)
    assert b"".join(c.data for c in chunks) == data
    assert all(c.data for c in chunks)


@settings(derandomize=True, database=None, max_examples=300)
@given(st.lists(st.binary(max_size=40), max_size=8))
def test_escape_machine_forwards_exactly_what_is_not_a_menu_or_tilde_sequence(pieces):
    """Without the escape key and `~`, everything typed is forwarded, byte for byte, however it is split."""
    clean = [bytes(b for b in p if b not in (ESC, ord("~"))) for p in pieces]
    machine = EscapeMachine(ESC)
    out = b"".join(a.data for p in clean for a in machine.feed(p) if isinstance(a, Forward))
    assert out == b"".join(clean)


@settings(derandomize=True, database=None, max_examples=300)
@given(st.lists(st.binary(max_size=40), max_size=8))
def test_escape_machine_never_invents_bytes(pieces):
    machine = EscapeMachine(ESC)
    out = b"".join(a.data for p in pieces for a in machine.feed(p) if isinstance(a, Forward))
    typed = b"".join(pieces)
    assert len(out) <= len(typed) and set(out) <= set(typed)
