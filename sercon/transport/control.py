"""A running `sercon connect` as a transport for other sercon commands, over a private Unix socket.

A second session to the same console would take it over (Azure) or find it locked (devices), so
`sercon sysrq`, `nmi`, `reset` and `send` go through the session that is already open. The socket
lives in a per-user folder (mode 0700) and answers only its own user (SO_PEERCRED).

Protocol: one JSON object per line. Client -> session: {"op": "write", "data": b64} or
{"op": "sysrq"|"nmi"|"reset"|"break", "key": "h"}, {"op": "hello"} (who holds the console: pid and
tty come back in the reply) and {"op": "release"} (a `connect --force` of the same user: the session
ends with exit 8). Session -> client: {"rx": b64} for console output, and {"reply": op, "ok": true,
...} or {"reply": op, "ok": false, "error": "...", "status": N, "hint": "..."} (the exit status and fix
of the session's refusal, so the client exits as it would without the session): every line a client
sends gets exactly one reply, writes included ({"reply": "write", "ok": true} once the session has
taken the bytes; "ok": false when it could not send them, its console being away: the client then
exits 7).
A line that is not a JSON object, names an unknown op, or has a "key" that is not a string or null
or "data" that is not base64 text, is answered {"reply": op-or-null, "ok": false, "error": "..."}.
The hello reply carries "protocol": 2 from sessions that answer writes. A client that falls more
than 1 MiB behind the console's output is sent {"error": "dropped: too slow"} and disconnected.

Protocol 3 (issue 19) adds two ops; older sessions answer them as unknown ops, and older clients never
send them. {"op": "watch"}: the reply (with pid, tty and "keyboard", who has it or null) is followed by
the session's recent output (up to 64 KiB) as one {"rx": b64, "replay": true} line, then live output
as for every client. {"op": "take", "key": WHO}: the client takes the keyboard from the session's user
(whose keys then stop reaching the console) until it disconnects; refused (exit 9) while another client
holds it. Every client is sent {"keyboard": WHO-or-null} when the keyboard changes hands.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import os
import select
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from sercon import paths
from sercon.errors import ConnectionLost, DeviceBusy, ExitStatus, SerconError
from sercon.transport.base import BREAK, NMI, RESET, SYSRQ, Transport

if TYPE_CHECKING:
    import socket
# json, base64, socket and struct are imported where they are used: `sercon connect` looks for a
# running session before it opens the console, and most often finds no socket file at all.

REPLY_TIMEOUT = 60.0
PROBE_TIMEOUT = 5.0  # a session that accepts but does not answer hello in this time is stuck
DRAIN_SLICE = 0.2  # drain() looks again this often whether the reading has passed to it
PROTOCOL = 3  # 2: sessions answer every write (so drain() can wait for them); 3: watch and take
WRITES_ANSWERED = 2
ENDED = "the running sercon connect session ended"


def runtime_dir(environ: dict[str, str] | None = None) -> Path:
    """The private socket folder (sercon/paths.py), for this run's environment."""
    return paths.runtime_dir(os.environ if environ is None else environ)


def socket_path(key: str, environ: dict[str, str] | None = None) -> Path:
    """One socket per console: keyed by the device's real path or the VM's resource id."""
    import zlib  # not hashlib: it loads OpenSSL (~25 ms and 3.5 MB before the first byte); no secret here

    data = key.lower().encode()
    return runtime_dir(environ) / f"{zlib.crc32(data):08x}{zlib.adler32(data[::-1]):08x}.sock"


def encode(message: dict) -> bytes:
    import json

    return json.dumps(message).encode() + b"\n"


def peer_uid(conn: socket.socket) -> int:
    import socket
    import struct

    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", creds)[1]


