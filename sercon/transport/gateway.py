"""The Azure serial console gateway's WebSocket as a Transport (docs/azure-protocol.md sections 4-5).

Knows nothing of ARM: an endpoint factory (from sercon.azure.gateway) gives a fresh connection
string and token for every (re)connect. The token goes in the first text frame, never in a URL.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import ssl
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from sercon.errors import ConnectionLost, NotSupported, SerconError, TakenOver, redact
from sercon.transport.base import NMI, RESET, SYSRQ, Transport

FRAME_LIMIT = 2048
FIRST_MESSAGE_TIMEOUT = 30.0
KEEPALIVE = 20.0
TAKEOVER = re.compile(r"another (user|connection|session)|taken over|took over", re.I)


@dataclass(frozen=True)
class GatewayEndpoint:
    url: str
    token: str

    def __repr__(self) -> str:
        return f"GatewayEndpoint({redact(self.url)!r}, <token>)"


def admin_url(connection_string: str, command: str) -> str:
    """wss://host/.../sessions/S/client -> https://host/.../sessions/S/adminCommand/COMMAND."""
    parts = urlsplit(connection_string)
    scheme = {"wss": "https", "ws": "http"}.get(parts.scheme, parts.scheme)
    path = parts.path.rsplit("/client", 1)[0] + f"/adminCommand/{command}"
    return urlunsplit((scheme, parts.netloc, path, "", ""))


def tls_context() -> ssl.SSLContext:
    """The same trust as ARM: REQUESTS_CA_BUNDLE / SSL_CERT_FILE when set, else the system store."""
    context = ssl.create_default_context()
    for variable in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        if os.environ.get(variable) and os.path.isfile(os.environ[variable]):
            context.load_verify_locations(os.environ[variable])
    return context


class GatewayTransport(Transport):
    max_write = FRAME_LIMIT
    reconnect_backoff = 10.0

    def __init__(self, endpoint: Callable[[], GatewayEndpoint], label: str, key: str, windows: bool = False) -> None:
        self.endpoint_factory = endpoint
        self.label, self.key = label, key
        self.windows = windows
        self.controls = frozenset({NMI, RESET} if windows else {SYSRQ, NMI, RESET})
        self.endpoint: GatewayEndpoint | None = None
        self._ws = None
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        self._last_traffic = time.monotonic()

    def open(self) -> None:
        import websocket

        self.endpoint = self.endpoint_factory()
        try:
            ws = websocket.create_connection(self.endpoint.url, timeout=FIRST_MESSAGE_TIMEOUT,
                                             sslopt={"context": tls_context()}, skip_utf8_validation=True,
                                             enable_multithread=True)
        except (OSError, websocket.WebSocketException) as exc:
            raise ConnectionLost(redact(f"cannot open the console gateway: {exc}"),
                                 "check that wss:// to the gateway is allowed through your proxy or firewall") from exc
        try:
            opcode, frame = ws.recv_data_frame(True)  # the gateway speaks first; it is not console output
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                raise self._closed(frame.data, before_first=True)
            ws.send(self.endpoint.token)  # the new auth flow: the raw token, as a text frame
        except (OSError, websocket.WebSocketException) as exc:
            with contextlib.suppress(Exception):
                ws.close()
            raise ConnectionLost("the gateway closed before the console answered",
                                 f"run `sercon doctor {self.label}`") from exc
        ws.settimeout(None)
        self._ws = ws
        self._last_traffic = time.monotonic()

    def reopen(self) -> None:
        self.close()
        self.open()

    def close(self) -> None:
        ws, self._ws = self._ws, None
        if ws is not None:
            with contextlib.suppress(Exception):
                ws.close()

    def read(self, timeout: float | None) -> bytes:
        import websocket

        ws = self._ws
        if ws is None:
            raise ConnectionLost(f"{self.label}: not connected")
        pending = ws.sock is not None and isinstance(ws.sock, ssl.SSLSocket) and ws.sock.pending()
        if not pending:
            wait = KEEPALIVE if timeout is None else min(timeout, KEEPALIVE)
            ready, _, _ = select.select([ws.sock, self._wake_r], [], [], wait)
            if self._wake_r in ready:
                with contextlib.suppress(BlockingIOError):
                    os.read(self._wake_r, 64)
            if ws.sock not in ready:
                self._keepalive(ws)
                return b""
        try:
            opcode, frame = ws.recv_data_frame(True)
        except (OSError, websocket.WebSocketException) as exc:
            raise ConnectionLost(f"lost the console of {self.label}: {exc.__class__.__name__}") from exc
        self._last_traffic = time.monotonic()
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            raise self._closed(frame.data)
        if opcode == websocket.ABNF.OPCODE_TEXT:
            return frame.data if isinstance(frame.data, bytes) else frame.data.encode()
        if opcode == websocket.ABNF.OPCODE_BINARY:
            return bytes(frame.data)
        return b""  # ping/pong

    def _keepalive(self, ws) -> None:
        if time.monotonic() - self._last_traffic >= KEEPALIVE:
            with contextlib.suppress(Exception):
                ws.ping()
            self._last_traffic = time.monotonic()

    def _closed(self, payload: bytes, before_first: bool = False) -> SerconError:
        code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else None
        reason = payload[2:].decode("utf-8", "replace")
        if TAKEOVER.search(reason):
            return TakenOver(f"another user took over the console of {self.label} ({reason})",
                             "sercon connect --force takes it back")
        if before_first or code == 1011:
            return ConnectionLost(f"the gateway closed the session ({code} {reason})".strip(),
                                  f"check the prerequisites: `sercon doctor {self.label}`")
        return ConnectionLost(f"the gateway closed the console of {self.label} ({code} {reason})")

    def write(self, data: bytes) -> None:
        import websocket

        ws = self._ws
        if ws is None:
            raise ConnectionLost(f"{self.label}: not connected")
        try:
            for start in range(0, len(data), FRAME_LIMIT):
                ws.send_bytes(data[start : start + FRAME_LIMIT])
        except (OSError, websocket.WebSocketException) as exc:
            raise ConnectionLost(f"lost the console of {self.label}: {exc.__class__.__name__}") from exc
        self._last_traffic = time.monotonic()

    def cancel_read(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._wake_w, b"x")

    # -- control actions: the gateway's admin commands -----------------------------------------------
    def sysrq(self, key: str) -> None:
        if self.windows:
            raise NotSupported("You can only send a SysRq to a Linux VM: this is a Windows guest (use SAC)")
        self._admin("sysrq", {"SysRqCommand": key})

    def nmi(self) -> None:
        self._admin("nmi", {})

    def reset(self) -> None:
        self._admin("reset", {})

    def _admin(self, command: str, parameters: dict[str, str]) -> None:
        import requests

        if self.endpoint is None or self._ws is None:
            raise ConnectionLost(f"{self.label}: not connected")
        body = {"command": command, "requestId": str(uuid.uuid4()), "commandParameters": parameters}
        headers = {"Authorization": f"Bearer {self.endpoint.token}", "Accept": "application/json",
                   "Accept-Language": "en", "Content-Type": "application/json"}
        try:
            response = requests.post(admin_url(self.endpoint.url, command), data=json.dumps(body), headers=headers,
                                     timeout=30)
        except requests.RequestException as exc:
            raise ConnectionLost(f"{command} failed: {exc.__class__.__name__}") from exc
        if response.status_code != 200:
            raise SerconError(redact(f"the gateway refused {command}: HTTP {response.status_code} "
                                     f"{response.text[:200]}"))
