"""The keystroke fast path: plain typing skips prompt-toolkit's parser and the escape machine's loop,
and what comes out is exactly what the parser path gave (issue 12). Bytes only, no clock."""

from __future__ import annotations

import copy
import os
import select
import termios
import tty

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sercon.terminal.console import Chunk, KeyReader, RawConsole, _chunks, raw_attributes
from sercon.terminal.escape import EscapeMachine, Forward, State

ESC_KEY = 0x1D
PROPERTY = settings(derandomize=True, database=None, max_examples=300, deadline=None)
# Reads as a terminal sends them: typing, arrow keys, a bracketed paste (maybe cut between reads),
# a cursor position report, a lone Esc, the escape key, `~`, CR.
PIECES = st.sampled_from([b"a", b"ls -l", b"\r", b"~", b".", b"\x1d", b"\x1b", b"\x1b[A", b"\x1b[1;5C", b"\x1b[",
                          b"200~", b"\x1b[200~", b"pasted\r", b"\x1b[201~", b"\x1b[24;80R", b"\x1bO", b"P",
                          b"\xc3\xa9", b"\xff", b"\x03", b"x" * 70])
READS = st.lists(st.lists(PIECES, min_size=1, max_size=4).map(b"".join), max_size=8)


class Reference:
    """The parser path alone (sercon before the fast path): every read through prompt-toolkit."""

    def __init__(self) -> None:
        from prompt_toolkit.input.vt100_parser import Vt100Parser

        self.presses: list = []
        self.parser = Vt100Parser(self.presses.append)

    def feed(self, data: bytes) -> list[Chunk]:
        self.parser.feed(data.decode("utf-8", "surrogateescape"))
        return self._take()

    def flush(self) -> list[Chunk]:
        self.parser.flush()
        return self._take()

    def _take(self) -> list[Chunk]:
        presses, self.presses[:] = self.presses[:], []
        return _chunks(presses)


class Pipe:
    """A terminal for a KeyReader (raw, as in a session): feed() never reads it, read() does."""

    def __init__(self) -> None:
        self.w, self.r = os.openpty()
        tty.setraw(self.r)

    def fileno(self) -> int:
        return self.r

    def type(self, data: bytes) -> None:
        os.write(self.w, data)
        select.select([self.r], [], [], 5)

    def close(self) -> None:
        os.close(self.r)
        os.close(self.w)


@pytest.fixture
def reader():
    pipe = Pipe()
    yield KeyReader(pipe)
    pipe.close()


@PROPERTY
@given(READS)
def test_the_fast_path_gives_what_the_parser_gave(reads):
    """Read by read, the same chunks (typing, pastes, terminal replies) as the parser alone, and the
    lone Esc held back and flushed alike."""
    pipe = Pipe()
    try:
        keys, reference = KeyReader(pipe), Reference()
        for data in reads:
            assert keys.feed(data) == reference.feed(data), data
        assert keys.flush() == reference.flush()
    finally:
        pipe.close()


@PROPERTY
@given(READS)
def test_nothing_is_held_once_the_parser_handed_everything_back(reads):
    pipe = Pipe()
    try:
        keys = KeyReader(pipe)
        for data in reads:
            keys.feed(data)
        keys.flush()
        keys.feed(b"\x1b[201~")  # ends a paste left open (or is itself handed back as typing)
        keys.flush()
        assert not keys.holding
        assert keys.feed(b"plain") == [Chunk(b"plain")]
    finally:
        pipe.close()


def test_plain_typing_never_loads_the_parser(reader):
    for data in (b"a", b"uname -a\r", b"~.", b"\x1dq", bytes(range(0x1B)), "é".encode(), b"\xff\xfe"):
        assert reader.feed(data) == [Chunk(data)]
    assert not reader.parsing
    assert reader.feed(b"x" * 65) == [Chunk(b"x" * 65, pasted=True)]  # a paste from a terminal without brackets


