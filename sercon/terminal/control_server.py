"""The session's side of the control socket (see sercon/transport/control.py for the protocol)."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path

from sercon.errors import SerconError
from sercon.transport.control import encode, peer_uid


class ControlServer:
    """Accepts local clients; each sees the console's output and may write to it or run an action.

    *write* queues bytes behind the user's typing; *act* runs a control action in order with the
    session's writes and returns its status line (or raises).
    """

    def __init__(self, path: Path, write: Callable[[bytes], None], act: Callable[[str, str | None], str],
                 info: dict[str, object] | None = None) -> None:
        self.path, self.write, self.act = path, write, act
        self.info = info or {}  # what "hello" answers: the session's pid and tty
        self._clients: list[socket.socket] = []
        self._lock = threading.Lock()
        self._server: socket.socket | None = None

    def start(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            server.bind(str(self.path))
        finally:
            os.umask(old)
        server.listen(4)
        self._server = server
        threading.Thread(target=self._accept, name="sercon-control", daemon=True).start()

    def _accept(self) -> None:
        while self._server is not None:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            if peer_uid(conn) != os.getuid():
                conn.close()
                continue
            with self._lock:
                self._clients.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        buffer = b""
        try:
            while data := conn.recv(65536):
                buffer += data
                *lines, buffer = buffer.split(b"\n")
                for line in filter(None, lines):
                    self._handle(conn, json.loads(line))
        except (OSError, ValueError):
            pass
        finally:
            with self._lock:
                if conn in self._clients:
                    self._clients.remove(conn)
            conn.close()

    def _handle(self, conn: socket.socket, message: dict) -> None:
        op = message.get("op")
        if op == "write":
            self.write(base64.b64decode(message.get("data", "")))
            return
        if op == "hello":
            conn.sendall(encode({"reply": op, "ok": True, **self.info}))
            return
        try:
            self.act(str(op), message.get("key"))
        except SerconError as exc:
            conn.sendall(encode({"reply": op, "ok": False, "error": exc.message}))
            return
        conn.sendall(encode({"reply": op, "ok": True}))

    def broadcast(self, data: bytes) -> None:
        """Console output, to every client (a client that cannot keep up is dropped)."""
        if not self._clients:
            return
        line = encode({"rx": base64.b64encode(data).decode()})
        with self._lock:
            for conn in list(self._clients):
                try:
                    conn.sendall(line)
                except OSError:
                    self._clients.remove(conn)

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        with self._lock:
            for conn in self._clients:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
