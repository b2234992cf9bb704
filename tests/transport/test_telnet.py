"""The telnet parser by bytes, and the telnet:// port against a real TCP peer."""

from __future__ import annotations

import socket
import threading

from hypothesis import given
from hypothesis import strategies as st

from sercon.transport.telnet import BINARY, BRK, DO, DONT, ECHO, IAC, SB, SE, SGA, WILL, WONT, TelnetParser, escape


def test_data_passes_and_a_doubled_iac_is_one_byte():
    parser = TelnetParser()
    assert parser.feed(b"ab\xff\xffc") == (b"ab\xffc", b"")


def test_negotiation_is_answered_once():
    parser = TelnetParser()
    parser.hello()
    data, replies = parser.feed(bytes([IAC, WILL, ECHO, IAC, WILL, SGA, IAC, DO, BINARY, IAC, DO, 24]))
    assert data == b""
    # SGA and BINARY answer our own requests; ECHO is new (accept it), 24 unknown (refuse it)
    assert replies == bytes([IAC, DO, ECHO, IAC, WONT, 24])
    assert parser.remote == {ECHO: True, SGA: True} and parser.local == {BINARY: True, 24: False}
    assert parser.binary_out
    assert parser.feed(bytes([IAC, WILL, ECHO, IAC, DO, BINARY]))[1] == b""  # no change: no answer, no loop


def test_refuses_what_it_does_not_know():
    parser = TelnetParser()
    assert parser.feed(bytes([IAC, WILL, 31]))[1] == bytes([IAC, DONT, 31])


def test_subnegotiation_is_skipped_across_chunks():
    parser = TelnetParser()
    assert parser.feed(bytes([ord("x"), IAC, SB, 24, 1, 2])) == (b"x", b"")
    assert parser.feed(bytes([IAC, SE, ord("y")])) == (b"y", b"")


@given(st.binary(max_size=500), st.integers(min_value=1, max_value=50))
def test_escaped_binary_data_round_trips_in_any_chunks(data, size):
    parser = TelnetParser()
    wire = escape(data, binary=True)
    out = b"".join(parser.feed(wire[i : i + size])[0] for i in range(0, len(wire), size))
    assert out == data


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
