"""The telnet parser by bytes (RFC 1143's Q method for options), and the telnet:// port against a real TCP peer."""

from __future__ import annotations

import socket
import threading

from hypothesis import given, settings
from hypothesis import strategies as st

from sercon.transport.telnet import (
    BINARY,
    BRK,
    DO,
    DONT,
    ECHO,
    GA,
    IAC,
    LOOP_LIMIT,
    NOP,
    SB,
    SE,
    SGA,
    WILL,
    WONT,
    TelnetParser,
    escape,
)

DETERMINISTIC = settings(max_examples=400, deadline=None, derandomize=True, database=None)
NAMES = {WILL: "WILL", WONT: "WONT", DO: "DO", DONT: "DONT"}
ANSWER = {WILL: (DO, DONT), WONT: (DO, DONT), DO: (WILL, WONT), DONT: (WILL, WONT)}


def cmd(command: int, option: int) -> bytes:
    return bytes([IAC, command, option])


def fed(parser: TelnetParser, wire: bytes, size: int) -> tuple[bytes, bytes]:
    """Feed *wire* in pieces of *size*; the data and replies, joined."""
    parts = [parser.feed(wire[i : i + size]) for i in range(0, len(wire), size)]
    return b"".join(p[0] for p in parts), b"".join(p[1] for p in parts)


def test_data_passes_and_a_doubled_iac_is_one_byte():
    parser = TelnetParser()
    assert parser.feed(b"ab\xff\xffc") == (b"ab\xffc", b"")


def test_negotiation_is_answered_once():
    parser = TelnetParser()
    parser.hello()
    data, replies = parser.feed(cmd(WILL, ECHO) + cmd(WILL, SGA) + cmd(DO, BINARY) + cmd(DO, 24))
    assert data == b""
    # SGA and BINARY answer our own requests; ECHO is new (accept it), 24 unknown (refuse it)
    assert replies == cmd(DO, ECHO) + cmd(WONT, 24)
    assert [o for o in (BINARY, ECHO, SGA, 24) if parser.remote_on(o)] == [ECHO, SGA]
    assert [o for o in (BINARY, ECHO, SGA, 24) if parser.local_on(o)] == [BINARY]
    assert parser.binary_out
    assert parser.feed(cmd(WILL, ECHO) + cmd(DO, BINARY))[1] == b""  # no change: no answer, no loop


def test_refuses_what_it_does_not_know():
    parser = TelnetParser()
    assert parser.feed(cmd(WILL, 31))[1] == cmd(DONT, 31)
    assert parser.feed(cmd(DO, 31))[1] == cmd(WONT, 31)


def test_a_refusal_of_what_is_already_off_is_not_answered():
    """RFC 1143: WONT (or DONT) for an option that is off is ignored; answering it is how loops start."""
    parser = TelnetParser()
    assert parser.feed(cmd(WONT, 31) + cmd(DONT, 31) + cmd(WONT, ECHO) + cmd(DONT, BINARY)) == (b"", b"")


def test_binary_refused_then_offered_again():
    parser = TelnetParser()
    parser.hello()
    assert parser.feed(cmd(DONT, BINARY))[1] == b""  # the answer to our WILL: no reply
    assert not parser.binary_out
    assert parser.feed(cmd(DO, BINARY))[1] == cmd(WILL, BINARY)  # a new request: we agree
    assert parser.binary_out


def test_the_queue_bit_rfc_1143():
    """Ask to disable while an enable is in flight: the request is queued, not sent twice."""
    parser = TelnetParser()
    assert parser.ask_remote(ECHO, True) == cmd(DO, ECHO)
    assert parser.ask_remote(ECHO, False) == b""  # WANTYES, OPPOSITE queued
    assert parser.ask_remote(ECHO, True) == b""  # dequeued again: WANTYES, EMPTY
    assert parser.ask_remote(ECHO, False) == b""
    assert parser.feed(cmd(WILL, ECHO))[1] == cmd(DONT, ECHO)  # enabled, and the queued disable goes out
    assert parser.remote_on(ECHO) and not parser.remote_settled(ECHO)  # on until the server says WONT
    assert parser.feed(cmd(WONT, ECHO))[1] == b""  # the answer to it
    assert not parser.remote_on(ECHO) and parser.remote_settled(ECHO)


def test_echo_flipped_around_each_password_prompt_is_answered_every_time():
    parser = TelnetParser()
    parser.hello()
    prompt = b"Password: " + cmd(WILL, ECHO) + b"\r\n$ " + cmd(WONT, ECHO)
    data, replies = fed(parser, prompt * 50, 3)
    assert data == b"Password: \r\n$ " * 50
    assert replies == (cmd(DO, ECHO) + cmd(DONT, ECHO)) * 50