def test_read_says_which_input_is_plain_typing():
    pipe = Pipe()
    try:
        keys = KeyReader(pipe)
        for data, plain in ((b"ls -l\r", True), (b"\x1dq~.", True), (b"\x1b[A", False), (b"x" * 65, False),
                            (b"\x1b", False), (b"after a held Esc", False), (b"and on", True)):
            pipe.type(data)
            assert (keys.read(), keys.plain) == (data, plain)
            if not plain:
                keys.feed(data)
            assert keys.holding == (data == b"\x1b")  # until what follows the Esc comes (or a flush)
    finally:
        pipe.close()


def test_the_end_of_input_is_no_plain_typing():
    pipe = Pipe()
    keys = KeyReader(pipe)
    os.close(pipe.w)  # the terminal's other side hangs up
    assert keys.read() == b"" and keys.closed and not keys.plain
    os.close(pipe.r)


def test_escape_sequences_go_through_the_parser_in_order(reader):
    assert reader.feed(b"ab\x1b[A") == [Chunk(b"ab\x1b[A")]
    assert reader.parsing
    assert reader.feed(b"\x1b[200~one") == []  # the paste is not over: it is held, and so is what follows
    assert reader.holding
    assert reader.feed(b"two") == []
    assert reader.feed(b"\x1b[201~cd") == [Chunk(b"onetwo", pasted=True), Chunk(b"cd")]
    assert not reader.holding
    assert reader.feed(b"\x1b") == []  # a lone Esc may start a sequence: held until flush()
    assert reader.holding and reader.feed(b"x") == [Chunk(b"\x1bx")]  # not behind the parser's back
    assert reader.feed(b"\x1b[12;40R") == [Chunk(b"\x1b[12;40R", reply=True)]


MACHINE_INPUT = st.lists(st.binary(max_size=6) | st.sampled_from([b"\x1d", b"~", b"\r~", b"\x1d?", b"\x1ds", b"\x1dn"]),
                         max_size=6).map(b"".join)


@PROPERTY
@given(MACHINE_INPUT, st.binary(max_size=8) | st.sampled_from([b"a", b"\r", b"~.", b"\x1d", b"x~", b"\n"]),
       st.sampled_from([ESC_KEY, None]))
def test_feed_plain_is_feed_without_the_loop(before, data, escape):
    """In whatever state the machine is, feed_plain either does what feed does (forward it whole)
    or declines and changes nothing."""
    machine = EscapeMachine(escape)
    machine.feed(before)
    reference, state = copy.deepcopy(machine), vars(copy.deepcopy(machine))
    if machine.feed_plain(data):
        assert reference.feed(data) == [Forward(data)]
        assert vars(machine) == vars(reference)
    else:
        assert vars(machine) == state


def test_feed_plain_declines_the_menu_and_the_tilde():
    machine = EscapeMachine(ESC_KEY)
    assert not machine.feed_plain(b"\x1d") and not machine.feed_plain(b"~") and not machine.feed_plain(b"")
    assert machine.feed_plain(b"ls\r") and machine.at_line_start
    machine.feed(b"\x1d")
    assert machine.state is State.MENU and not machine.feed_plain(b"q")


def normal(attrs: list) -> list:
    """tcgetattr's answer with every control character as a number (VMIN and VTIME come back as
    numbers in raw mode, as bytes otherwise)."""
    return [*attrs[:6], [c if isinstance(c, int) else c[0] for c in attrs[6]]]


def test_raw_mode_is_prompt_toolkits_without_output_processing():
    """The modes set with termios are those prompt-toolkit's raw_mode() sets, and OPOST off."""
    from prompt_toolkit.input.vt100 import raw_mode

    master, slave = os.openpty()
    try:
        cooked = termios.tcgetattr(slave)
        with raw_mode(slave):
            theirs = termios.tcgetattr(slave)
        theirs[1] &= ~termios.OPOST
        assert normal(raw_attributes(cooked)) == normal(theirs)

        class Stdin:
            def fileno(self) -> int:
                return slave

        with RawConsole(Stdin(), slave):
            assert normal(termios.tcgetattr(slave)) == normal(theirs)
        assert termios.tcgetattr(slave) == cooked
    finally:
        os.close(master)
        os.close(slave)
