"""Session logs (plain text or JSONL) and ISO-8601 line timestamps."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from sercon.errors import UsageError

FLUSH_INTERVAL = 0.75  # with the session ticking every 0.25 s, no byte waits over a second
LOG_FORMATS = ("text", "jsonl")


def iso_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch).astimezone().isoformat(timespec="milliseconds")


class LineStamper:
    """Prefixes each line with the time its first byte arrived. Keeps state across chunks.

    With *restamp*, a bare carriage return (a progress bar redrawing its line) is followed by the
    line's stamp again: on a screen the remote's next text would otherwise overwrite it.
    """

    def __init__(self, clock: Callable[[], float] = time.time, restamp: bool = False) -> None:
        self.clock = clock
        self.restamp = restamp
        self.at_line_start = True
        self._stamp = b""
        self._after_cr = False  # the last byte seen was a CR: a stamp is due unless LF follows

    def stamp(self, data: bytes) -> bytes:
        out = bytearray()
        for piece in _lines(data):
            if self.at_line_start:
                self._stamp = f"[{iso_time(self.clock())}] ".encode()
                out += self._stamp
                self.at_line_start = False
            elif self._after_cr and piece[:1] != b"\n":
                out += self._stamp
            self._after_cr = False
            out += piece
            if piece.endswith(b"\n"):
                self.at_line_start = True
            elif self.restamp and piece.endswith(b"\r"):
                self._after_cr = True
        return bytes(out)


def _lines(data: bytes) -> list[bytes]:
    """*data* cut after each LF and after each CR (a CR may start a redraw of the same line)."""
    pieces, start = [], 0
    for index, byte in enumerate(data):
        if byte in (0x0A, 0x0D):
            pieces.append(data[start : index + 1])
            start = index + 1
    if start < len(data):
        pieces.append(data[start:])
    return pieces


class LogError(UsageError):
    """The log file cannot be written: before the session, a usage error (exit 2, nothing opened);
    during it, a status line, and the session goes on without the log."""


class SessionLog:
    """What the console printed (text), or every chunk both ways with its time (jsonl).

    Appends; flushed at least once a second (the session's loop calls ``flush_if_due``) and at close.
    Thread-safe: the reader thread logs rx, the writer thread tx.
    """

    def __init__(
        self, path: str | Path, fmt: str = "text", timestamps: bool = False, clock: Callable[[], float] = time.time
    ) -> None:
        self.path = Path(path)
        self.fmt = fmt
        self.clock = clock
        self.timestamps = timestamps
        self._stamper = LineStamper(clock)
        self._lock = threading.Lock()
        self._file: BinaryIO | None = None
        self._last_flush = 0.0

    @property
    def active(self) -> bool:
        return self._file is not None

    @staticmethod
    def check(path: str | Path) -> None:
        """Fail now, before connecting, if *path* cannot be appended to."""
        log = SessionLog(path)
        log.open()
        log.close()

    def open(self) -> None:
        try:
            # Consoles print secrets too: a new log is readable by its owner only.
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            self._file = os.fdopen(fd, "ab")
        except OSError as exc:
            raise LogError(f"cannot open log file {self.path}: {exc.strerror}", "pick another --log path") from exc
        self._last_flush = time.monotonic()

    def close(self) -> None:
        with self._lock:
            file, self._file = self._file, None
            if file is not None:
                try:
                    file.close()
                except OSError as exc:
                    raise LogError(f"cannot write log file {self.path}: {exc.strerror}") from exc

    def rx(self, data: bytes) -> None:
        if self.fmt == "jsonl":
            self._record("rx", data)
        else:
            self._write(self._stamper.stamp(data) if self.timestamps else data)

    def tx(self, data: bytes, secret: bool = False) -> None:
        """Input, in JSONL logs only; typed at a password prompt, only its length is kept."""
        if self.fmt != "jsonl":
            return
        if secret:
            self._write(self._json({"t": iso_time(self.clock()), "dir": "tx", "hidden": len(data)}))
        else:
            self._record("tx", data)

    def event(self, name: str, **fields: object) -> None:
        if self.fmt == "jsonl":
            self._write(self._json({"t": iso_time(self.clock()), "event": name, **fields}))

    def _record(self, direction: str, data: bytes) -> None:
        record: dict[str, object] = {"t": iso_time(self.clock()), "dir": direction}
        try:
            record["data"] = data.decode("utf-8")
        except UnicodeDecodeError:
            import base64  # here, not at import: the way to the first console byte does not pay for it

            record["b64"] = base64.b64encode(data).decode("ascii")
        self._write(self._json(record))

    @staticmethod
    def _json(record: dict[str, object]) -> bytes:
        import json  # here, not at import: the way to the first console byte does not pay for it

        return json.dumps(record, ensure_ascii=False).encode() + b"\n"

    def _write(self, data: bytes) -> None:
        with self._lock:
            file = self._file
            if file is None:
                return
            try:
                file.write(data)
                self._flush_if_due_locked(file)
            except OSError as exc:
                self._fail(exc)

    def flush_if_due(self) -> None:
        with self._lock:
            file = self._file
            if file is not None:
                try:
                    self._flush_if_due_locked(file)
                except OSError as exc:
                    self._fail(exc)

    def _flush_if_due_locked(self, file: BinaryIO) -> None:
        now = time.monotonic()
        if now - self._last_flush >= FLUSH_INTERVAL:
            file.flush()
            self._last_flush = now

    def _fail(self, exc: OSError) -> None:
        file, self._file = self._file, None
        if file is not None:
            with contextlib.suppress(OSError):
                file.close()
        raise LogError(f"stopped logging to {self.path}: {exc.strerror}") from exc


class LogSink:
    """The session's --log (or the menu's log), which the user may switch on and off while output flows."""

    __slots__ = ("log", "status")

    def __init__(self, log: SessionLog | None, status: Callable[[str], None]) -> None:
        self.log = log
        self.status = status

    def rx(self, data: bytes) -> None:
        log = self.log
        if log is not None:
            try:
                log.rx(data)
            except LogError as exc:
                self.status(exc.message)
