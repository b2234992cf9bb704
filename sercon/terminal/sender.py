"""The session's writer thread: input goes out in order; keystrokes coalesce, pastes are paced."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

from sercon.errors import ConnectionLost, SerconError
from sercon.terminal.console import wrap_paste
from sercon.terminal.logfile import LogError, SessionLog
from sercon.terminal.paste import paste_chunks
from sercon.terminal.screen import Screen
from sercon.transport.base import Transport

# What the writer takes: (bytes, pasted) to send, or an action whose result is a status line.
TxItem = tuple[bytes, bool] | Callable[[], object]


class Sender:
    def __init__(self, transport: Transport, screen: Screen, paste_chunk: int, stop: threading.Event,
                 log: Callable[[], SessionLog | None], bracketed: Callable[[], bool],
                 secret: Callable[[], bool] = lambda: False) -> None:
        self.transport, self.screen, self.paste_chunk, self.stop = transport, screen, paste_chunk, stop
        self.log, self.bracketed, self.secret = log, bracketed, secret
        self._queue: queue.Queue[TxItem | None] = queue.Queue()
        self._carry: TxItem | None = None
        self._dropped = False
        self.thread = threading.Thread(target=self._run, name="sercon-tx", daemon=True)

    def put(self, item: TxItem) -> None:
        self._queue.put(item)

    def close(self) -> None:
        self._queue.put(None)

    def typed(self, data: bytes) -> None:
        """Keystrokes go straight out when nothing is queued ahead of them (no thread hand-off)."""
        if self._queue.unfinished_tasks == 0:
            try:
                sent = self.transport.try_write(data)
            except ConnectionLost:
                self.input_lost()
                return
            if sent:
                self.log_tx(data[:sent])
            data = data[sent:]
        if data:
            self._queue.put((data, False))

    def input_lost(self) -> None:
        if not self._dropped:
            self._dropped = True
            self.screen.status("not connected: input dropped")

    def reconnected(self) -> None:
        self._dropped = False

    def log_tx(self, data: bytes) -> None:
        log = self.log()
        if log is not None:
            try:
                log.tx(data, secret=self.secret())
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
                data, pasted = item
                if pasted:
                    self._send_paste(data)
                else:
                    data, taken = self._coalesce(data)
                    self._send(data)
            except ConnectionLost:
                self.input_lost()
            except SerconError as exc:
                self.screen.status(exc.message)
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
            if callable(item) or item[1] or len(data) + len(item[0]) > limit:
                self._carry = item  # keep the order: it goes next
                break
            data += item[0]
            taken += 1
        return data, taken

    def _send(self, data: bytes) -> None:
        self.transport.write(data)
        self.log_tx(data)

    def _send_paste(self, data: bytes) -> None:
        if self.bracketed():
            data = wrap_paste(data)
        size = min(self.paste_chunk, self.transport.max_write or self.paste_chunk)
        for piece in paste_chunks(data, size):
            self._send(piece)
            self.transport.drain()
            if self.stop.is_set():
                return
