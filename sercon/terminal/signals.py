"""Signals as data: handlers only wake the session's loop, which then acts in ordinary code."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import signal
else:
    try:  # the C module under `signal`: the same calls and numbers, without the enums that `signal`
        import _signal as signal  # builds at import (2-4 ms on every start, `sercon --help` included)
    except ImportError:  # an interpreter without it
        import signal

# Signals whose default does not end a process (ignore, stop, continue), the two no process can catch,
# and the two Python ignores from the start (SIGPIPE: a write's EPIPE ends sercon with 141; SIGXFSZ: EFBIG).
_NOT_FATAL = {signal.SIGCHLD, signal.SIGCONT, signal.SIGURG, signal.SIGWINCH, signal.SIGTSTP, signal.SIGTTIN,
              signal.SIGTTOU, signal.SIGKILL, signal.SIGSTOP, signal.SIGPIPE, signal.SIGXFSZ}
# The faults a crash raises keep their default: a handler that returns re-runs the faulting instruction.
_FAULTS = {signal.SIGSEGV, signal.SIGBUS, signal.SIGILL, signal.SIGFPE}
# Every other signal whose default would end sercon with the terminal still raw (SIGPROF, SIGPWR, the
# real-time ones...): each ends it through its error path instead, the terminal restored, exit 128+N.
# The C library keeps the first real-time numbers (32, 33) for itself: SIGRTMIN is past them.
EXIT_SIGNALS = tuple(int(signum) for signum in sorted(signal.valid_signals())
                     if signum not in _NOT_FATAL | _FAULTS and (signum < 32 or signum >= signal.SIGRTMIN))


SIGINT, SIGWINCH = int(signal.SIGINT), int(signal.SIGWINCH)


def set_handler(signum: int, handler: Callable[[int, Any], Any]) -> None:
    """signal.signal, for callers that need no more of the module."""
    signal.signal(signum, handler)


def signal_name(signum: int) -> str:
    """SIGTERM, or SIGRTMIN+3 for a real-time signal Python has no name for."""
    import signal as named  # the enums, only when a signal has come

    try:
        return named.Signals(signum).name
    except ValueError:
        return f"SIGRTMIN+{signum - named.SIGRTMIN}"


class SignalWake:
    """While active, exit signals and SIGWINCH are written as bytes to a pipe the loop selects on."""

    def __init__(self, signals: tuple[int, ...] = (*EXIT_SIGNALS, SIGWINCH)) -> None:
        self.signals = signals
        self._old_handlers: dict[int, Callable[[int, FrameType | None], Any] | int | signal.Handlers | None] = {}
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
