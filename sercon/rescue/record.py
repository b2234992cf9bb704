"""The rescue phase's output kept like any session's: --log and the target's journal.

The session that follows the rescue (the root shell) opens the log again and a journal session of
its own; this covers what came before: GRUB, the edited boot, the kernel. A log or journal that
cannot be written is one status line, and the rescue goes on.
"""

from __future__ import annotations

from collections.abc import Callable

from sercon.stream.sinks import Pipeline, Sink
from sercon.terminal.journal_sink import JournalSink, journal_sink
from sercon.terminal.logfile import LogError, LogSink, SessionLog
from sercon.terminal.session_options import SessionOptions


class RescueRecord:
    """A sink for ConsoleWatch: the log (opened by open()), then the journal (opened with the first chunk)."""

    def __init__(self, label: str, options: SessionOptions, status: Callable[[str], None],
                 journal: bool = True) -> None:
        self.label, self.status = label, status
        log = SessionLog(options.log_path, options.log_format, options.timestamps) if options.log_path else None
        self.log = LogSink(log, status)
        self.journal: JournalSink | None = journal_sink(label, "rescue", options, status) if journal else None
        sinks: list[Sink] = [self.log]
        if self.journal is not None:
            sinks.append(self.journal)
        self.pipeline = Pipeline(*sinks)

    def open(self) -> None:
        log = self.log.log
        if log is not None:
            try:
                log.open()
                log.event("open", target=self.label, phase="rescue")
            except LogError as exc:
                self.log.log = None
                self.status(exc.message)
        if self.journal is not None:
            self.journal.event("connected", target=self.label)

    def rx(self, data: bytes) -> None:
        self.pipeline.rx(data)

    def close(self, code: int, reason: str) -> None:
        log, self.log.log = self.log.log, None
        if log is not None:
            try:
                log.event("close", target=self.label, phase="rescue")
                log.close()
            except LogError as exc:
                self.status(exc.message)
        if self.journal is not None:
            self.journal.close(code=code, reason=reason)
