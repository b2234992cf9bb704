"""A running `sercon connect` as a transport for other sercon commands, over a private Unix socket.

A second session to the same console would take it over (Azure) or find it locked (devices), so
`sercon sysrq`, `nmi`, `reset` and `send` go through the session that is already open. The socket
lives in a per-user folder (mode 0700) and answers only its own user (SO_PEERCRED).

Protocol: one JSON object per line. Client -> session: {"op": "write", "data": b64} or
{"op": "sysrq"|"nmi"|"reset"|"break", "key": "h"}, {"op": "hello"} (who holds the console: pid and
tty come back in the reply) and {"op": "release"} (a `connect --force` of the same user: the session
ends with exit 8). Session -> client: {"rx": b64} for console output, and {"reply": op, "ok": true,
...} or {"reply": op, "ok": false, "error": "..."} for actions.
"""

from __future__ import annotations

import base64
import collections
import contextlib
import errno
import hashlib
import json
import os
import select
import socket
import struct
import tempfile
from pathlib import Path

from sercon.errors import ConnectionLost, SerconError
from sercon.transport.base import BREAK, NMI, RESET, SYSRQ, Transport

REPLY_TIMEOUT = 60.0


def runtime_dir(environ: dict[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    base = environ.get("XDG_RUNTIME_DIR") or os.path.join(tempfile.gettempdir(), f"sercon-{os.getuid()}")
    folder = Path(base) / "sercon" if environ.get("XDG_RUNTIME_DIR") else Path(base)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    if folder.stat().st_uid != os.getuid():
        raise SerconError(f"{folder} belongs to another user", "set XDG_RUNTIME_DIR to a folder of your own")
    os.chmod(folder, 0o700)
    return folder


def socket_path(key: str, environ: dict[str, str] | None = None) -> Path:
    """One socket per console: keyed by the device's real path or the VM's resource id."""
    return runtime_dir(environ) / (hashlib.sha256(key.lower().encode()).hexdigest()[:20] + ".sock")


def encode(message: dict) -> bytes:
    return json.dumps(message).encode() + b"\n"


def peer_uid(conn: socket.socket) -> int:
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", creds)[1]


def find_session(key: str, environ: dict[str, str] | None = None) -> ControlTransport | None:
    """The running session for *key*, if there is one; a stale socket file is removed."""
    path = socket_path(key, environ)
    if not path.exists():
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(str(path))
    except OSError as exc:
        sock.close()
        if exc.errno in (errno.ECONNREFUSED, errno.ENOENT):
            with contextlib.suppress(OSError):
                path.unlink()
            return None
        raise
    return ControlTransport(sock, key)


class ControlTransport(Transport):
    controls = frozenset({BREAK, SYSRQ, NMI, RESET})  # the session answers for what its console can do

    def __init__(self, sock: socket.socket, key: str) -> None:
        self.sock = sock
        self.label = f"{key} (through the running sercon connect)"
        self._buffer = b""
        self._rx: collections.deque[bytes] = collections.deque()

    def open(self) -> None:
        """Already connected."""

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

    def _messages(self, timeout: float | None) -> list[dict]:
        ready, _, _ = select.select([self.sock], [], [], timeout)
        if not ready:
            return []
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionLost("the running sercon connect session ended")
        self._buffer += data
        *lines, self._buffer = self._buffer.split(b"\n")
        return [json.loads(line) for line in lines if line]

    def read(self, timeout: float | None) -> bytes:
        if not self._rx:
            for message in self._messages(timeout):
                if "rx" in message:
                    self._rx.append(base64.b64decode(message["rx"]))
        return self._rx.popleft() if self._rx else b""

    def write(self, data: bytes) -> None:
        self.sock.sendall(encode({"op": "write", "data": base64.b64encode(data).decode()}))

    def _action(self, op: str, key: str | None = None) -> dict:
        try:
            self.sock.sendall(encode({"op": op, "key": key}))
        except OSError as exc:
            raise ConnectionLost("the running sercon connect session ended") from exc
        while True:
            messages = self._messages(REPLY_TIMEOUT)
            if not messages:
                raise ConnectionLost(f"the running session did not answer {op}")
            for message in messages:
                if "rx" in message:
                    self._rx.append(base64.b64decode(message["rx"]))
                elif message.get("reply") == op:
                    if not message.get("ok"):
                        raise SerconError(message.get("error", f"{op} failed"))
                    return message

    def describe(self) -> str:
        """Who holds the console, as "pid N, tty T" (a session too old to say: "pid unknown")."""
        try:
            info = self._action("hello")
        except SerconError:
            return "pid unknown"
        return f"pid {info.get('pid', '?')}, tty {info.get('tty') or 'none'}"

    def release(self) -> None:
        """Ask the session to end (it exits 8); it may close the socket before it can answer."""
        with contextlib.suppress(ConnectionLost):
            self._action("release")

    def send_break(self, duration: float = 0.25) -> None:
        self._action("break")

    def sysrq(self, key: str) -> None:
        self._action("sysrq", key)

    def nmi(self) -> None:
        self._action("nmi")

    def reset(self) -> None:
        self._action("reset")
