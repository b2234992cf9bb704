"""telnet://HOST:PORT as a pyserial port: console servers, ser2net and QEMU, with BREAK as IAC BRK.

`TelnetParser` is a pure state machine (three modes, as pyserial's rfc2217 parser, plus a per-option
table); `Serial` puts it on a TCP socket behind pyserial's interface, so every part of sercon that
takes a device takes a telnet URL too.
"""

from __future__ import annotations

import select
import socket
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from serial.serialutil import PortNotOpenError, SerialBase, SerialException, Timeout

import sercon

if TYPE_CHECKING:
    from typing_extensions import Buffer  # what pyserial's write takes (collections.abc.Buffer from 3.12)

IAC, DONT, DO, WONT, WILL, SB, SE, BRK, NOP, GA = 255, 254, 253, 252, 251, 250, 240, 243, 241, 249
BINARY, ECHO, SGA = 0, 1, 3
# What we do with the server's offers: accept these, refuse everything else.
WANTED_REMOTE = {BINARY, ECHO, SGA}  # the server may do these (WILL -> DO)
WANTED_LOCAL = {BINARY, SGA}  # we will do these (DO -> WILL)
COMMAND_NAMES = {DONT: "DONT", DO: "DO", WONT: "WONT", WILL: "WILL", SB: "SB", SE: "SE", BRK: "BRK", NOP: "NOP",
                 GA: "GA", 242: "DM", 244: "IP", 245: "AO", 246: "AYT", 247: "EC", 248: "EL"}
OPTION_NAMES = {BINARY: "BINARY", ECHO: "ECHO", SGA: "SGA", 5: "STATUS", 6: "TIMING-MARK", 24: "TERMINAL-TYPE",
                31: "NAWS", 32: "TERMINAL-SPEED", 33: "LFLOW", 34: "LINEMODE", 36: "OLD-ENVIRON", 39: "NEW-ENVIRON",
                44: "COM-PORT-OPTION"}
NORMAL, SEEN_IAC, NEGOTIATE, SUBNEG, SUBNEG_IAC = range(5)
# RFC 1143's six states of one option on one side ("-q": the OPPOSITE request is queued).
NO, YES, WANTNO, WANTNO_Q, WANTYES, WANTYES_Q = "no", "yes", "wantno", "wantno-q", "wantyes", "wantyes-q"
ACCEPT = "accept"  # off, and the peer asks to turn it on: our policy decides
# Received WILL/DO (True) or WONT/DONT (False) in a state -> (next state, reply: True DO/WILL,
# False DONT/WONT, None nothing). An answer to our own request is never answered back.
ON_RECEIVE: dict[tuple[str, bool], tuple[str, bool | None] | str] = {
    (NO, True): ACCEPT,
    (YES, True): (YES, None),
    (WANTNO, True): (NO, None),  # DONT answered by WILL: a broken peer; RFC 1143 settles on NO
    (WANTNO_Q, True): (YES, None),
    (WANTYES, True): (YES, None),
    (WANTYES_Q, True): (WANTNO, False),  # on, as asked; now the queued request to turn it off
    (NO, False): (NO, None),
    (YES, False): (NO, False),
    (WANTNO, False): (NO, None),
    (WANTNO_Q, False): (WANTYES, True),  # off, as asked; now the queued request to turn it on
    (WANTYES, False): (NO, None),  # refused
    (WANTYES_Q, False): (NO, None),
}
# We want it on (True) or off (False) in a state -> (next state, request to send or None).
ON_ASK: dict[tuple[str, bool], tuple[str, bool | None]] = {
    (NO, True): (WANTYES, True),
    (YES, True): (YES, None),
    (WANTNO, True): (WANTNO_Q, None),
    (WANTNO_Q, True): (WANTNO_Q, None),
    (WANTYES, True): (WANTYES, None),
    (WANTYES_Q, True): (WANTYES, None),
    (NO, False): (NO, None),
    (YES, False): (WANTNO, False),
    (WANTNO, False): (WANTNO, None),
    (WANTNO_Q, False): (WANTNO, None),
    (WANTYES, False): (WANTYES_Q, None),
    (WANTYES_Q, False): (WANTYES_Q, None),
}
# A peer that answers each of our answers with a new request (DO -> WONT -> DONT -> WILL ...) is
# within the letter of the protocol and would keep us talking forever: after this many answers
# about one option with no console data in between, that option's commands are ignored until data comes.
LOOP_LIMIT = 8


