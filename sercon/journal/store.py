"""The journal: what each target's console printed, kept per target in private files, bounded.

Layout: $XDG_STATE_HOME/sercon/journal/NAME/ (0700), NAME from journal_name(label); in it one segment
file per session part, `SSSSSSSS-PPPP.jnl` (0600): session number S (1, 2, ... per target: the file name
claims it, O_EXCL, so two sessions at once get two numbers), part P (a session that writes more than a
segment's share of the bound goes on in the next part). The oldest segments are removed when the folder
holds more than the bound.

A segment is a run of records (record.py): magic, type, time, length, CRC-32, payload. A reader stops at
the first record that is cut short or does not check out (power loss mid-write), with one note.

The no-journal case is NULL_JOURNAL (a NullJournal: every method does nothing), so callers never test
for None; JournalWriter.open never raises: a folder it cannot write is one on_error call and a writer
that is off.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Union

from sercon.choices import JOURNAL_MIN_SIZE
from sercon.journal.record import EVENT, INPUT, OUTPUT, encode, event_payload
from sercon.journal.settings import DEFAULT_LIMIT

MIN_LIMIT = JOURNAL_MIN_SIZE
FLUSH_BYTES = 64 * 2**10  # write out when this much is buffered ...
FLUSH_SECONDS = 0.5  # ... or this long after the first buffered chunk (a flusher thread sees to it)
MAX_PENDING = 8 * FLUSH_BYTES  # a flusher this far behind (a stalled disk): the caller writes, and waits
SEGMENTS = 8  # a segment is at most limit/SEGMENTS: dropping the oldest loses about an eighth
KINDS = ("connect", "send", "rescue", "sysrq", "nmi", "reset", "watch")
SUFFIX = ".jnl"


class JournalError(Exception):
    """The journal cannot be written or read: *message* is one status line."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def journal_name(label: str) -> str:
    """A transport label ("/dev/ttyUSB0", "rg/vm", "rg/set/3", "telnet://h:p") -> a file name that is safe
    (letters, digits, . _ -), stable and unique (a hash of the whole label follows the readable part)."""
    import hashlib

    readable = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in label).strip("._")
    digest = hashlib.sha256(label.encode("utf-8", "surrogateescape")).hexdigest()[:10]
    return f"{readable[:60] or 'target'}-{digest}"


def target_dir(label: str, environ: Mapping[str, str] | None = None) -> Path:
    from sercon.paths import journal_dir

    return journal_dir(os.environ if environ is None else environ) / journal_name(label)


def segments(folder: Path) -> list[Path]:
    """The folder's segments, oldest first (names sort by session, then part)."""
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return []
    return [folder / n for n in sorted(names) if n.endswith(SUFFIX) and not n.startswith(".")]


def session_of(path: Path) -> int:
    return int(path.name.split("-", 1)[0])


class NullJournal:
    """The journal turned off: every call does nothing (a session pays one method call per chunk)."""

    enabled = False
    session = 0

    def output(self, data: bytes) -> None:
        pass

    def input(self, data: bytes) -> None:
        pass

    def event(self, kind: str, /, **fields: object) -> None:
        pass

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


NULL_JOURNAL = NullJournal()


