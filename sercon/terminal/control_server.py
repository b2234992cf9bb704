"""The session's side of the control socket (see sercon/transport/control.py for the protocol).

Nothing a client does can stall the session: each client has its own reader thread (its requests)
and writer thread (a bounded queue of lines), so ``broadcast`` only appends to queues, a client
that falls more than ``MAX_PENDING`` bytes behind is dropped, and ``stop`` waits for nobody.
"""

from __future__ import annotations

import base64
import binascii
import collections
import contextlib
import json
import os
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sercon.errors import DeviceBusy, SerconError
from sercon.transport.control import PROTOCOL, encode, peer_uid

MAX_PENDING = 1 << 20  # bytes queued for one client before it is dropped as too slow
MAX_LINE = 1 << 20  # a request longer than this is refused (and skipped up to its newline)
DROP_GRACE = 5.0  # how long a dropped client has to take its last lines (the reason) before the cut
STOP_GRACE = 0.5  # how long stop() lets clients take what is queued for them
POLL = 0.1  # how often a writer blocked on a full socket looks whether it should give up
RING = 64 << 10  # the recent output a watcher is sent on joining
ACTIONS = frozenset({"sysrq", "nmi", "reset", "break", "release"})
OPS = ACTIONS | {"write", "hello", "watch", "take"}
TOO_SLOW = encode({"error": "dropped: too slow"})


@dataclass(frozen=True)
class Request:
    """A well-typed request: the session's callbacks see nothing else."""

    op: str
    key: str | None = None
    data: bytes = b""


class BadRequest(Exception):
    def __init__(self, op: str | None, error: str) -> None:
        super().__init__(error)
        self.op, self.error = op, error


def parse_request(line: bytes) -> Request:
    """One line from a client as a Request, or BadRequest saying what is wrong with it."""
    try:
        message = json.loads(line)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise BadRequest(None, "not JSON") from None
    if not isinstance(message, dict):
        raise BadRequest(None, "not a JSON object")
    op = message.get("op")
    if not isinstance(op, str):
        raise BadRequest(None, '"op" must be a string')
    if op not in OPS:
        raise BadRequest(op, f"unknown op {op[:40]!r} (ops: {', '.join(sorted(OPS))})")
    key = message.get("key")
    if key is not None and not isinstance(key, str):
        raise BadRequest(op, '"key" must be a string or null')
    if op != "write":
        return Request(op, key)
    data = message.get("data")
    if not isinstance(data, str):
        raise BadRequest(op, '"data" must be base64 text')
    try:
        return Request(op, key, base64.b64decode(data.encode("ascii"), validate=True))
    except (UnicodeEncodeError, binascii.Error):
        raise BadRequest(op, '"data" is not valid base64') from None


def _reply(op: str | None, ok: bool, error: str | None = None, **extra: object) -> bytes:
    return encode({"reply": op, "ok": ok, **({"error": error} if error is not None else {}), **extra})