class _Side:
    """One direction of the options: the server's (him: WILL/WONT in, DO/DONT out) or ours (us)."""

    def __init__(self, yes: int, no: int, wanted: set[int]) -> None:
        self.yes, self.no, self.wanted = yes, no, wanted
        self.states: dict[int, str] = {}
        self.answers: dict[int, int] = {}  # answers per option since the last data byte

    def receive(self, option: int, on: bool) -> bytes:
        if self.answers.get(option, 0) >= LOOP_LIMIT:
            return b""  # a peer that keeps flipping: ignored until it sends data
        step = ON_RECEIVE[self.states.get(option, NO), on]
        if isinstance(step, str):  # ACCEPT, the table's one plain string
            step = (YES, True) if option in self.wanted else (NO, False)
        state, reply = step
        self.states[option] = state
        if reply is None:
            return b""
        self.answers[option] = self.answers.get(option, 0) + 1
        return bytes([IAC, self.yes if reply else self.no, option])

    def ask(self, option: int, on: bool) -> bytes:
        state, request = ON_ASK[self.states.get(option, NO), on]
        self.states[option] = state
        return b"" if request is None else bytes([IAC, self.yes if request else self.no, option])


class TelnetParser:
    """feed(bytes) -> (data, replies): the console's bytes, and the negotiation answers to send back.

    Options follow RFC 1143's Q method (a table per side), so sercon never answers what is already
    agreed, and two parties that follow it never loop."""

    def __init__(self) -> None:
        self.mode = NORMAL
        self.command = 0
        self._remote = _Side(DO, DONT, WANTED_REMOTE)  # options the server does
        self._local = _Side(WILL, WONT, WANTED_LOCAL)  # options we do
        self._spoke = False  # console data came since the last option command

    def hello(self) -> bytes:
        """What a client says first: we want binary both ways and no go-ahead."""
        return self.ask_remote(BINARY, True) + self.ask_local(BINARY, True) + self.ask_remote(SGA, True)

    def ask_remote(self, option: int, on: bool) -> bytes:
        """Ask the server to do *option* (or to stop): the request to send, b"" when none is due."""
        return self._remote.ask(option, on)

    def ask_local(self, option: int, on: bool) -> bytes:
        """Offer to do *option* ourselves (or to stop)."""
        return self._local.ask(option, on)

    def remote_on(self, option: int) -> bool:
        return self._remote.states.get(option, NO) in (YES, WANTNO, WANTNO_Q)

    def local_on(self, option: int) -> bool:
        return self._local.states.get(option, NO) in (YES, WANTNO, WANTNO_Q)

    def remote_settled(self, option: int) -> bool:
        """No request about *option* is awaiting the server's answer."""
        return self._remote.states.get(option, NO) in (NO, YES)

    def local_settled(self, option: int) -> bool:
        return self._local.states.get(option, NO) in (NO, YES)

    def feed(self, raw: bytes) -> tuple[bytes, bytes]:
        data, replies = bytearray(), bytearray()
        for byte in raw:
            if self.mode == NORMAL:
                if byte == IAC:
                    self.mode = SEEN_IAC
                else:
                    data.append(byte)
                    self._spoke = True
            elif self.mode == SEEN_IAC:
                if byte == IAC:  # a doubled IAC is a data byte 255
                    data.append(IAC)
                    self._spoke, self.mode = True, NORMAL
                elif byte in (DO, DONT, WILL, WONT):
                    self.command, self.mode = byte, NEGOTIATE
                elif byte == SB:
                    self.command, self.mode = SB, SUBNEG
                else:  # NOP, GA, BRK, ... from the server: nothing to do
                    self.mode = NORMAL
                    if sercon.TRACE is not None:
                        sercon.TRACE.event("telnet", f"recv {command_name(byte)}")
            elif self.mode == NEGOTIATE:
                if self._spoke:  # the console spoke since the last command: no loop is running
                    self._remote.answers.clear()
                    self._local.answers.clear()
                    self._spoke = False
                if sercon.TRACE is not None:
                    sercon.TRACE.event("telnet", f"recv {command_name(self.command)} {option_name(byte)}")
                side = self._remote if self.command in (WILL, WONT) else self._local
                replies += side.receive(byte, self.command in (WILL, DO))
                self.mode = NORMAL
            elif self.mode == SUBNEG:
                if self.command == SB:  # the option this subnegotiation is about
                    self.command = SE
                    if sercon.TRACE is not None:
                        sercon.TRACE.event("telnet", f"recv SB {option_name(byte)}")
                self.mode = SUBNEG_IAC if byte == IAC else SUBNEG
            elif self.mode == SUBNEG_IAC:
                self.mode = NORMAL if byte == SE else SUBNEG
        return bytes(data), bytes(replies)

    @property
    def binary_out(self) -> bool:
        """We offer binary at once; until a server refuses it, a CR goes out bare (QEMU does not
        strip the NUL of RFC 854's CR NUL, and ser2net takes a bare CR)."""
        return self._local.states.get(BINARY, YES) not in (NO, WANTNO_Q, WANTNO)


