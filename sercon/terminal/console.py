"""The local terminal's input side: raw mode, and key reading (prompt-toolkit's parser for escape sequences)."""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import termios
from typing import TYPE_CHECKING, NamedTuple, TextIO

from sercon.terminal.paste import BURST, PASTE_END, PASTE_START
from sercon.terminal.screen import write_all

if TYPE_CHECKING:
    from prompt_toolkit.input.vt100_parser import Vt100Parser

BRACKETED_PASTE_ON, BRACKETED_PASTE_OFF = b"\x1b[?2004h", b"\x1b[?2004l"
TTY_READ = 1024  # bytes a read takes from the terminal (as prompt-toolkit reads)


# What a terminal sends back when the remote asks it something (busybox asks for the cursor position
# at every prompt): a cursor position report, device attributes, a status report, an OSC answer
# (colours), a mode report. They still go to the remote, but they are not keystrokes: they must not
# move the escape machine (`<Enter>~.` after a prompt) nor count as typing.
TERMINAL_REPLY = (  # compiled on first use (re caches it): not at import, on the way to the first byte
    rb"\x1b\[\d+;\d+R|\x1b\[[?>=][\d;]*c|\x1b\[\d*n|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b\[\??[\d;]*\$y"
    rb"|\x1bP[^\x1b]*\x1b\\"
)


class Chunk(NamedTuple):
    """What one read of the terminal held, or a part of it (a tuple: one is made per keystroke)."""

    data: bytes
    pasted: bool = False
    reply: bool = False  # the terminal answering a query, not the user typing


class RawConsole:
    """Raw mode for the session, restored on every way out.

    The modes are prompt-toolkit's ``raw_mode()`` (no echo, no line editing, no signals from keys,
    no XON/XOFF, no CR/NL translation, reads of one byte), set here with termios so the session
    needs no prompt-toolkit to start (importing it costs more time than the rest of the start-up).
    Output processing goes off too: a console client must not turn the remote's bare LF into CRLF.
    The normal restore is ``__exit__`` (from a ``with`` block, so it runs in ``finally``); an atexit
    hook is the last resort.
    """

    def __init__(self, stdin: TextIO, out_fd: int) -> None:
        self.stdin = stdin
        self.fd = stdin.fileno()
        self.out_fd = out_fd
        self.is_tty = os.isatty(self.fd)
        self._saved: list | None = None

    def __enter__(self) -> RawConsole:
        if not self.is_tty:
            return self
        self._saved = termios.tcgetattr(self.fd)
        atexit.register(self.restore)
        termios.tcsetattr(self.fd, termios.TCSANOW, raw_attributes(self._saved))
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


def raw_attributes(attrs: list) -> list:
    """*attrs* (from tcgetattr) in the session's raw mode: prompt-toolkit's raw mode, and no OPOST."""
    raw = [*attrs[:6], list(attrs[6])]
    raw[0] &= ~(termios.IXON | termios.IXOFF | termios.ICRNL | termios.INLCR | termios.IGNCR)
    raw[1] &= ~termios.OPOST
    raw[3] &= ~(termios.ECHO | termios.ICANON | termios.IEXTEN | termios.ISIG)
    raw[6][termios.VMIN] = 1
    return raw


class KeyReader:
    """Reads what the user typed or pasted, as the terminal sent it.

    Plain typing, the bulk of it, takes the fast path: the bytes read are the chunk, handed on at
    once. Only input with an escape sequence in it (arrow keys, a bracketed paste, the terminal
    answering a query) goes through prompt-toolkit's VT100 parser, imported the first time one
    comes; from then on input keeps going through the parser until it holds nothing back (a
    sequence cut between two reads, a paste whose end has not come yet), so the order never
    changes. Typed bytes come back exactly as the terminal sent them on both paths.
    """

    def __init__(self, stdin: TextIO) -> None:
        self.fd = stdin.fileno()
        self.closed = False
        self.plain = False  # the last read is plain typing: see read()
        self._tty = os.isatty(self.fd)
        self._size = TTY_READ if self._tty else 65536
        self._parser: Vt100Parser | None = None  # prompt-toolkit's Vt100Parser, from the first escape sequence on
        self._presses: list = []
        self._held = 0  # characters the parser was fed and has not handed back yet

    def fileno(self) -> int:
        return self.fd

    @property
    def holding(self) -> bool:
        """The parser holds input back: a lone Esc (flush() hands it over), or an unfinished paste."""
        return self._held != 0

    @property
    def parsing(self) -> bool:
        """prompt-toolkit's parser is in use (it is only loaded once an escape sequence was typed)."""
        return self._parser is not None

    def read(self) -> bytes:
        """One read of the terminal, as it came (b"", and ``closed`` set, at the end of input).

        ``plain`` then says whether it is plain typing: no escape sequence, nothing held back by the
        parser, no more than a burst of typing. Plain typing is the chunk as it is (the caller may
        send it on without feed(), which would say just that); anything else goes to feed().
        """
        try:
            data = os.read(self.fd, self._size)
        except BlockingIOError:  # a non-blocking stdin that another reader emptied first: nothing now
            data = b""
        except OSError:  # the terminal hung up (EIO): as the end of input
            data, self.closed = b"", True
        else:
            self.closed = not data
        self.plain = 0 < len(data) <= BURST and (not self._tty or (self._held == 0 and b"\x1b" not in data))
        return data

    def feed(self, data: bytes) -> list[Chunk]:
        """What *data*, as one read from the terminal returned it, holds: typing, pastes, replies."""
        if not data:
            return []
        if not self._tty or (self._held == 0 and b"\x1b" not in data):
            return [Chunk(data, pasted=len(data) > BURST)]  # nothing for the parser: the fast path
        return self._parse(data)

    def flush(self) -> list[Chunk]:
        """Hand over a lone Esc the parser was holding back (it may start a sequence)."""
        if self._parser is None:
            return []
        self._parser.flush()
        return self._take()

    def _parse(self, data: bytes) -> list[Chunk]:
        if self._parser is None:
            from prompt_toolkit.input.vt100_parser import Vt100Parser

            self._parser = Vt100Parser(self._presses.append)
        # surrogateescape: any byte, UTF-8 or not (or half of a character cut by the read), comes
        # back out of _chunks as itself.
        text = data.decode("utf-8", "surrogateescape")
        self._held += len(text)
        self._parser.feed(text)
        return self._take()

    def _take(self) -> list[Chunk]:
        from prompt_toolkit.keys import Keys

        presses, self._presses[:] = self._presses[:], []
        # A paste comes back without its two 6-character brackets; everything else as it was typed.
        self._held -= sum(len(p.data) + (12 if p.key == Keys.BracketedPaste else 0) for p in presses)
        return _chunks(presses)


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
    for match in re.finditer(TERMINAL_REPLY, data):
        chunks += _typing(data[start : match.start()])
        chunks.append(Chunk(match.group(0), reply=True))
        start = match.end()
    return chunks + _typing(data[start:])


def _typing(data: bytes) -> list[Chunk]:
    return [Chunk(data, pasted=len(data) > BURST)] if data else []


def wrap_paste(data: bytes) -> bytes:
    """Bracket a paste for a remote program that asked for bracketed paste itself."""
    return PASTE_START + data + PASTE_END