def test_flipping_with_nothing_in_between_is_cut_off():
    parser = TelnetParser()
    replies = fed(parser, (cmd(WILL, ECHO) + cmd(WONT, ECHO)) * 50, 3)[1]
    assert replies == (cmd(DO, ECHO) + cmd(DONT, ECHO)) * (LOOP_LIMIT // 2)


# -- a scripted peer that sends anything --------------------------------------------------------------

PEER_COMMANDS = st.binary(max_size=120).map(
    lambda raw: [([WILL, WONT, DO, DONT][raw[i] % 4], raw[i + 1]) for i in range(0, len(raw) - 1, 2)])


@DETERMINISTIC
@given(PEER_COMMANDS, st.booleans())
def test_any_peer_gets_at_most_one_reply_per_command(commands, hello):
    parser = TelnetParser()
    if hello:
        parser.hello()
    for command, option in commands:
        was_on = parser.remote_on(option) if command in (WILL, WONT) else parser.local_on(option)
        settled = parser.remote_settled(option) if command in (WILL, WONT) else parser.local_settled(option)
        data, replies = parser.feed(cmd(command, option))
        assert data == b""
        assert replies in (b"", *(cmd(answer, option) for answer in ANSWER[command])), (NAMES[command], option)
        if settled and was_on == (command in (WILL, DO)):
            assert replies == b"", f"answered {NAMES[command]} {option}, which was already agreed"
        if replies[1:2] == bytes([DO]):
            assert option in (BINARY, ECHO, SGA)
        if replies[1:2] == bytes([WILL]):
            assert option in (BINARY, SGA)


CONTRARY = {DO: WONT, DONT: WILL, WILL: DONT, WONT: DO}


def converse(parser: TelnetParser, wire: bytes, answer: dict[int, int], rounds: int = 500) -> int | None:
    """Let a peer answer each of our commands by *answer*; the replies we sent, or None if it never ended."""
    sent = 0
    for _ in range(rounds):
        _, replies = parser.feed(wire)
        if not replies:
            return sent
        sent += len(replies) // 3
        wire = b"".join(cmd(answer[replies[i + 1]], replies[i + 2]) for i in range(0, len(replies), 3))
    return None


@DETERMINISTIC
@given(PEER_COMMANDS, st.booleans())
def test_a_contrary_peer_cannot_keep_sercon_talking(commands, hello):
    """A peer that answers every DO with WONT, DONT with WILL, ...: each answer reads as a new request."""
    parser = TelnetParser()
    start = parser.hello() if hello else b""
    wire = b"".join(cmd(c, o) for c, o in commands) + b"".join(
        cmd(CONTRARY[start[i + 1]], start[i + 2]) for i in range(0, len(start), 3))
    sent = converse(parser, wire, CONTRARY)
    assert sent is not None, "sercon kept answering"
    assert sent <= 2 * 8 * (len(commands) + 3)


def test_a_contrary_peer_on_echo_is_cut_off_until_data_arrives():
    parser = TelnetParser()
    assert converse(parser, cmd(WILL, ECHO), CONTRARY) is not None
    assert parser.feed(b"login: " + cmd(WILL, ECHO))[1] == cmd(DO, ECHO)  # data in between: answered again


# -- two Q-method parties wired together: they always settle, and agree ---------------------------

OPTIONS = st.sampled_from([BINARY, ECHO, SGA, 24, 31])
STEPS = st.lists(st.one_of(
    st.tuples(st.just("ask"), st.booleans(), st.booleans(), OPTIONS, st.booleans()),  # who, whose option, which, on
    st.tuples(st.just("deliver"), st.booleans(), st.integers(1, 10)),  # direction, bytes
), max_size=60)


@DETERMINISTIC
@given(STEPS, st.booleans())
def test_two_parties_always_settle_and_agree(steps, hellos):
    a, b = TelnetParser(), TelnetParser()
    wires = {True: bytearray(a.hello() if hellos else b""), False: bytearray(b.hello() if hellos else b"")}
    parties = {True: a, False: b}

    def deliver(from_a: bool, size: int) -> None:
        wire = wires[from_a]
        chunk, wire[:] = bytes(wire[:size]), wire[size:]
        data, replies = parties[not from_a].feed(chunk)
        assert data == b"." * chunk.count(b".")
        wires[not from_a] += replies

    for step in steps:
        if step[0] == "ask":
            _, who, remote, option, on = step
            party = parties[who]  # a change of mind follows something on the console: a data byte
            wires[who] += b"." + (party.ask_remote(option, on) if remote else party.ask_local(option, on))
        else:
            deliver(step[1], step[2])
    for _ in range(200):  # let the conversation run out
        if not wires[True] and not wires[False]:
            break
        deliver(True, len(wires[True]))
        deliver(False, len(wires[False]))
    assert not wires[True] and not wires[False], "the negotiation never settled"
    for option in (BINARY, ECHO, SGA, 24, 31):
        assert a.remote_settled(option) and a.local_settled(option) and b.remote_settled(option)
        assert a.remote_on(option) == b.local_on(option) and a.local_on(option) == b.remote_on(option), option


# -- the byte stream: data is never lost or invented, wherever the reads split it ------------------

TOKENS = st.lists(st.one_of(
    st.binary(min_size=1, max_size=20).map(lambda d: ("data", d)),
    st.tuples(st.sampled_from([WILL, WONT, DO, DONT]), st.integers(0, 255)).map(lambda c: ("wire", cmd(*c))),
    st.sampled_from([NOP, GA, BRK, 242, 244, 246]).map(lambda c: ("wire", bytes([IAC, c]))),
    st.binary(max_size=20).map(lambda p: ("wire", bytes([IAC, SB]) + p.replace(b"\xff", b"\xff\xff")
                                          + bytes([IAC, SE]))),
), max_size=40)


@DETERMINISTIC
@given(TOKENS, st.lists(st.integers(0, 400), max_size=10))
def test_data_survives_any_split(tokens, cuts):
    wire = b"".join(escape(v, binary=True) if kind == "data" else v for kind, v in tokens)
    expected = b"".join(v for kind, v in tokens if kind == "data")
    points = sorted({min(c, len(wire)) for c in cuts} | {0, len(wire)})
    whole = TelnetParser().feed(wire)
    parser = TelnetParser()
    pieces = [parser.feed(wire[i:j]) for i, j in zip(points, points[1:], strict=False)]
    assert whole[0] == expected
    assert (b"".join(p[0] for p in pieces), b"".join(p[1] for p in pieces)) == whole


@DETERMINISTIC
@given(st.binary(max_size=600), st.integers(1, 50))
def test_any_bytes_parse_the_same_in_any_chunks(raw, size):
    assert fed(TelnetParser(), raw, size) == TelnetParser().feed(raw)
    assert len(TelnetParser().feed(raw)[0]) <= len(raw)


def test_subnegotiation_is_skipped_across_chunks():
    parser = TelnetParser()
    assert parser.feed(bytes([ord("x"), IAC, SB, 24, 1, 2])) == (b"x", b"")
    assert parser.feed(bytes([IAC, SE, ord("y")])) == (b"y", b"")


def test_a_doubled_iac_inside_a_subnegotiation_does_not_end_it():
    assert TelnetParser().feed(bytes([IAC, SB, 24, IAC, IAC, SE, 1, IAC, SE]) + b"z") == (b"z", b"")


@DETERMINISTIC
@given(st.binary(max_size=500), st.integers(min_value=1, max_value=50))
def test_escaped_binary_data_round_trips_in_any_chunks(data, size):
    assert fed(TelnetParser(), escape(data, binary=True), size)[0] == data


def test_escape_outside_binary_mode():
    assert escape(b"a\rb\r\n\xff", binary=False) == b"a\r\0b\r\n\xff\xff"


def test_telnet_url_through_sercon_send_and_sysrq():
    """A minimal telnet server: it offers echo, records what it gets, and answers `ping`."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    received = bytearray()

    def serve():
        conn, _ = server.accept()
        conn.sendall(bytes([IAC, WILL, ECHO, IAC, WILL, SGA]))
        while chunk := conn.recv(4096):
            received.extend(chunk)
            if b"ping" in received and b"pong" not in received:
                conn.sendall(b"pong \xff\xff done\r\n")
                received.extend(b"pong")
        conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    from tests.conftest import run_cli

    result = run_cli("send", f"telnet://127.0.0.1:{port}", "ping", "--expect", "done")
    thread.join(5)
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith(b"pong \xff done")  # the doubled IAC arrives as one 255 byte
    assert bytes([IAC, DO, ECHO]) in received and b"ping\r" in received

    server2 = socket.socket()
    server2.bind(("127.0.0.1", 0))
    server2.listen(1)
    got = bytearray()

    def serve2():
        conn, _ = server2.accept()
        while chunk := conn.recv(4096):
            got.extend(chunk)
        conn.close()

    thread2 = threading.Thread(target=serve2, daemon=True)
    thread2.start()
    result = run_cli("sysrq", "h", f"telnet://127.0.0.1:{server2.getsockname()[1]}")
    thread2.join(5)
    assert result.returncode == 0, result.stderr
    assert bytes([IAC, BRK]) + b"h" in bytes(got)


def test_the_trace_names_each_command_and_a_subnegotiation_once_in_any_chunks():
    """With a trace open, every received command is one line by name; a subnegotiation split anywhere
    (a doubled IAC inside it too) is named once, by its option."""
    import io

    import sercon
    from sercon.trace import Tracer
    from sercon.transport.telnet import describe

    wire = cmd(WILL, ECHO) + bytes([IAC, SB, 24, 1, IAC, IAC, 2, IAC, SE]) + cmd(DO, 31) + bytes([IAC, NOP]) + b"x"
    for size in (1, 2, 5, len(wire)):
        out = io.StringIO()
        sercon.TRACE = Tracer(out, owned=False)
        try:
            fed(TelnetParser(), wire, size)
        finally:
            sercon.TRACE = None
        said = [line.split("] ", 1)[1] for line in out.getvalue().splitlines()]
        assert said == ["telnet recv WILL ECHO", "telnet recv SB TERMINAL-TYPE", "telnet recv DO NAWS",
                        "telnet recv NOP"], (size, said)
    assert describe(cmd(DO, BINARY) + cmd(WONT, 77) + bytes([IAC, BRK])) == ["DO BINARY", "WONT 77", "BRK"]
