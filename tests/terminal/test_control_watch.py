"""The control server's watch and take ops (protocol 3): the recent output on joining, bounded, with
nothing lost or repeated; one keyboard holder at a time; the keyboard back when its holder leaves."""

from __future__ import annotations

import socket

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sercon.errors import SerconError
from sercon.terminal.control_server import RING, ControlServer
from sercon.transport.control import PROTOCOL, ControlTransport
from tests.support.waiting import wait_for


@pytest.fixture
def server(tmp_path):
    told: list[str | None] = []
    srv = ControlServer(tmp_path / "s.sock", lambda data: None, lambda op, key: "", {"pid": 1, "tty": None},
                        told.append)
    srv.start()
    srv.told = told  # type: ignore[attr-defined]
    yield srv
    srv.stop()


def client(server) -> ControlTransport:
    sock = socket.socket(socket.AF_UNIX)
    sock.connect(str(server.path))
    transport = ControlTransport(sock, "key")
    transport.probe()
    return transport


def read_until(transport: ControlTransport, size: int) -> bytes:
    got = b""
    while len(got) < size:
        data = transport.read(5)
        assert data, f"only {got!r}"
        got += data
    return got


def test_watch_replays_the_recent_output_then_live_without_gap_or_repeat(server):
    server.broadcast(b"early ")
    server.broadcast(b"output ")
    watcher = client(server)
    reply = watcher.watch()
    assert reply["protocol"] == PROTOCOL and reply["keyboard"] is None
    server.broadcast(b"live")
    assert read_until(watcher, len(b"early output live")) == b"early output live"
    watcher.close()


@settings(max_examples=20, deadline=None)
@given(st.lists(st.binary(min_size=1, max_size=20000), min_size=1, max_size=20))
def test_the_replay_is_the_last_output_and_bounded(tmp_path_factory, chunks):
    path = tmp_path_factory.mktemp("ring") / "s.sock"
    srv = ControlServer(path, lambda data: None, lambda op, key: "")
    srv.start()
    try:
        for chunk in chunks:
            srv.broadcast(chunk)
        watcher = client(srv)
        watcher.watch()
        replay = watcher.read(5)
        whole = b"".join(chunks)
        assert whole.endswith(replay)
        assert len(replay) >= min(len(whole), RING)  # at least the last RING bytes
        assert len(replay) < RING + max(len(c) for c in chunks)  # and not much more
        watcher.close()
    finally:
        srv.stop()


def test_one_keyboard_holder_at_a_time_and_back_when_it_leaves(server):
    first, second, watcher = client(server), client(server), client(server)
    watcher.watch()
    first.take("ann@host pid 5, tty /dev/pts/9")
    assert server.told == ["ann@host pid 5, tty /dev/pts/9"]
    with pytest.raises(SerconError) as refused:
        second.take("bob@host pid 6, tty none")
    assert refused.value.exit_status == 9 and "ann@host" in refused.value.message
    wait_for(lambda: watcher.read(0.1) is not None and watcher.notices, what="the watcher told who has it")
    assert watcher.notices.popleft() == "the keyboard is now with ann@host pid 5, tty /dev/pts/9"
    first.close()
    wait_for(lambda: server.told[-1:] == [None], what="the keyboard back with the session")
    second.take("bob@host pid 6, tty none")  # free again
    assert server.told[-1] == "bob@host pid 6, tty none"
    second.close()
    watcher.close()


def test_a_session_that_cannot_hand_its_keyboard_over_refuses(tmp_path):
    srv = ControlServer(tmp_path / "s.sock", lambda data: None, lambda op, key: "")
    srv.start()
    try:
        with pytest.raises(SerconError, match="cannot hand its keyboard over"):
            client(srv).take("me")
    finally:
        srv.stop()