def command_name(byte: int) -> str:
    return COMMAND_NAMES.get(byte, str(byte))


def option_name(byte: int) -> str:
    return OPTION_NAMES.get(byte, str(byte))


def describe(commands: bytes) -> list[str]:
    """The names of the IAC commands in *commands* (what sercon sends: hello, replies, BRK), for the trace."""
    named, index = [], 0
    while index < len(commands) - 1:
        if commands[index] != IAC:
            index += 1
            continue
        command = commands[index + 1]
        if command in (DO, DONT, WILL, WONT) and index + 2 < len(commands):
            named.append(f"{command_name(command)} {option_name(commands[index + 2])}")
            index += 3
        else:
            named.append(command_name(command))
            index += 2
    return named


def escape(data: bytes, binary: bool) -> bytes:
    """IAC doubled; outside binary mode a bare CR is sent as CR NUL (RFC 854)."""
    data = data.replace(b"\xff", b"\xff\xff")
    return data if binary else data.replace(b"\r", b"\r\0").replace(b"\r\0\n", b"\r\n")


class Serial(SerialBase):
    """pyserial's interface over telnet (registered as the `telnet` URL scheme)."""

    def open(self) -> None:
        if self.portstr is None:
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
        if sercon.TRACE is not None:
            sercon.TRACE.event("telnet", "open", host=host, port=port)
        self._send_commands(self._parser.hello())

    def from_url(self, url: str) -> tuple[str, int]:
        """(host, port); a URL in another form is refused in pyserial's words, which sercon reads as a
        usage error (device_errors.open_error), not as a host that is down."""
        form = 'expected a string in the form "telnet://HOST:PORT"'
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise SerialException(f"{form}: {exc}") from exc
        if parts.scheme != "telnet" or not parts.hostname or not port:
            raise SerialException(f"{form}: not {url!r}")
        if parts.query or parts.path not in ("", "/"):
            raise SerialException(f"{form}: no path or options, not {url!r}")
        return parts.hostname, port

    def close(self) -> None:
        if self.is_open:
            if sercon.TRACE is not None:
                sercon.TRACE.event("telnet", "close")
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
            if sercon.TRACE is not None:
                sercon.TRACE.event("telnet", "closed by the remote end")
            raise SerialException("telnet connection closed by the remote end")
        data, replies = self._parser.feed(raw)
        if sercon.TRACE is not None:
            sercon.TRACE.event("telnet", "in", bytes=len(raw), data=len(data))
        self._buffer += data
        if replies:
            self._send_commands(replies)

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
        timeout = Timeout(self.timeout)  # type: ignore[arg-type]  # types-pyserial: None (no timeout) is valid
        while len(self._buffer) < size:
            if timeout.expired():
                break
            self._pump(timeout.time_left())
            if self._buffer and self.timeout is not None:
                break  # a console wants what is there now, not a full buffer
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def write(self, data: Buffer) -> int:
        if not self.is_open:
            raise PortNotOpenError()
        raw = bytes(data)
        wire = escape(raw, self._parser.binary_out)
        if sercon.TRACE is not None:
            sercon.TRACE.event("telnet", "out", data=len(raw), bytes=len(wire))
        self._sendall(wire)
        return len(raw)

    def _send_commands(self, commands: bytes) -> None:
        """Negotiation and BRK, each command named in the trace."""
        if sercon.TRACE is not None:
            for name in describe(commands):
                sercon.TRACE.event("telnet", f"send {name}")
        self._sendall(commands)

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
        self._send_commands(bytes([IAC, BRK]))

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

