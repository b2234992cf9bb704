"""The control socket's server side with real Unix sockets: slow clients, malformed lines, and stop()."""

from __future__ import annotations

import base64
import json
import os
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sercon.errors import UsageError
from sercon.terminal.control_server import ControlServer

DETERMINISTIC = settings(max_examples=300, deadline=None, derandomize=True, database=None)
PROMPT = 2.0  # "promptly": far above a non-blocking call, far below a blocked one


class Stub:
    """The session's callbacks; records every call and any value of the wrong type."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.acts: list[tuple[str, str | None]] = []
        self.bad_types: list[object] = []
        self.hold = threading.Event()
        self.hold.set()

    def write(self, data: bytes) -> None:
        if type(data) is not bytes:
            self.bad_types.append(data)
        self.writes.append(data)

    def act(self, op: str, key: str | None) -> str:
        if type(op) is not str or not (key is None or type(key) is str):
            self.bad_types.append((op, key))
        self.acts.append((op, key))
        self.hold.wait()
        if key == "!":
            raise UsageError("'!' is not a SysRq key")
        return f"{op} done"


def finishes(func: Callable[[], object], seconds: float = PROMPT) -> float:
    """Run *func* in a thread; fail (instead of hanging the test run) if it takes longer than *seconds*."""
    thread = threading.Thread(target=func, daemon=True)
    start = time.monotonic()
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"{getattr(func, '__name__', func)} blocked for more than {seconds} s"
    return time.monotonic() - start


class Client:
    """A raw client of the socket: lines out, JSON lines in."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(str(path))
        self.sock.settimeout(10)
        self.buffer = b""

    def send(self, *lines: bytes) -> None:
        self.sock.sendall(b"".join(line + b"\n" for line in lines))

    def line(self) -> dict | None:
        """The next line as JSON; None at end of stream."""
        while b"\n" not in self.buffer:
            data = self.sock.recv(65536)
            if not data:
                assert self.buffer == b"", f"a partial line before the end: {self.buffer[:80]!r}"
                return None
            self.buffer += data
        line, self.buffer = self.buffer.split(b"\n", 1)
        return json.loads(line)

    def reply(self) -> dict:
        """The next reply, skipping console output."""
        while (message := self.line()) is not None:
            if "rx" not in message:
                return message
        raise AssertionError("the server closed the connection instead of replying")

    def ask(self, message: dict) -> dict:
        self.send(json.dumps(message).encode())
        return self.reply()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def server():
    folder = tempfile.mkdtemp(prefix="sercon-ctl-")  # short: a Unix socket path has a length limit
    stub = Stub()
    control = ControlServer(Path(folder) / "s.sock", stub.write, stub.act, {"pid": 42, "tty": None})
    control.start()
    control.stub = stub
    yield control
    stub.hold.set()
    finishes(control.stop)
    os.rmdir(folder)


def connect(control: ControlServer) -> Client:
    client = Client(control.path)
    assert client.ask({"op": "hello"})["ok"]  # the server now counts it among its clients
    return client


# -- a client that stops reading ------------------------------------------------------------------

def test_broadcast_never_waits_for_a_client_that_does_not_read(server):
    stuck = connect(server)
    chunk = os.urandom(64 * 1024)
    slowest = max(finishes(lambda: server.broadcast(chunk)) for _ in range(80))  # ~7 MB of lines
    assert slowest < 0.5
    finishes(server.stop)
    stuck.close()


def test_a_dropped_client_is_told_why_after_complete_lines(server):
    stuck = connect(server)
    chunks = [bytes([n]) * 65536 for n in range(60)]
    for chunk in chunks:
        finishes(lambda chunk=chunk: server.broadcast(chunk))
    got, last = [], None
    while (message := stuck.line()) is not None:  # reading only now: whole lines, then the reason, then the end
        if "rx" in message:
            assert last is None
            got.append(base64.b64decode(message["rx"]))
        else:
            last = message
    assert last == {"error": "dropped: too slow"}
    assert len(got) < len(chunks) and got == chunks[: len(got)]  # a burst may overflow before anything is sent


