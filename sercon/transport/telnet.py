"""telnet://HOST:PORT as a pyserial port: console servers, ser2net and QEMU, with BREAK as IAC BRK.

`TelnetParser` is a pure state machine (three modes, as pyserial's rfc2217 parser, plus a per-option
table); `Serial` puts it on a TCP socket behind pyserial's interface, so every part of sercon that
takes a device takes a telnet URL too.
"""

from __future__ import annotations

import select
import socket
from urllib.parse import urlsplit

from serial.serialutil import PortNotOpenError, SerialBase, SerialException, Timeout

IAC, DONT, DO, WONT, WILL, SB, SE, BRK, NOP, GA = 255, 254, 253, 252, 251, 250, 240, 243, 241, 249
BINARY, ECHO, SGA = 0, 1, 3
# What we do with the server's offers: accept these, refuse everything else.
WANTED_REMOTE = {BINARY, ECHO, SGA}  # the server may do these (WILL -> DO)
WANTED_LOCAL = {BINARY, SGA}  # we will do these (DO -> WILL)
NORMAL, SEEN_IAC, NEGOTIATE, SUBNEG, SUBNEG_IAC = range(5)


class TelnetParser:
    """feed(bytes) -> (data, replies): the console's bytes, and the negotiation answers to send back."""

    def __init__(self) -> None:
        self.mode = NORMAL
        self.command = 0
        self.remote: dict[int, bool] = {}  # options the server does
        self.local: dict[int, bool] = {}  # options we do
        self.requested: set[tuple[int, int]] = set()  # (command, option) we sent and await an answer to

    def hello(self) -> bytes:
        """What a client says first: we want binary both ways and no go-ahead."""
        self.requested |= {(DO, BINARY), (DO, SGA), (WILL, BINARY)}
        return bytes([IAC, DO, BINARY, IAC, WILL, BINARY, IAC, DO, SGA])

    def feed(self, raw: bytes) -> tuple[bytes, bytes]:
        data, replies = bytearray(), bytearray()
        for byte in raw:
            if self.mode == NORMAL:
                if byte == IAC:
                    self.mode = SEEN_IAC
                else:
                    data.append(byte)
            elif self.mode == SEEN_IAC:
                if byte == IAC:  # a doubled IAC is a data byte 255
                    data.append(IAC)
                    self.mode = NORMAL
                elif byte in (DO, DONT, WILL, WONT):
                    self.command, self.mode = byte, NEGOTIATE
                elif byte == SB:
                    self.mode = SUBNEG
                else:  # NOP, GA, BRK, ... from the server: nothing to do
                    self.mode = NORMAL
            elif self.mode == NEGOTIATE:
                replies += self._negotiate(self.command, byte)
                self.mode = NORMAL
            elif self.mode == SUBNEG:
                self.mode = SUBNEG_IAC if byte == IAC else SUBNEG
            elif self.mode == SUBNEG_IAC:
                self.mode = NORMAL if byte == SE else SUBNEG
        return bytes(data), bytes(replies)

    def _negotiate(self, command: int, option: int) -> bytes:
        """Answer only changes of state, so two polite peers never loop (RFC 854's rule)."""
        if command in (WILL, WONT):
            on = command == WILL and option in WANTED_REMOTE
            answered = (DO, option) in self.requested
            self.requested.discard((DO, option))
            if answered or (option in self.remote and self.remote[option] == on):
                self.remote[option] = on
                return b""  # an answer to our request, or no change: say nothing (no loops)
            self.remote[option] = on
            return bytes([IAC, DO if on else DONT, option])
        on = command == DO and option in WANTED_LOCAL
        answered = (WILL, option) in self.requested
        self.requested.discard((WILL, option))
        if answered or (option in self.local and self.local[option] == on):
            self.local[option] = on
            return b""
        self.local[option] = on
        return bytes([IAC, WILL if on else WONT, option])

    @property
    def binary_out(self) -> bool:
        """We offer binary at once; until a server refuses it, a CR goes out bare (QEMU does not
        strip the NUL of RFC 854's CR NUL, and ser2net takes a bare CR)."""
        return self.local.get(BINARY, True)


def escape(data: bytes, binary: bool) -> bytes:
    """IAC doubled; outside binary mode a bare CR is sent as CR NUL (RFC 854)."""
    data = data.replace(b"\xff", b"\xff\xff")
    return data if binary else data.replace(b"\r", b"\r\0").replace(b"\r\0\n", b"\r\n")


class Serial(SerialBase):
    """pyserial's interface over telnet (registered as the `telnet` URL scheme)."""

    def open(self) -> None:
        if self._port is None:
            raise SerialException("a telnet port needs a URL: telnet://HOST:PORT")
        host, port = self.from_url(self.portstr)
        try:
            self._socket = socket.create_connection((host, port), timeout=10)
        except OSError as exc:
            raise SerialException(exc.errno, f"could not open port {self.portstr}: {exc}") from exc
        self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._socket.setblocking(False)
        self._parser = TelnetParser()
        self._buffer = bytearray()
        self.is_open = True
        self._sendall(self._parser.hello())

    def from_url(self, url: str) -> tuple[str, int]:
        parts = urlsplit(url)
        if parts.scheme != "telnet" or not parts.hostname or not parts.port:
            raise SerialException(f"expected telnet://HOST:PORT, not {url!r}")
        if parts.query or parts.path not in ("", "/"):
            raise SerialException(f"telnet:// takes no path or options, not {url!r}")
        return parts.hostname, parts.port

    def close(self) -> None:
        if self.is_open:
            self._socket.close()
            self.is_open = False

    def _reconfigure_port(self) -> None:
        """Line settings do not travel over plain telnet (RFC 2217 would carry them)."""

    def _pump(self, timeout: float | None) -> None:
        ready, _, _ = select.select([self._socket], [], [], timeout)
        if not ready:
            return
        try:
            raw = self._socket.recv(65536)
        except BlockingIOError:
            return
        except OSError as exc:
            raise SerialException(f"telnet connection failed: {exc}") from exc
        if not raw:
            raise SerialException("telnet connection closed by the remote end")
        data, replies = self._parser.feed(raw)
        self._buffer += data
        if replies:
            self._sendall(replies)

    @property
    def in_waiting(self) -> int:
        if not self.is_open:
            raise PortNotOpenError()
        if not self._buffer:
            self._pump(0)
        return len(self._buffer)

    def read(self, size: int = 1) -> bytes:
        if not self.is_open:
            raise PortNotOpenError()
        timeout = Timeout(self._timeout)
        while len(self._buffer) < size:
            if timeout.expired():
                break
            self._pump(timeout.time_left())
            if self._buffer and self._timeout is not None:
                break  # a console wants what is there now, not a full buffer
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def write(self, data: bytes) -> int:
        if not self.is_open:
            raise PortNotOpenError()
        self._sendall(escape(bytes(data), self._parser.binary_out))
        return len(data)

    def _sendall(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                view = view[self._socket.send(view):]
            except BlockingIOError:
                select.select([], [self._socket], [], 10)
            except OSError as exc:
                raise SerialException(f"telnet connection failed: {exc}") from exc

    def send_break(self, duration: float = 0.25) -> None:
        self._sendall(bytes([IAC, BRK]))

    def reset_input_buffer(self) -> None:
        self._buffer.clear()
        while self.is_open and select.select([self._socket], [], [], 0)[0]:
            self._pump(0)
            self._buffer.clear()

    def reset_output_buffer(self) -> None:
        """Nothing is buffered on our side."""

    def flush(self) -> None:
        """Writes go out at once."""

    def fileno(self) -> int:
        return self._socket.fileno()

