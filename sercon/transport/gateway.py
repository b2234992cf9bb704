"""The Azure serial console gateway's WebSocket as a Transport (docs/azure-protocol.md sections 4-5).

Knows nothing of ARM: a *connect* callable (from sercon.azure.gateway) makes a fresh connect call
for every (re)connect, and a token source gives the current ARM token for the socket and for each
admin command. The token goes in the first text frame, never in a URL. Input goes out as TEXT
frames of whole UTF-8 characters, as every public client sends it.
"""

from __future__ import annotations

import contextlib
import re
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

import sercon
from sercon.errors import (
    AuthFailed,
    ConnectionLost,
    ExitStatus,
    InputNotText,
    SerconError,
    SessionClosed,
    redact,
)
from sercon.transport.base import NMI, RESET, SYSRQ, Transport
from sercon.transport.gateway_admin import AdminCommands
from sercon.transport.textframes import TextFramer
from sercon.trust import Trust
from sercon.wakeup import WakePipe

if TYPE_CHECKING:  # imported where used: a device session never loads them
    import requests
    import websocket

FRAME_LIMIT = 2048
FIRST_MESSAGE_TIMEOUT = 30.0
FRAME_STALL = 10.0  # a frame that began to arrive must go on arriving: silence this long mid-frame is a lost network
KEEPALIVE = 20.0  # a ping after this long without traffic; no answer within as long again: the network is gone
# Reasons that say another session has the console now. The real wording is unknown, so a close
# that does not match is still never followed by an automatic reconnect (see SessionClosed).
TAKEOVER = re.compile(r"another (user|connection|session|client)|taken over|took over|takeover", re.I)
# Microsoft's wording for a console someone else is connecting to: a refusal of this session, not a takeover
# of it (the public record shows the text, not when the gateway sends it).
BUSY = re.compile(r"currently in progress|in progress to this|is busy|already in use", re.I)
UNTRUSTED = re.compile(r"not trusted|unauthori[sz]ed|authenticat", re.I)
FAST_KEYS = 64  # the most bytes the key loop writes itself: a keystroke or a short burst of them


class TokenSource(Protocol):
    """The current ARM token (cached until near expiry), and a fresh one after a 401."""

    def get(self) -> str: ...

    def refresh(self) -> str: ...


