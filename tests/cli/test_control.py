"""Commands go through a running `sercon connect` instead of fighting it for the console."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import stat
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sercon.errors import ConnectionLost
from sercon.terminal.control_server import ControlServer
from sercon.transport.control import PROTOCOL, ControlTransport, encode, find_session, socket_path
from sercon.transport.serial import console_key
from tests.conftest import SERCON, cli_env, run_cli
from tests.support.waiting import wait_for_control_socket

ENDED = "the running sercon connect session ended"


def test_send_goes_through_the_running_session(device, terminal, tmp_path):
    env = cli_env(XDG_RUNTIME_DIR=str(tmp_path))
    term = terminal("connect", device.path, env=env).connected()
    wait_for_control_socket(device.path, env)
    proc = subprocess.Popen([*SERCON, "send", device.path, "ping", "--expect", "pong"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    device.expect(b"ping\r")
    device.write(b"pong\r\n")
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert out.endswith(b"pong") and b"using the running `sercon connect`" in err
    again = run_cli("send", device.path, "--eol", "lf", env=env, input=b"\xaa" * 3000 + b"\n")
    assert again.returncode == 0, again.stderr
    device.expect(b"\xaa{3000}\n")  # a paste of non-UTF-8 bytes, whole, through the session
    assert term.child.isalive()
    folder = tmp_path / "sercon"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    [sock] = list(folder.iterdir())
    assert stat.S_ISSOCK(sock.stat().st_mode) and stat.S_IMODE(sock.stat().st_mode) == 0o600
    term.send(b"\x1dq")
    assert term.wait_exit() == 0
    assert not sock.exists()  # removed on the way out


def test_stale_socket_is_ignored(device, tmp_path):
    env = cli_env(XDG_RUNTIME_DIR=str(tmp_path))
    path = socket_path(console_key(device.path), {"XDG_RUNTIME_DIR": str(tmp_path)})
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(path))
    stale.close()  # bound, never listening: connect is refused
    result = run_cli("send", device.path, "s", env=env)
    assert result.returncode == 0, result.stderr
    device.expect(b"s\r")
    assert not path.exists()


# -- a session that goes away under a client ------------------------------------------------------

@contextlib.contextmanager
def fake_session(path: Path, handle: Callable[[socket.socket], None]) -> Iterator[None]:
    """A listener at *path* that gives each connection to *handle* (then closes it)."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(8)

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                handle(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield
    listener.shutdown(socket.SHUT_RDWR)
    listener.close()
    thread.join(5)


def hang_up(conn: socket.socket) -> None:
    """Accept, then close at once (a session on its way out)."""


def _requests(conn: socket.socket) -> Iterator[dict]:
    buffer = b""
    while data := conn.recv(4096):
        buffer += data
        *lines, buffer = buffer.split(b"\n")
        yield from (json.loads(line) for line in lines if line)


HELLO = {"reply": "hello", "ok": True, "pid": 1, "tty": None, "protocol": PROTOCOL}  # as sessions answer today


def answer_hello_then_hang_up(conn: socket.socket) -> None:
    """A live session that ends right after the client found it (the client's text may have left by then:
    a session of today's protocol answers every write, so an unanswered one is never taken for sent)."""
    for request in _requests(conn):
        if request.get("op") == "hello":
            conn.sendall(encode(HELLO))
        return


def hang_up_once_the_text_left(conn: socket.socket) -> None:
    """A session that ends after the command's first request past hello reached it, never answering that."""
    for request in _requests(conn):
        if request.get("op") != "hello":
            return
        conn.sendall(encode(HELLO))


@pytest.fixture
def runtime(tmp_path):
    return {"XDG_RUNTIME_DIR": str(tmp_path)}


def test_a_socket_that_accepts_then_closes_is_no_session(device, runtime):
    key = console_key(device.path)
    with fake_session(socket_path(key, runtime), hang_up):
        assert find_session(key, runtime) is None
        result = run_cli("send", device.path, "ping", env=cli_env(**runtime))
        assert result.returncode == 0, result.stderr
        device.expect(b"ping\r")  # sent to the device itself


@pytest.mark.parametrize("command", [("send", "URL", "ping"), ("send", "URL", "ping", "--expect", "pong"),
                                     ("send", "URL", "-"), ("sysrq", "h", "URL")])
def test_a_session_that_ends_mid_command_exits_7(runtime, command):
    url = "telnet://127.0.0.1:9"  # found through the session socket: never dialled
    with fake_session(socket_path(console_key(url), runtime), answer_hello_then_hang_up):
        args = [url if arg == "URL" else arg for arg in command]
        result = run_cli(*args, env=cli_env(**runtime), input=b"x" * 300000)
        assert result.returncode == 7, result.stderr
        assert ENDED.encode() in result.stderr


@pytest.mark.parametrize("command", [("send", "URL", "ping"), ("send", "URL", "-"), ("sysrq", "h", "URL")])
def test_a_session_that_ends_after_the_text_left_exits_7(runtime, command):
    """The race of the test above, made certain: the hang-up comes after the session has the text."""
    url = "telnet://127.0.0.1:9"
    with fake_session(socket_path(console_key(url), runtime), hang_up_once_the_text_left):
        args = [url if arg == "URL" else arg for arg in command]
        result = run_cli(*args, env=cli_env(**runtime), input=b"x" * 3000)
        assert result.returncode == 7, result.stderr
        assert ENDED.encode() in result.stderr


# -- ControlTransport maps every socket failure to ConnectionLost ---------------------------------

def pair() -> tuple[ControlTransport, socket.socket]:
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    return ControlTransport(mine, "/dev/ttyS0"), theirs


def closed(theirs: socket.socket) -> None:
    theirs.close()


def reset(theirs: socket.socket) -> None:
    theirs.close()  # with our request unread: the next recv is ECONNRESET


OPERATIONS = {
    "read": lambda t: t.read(1.0),
    "write": lambda t: [t.write(b"y" * 65536) for _ in range(64)],
    "sysrq": lambda t: t.sysrq("h"),
    "nmi": lambda t: t.nmi(),
}


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("peer", [closed, reset])
def test_a_peer_that_went_away_is_connection_lost(operation, peer):
    transport, theirs = pair()
    transport.sock.sendall(b'{"op": "write", "data": ""}\n')  # unread by the peer, for the reset case
    if peer is closed:
        theirs.recv(4096)
    peer(theirs)
    with pytest.raises(ConnectionLost, match=ENDED):
        OPERATIONS[operation](transport)


def test_a_closed_transport_reads_as_connection_lost():
    transport, theirs = pair()
    transport.close()
    with pytest.raises(ConnectionLost, match=ENDED):
        transport.read(0.1)
    theirs.close()


@pytest.mark.parametrize("line", [b"not json\n", b"[1]\n", b'{"rx": "not base64!"}\n'])
def test_a_line_sercon_cannot_read_is_connection_lost(line):
    transport, theirs = pair()
    theirs.sendall(line)
    with pytest.raises(ConnectionLost, match="cannot read"):
        transport.read(1.0)
    theirs.close()


def test_being_dropped_as_too_slow_says_so(tmp_path):
    server = ControlServer(tmp_path / "s.sock", lambda data: None, lambda op, key: "ok")
    server.start()
    try:
        sock = socket.socket(socket.AF_UNIX)
        sock.connect(str(server.path))
        transport = ControlTransport(sock, "/dev/ttyS0")
        assert transport.describe() == "pid ?, tty none"  # registered: it gets the output from now on
        for n in range(40):
            server.broadcast(bytes([n]) * 65536)  # we read nothing meanwhile
        received = bytearray()
        with pytest.raises(ConnectionLost, match="too slow"):
            for _ in range(100):
                received += transport.read(5.0)
        assert len(received) < 40 * 65536 and received == b"".join(  # whole lines of output, then the reason
            bytes([n]) * 65536 for n in range(len(received) // 65536))
    finally:
        server.stop()


def test_find_session_gives_back_a_live_session(tmp_path, runtime):
    key = "/dev/ttyS9"
    server = ControlServer(socket_path(key, runtime), lambda data: None, lambda op, key: "ok",
                           {"pid": os.getpid(), "tty": "/dev/pts/7"})
    server.start()
    try:
        running = find_session(key, runtime)
        assert running is not None
        assert running.describe() == f"pid {os.getpid()}, tty /dev/pts/7"
        running.close()
    finally:
        server.stop()


def test_input_the_session_could_not_send_is_connection_lost(tmp_path):
    """A session whose console is away (a cut gateway) refuses the write: the client exits 7, not 0."""

    def away(data: bytes) -> None:
        raise ConnectionLost("not connected: input dropped")

    server = ControlServer(tmp_path / "s.sock", away, lambda op, key: "ok")
    server.start()
    try:
        sock = socket.socket(socket.AF_UNIX)
        sock.connect(str(server.path))
        transport = ControlTransport(sock, "/dev/ttyS0")
        transport.probe()
        transport.write(b"ls\r")
        with pytest.raises(ConnectionLost, match="could not send the input: not connected: input dropped"):
            transport.drain()
    finally:
        server.stop()


def test_an_action_the_session_refuses_keeps_its_exit_status_and_fix(device, terminal, tmp_path):
    """nmi through a running session on a serial line: exit 6 with the fix, as without the session."""
    env = cli_env(XDG_RUNTIME_DIR=str(tmp_path))
    term = terminal("connect", device.path, env=env).connected()
    wait_for_control_socket(device.path, env)
    result = run_cli("nmi", device.path, "--yes", env=env)
    assert b"using the running `sercon connect`" in result.stderr
    assert result.returncode == 6, result.stderr
    assert b"--qmp SOCKET" in result.stderr.partition(b"fix:")[2], result.stderr
    term.send(b"\x1dq")
    assert term.wait_exit() == 0
