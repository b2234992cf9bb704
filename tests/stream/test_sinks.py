"""The stream toolkit's pieces: the tail, the paste flag, the pipeline, the one escape-sequence stripper."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sercon.stream import ansi
from sercon.stream.sinks import Call, PasteMode, Pipeline, Tail


@given(chunks=st.lists(st.binary(max_size=300), max_size=40), size=st.integers(1, 512))
def test_the_tail_is_the_last_bytes_however_the_output_was_cut(chunks, size):
    tail = Tail(size)
    for chunk in chunks:
        tail.rx(chunk)
    whole = b"".join(chunks)
    assert tail.data == whole[-size:] and tail.count == len(whole)


@given(chunks=st.lists(st.sampled_from([b"\x1b[?2004h", b"\x1b[?2004l", b"$ ", b"ls\r\n"]), max_size=20)
         .flatmap(lambda parts: st.just(parts)))
def test_the_paste_flag_follows_the_last_switch(chunks):
    mode = PasteMode()
    for chunk in chunks:
        mode.rx(chunk)
    switches = [c for c in chunks if c.startswith(b"\x1b[?2004")]
    assert mode.on == (bool(switches) and switches[-1] == b"\x1b[?2004h")


def test_a_sink_added_later_sees_what_comes_after_in_order():
    seen: list[tuple[str, bytes]] = []
    pipeline = Pipeline(Call(lambda data: seen.append(("first", data))))
    pipeline.rx(b"a")
    late = Call(lambda data: seen.append(("late", data)))
    pipeline.add(late)
    pipeline.rx(b"b")
    pipeline.remove(late)
    pipeline.rx(b"c")
    assert seen == [("first", b"a"), ("first", b"b"), ("late", b"b"), ("first", b"c")]


def test_the_stripper_removes_csi_osc_and_two_byte_escapes_and_keeps_the_text():
    raw = b"\x1b[1;31mred\x1b[0m \x1b]0;title\x07osc \x1b]2;t\x1b\\st \x1bcreset \x1b7saved\x1b8 \x1b[?2004hok\r\n"
    assert ansi.strip(raw) == b"red osc st reset saved ok\r\n"
    assert ansi.text(raw + b"\xff") == "red osc st reset saved ok\n\ufffd"


@given(st.binary(max_size=200))
def test_stripping_only_takes_bytes_away_and_leaves_text_without_escapes_alone(data):
    out = ansi.strip(data)
    if b"\x1b" not in data:
        assert out is data or out == data
    rest = iter(data)
    assert all(byte in rest for byte in out)  # what is left is the input with pieces taken out, in order
