"""paste_chunks by bytes (any bytes, any size), and a paste of non-UTF-8 bytes through the real CLI."""

from __future__ import annotations

import itertools
import subprocess

from hypothesis import given, settings
from hypothesis import strategies as st

from sercon.terminal.paste import paste_chunks
from tests.conftest import ROOT, SERCON, cli_env, run_cli

DETERMINISTIC = settings(max_examples=400, deadline=None, derandomize=True, database=None)

# Bytes that stress the character rule: ASCII, newlines, continuation bytes, lead bytes, and invalid bytes.
NASTY = st.sampled_from([0x00, 0x0A, 0x41, 0x80, 0x9F, 0xAA, 0xBF, 0xC0, 0xC2, 0xDF, 0xE0, 0xED, 0xEF, 0xF0,
                         0xF4, 0xF5, 0xFF])
RUNS = st.lists(st.tuples(NASTY, st.integers(1, 40)), max_size=30).map(
    lambda runs: b"".join(bytes([byte]) * count for byte, count in runs))
ANY_BYTES = st.one_of(st.binary(max_size=3000), RUNS, st.text(max_size=500).map(str.encode),
                      st.lists(st.one_of(st.binary(max_size=20), st.text(max_size=20).map(str.encode))).map(b"".join))
SIZES = st.one_of(st.integers(4, 8), st.integers(4, 3000))


def chunks_of(data: bytes, size: int) -> list[bytes]:
    """All pieces, failing (instead of hanging) if the generator does not end."""
    pieces = list(itertools.islice(paste_chunks(data, size), len(data) + 2))
    assert len(pieces) <= max(1, len(data)), "paste_chunks did not terminate"
    return pieces


def test_a_run_of_continuation_bytes_is_cut_at_the_limit():
    pieces = list(itertools.islice(paste_chunks(b"\x00\x80\x80\x80\x80", 4), 10))
    assert pieces == [b"\x00\x80\x80\x80", b"\x80"]


def test_three_thousand_invalid_bytes_are_all_sent():
    data = b"\xaa" * 3000
    assert chunks_of(data, 2048) == [b"\xaa" * 2048, b"\xaa" * 952]


@DETERMINISTIC
@given(ANY_BYTES, SIZES)
def test_pieces_are_non_empty_rejoin_and_respect_the_limit(data, size):
    pieces = chunks_of(data, size)
    assert b"".join(pieces) == data
    assert all(0 < len(piece) <= size for piece in pieces)


@DETERMINISTIC
@given(ANY_BYTES, SIZES)
def test_no_valid_character_is_split(data, size):
    """Each byte that is not part of a character decodes on its own (surrogateescape), so the pieces
    decode to the same text as the whole exactly when no character was cut in two."""
    pieces = chunks_of(data, size)
    whole = data.decode("utf-8", "surrogateescape")
    assert "".join(piece.decode("utf-8", "surrogateescape") for piece in pieces) == whole


@DETERMINISTIC
@given(ANY_BYTES, SIZES)
def test_cuts_are_no_shorter_than_they_need_to_be(data, size):
    """A piece ends early only after a newline in its last quarter or before a character (at most 3 bytes)."""
    for piece in chunks_of(data, size)[:-1]:
        assert len(piece) >= size - 3 or (piece.endswith(b"\n") and len(piece) > size - size // 4)


@DETERMINISTIC
@given(st.text(max_size=3000), st.integers(min_value=4, max_value=500))
def test_text_pieces_are_valid_utf8(text, size):
    for piece in chunks_of(text.encode(), size):
        piece.decode("utf-8")


def test_prefers_cutting_after_a_newline():
    data = b"x" * 90 + b"\n" + b"y" * 50
    assert list(paste_chunks(data, 100)) == [b"x" * 90 + b"\n", b"y" * 50]


def test_a_character_on_the_cut_moves_to_the_next_piece():
    data = b"abc" + "é".encode() + b"z"
    assert list(paste_chunks(data, 4)) == [b"abc", "é".encode() + b"z"]


def test_send_delivers_every_byte_of_non_utf8_input(device):
    data = b"\x00" + b"\xaa" * 3000 + "é€😀".encode() + b"\xc0\xff\x80\n"
    result = run_cli("send", device.path, "--eol", "lf", "--timeout", "8", input=data)
    assert result.returncode == 0, result.stderr
    assert device.wait_for_size(len(data), 5) == data


def test_connect_with_stdin_a_file_delivers_every_byte(device, tmp_path):
    data = b"\xaa" * 3000 + b"\xbf\x80" * 200 + b"end\n"
    source = tmp_path / "paste.bin"
    source.write_bytes(data)
    with source.open("rb") as stdin:
        result = subprocess.run([*SERCON, "connect", device.path], stdin=stdin, capture_output=True,
                                env=cli_env(), timeout=30, cwd=str(ROOT))
    assert result.returncode == 0, result.stderr
    assert device.wait_for_size(len(data), 5) == data
