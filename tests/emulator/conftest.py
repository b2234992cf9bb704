"""Drive the emulator directly, as the official client does: real TLS, requests and websocket-client.

No sercon client code here: these tests pin what the emulator accepts and refuses, so they must not
depend on how sercon's own client talks to it.
"""

from __future__ import annotations

import re
import ssl
import struct
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
import websocket

from sercon_emulator.server import ADMIN_HEADER, Emulator
from sercon_emulator.world import DEFAULT_CLIENT_ID, World

SUB = "00000000-0000-4000-8000-0000000000c1"
RG = "rg"
# Echoes what it reads with a prefix: "got:X" proves the VM's program read X (the pty's own echo is just "X").
ECHO = ["sh", "-c", 'while read -r x; do echo "got:$x"; done']
SERIAL = "2024-07-01"


def world(**changes: Any) -> dict[str, Any]:
    """A small world: VM `box` and instance set1/0 run ECHO; `vms`, `scale_sets` and top-level keys may change."""
    vms = changes.pop("vms", [{"name": "box", "command": ECHO}])
    scale_sets = changes.pop("scale_sets", [{"name": "set1", "instances": [{"id": "0", "command": ECHO}]}])
    return {"subscriptions": [{"id": SUB, "resource_groups": {RG: {"vms": vms, "scale_sets": scale_sets}}}],
            **changes}


class Emu:
    """A running emulator plus the few calls the tests make against it."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.base = emulator.base_url
        self.http = requests.Session()
        self.http.trust_env = False  # this machine's REQUESTS_CA_BUNDLE must not replace the emulator's CA
        self.http.verify = str(emulator.ca_path)
        self.tls = ssl.create_default_context(cafile=str(emulator.ca_path))
        self._token: str | None = None

    @property
    def gateway(self) -> Any:
        return self.emulator.arm.gateway

    @property
    def token(self) -> str:
        """An ARM token from the emulator's token endpoint (client credentials, no msal)."""
        if self._token is None:
            reply = self.http.post(f"{self.base}/{self.emulator.world.tenant}/oauth2/v2.0/token", data={
                "grant_type": "client_credentials", "client_id": DEFAULT_CLIENT_ID,
                "client_secret": self.emulator.environment()["AZURE_CLIENT_SECRET"],
                "scope": "https://management.core.windows.net//.default"})
            reply.raise_for_status()
            self._token = reply.json()["access_token"]
        return self._token

    def arm(self, method: str, path: str, api_version: str | None = SERIAL, **params: str) -> requests.Response:
        if api_version is not None:
            params["api-version"] = api_version
        url = path if path.startswith("https://") else self.base + path
        return self.http.request(method, url, params=params, headers={"Authorization": f"Bearer {self.token}"},
                                 timeout=10)

    def connect(self, vm: str = "box", api_version: str = SERIAL) -> str:
        reply = self.arm("POST", f"{vm_path(vm)}/providers/Microsoft.SerialConsole/serialPorts/0/connect",
                         api_version)
        assert reply.status_code == 200, reply.text
        return reply.json()["connectionString"]

    def socket(self, url: str) -> websocket.WebSocket:
        return websocket.create_connection(url, sslopt={"context": self.tls}, timeout=5)

    def session(self, url: str | None = None) -> websocket.WebSocket:
        """Open a session the way the official client does: read the status frame, then send the token."""
        ws = self.socket(url or self.connect())
        opcode, data = ws.recv_data()
        assert opcode == websocket.ABNF.OPCODE_TEXT and data, "the server speaks first, with one TEXT frame"
        ws.send(self.token)
        return ws

    def hook(self, path: str, **kwargs: Any) -> requests.Response:
        """POST to a test hook (`gateway/box/cut`...) with the emulator's admin secret."""
        return self.http.post(f"{self.base}/_emulator/{path}", headers={ADMIN_HEADER: self.emulator.admin_secret},
                              timeout=10, **kwargs)

    def admin(self, url: str, command: str = "nmi") -> requests.Response:
        admin_url = url.replace("wss://", "https://").replace("/client", f"/adminCommand/{command}")
        return self.http.post(admin_url, json={"command": command, "requestId": "r1", "commandParameters": {}},
                              headers={"Authorization": f"Bearer {self.token}"}, timeout=10)


def vm_path(vm: str) -> str:
    return f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Compute/virtualMachines/{vm}"


def frames(ws: websocket.WebSocket) -> Iterator[tuple[int, bytes]]:
    """(opcode, payload) of every frame, pings and the close frame included; ends after the close."""
    while True:
        opcode, frame = ws.recv_data_frame(control_frame=True)
        yield opcode, frame.data
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            return


def read_until(ws: websocket.WebSocket, needle: bytes) -> bytes:
    """VM output up to `needle`; every output frame must be BINARY (the gateway never sends text output)."""
    seen = b""
    for opcode, data in frames(ws):
        if opcode in (websocket.ABNF.OPCODE_PING, websocket.ABNF.OPCODE_PONG):
            continue
        assert opcode == websocket.ABNF.OPCODE_BINARY, (opcode, data, seen)
        seen += data
        if needle in seen:
            return seen
    pytest.fail(f"closed before {needle!r}; got {seen!r}")


class Stream:
    """A session's output as a stream: expect() consumes it up to the end of a match and keeps the rest."""

    def __init__(self, ws: websocket.WebSocket) -> None:
        self.ws = ws
        self.seen = b""  # everything the VM printed so far
        self._rest = b""

    def expect(self, pattern: bytes) -> re.Match[bytes]:
        regex = re.compile(pattern, re.S)
        while not (match := regex.search(self._rest)):
            data = read_until(self.ws, b"")  # one frame
            self.seen += data
            self._rest += data
        self._rest = self._rest[match.end():]
        return match

    def send(self, text: str) -> None:
        self.ws.send(text)


def close_of(ws: websocket.WebSocket) -> tuple[int, str, bytes]:
    """(code, reason, output before it) of the server's close frame."""
    output = b""
    for opcode, data in frames(ws):
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            code = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else 1005
            return code, data[2:].decode(), output
        if opcode in (websocket.ABNF.OPCODE_BINARY, websocket.ABNF.OPCODE_TEXT):
            output += data
    raise AssertionError("unreachable")  # pragma: no cover


@pytest.fixture
def emu() -> Iterator[Callable[..., Emu]]:
    """emu(**world changes) starts an emulator for the test and stops it afterwards."""
    started: list[Emulator] = []

    def start(**changes: Any) -> Emu:
        emulator = Emulator(World(world(**changes))).start()
        started.append(emulator)
        return Emu(emulator)

    yield start
    for emulator in started:
        emulator.stop()