def test_a_client_that_reads_gets_everything_in_order(server):
    reader = connect(server)
    chunks = [os.urandom(n % 2000 + 1) for n in range(300)]  # ~400 KB of lines: under the limit
    received = bytearray()

    def drain() -> None:
        while len(received) < sum(map(len, chunks)) and (message := reader.line()) is not None:
            received.extend(base64.b64decode(message["rx"]))

    thread = threading.Thread(target=drain, daemon=True)
    thread.start()
    for chunk in chunks:
        server.broadcast(chunk)
    thread.join(10)
    assert bytes(received) == b"".join(chunks)


def test_other_clients_keep_their_output_when_one_is_dropped(server):
    stuck, reader = connect(server), connect(server)
    received, arrived = bytearray(), threading.Condition()

    def drain() -> None:
        while (message := reader.line()) is not None and "rx" in message:
            with arrived:
                received.extend(base64.b64decode(message["rx"]))
                arrived.notify()

    threading.Thread(target=drain, daemon=True).start()
    for n in range(40):  # ~3.5 MB of lines: the stuck client overflows, the reader never falls behind
        finishes(lambda n=n: server.broadcast(bytes([n]) * 65536))
        with arrived:
            assert arrived.wait_for(lambda n=n: len(received) == (n + 1) * 65536, 10)
    assert bytes(received) == b"".join(bytes([n]) * 65536 for n in range(40))
    stuck.close()


def test_stop_returns_with_a_stuck_client_and_an_unfinished_action(server):
    stuck = connect(server)
    waiting = connect(server)
    server.stub.hold.clear()  # the session never finishes the action
    waiting.send(b'{"op": "nmi"}')
    for _ in range(10):
        finishes(lambda: server.broadcast(b"x" * 65536))
    assert finishes(server.stop) < PROMPT
    assert not server.path.exists()
    stuck.close()
    waiting.close()


def test_a_reply_queued_before_stop_still_arrives(server):
    client = connect(server)
    client.send(b'{"op": "release"}')
    reply = client.reply()  # answered before stop: the session asked to stop after replying
    finishes(server.stop)
    assert reply == {"reply": "release", "ok": True}
    assert client.line() is None


# -- malformed and well-formed requests -----------------------------------------------------------

@pytest.mark.parametrize("line, op, error", [
    (b"not json", None, "not JSON"),
    (b"", None, "not JSON"),
    (b"\xff\xfe\x00", None, "not JSON"),
    (b"[" * 100000, None, "not JSON"),
    (b"[1, 2]", None, "not a JSON object"),
    (b'"sysrq"', None, "not a JSON object"),
    (b'{"key": "h"}', None, "op"),
    (b'{"op": 5}', None, "op"),
    (b'{"op": ["sysrq"]}', None, "op"),
    (b'{"op": "frobnicate"}', "frobnicate", "unknown op"),
    (b'{"op": "sysrq", "key": [1]}', "sysrq", "key"),
    (b'{"op": "sysrq", "key": 104}', "sysrq", "key"),
    (b'{"op": "write"}', "write", "data"),
    (b'{"op": "write", "data": 5}', "write", "data"),
    (b'{"op": "write", "data": "not base64!"}', "write", "base64"),
    (b'{"op": "write", "data": "\xc3\xa9"}', "write", "base64"),
])
def test_every_malformed_line_gets_an_error_reply(server, line, op, error):
    client = Client(server.path)
    client.send(line)
    reply = client.reply()
    assert reply["reply"] == op and reply["ok"] is False and error in reply["error"]
    hello = client.ask({"op": "hello"})  # still serving
    assert hello == {"reply": "hello", "ok": True, "protocol": 3, "pid": 42, "tty": None}
    assert server.stub.acts == [] and server.stub.writes == []


