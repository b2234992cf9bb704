"""The journal as a sink of the receive pipeline (sercon/stream/sinks.py): every session kind keeps
what the console printed.

The journal (sercon/journal/) is opened on the first chunk, not before: nothing is loaded or
created on the way to the console's first byte, and a session that never printed anything opens it
only to record its events at the end. An error opening or writing it is one status line, once
(the journal's on_error, which JournalWriter calls at most once and then turns itself off); the
session goes on without it and nothing else is lost.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sercon.journal.store import JournalWriter, NullJournal

from sercon.choices import JOURNAL_DEFAULT_SIZE as DEFAULT_LIMIT


class JournalSink:
    """One session's journal: output per chunk (the reader thread), events, input when asked."""

    def __init__(self, label: str, kind: str, status: Callable[[str], None], limit: int = DEFAULT_LIMIT,
                 record_input: bool = False) -> None:
        self.label, self.kind, self.status = label, kind, status
        self.limit, self.record_input = limit, record_input
        self.writer: JournalWriter | NullJournal | None = None
        self._off = False  # it could not be opened: said once, never tried again
        self._closed = False
        self._pending: list[tuple[str, dict[str, Any]]] = []  # events before the first chunk
        self._open_lock = threading.Lock()  # taken once, to open: the reader and the main thread may race

    def rx(self, data: bytes) -> None:
        writer = self.writer
        if writer is None:
            writer = self._open()
            if writer is None:
                return
        writer.output(data)

    def input(self, data: bytes) -> None:
        """What was typed: kept only with --journal-input (the writer ignores it otherwise)."""
        if not self.record_input:
            return
        writer = self.writer or self._open()  # input may come first (send): it opens the journal then
        if writer is not None:
            writer.input(data)

    def event(self, kind: str, **fields: Any) -> None:
        writer = self.writer
        if writer is None:
            if not self._off:
                self._pending.append((kind, fields))
            return
        writer.event(kind, **fields)

    def flush(self) -> None:
        writer = self.writer
        if writer is not None:
            writer.flush()

    def close(self, **fields: Any) -> None:
        """The session ended: its last event (with *fields*: code, reason), then the file closed. Once."""
        if self._closed:
            return
        self._closed = True
        self.event("closed", **fields)
        writer = self.writer or (self._open() if self._pending else None)
        if writer is not None:
            writer.close()

    def _open(self) -> JournalWriter | NullJournal | None:
        with self._open_lock:
            if self.writer is not None or self._off:
                return self.writer
            from sercon.journal.store import JournalWriter

            # Never raises: a folder it cannot write is one on_error call and a writer that does nothing.
            writer = JournalWriter.open(self.label, kind=self.kind, limit=self.limit, record_input=self.record_input,
                                        on_error=self.status)
            if not writer.enabled:
                self._off = True
                self._pending.clear()
            for kind, fields in self._pending:
                writer.event(kind, **fields)
            self._pending.clear()
            self.writer = writer
            return writer


def journal_sink(label: str, kind: str, options: object, status: Callable[[str], None]) -> JournalSink | None:
    """The journal for a session of *kind* with these options (journal, journal_size, journal_input),
    or None when it is off."""
    if not getattr(options, "journal", True):
        return None
    return JournalSink(label, kind, status, limit=getattr(options, "journal_size", DEFAULT_LIMIT) or DEFAULT_LIMIT,
                       record_input=bool(getattr(options, "journal_input", False)))


def journal_for(transport: object, kind: str, prefs: Mapping[str, Any], environ: Mapping[str, str],
                status: Callable[[str], None]) -> JournalSink | None:
    """The journal of a one-shot command (send, sysrq) from its prefs, or None: off, or the console is
    a running `sercon connect`'s (through its control socket), whose own journal keeps what it prints."""
    from sercon.journal.settings import journal_settings
    from sercon.transport.control import ControlTransport

    if isinstance(transport, ControlTransport):
        return None
    return journal_sink(getattr(transport, "label", "?"), kind, journal_settings(prefs, environ), status)