class _Client:
    """One connection. Its writer thread drains a bounded queue; the reader thread owns the socket."""

    def __init__(self, conn: socket.socket) -> None:
        self.conn = conn
        self._queue: collections.deque[bytes] = collections.deque()
        self._pending = 0
        self._cond = threading.Condition()
        self._deadline: float | None = None  # set: closing, no more lines; give up on the socket then
        self._closed = False
        self.writer = threading.Thread(target=self._write_loop, name="sercon-control-tx", daemon=True)

    def send(self, line: bytes) -> None:
        """Queue *line* without ever waiting; past MAX_PENDING the client is dropped, told why."""
        with self._cond:
            if self._deadline is not None:
                return
            if self._pending + len(line) > MAX_PENDING:
                self._queue.clear()
                self._queue.append(TOO_SLOW)
                self._pending = len(TOO_SLOW)
                self._close_after(DROP_GRACE)
                return
            self._queue.append(line)
            self._pending += len(line)
            self._cond.notify()

    def close(self, grace: float) -> None:
        """Take no more lines; the queued ones go out within *grace* seconds, or never."""
        with self._cond:
            self._close_after(grace)

    def _close_after(self, grace: float) -> None:
        deadline = time.monotonic() + grace
        self._deadline = deadline if self._deadline is None else min(self._deadline, deadline)
        self._cond.notify()

    def _next(self) -> bytes | None:
        with self._cond:
            while not self._queue and self._deadline is None:
                self._cond.wait()
            if not self._queue:
                return None
            line = self._queue.popleft()
            self._pending = max(0, self._pending - len(line))
            return line

    def _write_loop(self) -> None:
        poller = select.poll()
        poller.register(self.conn, select.POLLOUT)
        try:
            while (line := self._next()) is not None:
                view = memoryview(line)
                while view:
                    if self._deadline is not None and time.monotonic() > self._deadline:
                        return
                    if poller.poll(POLL * 1000):
                        with contextlib.suppress(BlockingIOError):
                            view = view[self.conn.send(view, socket.MSG_DONTWAIT):]
        except OSError:
            pass  # the client went away: its reader sees the end too
        finally:
            self.cut()

    def cut(self) -> None:
        """Shut the connection down both ways: wakes its reader, which then closes the socket."""
        with self._cond:
            if not self._closed:
                with contextlib.suppress(OSError):
                    self.conn.shutdown(socket.SHUT_RDWR)

    def release(self) -> None:
        """Close the socket once the writer is done with it (the reader's last step, after close())."""
        self.writer.join()  # the close() deadline bounds it
        with self._cond:
            self._closed = True
            self.conn.close()


