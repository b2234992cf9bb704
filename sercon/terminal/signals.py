"""Signals as data: handlers only wake the session's loop, which then acts in ordinary code."""

from __future__ import annotations

import contextlib
import os
import signal

# Every catchable signal whose default would end sercon with the terminal still raw.
EXIT_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2,
                signal.SIGALRM)


class SignalWake:
    """While active, exit signals and SIGWINCH are written as bytes to a pipe the loop selects on."""

    def __init__(self, signals: tuple[int, ...] = (*EXIT_SIGNALS, signal.SIGWINCH)) -> None:
        self.signals = signals
        self._old_handlers: dict[int, object] = {}
        self._old_wakeup = -1
        self.read_fd, self._write_fd = os.pipe()

    def __enter__(self) -> SignalWake:
        for fd in (self.read_fd, self._write_fd):
            os.set_blocking(fd, False)
        self._old_wakeup = signal.set_wakeup_fd(self._write_fd, warn_on_full_buffer=False)
        for signum in self.signals:
            self._old_handlers[signum] = signal.signal(signum, _ignore)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._old_handlers.items():
            signal.signal(signum, handler)
        signal.set_wakeup_fd(self._old_wakeup)
        for fd in (self.read_fd, self._write_fd):
            with contextlib.suppress(OSError):
                os.close(fd)

    def pending(self) -> list[int]:
        try:
            return list(os.read(self.read_fd, 64))
        except BlockingIOError:
            return []


def _ignore(signum: int, frame: object) -> None:
    """The wakeup fd already carries the signal number; the loop handles it."""
