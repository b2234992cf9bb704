"""Keys on the Azure gateway (issue 18): the key loop writes a keystroke's TEXT frame itself when the
socket takes it at once, and typing interleaved with pastes reaches the VM whole and in order, with
that fast path taken and with it switched off. Mechanisms and bytes, not times."""

from __future__ import annotations

import copy
import sys
import time

import pytest

from sercon_emulator.server import Emulator
from sercon_emulator.world import World
from tests.azure.conftest import WORLD, AzureWorld
from tests.conftest import Terminal

# The real `sercon connect`, its gateway transport wrapped so that every write says which thread made it.
DRIVER = r"""
import sys, threading
import sercon.transport.gateway as gateway
from sercon.cli import main

record = open(sys.argv[1], "a", buffering=1)


class Recording(gateway.GatewayTransport):
    fast_keys = sys.argv[2] == "fast"

    def try_write(self, data):
        sent = super().try_write(data)
        record.write(f"try_write {threading.current_thread().name} {len(data)} {sent}\n")
        return sent

    def write(self, data):
        record.write(f"write {threading.current_thread().name} {len(data)}\n")
        super().write(data)


gateway.GatewayTransport = Recording  # sercon.azure.gateway imports it when the connect command runs
sys.exit(main(["connect", "-g", "prod-rg", "echo1", "--resize", "off"]))
"""
START, END = b"<<", b">>"


@pytest.fixture
def echo_vm(tmp_path):
    """A VM whose console gives back exactly what it received (raw, no echo of its own)."""
    world = copy.deepcopy(WORLD)
    world["subscriptions"][0]["resource_groups"]["prod-rg"]["vms"].append(
        {"name": "echo1", "command": ["/bin/sh", "-c", "stty raw -echo; exec cat"]})
    with Emulator(World(world)) as emulator:
        yield AzureWorld(emulator, tmp_path)


def typed_and_pasted(rounds: int) -> tuple[list[bytes], bytes]:
    """What the user's terminal sends (keys one write each, pastes bracketed) and what the VM must get."""
    writes, expected = [], b""
    for i in range(rounds):
        for key in f"k{i:02d}".encode():
            writes.append(bytes([key]))
            expected += bytes([key])
        paste = f"[paste {i:02d} ".encode() + b"abcdefghij" * (1 + i % 7) + b"]"
        writes.append(b"\x1b[200~" + paste + b"\x1b[201~")
        expected += paste
    return writes, expected


@pytest.mark.parametrize("mode", ["fast", "queued"])
def test_keys_and_pastes_reach_the_vm_in_order(echo_vm, tmp_path, mode):
    log = tmp_path / "record.txt"
    log.touch()
    term = Terminal([], env=echo_vm.env, cols=200, rows=30,
                    command=[sys.executable, "-c", DRIVER, str(log), mode]).connected()
    try:
        writes, expected = typed_and_pasted(25)
        for data in [START, *writes, END]:
            term.send(data)  # no waiting between writes: keys queue up behind pastes, and go alone
        match = term.wait_raw(rb"<<(.*?)>>", timeout=30)
        assert match.group(1) == expected
        lines = log.read_text().splitlines()
        fast = [line for line in lines if line.startswith("try_write MainThread") and not line.endswith(" 0")]
        if mode == "fast":
            assert fast, lines  # the key loop wrote keys itself ...
            assert any(line.startswith("write sercon-tx") for line in lines), lines  # ... and the pastes queued
        else:
            assert not fast and any(line.startswith("write sercon-tx") for line in lines), lines
        term.send(b"\x1dq")
        assert term.wait_exit() == 0
    finally:
        term.close()


def test_try_write_leaves_to_write_what_it_cannot_send_whole(echo_vm, monkeypatch):
    """In process, on a real session: a held half character, non-ASCII input or a socket that a
    reconnect closed under the key loop make try_write send nothing (0), never raise or cut a frame."""
    from sercon.azure.client import arm_client
    from sercon.azure.gateway import console_transport
    from sercon.azure.resolve import resolve_vm
    from sercon.targets import AzureTarget

    for key in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        monkeypatch.setenv(key, echo_vm.env[key])
    arm = arm_client(dict(echo_vm.env))
    transport = console_transport(arm, resolve_vm(arm, AzureTarget("echo1", "prod-rg"),
                                                  echo_vm.env["AZURE_SUBSCRIPTION_ID"]))
    transport.open()
    try:
        assert transport.try_write(b"<<a") == 3
        assert transport.try_write("é".encode()) == 0  # not ASCII: write() frames it
        transport.write("é".encode()[:1])  # half a character, held back for the rest
        assert transport.try_write(b"b") == 0  # it must not overtake the held byte
        transport.write("é".encode()[1:] + b"b>>")
        received = b""
        deadline = time.monotonic() + 15
        while b">>" not in received:
            assert time.monotonic() < deadline, received
            received += transport.read(0.5)
        assert received == "<<aéb>>".encode()
        transport._ws.shutdown()  # what close() does to the socket, while the key loop still holds it
        assert transport.try_write(b"c") == 0
    finally:
        transport.close()