class ControlServer:
    """Accepts local clients; each sees the console's output and may write to it or run an action.

    *write* queues bytes behind the user's typing; *act* runs a control action in order with the
    session's writes and returns its status line (or raises).
    """

    def __init__(self, path: Path, write: Callable[[bytes], None], act: Callable[[str, str | None], str],
                 info: dict[str, object] | None = None,
                 keyboard: Callable[[str | None], None] | None = None) -> None:
        self.path, self.write, self.act = path, write, act
        self.info = info or {}  # what "hello" answers: the session's pid and tty
        self.keyboard = keyboard  # told who took the keyboard (None: it is back with the session's user)
        self._holder: tuple[_Client, str] | None = None  # the client that took the keyboard, and who it is
        self._ring: collections.deque[bytes] = collections.deque()  # the last RING bytes of output
        self._ring_size = 0
        self._clients: list[_Client] = []
        self._lock = threading.Lock()
        self._server: socket.socket | None = None

    def start(self) -> None:
        """Bound and listening under a name of its own, then renamed into place: a client never finds
        the socket file before it listens (it would take it for a stale one and remove it)."""
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        building = self.path.with_name(f"{self.path.stem}.{os.getpid():x}")  # about as short: 107 bytes at most
        with contextlib.suppress(FileNotFoundError):
            building.unlink()
        old = os.umask(0o177)
        try:
            server.bind(str(building))
        except OSError:
            server.close()
            raise
        finally:
            os.umask(old)
        server.listen(4)
        os.replace(building, self.path)
        self._server = server
        threading.Thread(target=self._accept, args=(server,), name="sercon-control", daemon=True).start()

    def _accept(self, server: socket.socket) -> None:
        while self._server is not None:
            try:
                conn, _ = server.accept()
            except OSError:
                if self._server is None:
                    return
                time.sleep(POLL)  # out of file descriptors, say: try again, without spinning
                continue
            try:
                mine = peer_uid(conn) == os.getuid()
            except OSError:
                mine = False
            if not mine:
                conn.close()
                continue
            client = _Client(conn)
            with self._lock:
                if self._server is None:
                    conn.close()
                    return
                client.writer.start()  # before it is counted: stop() joins the writer of every client it counts
                self._clients.append(client)
            threading.Thread(target=self._serve, args=(client,), name="sercon-control-rx", daemon=True).start()

    def _serve(self, client: _Client) -> None:
        try:
            for line in _lines(client.conn):
                self._answer_to(client, line)
        except OSError:
            pass  # the client went away
        finally:
            with self._lock:
                if client in self._clients:
                    self._clients.remove(client)
                held = self._holder is not None and self._holder[0] is client
            if held:
                self._hand_keyboard(None)
            client.close(DROP_GRACE)  # a client that half-closed still gets its replies
            client.release()

    def _answer_to(self, client: _Client, line: bytes | None) -> None:
        """The reply to one line; for "watch", the recent output follows it with nothing lost or
        repeated in between (broadcast holds the same lock)."""
        with contextlib.suppress(BadRequest):
            request = parse_request(line) if line is not None else None
            if request is not None and request.op == "watch":
                with self._lock:
                    client.send(encode({"reply": "watch", "ok": True, "protocol": PROTOCOL, **self.info,
                                        "keyboard": self._holder[1] if self._holder else None}))
                    if self._ring:
                        client.send(encode({"rx": base64.b64encode(b"".join(self._ring)).decode(), "replay": True}))
                return
            if request is not None and request.op == "take":
                client.send(self._take(client, request.key))
                return
        client.send(self._answer(line))

    def _take(self, client: _Client, who: str | None) -> bytes:
        """Hand the keyboard to *client*: one writer per console, so not while another client has it."""
        who = (who or "another sercon")[:200]
        with self._lock:
            if self._holder is not None and self._holder[0] is not client:
                error = DeviceBusy(f"the keyboard is already with {self._holder[1]}",
                                   "wait until that sercon quits, or watch: sercon watch TARGET")
                return _reply("take", False, error.message, status=int(error.exit_status), hint=error.hint)
            if self.keyboard is None:
                return _reply("take", False, "this session cannot hand its keyboard over")
            self._holder = (client, who)
        self._hand_keyboard(who)
        return encode({"reply": "take", "ok": True, **self.info})

    def _hand_keyboard(self, who: str | None) -> None:
        """The session's user and every client learn who has the keyboard now."""
        with self._lock:
            if who is None:
                self._holder = None
            clients = list(self._clients)
        if self.keyboard is not None:
            self.keyboard(who)
        line = encode({"keyboard": who})
        for client in clients:
            client.send(line)

    def _answer(self, line: bytes | None) -> bytes:
        """The one reply to one line (None: a line too long to read)."""
        if line is None:
            return _reply(None, False, f"line longer than {MAX_LINE} bytes")
        try:
            request = parse_request(line)
        except BadRequest as exc:
            return _reply(exc.op, False, exc.error)
        try:
            if request.op == "write":
                self.write(request.data)
            elif request.op == "hello":
                return encode({"reply": request.op, "ok": True, "protocol": PROTOCOL, **self.info})
            else:
                self.act(request.op, request.key)
        except SerconError as exc:  # its exit status and fix travel too: the client exits as the session would
            return _reply(request.op, False, exc.message, status=int(exc.exit_status),
                          **({"hint": exc.hint} if exc.hint else {}))
        except Exception as exc:  # a bug in the session must not leave the client waiting
            return _reply(request.op, False, f"{request.op} failed: {type(exc).__name__}: {exc}")
        return _reply(request.op, True)

    def broadcast(self, data: bytes) -> None:
        """Console output, to every client; never waits (a client that cannot keep up is dropped)."""
        with self._lock:  # the ring and the clients' queues change together (see _answer_to)
            self._ring.append(data)
            self._ring_size += len(data)
            while self._ring_size - len(self._ring[0]) >= RING:
                self._ring_size -= len(self._ring.popleft())
            if not self._clients:
                return
            line = encode({"rx": base64.b64encode(data).decode()})
            for client in self._clients:
                client.send(line)

    def stop(self) -> None:
        """Stop accepting, give clients STOP_GRACE to take what is queued, then cut them off."""
        with self._lock:
            server, self._server = self._server, None
            clients = list(self._clients)
        if server is not None:
            with contextlib.suppress(OSError):
                server.shutdown(socket.SHUT_RDWR)  # wakes accept()
            server.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        for client in clients:
            client.close(STOP_GRACE)
        deadline = time.monotonic() + STOP_GRACE + 2 * POLL
        for client in clients:
            client.writer.join(max(0.0, deadline - time.monotonic()))
            client.cut()


def _lines(conn: socket.socket):
    """The lines a client sends, without their newline; None for a line over MAX_LINE (skipped)."""
    buffer, skipping = b"", False
    while data := conn.recv(65536):
        buffer += data
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            if skipping:
                skipping = False
                continue
            yield line
        if len(buffer) > MAX_LINE and not skipping:
            skipping, buffer = True, b""
            yield None
        elif skipping:
            buffer = b""
