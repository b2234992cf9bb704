"""The session's writer thread: input goes out in order; keystrokes coalesce, pastes are paced."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from sercon.errors import ConnectionLost, SerconError
from sercon.stream.pacing import PacedWriter
from sercon.terminal.console import wrap_paste
from sercon.terminal.logfile import LogError, SessionLog
from sercon.terminal.screen import Screen
from sercon.transport.base import Transport

if TYPE_CHECKING:
    from sercon.terminal.journal_sink import JournalSink

# How input goes out: typed (coalesced), a paste (paced, and bracketed when the remote asked for
# bracketed paste), or paced input that is still typing (`sercon send` through a running session:
# bash would hold a bracketed paste unexecuted until the user's next Enter).
TYPED, PASTE, PACED = "typed", "paste", "paced"
# What the writer takes: (bytes, how) to send, or an action whose result is a status line.
TxItem = tuple[bytes, str] | Callable[[], object]


class Sender:
    def __init__(self, transport: Transport, screen: Screen, paste_chunk: int, stop: threading.Event,
                 log: Callable[[], SessionLog | None], bracketed: Callable[[], bool],
                 secret: Callable[[], bool] = lambda: False) -> None:
        self.transport, self.screen, self.paste_chunk, self.stop = transport, screen, paste_chunk, stop
        self.log, self.bracketed, self.secret = log, bracketed, secret
        self._queue: queue.Queue[TxItem | None] = queue.Queue()
        self._carry: TxItem | None = None
        self._dropped = False
        self._lost = 0
        self._lost_lock = threading.Lock()
        # Started with the first item it is given: plain typing goes out from the key loop, so a
        # session that only shows output never starts it, and the first read does not share the CPU with it.
        self.thread = threading.Thread(target=self._run, name="sercon-tx", daemon=True)
        self._start_lock = threading.Lock()
        self._paced = PacedWriter(transport, paste_chunk, before=self._judge, after=self._log_judged, stop=stop)
        self._judged = False  # was the piece going out now typed at a password prompt (the writer thread's)
        self.journal: JournalSink | None = None  # input goes there too with --journal-input (session.py)

    def put(self, item: TxItem) -> None:
        self._queue.put(item)
        if not self.thread.is_alive():
            self._start()

    def _start(self) -> None:
        with self._start_lock:
            if self.thread.ident is None:  # never started (a started thread that ended keeps its ident)
                self.thread.start()

    def close(self) -> None:
        self._queue.put(None)

    def typed(self, data: bytes) -> None:
        """Keystrokes go straight out when nothing is queued ahead of them (no thread hand-off)."""
        if self._queue.unfinished_tasks == 0:
            secret = self._secret_now()
            try:
                sent = self.transport.try_write(data)
            except ConnectionLost:
                self.input_lost(len(data))
                return
            if sent:
                self.log_tx(data[:sent], secret)
            data = data[sent:]
        if data:
            self.put((data, TYPED))

    def input_lost(self, count: int = 0) -> None:
        """Input that cannot go anywhere: said once per disconnection, with what was lost."""
        with self._lost_lock:  # the key loop, the writer and the reader (on reconnect) all get here
            self._lost += count
            first, self._dropped = not self._dropped, True
        if first:
            self.screen.status("not connected: input is dropped until the console is back")

    def take_lost(self) -> int:
        """Bytes dropped while disconnected (counted since the last call)."""
        with self._lost_lock:
            lost, self._lost = self._lost, 0
        return lost

    def reconnected(self) -> None:
        with self._lost_lock:
            self._dropped = False
        lost = self.take_lost()
        if lost:
            self.screen.status(f"{lost} byte{'s' if lost != 1 else ''} of input were dropped while disconnected")

    def _secret_now(self) -> bool:
        """Is the console at a password prompt, asked before a write (only when a log or the journal's
        input will want to know): once the write is out, the console may already show the next prompt."""
        journal = self.journal
        if (journal is not None and journal.record_input) or self.log() is not None:
            return self.secret()
        return False

    def _judge(self, piece: bytes) -> None:
        self._judged = self._secret_now()

    def _log_judged(self, piece: bytes) -> None:
        self.log_tx(piece, self._judged)

    def log_tx(self, data: bytes, secret: bool | None = None) -> None:
        """Input that went out, to the log and (with --journal-input) the journal; *secret*: it was typed
        at a password prompt (asked before the write; None: ask now), so the journal never keeps it."""
        if secret is None:
            secret = self._secret_now()
        journal = self.journal
        if journal is not None and journal.record_input and not secret:  # a password is never kept
            journal.input(data)
        log = self.log()
        if log is not None:
            try:
                log.tx(data, secret=secret)
            except LogError as exc:
                self.screen.status(exc.message)

    def _run(self) -> None:
        while (item := self._next_item()) is not None:
            taken = 1
            try:
                if callable(item):
                    message = item()
                    if message:
                        self.screen.status(str(message))
                    continue
                data, how = item
                if how == TYPED:
                    data, taken = self._coalesce(data)
                    self._send(data)
                else:
                    self._send_paced(data, bracket=how == PASTE)
            except ConnectionLost:
                self.input_lost(len(item[0]) if not callable(item) else 0)
            except SerconError as exc:
                self.screen.status(exc.message)
            except Exception as exc:  # noqa: BLE001 - a bug in one action must not end all input
                self.screen.status(f"internal error, input goes on: {type(exc).__name__}: {exc} "
                                   "(please report it; --debug shows more)")
            finally:
                for _ in range(taken):
                    self._queue.task_done()

    def _next_item(self) -> TxItem | None:
        item, self._carry = self._carry, None
        return item if item is not None else self._queue.get()

    def _coalesce(self, data: bytes) -> tuple[bytes, int]:
        """Join keystrokes that queued up behind a slow write into one write; returns (data, items)."""
        limit = self.transport.max_write or 65536
        taken = 1
        while len(data) < limit:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is None:  # stopping: keep the sentinel for the loop
                self._queue.task_done()
                self._queue.put(None)
                break
            if callable(item) or item[1] != TYPED or len(data) + len(item[0]) > limit:
                self._carry = item  # keep the order: it goes next
                break
            data += item[0]
            taken += 1
        return data, taken

    def send_now(self, data: bytes, how: str) -> None:
        """Send on the writer thread (from a queued job), raising ConnectionLost if it cannot go."""
        if how == TYPED:
            self._send(data)
        else:
            self._send_paced(data, bracket=how == PASTE)

    def _send(self, data: bytes) -> None:
        secret = self._secret_now()
        self.transport.write(data)
        self.log_tx(data, secret)

    def _send_paced(self, data: bytes, bracket: bool) -> None:
        if bracket and self.bracketed():
            data = wrap_paste(data)
        self._paced.write(data)