class JournalWriter:
    """Appends one session's records to its target's journal. output() only buffers the chunk with its
    time (it runs on the reader thread per chunk: no encoding, no checksum, no write there); a flusher
    thread encodes and writes the buffer FLUSH_SECONDS after its first chunk, or at once when it holds
    FLUSH_BYTES; events and close() write at once. After an I/O error: on_error(message) once, then the
    writer is off."""

    enabled = True

    def __init__(self, folder: Path, session: int, fd: int, *, kind: str, limit: int, record_input: bool,
                 on_error: Callable[[str], None]) -> None:
        self.folder, self.session, self.kind = folder, session, kind
        self.limit, self.record_input, self._on_error = limit, record_input, on_error
        self._fd: int | None = fd
        self._part, self._written = 0, 0
        self._pending: list[tuple[int, float, bytes]] = []  # (record type, time, payload), not yet encoded
        self._pending_size = 0
        self._lock = threading.Lock()  # one writer of the file at a time (reader thread, flusher, caller)
        self._buffer_lock = threading.Lock()  # held only to append or take the buffer, never across a write
        self._wake = threading.Event()  # something is buffered
        self._hurry = threading.Event()  # a full buffer: the flusher writes without waiting out FLUSH_SECONDS
        self._closed = False
        self._flusher: threading.Thread | None = None

    @classmethod
    def open(cls, label: str, *, kind: str, limit: int = DEFAULT_LIMIT, record_input: bool = False,
             on_error: Callable[[str], None] = lambda message: None, environ: Mapping[str, str] | None = None,
             folder: Path | None = None) -> SessionJournal:
        """A writer for a new session of *label*'s journal (folder: instead of the XDG one, for tests).
        Never raises: a journal that cannot be opened is on_error(message) and NULL_JOURNAL."""
        folder = target_dir(label, environ) if folder is None else folder
        try:
            _private_folder(folder)
            session, fd = _claim_session(folder)
            if session == 1 or not (folder / "label").exists():
                from sercon.journal.reader import write_label

                write_label(folder, label)
        except (OSError, JournalError) as exc:
            on_error(_message(folder, exc))
            return NULL_JOURNAL
        writer = cls(folder, session, fd, kind=kind, limit=max(limit, MIN_LIMIT), record_input=record_input,
                     on_error=on_error)
        writer._trim()  # many short sessions (one-shots) each stay within a segment: the bound holds here
        writer.event("opened", kind=kind, target=label)
        return writer

    # -- what the session calls ------------------------------------------------------------------------
    def output(self, data: bytes) -> None:
        self._add(OUTPUT, data)

    def input(self, data: bytes) -> None:
        if self.record_input:
            self._add(INPUT, data)

    def event(self, kind: str, /, **fields: object) -> None:
        if self._fd is None:
            return
        payload = event_payload(kind, fields)
        with self._buffer_lock:
            self._pending.append((EVENT, time.time(), payload))
        self.flush()

    def flush(self) -> None:
        with self._lock:
            self._write_pending()

    def close(self) -> None:
        if self._closed:
            return
        if self._fd is not None:
            self.event("ended")
        self._closed = True
        self._wake.set()
        self._hurry.set()
        with self._lock:
            self._write_pending()
            if self._fd is not None:
                _close(self._fd)
                self._fd = None

    # -- inside --------------------------------------------------------------------------------------
    def _add(self, kind: int, data: bytes) -> None:
        if self._fd is None or not data:
            return
        with self._buffer_lock:
            self._pending.append((kind, time.time(), bytes(data)))
            self._pending_size += len(data)
            size = self._pending_size
        if size >= MAX_PENDING:  # the flusher cannot keep up: write here (the session waits on the disk)
            self.flush()
            return
        if size >= FLUSH_BYTES and not self._hurry.is_set():
            self._hurry.set()
        if not self._wake.is_set():  # a plain read: the lock inside set() only once per flush
            self._wake.set()
        if self._flusher is None:
            self._flusher = threading.Thread(target=self._flush_loop, name="journal", daemon=True)
            self._flusher.start()

    def _flush_loop(self) -> None:
        while not self._closed:
            self._wake.wait()
            self._wake.clear()
            if self._closed:
                return
            self._hurry.wait(FLUSH_SECONDS)  # gather what follows, unless the buffer is full already
            self._hurry.clear()
            self.flush()

    def _write_pending(self) -> None:
        with self._buffer_lock:
            records, self._pending, self._pending_size = self._pending, [], 0
        if not records:
            return
        if self._fd is None:
            return
        blob = b"".join([encode(kind, when, payload) for kind, when, payload in records])
        try:
            if self._written and self._written + len(blob) > self.limit // SEGMENTS:
                self._next_part()
            _write_all(self._fd, blob)
            self._written += len(blob)
            if self._part or self._written > self.limit // SEGMENTS:
                self._trim()
        except OSError as exc:
            self._fail(exc)

    def _next_part(self) -> None:
        _close(self._fd) if self._fd is not None else None
        self._fd = None
        self._part += 1
        self._fd = _create(self.folder / f"{self.session:08d}-{self._part:04d}{SUFFIX}")
        self._written = 0

    def _trim(self) -> None:
        """Remove the oldest segments until the folder is within the bound (never this session's open one)."""
        files = segments(self.folder)
        sizes = {f: _size(f) for f in files}
        total = sum(sizes.values())
        current = self.folder / f"{self.session:08d}-{self._part:04d}{SUFFIX}"
        for f in files:
            if total <= self.limit:
                break
            if f == current:
                continue
            with contextlib.suppress(FileNotFoundError):
                f.unlink()
            total -= sizes[f]

    def _fail(self, exc: OSError) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            _close(fd)
        self._on_error(_message(self.folder, exc))


# What JournalWriter.open returns: a session holds one of these and calls it without testing which.
SessionJournal = Union[JournalWriter, NullJournal]  # noqa: UP007 - a runtime alias, Python 3.10 too


def _message(folder: Path, exc: Exception) -> str:
    reason = exc.message if isinstance(exc, JournalError) else (getattr(exc, "strerror", None) or str(exc))
    return f"the journal is off for this session: cannot write {folder}: {reason} (the session goes on)"


def _private_folder(folder: Path) -> None:
    from sercon.errors import UsageError
    from sercon.paths import private_dir

    try:
        private_dir(folder.parent)
        private_dir(folder)
    except UsageError as exc:
        raise JournalError(str(exc)) from exc


def _claim_session(folder: Path) -> tuple[int, int]:
    """The next session number, claimed by creating its first segment (O_EXCL: two sessions at once
    never share one)."""
    files = segments(folder)
    session = session_of(files[-1]) + 1 if files else 1
    for _ in range(1000):
        try:
            return session, _create(folder / f"{session:08d}-0000{SUFFIX}")
        except FileExistsError:
            session += 1
    raise JournalError("no free session number")


def _create(path: Path) -> int:
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)


def _write_all(fd: int, blob: bytes) -> None:
    view = memoryview(blob)
    while view:
        view = view[os.write(fd, view):]


def _close(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.close(fd)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
