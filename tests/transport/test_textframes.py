"""Console input for the Azure gateway: TEXT frames of whole UTF-8 characters, drawn from arbitrary bytes."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sercon.transport.textframes import TextFramer


def feed(framer: TextFramer, pieces: list[bytes]) -> tuple[list[str], int]:
    frames, dropped = [], 0
    for piece in pieces:
        out, lost = framer.frames(piece)
        frames += out
        dropped += lost
    return frames, dropped


@given(st.text(), st.lists(st.integers(min_value=0, max_value=64), max_size=8), st.integers(min_value=4, max_value=64))
def test_text_cut_anywhere_arrives_whole(text, cuts, limit):
    data = text.encode("utf-8")
    points = sorted({min(c, len(data)) for c in cuts})
    pieces = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
    framer = TextFramer(limit)
    frames, dropped = feed(framer, pieces)
    assert dropped == 0 and framer.held == 0
    assert "".join(frames) == text
    assert all(0 < len(f.encode("utf-8")) <= limit for f in frames)


@given(st.binary(max_size=300), st.integers(min_value=4, max_value=32))
def test_any_bytes_are_sent_or_counted_never_invented(data, limit):
    framer = TextFramer(limit)
    frames, dropped = framer.frames(data)
    sent = "".join(frames).encode("utf-8")
    assert len(sent) + dropped + framer.held == len(data)
    assert all(len(f.encode("utf-8")) <= limit for f in frames)
    # what went out is the input with the invalid bytes taken away, in order
    assert _is_subsequence(sent, data)


def _is_subsequence(small: bytes, big: bytes) -> bool:
    it = iter(big)
    return all(b in it for b in small)


def test_a_split_character_waits_for_its_last_byte():
    framer = TextFramer(2048)
    assert framer.frames("grü".encode()[:3]) == (["gr"], 0)
    assert framer.held == 1
    assert framer.frames("ü".encode()[1:]) == (["ü"], 0)


def test_invalid_bytes_are_counted_and_the_rest_goes():
    frames, dropped = TextFramer(2048).frames(b"ok \xff\xfe bad \xc3")
    assert frames == ["ok  bad "] and dropped == 2


def test_frames_never_exceed_the_limit_nor_split_a_character():
    text = "漢" * 1000  # 3 bytes each
    frames, _ = TextFramer(2048).frames(text.encode())
    assert [len(f.encode()) for f in frames] == [2046, 954]


def test_every_kind_of_character_split_at_every_byte_waits_whole():
    # one of each first-byte family: ASCII, C2-DF, E0, E1-EC, ED, EE-EF, F0, F1-F3, F4
    for char in "aé\u0800\u1234\ud7ff\ue000\U00010000\U00040000\U0010fffd":
        data = char.encode("utf-8")
        for cut in range(1, len(data)):
            framer = TextFramer(16)
            first, dropped_first = framer.frames(data[:cut])
            rest, dropped_rest = framer.frames(data[cut:])
            assert (first, rest, dropped_first, dropped_rest) == ([], [char], 0, 0), (char, cut)
