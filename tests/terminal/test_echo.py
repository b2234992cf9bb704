"""Where `send --expect` starts to search: after the echo of the last line typed, never inside an
earlier line's echo or output that happens to end with the same text."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from sercon.terminal.echo import Answer, LastLine


def start(typed: bytes, received: bytes) -> int | None:
    line = LastLine()
    line.feed(typed, 0)
    return Answer(line).find_start(received, sent_at=0.0, now=0.0)


def test_the_last_lines_echo_is_found_after_an_earlier_line_ending_with_its_text():
    """`cd /srv/tools` then `ls`: "ls\\n" ends the first echo too; the answer starts after `$ ls`."""
    received = b"cd /srv/tools\r\n$ ls\r\nfile1\r\n$ "
    assert start(b"cd /srv/tools\nls\n", received) == received.index(b"file1")


def test_an_earlier_lines_output_ending_with_the_text_is_not_its_echo():
    received = b"echo tools\r\ntools\r\n$ ls\r\nfile1\r\n$ "
    assert start(b"echo tools\nls\n", received) == received.index(b"file1")


def test_the_echo_right_after_a_prompt_is_found():
    received = b"$ uname\r\nLinux\r\n$ "
    assert start(b"uname\n", received) == received.index(b"Linux")


@given(st.lists(st.from_regex(rb"[a-z]{1,6}", fullmatch=True), min_size=1, max_size=5))
def test_lines_echoed_after_prompts_put_the_answer_after_the_last_echo(words):
    """Each line echoed after a `$ ` prompt, each printing its own word back: the answer is the last output."""
    typed = b"".join(w + b"\n" for w in words)
    received = b"".join(b"$ " + w + b"\r\n" + w.upper() + b"\r\n" for w in words)
    expected = len(received) - len(words[-1]) - 2
    assert start(typed, received) == expected, (typed, received)
    assert re.match(re.escape(words[-1].upper()), received[expected:])