def test_well_formed_requests(server):
    client = connect(server)
    assert client.ask({"op": "write", "data": base64.b64encode(b"\xffls\r").decode()}) == {"reply": "write",
                                                                                            "ok": True}
    assert client.ask({"op": "sysrq", "key": "h"}) == {"reply": "sysrq", "ok": True}
    assert client.ask({"op": "break", "key": None}) == {"reply": "break", "ok": True}
    assert client.ask({"op": "reset"}) == {"reply": "reset", "ok": True}
    assert client.ask({"op": "sysrq", "key": "!"}) == {"reply": "sysrq", "ok": False,
                                                       "error": "'!' is not a SysRq key", "status": 2}
    assert server.stub.writes == [b"\xffls\r"]
    assert server.stub.acts == [("sysrq", "h"), ("break", None), ("reset", None), ("sysrq", "!")]


# -- fuzz: arbitrary bytes, one reply per line ----------------------------------------------------

OPS = st.sampled_from(["write", "sysrq", "nmi", "reset", "break", "hello", "release", "frob", ""])
JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner,
                                                                                     max_size=3), max_leaves=8)
FIELD_VALUES = JSON_VALUES | st.binary(max_size=30).map(lambda b: base64.b64encode(b).decode())
OBJECTS = st.fixed_dictionaries({}, optional={"op": OPS | JSON_VALUES, "key": FIELD_VALUES,
                                              "data": FIELD_VALUES}).map(lambda m: json.dumps(m).encode())
LINES = st.lists(st.one_of(st.binary(max_size=300), OBJECTS).map(lambda b: b.replace(b"\n", b"")),
                 min_size=1, max_size=12)


@pytest.fixture(scope="module")
def shared_server():
    folder = tempfile.mkdtemp(prefix="sercon-ctl-")
    stub = Stub()
    control = ControlServer(Path(folder) / "s.sock", stub.write, stub.act, {"pid": 42})
    control.start()
    control.stub = stub
    yield control
    finishes(control.stop)
    os.rmdir(folder)


@DETERMINISTIC
@given(lines=LINES)
def test_fuzz_every_line_gets_exactly_one_reply(shared_server, lines):
    client = Client(shared_server.path)
    try:
        client.send(*lines)
        for line in lines:
            reply = client.reply()
            assert set(reply) <= {"reply", "ok", "error", "protocol", "pid"}, (line, reply)
            assert isinstance(reply["ok"], bool), (line, reply)
            assert reply["ok"] or isinstance(reply["error"], str), (line, reply)
        hello = client.ask({"op": "hello"})  # the next reply is this one's: no extra replies came before it
        assert hello == {"reply": "hello", "ok": True, "protocol": 3, "pid": 42}
    finally:
        client.close()
    assert shared_server.stub.bad_types == []


def test_stop_as_a_client_arrives_does_not_fail(monkeypatch):
    """stop() may come at any point of a client's arrival: it joins the writer of every client it
    counts, so a counted client's writer must be running (a `connect --force` takeover exited 1 with
    "cannot join thread before it is started")."""
    from sercon.terminal import control_server

    folder = tempfile.mkdtemp(prefix="sercon-ctl-")
    stub = Stub()
    control = ControlServer(Path(folder) / "s.sock", stub.write, stub.act, {"pid": 42})
    errors: list[BaseException] = []

    class StopFirst(threading.Thread):
        def start(self) -> None:  # stop() arrives just before this client's writer starts
            stopper = threading.Thread(target=lambda: _record(errors, control.stop))
            stopper.start()
            stopper.join(1)
            super().start()

    class Arriving(control_server._Client):
        def __init__(self, conn: socket.socket) -> None:
            super().__init__(conn)
            self.writer = StopFirst(target=self._write_loop, daemon=True)

    monkeypatch.setattr(control_server, "_Client", Arriving)
    control.start()
    client = Client(control.path)
    try:
        deadline = time.monotonic() + 10
        while not errors and control._server is not None and time.monotonic() < deadline:
            time.sleep(0.01)
        finishes(control.stop)
        assert errors == []
    finally:
        client.close()
        os.rmdir(folder)


def _record(errors: list[BaseException], call: Callable[[], None]) -> None:
    try:
        call()
    except BaseException as exc:  # noqa: BLE001 - the test reports whatever stop() raised
        errors.append(exc)
