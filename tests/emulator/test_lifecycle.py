"""Starting and stopping the emulator: a fixed port can be used again at once, and stop() is quick."""

from __future__ import annotations

import socket
import time

import pytest

from sercon_emulator.server import Emulator
from sercon_emulator.world import World
from tests.emulator.conftest import Emu, read_until, world


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def busy(env: Emu) -> object:
    """A session with output, and keep-alive HTTPS connections the server closes at stop (TIME_WAIT)."""
    ws = env.session()
    ws.send("busy\n")
    read_until(ws, b"got:busy")
    return ws


def test_the_emulator_starts_again_on_the_same_fixed_port(tmp_path):
    port = free_port()
    for round_ in range(3):
        emulator = Emulator(World(world()), state_dir=tmp_path / f"state{round_}", port=port).start()
        try:
            assert emulator.port == port
            busy(Emu(emulator))
        finally:
            emulator.stop()


def unauthenticated_socket(env: Emu) -> object:
    ws = env.socket(env.connect())  # the server waits up to 10 s for the token frame
    ws.recv_data()
    return ws


def idle_keep_alive(env: Emu) -> None:
    assert env.http.get(f"{env.base}/devicelogin", timeout=10).status_code == 200


def request_without_its_body(env: Emu) -> socket.socket:
    """A request whose body never comes: its handler would keep the server's shutdown waiting."""
    sock = env.tls.wrap_socket(socket.create_connection(("127.0.0.1", env.emulator.port)),
                               server_hostname="127.0.0.1")
    sock.sendall(b"POST /subscriptions/x HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab")
    return sock


def tls_handshake_never_done(env: Emu) -> socket.socket:
    return socket.create_connection(("127.0.0.1", env.emulator.port))


@pytest.mark.parametrize("open_", [busy, unauthenticated_socket, idle_keep_alive, request_without_its_body,
                                   tls_handshake_never_done])
def test_stop_is_quick_with_connections_open(emu, open_):
    env = emu()
    held = open_(env)  # noqa: F841 -- kept open until the emulator has stopped
    started = time.monotonic()
    env.emulator.stop()
    assert time.monotonic() - started < 2.0
    with pytest.raises(ConnectionRefusedError):  # stopped for real: nothing listens any more
        socket.create_connection(("127.0.0.1", env.emulator.port), timeout=2).close()
