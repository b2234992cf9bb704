from hypothesis import given
from hypothesis import strategies as st

from sercon.terminal.paste import paste_chunks


@given(st.binary(max_size=10000), st.integers(min_value=4, max_value=3000))
def test_chunks_rejoin_and_respect_the_limit(data, size):
    chunks = list(paste_chunks(data, size))
    assert b"".join(chunks) == data
    assert all(0 < len(c) <= size for c in chunks)


@given(st.text(max_size=3000), st.integers(min_value=8, max_value=500))
def test_chunks_never_split_a_character(text, size):
    for chunk in paste_chunks(text.encode(), size):
        chunk.decode("utf-8")


def test_prefers_cutting_after_a_newline():
    data = b"x" * 90 + b"\n" + b"y" * 50
    assert list(paste_chunks(data, 100)) == [b"x" * 90 + b"\n", b"y" * 50]