class GatewayTransport(AdminCommands, Transport):
    max_write = FRAME_LIMIT
    reconnect_backoff = 30.0
    reconnect_first_delay = 2.0  # every reconnect is an ARM connect call: never more than one every ~2 s
    max_refusals = 5
    fast_keys = True  # try_write sends a keystroke on the key loop; False: every key through the writer thread

    def __init__(self, connect: Callable[[], str], tokens: TokenSource, label: str, key: str,
                 windows: bool = False, suspects: Sequence[str] = (), one_shot: bool = False,
                 trust: Trust | None = None) -> None:
        self.connect_call, self.tokens = connect, tokens
        self.label, self.key = label, key
        self.windows = windows
        self.suspects = list(suspects)  # what the prerequisite checks warned about, named when the gateway fails
        self.one_shot = one_shot  # a command without a running session: admin commands retry refused sessions
        self.controls = frozenset({NMI, RESET} if windows else {SYSRQ, NMI, RESET})
        self.url: str | None = None
        self.trust = trust or Trust()  # the same CAs as ARM, for WSS and the admin POSTs
        self._http: requests.Session | None = None  # a requests session for admin commands, made on first use
        self._ws: websocket.WebSocket | None = None
        self._framer = TextFramer(FRAME_LIMIT)
        self._write_lock = threading.Lock()  # one writer at a time: the framer's state and whole frames in order
        self._wake: WakePipe | None = None  # wakes a blocked read; made by open, closed by close
        self._last_traffic = time.monotonic()
        self._ping_sent: float | None = None
        self._answered = False  # console output seen on this session
        self._token_refreshed = False  # after an untrusted close: one retry with a fresh token
        self.answer_timeout: float | None = None  # a command's own deadline for the gateway to answer (send)

    # -- opening ----------------------------------------------------------------------------------
    def open(self) -> None:
        import websocket

        if self._wake is None:
            self._wake = WakePipe()
        self.url = self.connect_call()
        if sercon.TRACE is not None:
            sercon.TRACE.event("ws", "open", url=sercon.TRACE.bare_url(self.url))
        limit = min(FIRST_MESSAGE_TIMEOUT, self.answer_timeout or FIRST_MESSAGE_TIMEOUT)
        deadline = time.monotonic() + limit  # the upgrade and the gateway's first message, together
        try:
            ws = websocket.create_connection(self.url, timeout=limit,
                                             sslopt={"context": self.trust.context()}, skip_utf8_validation=True,
                                             enable_multithread=True)
        except (TimeoutError, websocket.WebSocketTimeoutException) as exc:
            _trace_failure("upgrade", exc)
            raise self._no_answer(limit) from exc
        except (OSError, websocket.WebSocketException) as exc:
            _trace_failure("upgrade", exc)
            raise ConnectionLost(redact(f"cannot open the console gateway: {exc}"),
                                 "check that wss:// to the gateway is allowed through your proxy or firewall") from exc
        try:
            ws.settimeout(max(0.001, deadline - time.monotonic()))
            if sercon.TRACE is not None:
                sercon.TRACE.event("ws", "upgraded", status=ws.getstatus())
            opcode, frame = ws.recv_data_frame(True)  # the gateway speaks first; it is not console output
            if sercon.TRACE is not None:
                sercon.TRACE.frame("in", opcode, frame.data)
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                raise self._closed(frame.data)
            token = self.tokens.get()
            if sercon.TRACE is not None:
                sercon.TRACE.event("ws", "out TEXT (the token, not written)", size=len(token))
            ws.send(token)  # the new auth flow: the raw token, as a text frame
        except (TimeoutError, websocket.WebSocketTimeoutException) as exc:
            _trace_failure("first message", exc)
            with contextlib.suppress(Exception):
                ws.close()
            raise self._no_answer(limit) from exc
        except (OSError, websocket.WebSocketException) as exc:
            _trace_failure("first message", exc)
            with contextlib.suppress(Exception):
                ws.close()
            raise ConnectionLost("the gateway closed before the console answered", self.doctor_hint()) from exc
        except SerconError:
            with contextlib.suppress(Exception):
                ws.close()
            raise
        ws.settimeout(FRAME_STALL)  # reads start only when select() saw bytes: this bounds a frame cut short
        with self._write_lock:  # the new socket and a fresh framer together: no writer pairs it with the old one
            self._ws = ws
            self._framer = TextFramer(FRAME_LIMIT)
        self._last_traffic, self._ping_sent, self._answered = time.monotonic(), None, False

    def _no_answer(self, limit: float) -> ConnectionLost:
        given = " (--timeout)" if limit < FIRST_MESSAGE_TIMEOUT else ""
        return ConnectionLost(f"the console gateway of {self.label} did not answer within {limit:g} s{given}",
                              "try again; if it never answers, check that wss:// to the gateway is allowed through "
                              "your proxy or firewall")

    def reopen(self) -> None:
        if sercon.TRACE is not None:
            sercon.TRACE.event("ws", "reconnect", label=self.label)
        self.close()
        self.open()

    def close(self) -> None:
        """Close the session and everything it holds (reopen() opens it all again)."""
        ws, self._ws = self._ws, None
        if ws is not None:
            if sercon.TRACE is not None:
                sercon.TRACE.event("ws", "close by sercon", code=1000)
            with contextlib.suppress(Exception):
                ws.close()
        wake, self._wake = self._wake, None
        if wake is not None:
            wake.close()
        http, self._http = self._http, None
        if http is not None:
            http.close()

    # -- reading ----------------------------------------------------------------------------------
    read_can_wait = True  # the wake pipe, and the keep-alive's own deadline
    def read(self, timeout: float | None) -> bytes:
        ws = self._ws
        sock = ws.sock if ws is not None else None  # websocket-client drops its socket when closed
        if ws is None or sock is None:
            raise ConnectionLost(f"{self.label}: not connected")
        pending = isinstance(sock, ssl.SSLSocket) and sock.pending()
        if not pending:
            wait = self._keepalive_due()
            if timeout is not None:
                wait = min(wait, timeout)
            wake = self._wake
            readers: list[socket.socket | WakePipe] = [sock] + ([wake] if wake else [])
            ready, _, _ = select.select(readers, [], [], max(0.0, wait))
            if wake is not None and wake in ready:
                wake.drain()
            if sock not in ready:
                self._keepalive(ws)
                return b""
        return self._frame(ws)

    def _frame(self, ws) -> bytes:
        import websocket

        try:
            opcode, frame = ws.recv_data_frame(True)
        except websocket.WebSocketTimeoutException as exc:
            _trace_failure("read", exc)
            raise ConnectionLost(f"lost the console of {self.label}: the gateway stopped in the middle of a frame "
                                 f"for {FRAME_STALL:g} s") from exc
        except (OSError, websocket.WebSocketException) as exc:
            _trace_failure("read", exc)
            raise ConnectionLost(f"lost the console of {self.label}: {exc.__class__.__name__}") from exc
        if sercon.TRACE is not None:
            sercon.TRACE.frame("in", opcode, frame.data)
        self._last_traffic, self._ping_sent = time.monotonic(), None
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            raise self._closed(frame.data)
        if opcode in (websocket.ABNF.OPCODE_TEXT, websocket.ABNF.OPCODE_BINARY):
            data = frame.data if isinstance(frame.data, bytes) else frame.data.encode()
            if data:
                self._answered, self._token_refreshed = True, False
            return bytes(data)
        return b""  # ping (answered by websocket-client) or pong

    def _keepalive_due(self) -> float:
        """Seconds until the keep-alive needs attention: an exact deadline, not a poll."""
        if self._ping_sent is not None:
            return self._ping_sent + KEEPALIVE - time.monotonic()
        return self._last_traffic + KEEPALIVE - time.monotonic()

    def _keepalive(self, ws) -> None:
        now = time.monotonic()
        if self._ping_sent is not None:
            if now - self._ping_sent >= KEEPALIVE:
                if sercon.TRACE is not None:
                    sercon.TRACE.event("ws", "keep-alive unanswered", seconds=KEEPALIVE)
                raise ConnectionLost(f"lost the console of {self.label}: no answer to a keep-alive in "
                                     f"{KEEPALIVE:g} s")
            return
        if now - self._last_traffic >= KEEPALIVE:
            try:
                if sercon.TRACE is not None:
                    sercon.TRACE.event("ws", "out PING (keep-alive)", size=0)
                ws.ping()
            except Exception as exc:  # noqa: BLE001 - any failure to write is a lost network
                raise ConnectionLost(f"lost the console of {self.label}: {exc.__class__.__name__}") from exc
            self._ping_sent = now

    def _closed(self, payload: bytes) -> SerconError:
        code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else None
        reason = payload[2:].decode("utf-8", "replace")
        shown = f"{code} {reason!r}" if code is not None else "no code"
        if sercon.TRACE is not None:
            sercon.TRACE.event("ws", "closed by the gateway", code=code, reason=repr(reason))
        if BUSY.search(reason):
            busy = SessionClosed(f"the gateway refused a session to {self.label}: another connection to the console "
                                 f"is in progress ({shown})", "someone (or another tool) is connecting to this console:"
                                 " wait a moment and try again", code, reason)
            busy.exit_status = ExitStatus.DEVICE_BUSY
            return busy
        if TAKEOVER.search(reason):
            return SessionClosed(f"another session took over the console of {self.label} ({shown})",
                                 "sercon connect --force takes it back", code, reason, taken_over=True)
        if not self._answered and UNTRUSTED.search(reason):
            if self._token_refreshed:
                return AuthFailed(f"the gateway does not trust the token for {self.label} ({shown})",
                                  "sign in again (`sercon login`), and check the Virtual Machine Contributor role "
                                  f"(`sercon doctor {self.label}`)")
            self._token_refreshed = True
            self.tokens.refresh()
        return SessionClosed(f"the gateway closed the console of {self.label} ({shown})", self.doctor_hint(),
                             code, reason)

    def doctor_hint(self) -> str:
        hint = f"run `sercon doctor {self.label}`"
        if self.suspects:
            hint += "; the checks warned about: " + "; ".join(self.suspects)
        return hint

    # -- writing ----------------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        with self._write_lock:
            ws = self._ws
            if ws is None:
                raise ConnectionLost(f"{self.label}: not connected")
            frames, dropped = self._framer.frames(data)
            self._send(ws, frames)
        if dropped:
            raise InputNotText(dropped)

    def try_write(self, data: bytes) -> int:
        """A keystroke's TEXT frame, sent by the key loop itself when the socket takes it at once:
        no frame in flight (the writer thread holds the lock while it sends), no unfinished
        character held back, and room in the socket's send buffer. Otherwise 0: the writer queues it."""
        ws = self._ws
        if not self.fast_keys or ws is None or len(data) > FAST_KEYS or not data.isascii():
            return 0
        if not self._write_lock.acquire(blocking=False):
            return 0
        try:
            sock = ws.sock  # None once a reconnect closed this socket: the writer says what was lost
            if self._ws is not ws or sock is None or self._framer.held or not _writable(sock):
                return 0
            self._send(ws, [data.decode("ascii")])
            return len(data)
        finally:
            self._write_lock.release()

    def _send(self, ws, frames: list[str]) -> None:
        import websocket

        try:
            for text in frames:
                if sercon.TRACE is not None:
                    sercon.TRACE.event("ws", "out TEXT", size=len(text.encode()))
                ws.send(text)  # a TEXT frame
        except (OSError, websocket.WebSocketException) as exc:
            _trace_failure("write", exc)
            raise ConnectionLost(f"lost the console of {self.label}: {exc.__class__.__name__}") from exc
        self._last_traffic = time.monotonic()

    def cancel_read(self) -> None:
        wake = self._wake
        if wake is not None:
            wake.wake()

def _trace_failure(step: str, exc: BaseException) -> None:
    if sercon.TRACE is not None:
        sercon.TRACE.event("ws", f"{step} failed", error=exc.__class__.__name__)


def _writable(sock) -> bool:
    """Room in the socket's send buffer now (a closed socket: no, and write() says why)."""
    try:
        return bool(select.select([], [sock], [], 0)[1])
    except (OSError, ValueError):
        return False
