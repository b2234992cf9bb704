"""The local terminal's input side: raw mode and key reading on prompt-toolkit."""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import termios
from dataclasses import dataclass
from typing import TextIO

from sercon.terminal.paste import BURST, PASTE_END, PASTE_START
from sercon.terminal.screen import write_all

BRACKETED_PASTE_ON, BRACKETED_PASTE_OFF = b"\x1b[?2004h", b"\x1b[?2004l"


# What a terminal sends back when the remote asks it something (busybox asks for the cursor position
# at every prompt): a cursor position report, device attributes, a status report, an OSC answer
# (colours), a mode report. They still go to the remote, but they are not keystrokes: they must not
# move the escape machine (`<Enter>~.` after a prompt) nor count as typing.
TERMINAL_REPLY = re.compile(
    rb"\x1b\[\d+;\d+R|\x1b\[[?>=][\d;]*c|\x1b\[\d*n|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b\[\??[\d;]*\$y"
    rb"|\x1bP[^\x1b]*\x1b\\"
)


@dataclass(frozen=True)
class Chunk:
    data: bytes
    pasted: bool = False
    reply: bool = False  # the terminal answering a query, not the user typing


class RawConsole:
    """Raw mode for the session, restored on every way out.

    prompt-toolkit's raw mode leaves output processing on; a console client must not turn the
    remote's bare LF into CRLF, so OPOST goes off too. The normal restore is ``__exit__`` (from a
    ``with`` block, so it runs in ``finally``); an atexit hook is the last resort.
    """

    def __init__(self, stdin: TextIO, out_fd: int) -> None:
        self.stdin = stdin
        self.fd = stdin.fileno()
        self.out_fd = out_fd
        self.is_tty = os.isatty(self.fd)
        self._saved: list | None = None
        self._raw = None

    def __enter__(self) -> RawConsole:
        if not self.is_tty:
            return self
        from prompt_toolkit.input.vt100 import raw_mode

        self._saved = termios.tcgetattr(self.fd)
        atexit.register(self.restore)
        self._raw = raw_mode(self.fd)
        self._raw.__enter__()
        attrs = termios.tcgetattr(self.fd)
        attrs[1] &= ~termios.OPOST
        termios.tcsetattr(self.fd, termios.TCSANOW, attrs)
        if os.isatty(self.out_fd):
            write_all(self.out_fd, BRACKETED_PASTE_ON)
        return self

    def __exit__(self, *exc: object) -> None:
        self.restore()

    def restore(self) -> None:
        saved, self._saved = self._saved, None
        if saved is None:
            return
        with contextlib.suppress(OSError):
            if os.isatty(self.out_fd):
                write_all(self.out_fd, BRACKETED_PASTE_OFF)
        with contextlib.suppress(termios.error, OSError):
            termios.tcsetattr(self.fd, termios.TCSADRAIN, saved)
        atexit.unregister(self.restore)


class KeyReader:
    """Reads what the user typed or pasted: prompt-toolkit's VT100 parser on a terminal (it finds
    bracketed pastes), plain reads otherwise. Typed bytes come back exactly as the terminal sent them."""

    def __init__(self, stdin: TextIO) -> None:
        self.fd = stdin.fileno()
        self.closed = False
        self._input = None
        if os.isatty(self.fd):
            from prompt_toolkit.input.vt100 import Vt100Input

            self._input = Vt100Input(stdin)

    def fileno(self) -> int:
        return self.fd

    def read(self) -> list[Chunk]:
        if self._input is None:
            data = os.read(self.fd, 65536)
            self.closed = not data
            return [Chunk(data, pasted=len(data) > BURST)] if data else []
        chunks = _chunks(self._input.read_keys())
        self.closed = self._input.closed
        return chunks

    def flush(self) -> list[Chunk]:
        """Hand over a lone Esc the parser was holding back (it may start a sequence)."""
        return _chunks(self._input.flush_keys()) if self._input is not None else []


def _chunks(key_presses: list) -> list[Chunk]:
    from prompt_toolkit.keys import Keys

    chunks: list[Chunk] = []
    typed = bytearray()
    for press in key_presses:
        if press.key == Keys.BracketedPaste:
            chunks += _typed_chunks(bytes(typed))
            typed.clear()
            chunks.append(Chunk(press.data.encode("utf-8", "surrogateescape"), pasted=True))
        else:
            typed += press.data.encode("utf-8", "surrogateescape")
    return chunks + _typed_chunks(bytes(typed))


def _typed_chunks(data: bytes) -> list[Chunk]:
    """Typed bytes, with the terminal's replies to queries split out as chunks of their own."""
    chunks: list[Chunk] = []
    start = 0
    for match in TERMINAL_REPLY.finditer(data):
        chunks += _typing(data[start : match.start()])
        chunks.append(Chunk(match.group(0), reply=True))
        start = match.end()
    return chunks + _typing(data[start:])


def _typing(data: bytes) -> list[Chunk]:
    return [Chunk(data, pasted=len(data) > BURST)] if data else []


def wrap_paste(data: bytes) -> bytes:
    """Bracket a paste for a remote program that asked for bracketed paste itself."""
    return PASTE_START + data + PASTE_END