def find_session(key: str, environ: dict[str, str] | None = None) -> ControlTransport | None:
    """The running session for *key*, if there is one; a stale socket file is removed, and a socket
    that accepts then hangs up (a session on its way out) is no session."""
    path = socket_path(key, environ)
    if not path.exists():
        return None
    import socket

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(str(path))
    except OSError as exc:
        sock.close()
        if exc.errno in (errno.ECONNREFUSED, errno.ENOENT):
            with contextlib.suppress(OSError):
                path.unlink()
            return None
        raise ConnectionLost(f"cannot reach the running sercon connect session: {exc.strerror}") from exc
    transport = ControlTransport(sock, key)
    try:
        transport.probe()
    except _Ended:
        transport.close()
        return None
    except ConnectionLost:
        transport.close()
        raise
    return transport


class _Ended(ConnectionLost):
    """The socket closed or failed (as opposed to: no answer in time)."""


class ControlTransport(Transport):
    controls = frozenset({BREAK, SYSRQ, NMI, RESET})  # the session answers for what its console can do

    def __init__(self, sock: socket.socket, key: str) -> None:
        self.sock = sock
        self.label = f"{key} (through the running sercon connect)"
        self._buffer = b""
        self._rx: collections.deque[bytes] = collections.deque()
        self._info: dict | None = None  # the hello reply, once probed
        self._unacked = 0  # writes the session has not answered yet (protocol 2)
        self._acked = threading.Condition()  # notified when a write is answered
        self._receiving = threading.Lock()  # `send` reads in one thread and drains in another
        self._failed: ConnectionLost | None = None  # raised once the output before it is read
        self.notices: collections.deque[str] = collections.deque()  # who has the keyboard, as it changes

    def open(self) -> None:
        """Already connected."""

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

    def probe(self, timeout: float = PROBE_TIMEOUT) -> None:
        """Say hello: raises ConnectionLost unless a session answers (an error reply is an answer)."""
        try:
            self._info = self._action("hello", timeout=timeout)
        except ConnectionLost:
            raise
        except SerconError:
            self._info = {}  # a session too old to say who it is: alive all the same

    def _messages(self, timeout: float | None) -> list[dict]:
        with self._receiving:
            return self._receive(timeout)

    def _receive(self, timeout: float | None) -> list[dict]:
        if self._failed is not None:
            raise self._failed
        try:
            ready, _, _ = select.select([self.sock], [], [], timeout)
            data = self.sock.recv(65536) if ready else None
        except (OSError, ValueError) as exc:  # ValueError: our own socket is closed
            raise _Ended(ENDED) from exc
        if data is None:
            return []
        if not data:
            raise _Ended(ENDED)
        self._buffer += data
        *lines, self._buffer = self._buffer.split(b"\n")
        messages = []
        for line in filter(None, lines):
            try:
                messages.append(self._take(line))
            except ConnectionLost as exc:
                self._failed = exc
                if not self._rx:
                    raise
                break  # the output that came before it is read first
        return messages

    def _take(self, line: bytes) -> dict:
        """One line from the session; console output is kept, write answers are counted."""
        import base64
        import json

        try:
            message = json.loads(line)
            if not isinstance(message, dict):
                raise ValueError("not a JSON object")
            if "rx" in message:
                self._rx.append(base64.b64decode(message["rx"], validate=True))
            if "keyboard" in message and "reply" not in message:
                self.notices.append(keyboard_line(message["keyboard"]))
        except (ValueError, TypeError, RecursionError) as exc:  # binascii.Error is a ValueError
            raise ConnectionLost(f"the running sercon connect session sent a line sercon cannot read: "
                                 f"{line[:60]!r}", "are both sercon the same version?") from exc
        if "error" in message and "reply" not in message:
            raise ConnectionLost(f"the running sercon connect session cut this command off ({message['error']})",
                                 "it fell more than 1 MiB behind the console's output: read it faster")
        if message.get("reply") == "write":
            with self._acked:
                self._unacked = max(0, self._unacked - 1)
                self._acked.notify_all()
            if not message.get("ok"):  # the session's console is away (a well-formed write is otherwise taken)
                raise ConnectionLost(f"the running sercon connect session could not send the input: "
                                     f"{message.get('error')}")
        return message

    def read(self, timeout: float | None) -> bytes:
        if not self._rx:
            self._messages(timeout)  # raises only once all the output before the failure is read
        return self._rx.popleft() if self._rx else b""

    def _send(self, message: dict) -> None:
        try:
            self.sock.sendall(encode(message))
        except (OSError, ValueError) as exc:
            raise _Ended(ENDED) from exc

    def write(self, data: bytes) -> None:
        with self._acked:
            self._unacked += 1
        import base64

        self._send({"op": "write", "data": base64.b64encode(data).decode()})

    def drain(self) -> None:
        """Wait until the session has taken every write (so a session that ends cannot lose them)."""
        if (self._info or {}).get("protocol", 0) < WRITES_ANSWERED:
            return  # an older session does not answer writes
        deadline = time.monotonic() + REPLY_TIMEOUT
        while (left := deadline - time.monotonic()) > 0:
            with self._acked:
                if not self._unacked:
                    return
            if self._receiving.acquire(blocking=False):  # nobody else is reading: read here
                try:
                    self._receive(min(left, DRAIN_SLICE))
                finally:
                    self._receiving.release()
            else:  # the reading thread sees the answers: wait to be told
                with self._acked:
                    self._acked.wait_for(lambda: not self._unacked, min(left, DRAIN_SLICE))
        raise ConnectionLost("the running session did not take the input in time")

    def _action(self, op: str, key: str | None = None, timeout: float = REPLY_TIMEOUT) -> dict:
        self._send({"op": op, "key": key})
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            for message in self._messages(left):
                if message.get("reply") == op:
                    if not message.get("ok"):
                        raise refusal(op, message)
                    return message
        raise ConnectionLost(f"the running session did not answer {op}")

    def describe(self) -> str:
        """Who holds the console, as "pid N, tty T" (a session too old to say: "pid unknown")."""
        if self._info is None:
            with contextlib.suppress(SerconError):
                self.probe()
        if not self._info:
            return "pid unknown"
        return f"pid {self._info.get('pid', '?')}, tty {self._info.get('tty') or 'none'}"

    def watch(self) -> dict:
        """Join read-only: the reply (who holds the console and the keyboard); the recent output comes
        next, read like live output. A session before protocol 3 sends live output only."""
        try:
            return self._action("watch")
        except ConnectionLost:
            raise
        except SerconError:
            return dict(self._info or {})

    def take(self, who: str) -> dict:
        """Take the keyboard from the session's user (see the protocol above); refused while someone
        else has it (exit 9), or by a session too old to hand it over."""
        if (self._info or {}).get("protocol", 0) < PROTOCOL:
            raise SessionRunning(f"the running sercon session ({self.describe()}) is too old to hand the keyboard "
                                 "over", "quit it, or use --force to end it and connect here")
        return self._action("take", who)

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


RUNNING_HINT = ("watch it: sercon watch TARGET; or --force ends it and connects here (at a terminal, sercon asks "
                "whether to watch or take the keyboard)")


class SessionRunning(DeviceBusy):
    """A second interactive session on a console that has one: the user chooses (watch, take the
    keyboard, or --force); *key* finds the running session again."""

    def __init__(self, message: str, hint: str | None = None, key: str = "") -> None:
        super().__init__(message, hint)
        self.key = key


def keyboard_line(who: object) -> str:
    """The line both screens show when the keyboard changes hands."""
    if isinstance(who, str) and who:
        return f"the keyboard is now with {who}"
    return "the keyboard is back with the session that holds the console"


def refusal(op: str, message: dict) -> SerconError:
    """The session's refusal of *op* with the exit status and fix it gave (a session before they were sent:
    exit 1)."""
    hint = message.get("hint")
    error = SerconError(str(message.get("error") or f"{op} failed"), hint if isinstance(hint, str) else None)
    status = message.get("status")
    if type(status) is int and status in ExitStatus._value2member_map_ and status != ExitStatus.SUCCESS:
        error.exit_status = ExitStatus(status)
    return error
