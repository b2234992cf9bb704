"""When to try a console again, and when to stop trying (docs/azure.md, "Reconnect policy").

A reconnect counts as successful only once the console has answered (its first output byte, or
PROOF seconds open without a close): a gateway that takes the token and then closes at once is
refusing, and the delay keeps growing across such short-lived sessions. A run of refusals ends
with an error that says what the far end answered; a network that is still down (no answer at
all) is waited for without limit. Everything here runs on the session's reader thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from sercon.errors import AuthFailed, ConnectionLost, PermissionDenied, SerconError, SessionClosed
from sercon.transport.base import Transport

PROOF = 5.0  # seconds open without a close: the console is back even if it printed nothing


class Backoff:
    """Delays between attempts: they double up to *ceiling*, and reset once a session proves itself."""

    def __init__(self, first: float, ceiling: float, max_refusals: int | None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.first, self.ceiling, self.max_refusals, self.clock = first, ceiling, max_refusals, clock
        self.delay = first
        self.refusals = 0
        self.opened_at = clock()
        self.proven = False

    def opened(self) -> None:
        self.opened_at, self.proven = self.clock(), False

    def answered(self) -> None:
        if not self.proven:
            self.proven, self.refusals, self.delay = True, 0, self.first

    def on_probation(self) -> bool:
        """True while the current session has not shown that the console is really back."""
        if not self.proven and self.clock() - self.opened_at >= PROOF:
            self.answered()
        return not self.proven

    def refused(self) -> float | None:
        """The wait before the next try after a refusal; None once there were too many in a row."""
        self.refusals += 1
        if self.max_refusals is not None and self.refusals >= self.max_refusals:
            return None
        return self._grow()

    def lost(self) -> float:
        """The wait before the next try while the far end does not answer at all."""
        return self._grow()

    def _grow(self) -> float:
        wait, self.delay = self.delay, min(self.delay * 2, self.ceiling)
        return wait


class Reconnector:
    """Brings a lost console back, reporting on the status line and in the log."""

    def __init__(self, transport: Transport, stop: threading.Event, status: Callable[[str], None],
                 event: Callable[..., None], quit_hint: str) -> None:
        self.transport, self.stop, self.status, self.event = transport, stop, status, event
        self.quit_hint = quit_hint
        self.backoff = Backoff(transport.reconnect_first_delay, transport.reconnect_backoff, transport.max_refusals)

    def recover(self, exc: ConnectionLost, refused: bool = False) -> bool:
        """Reopen the transport; False if the session is stopping first. Raises when it must give up.

        *refused*: the far end closed a session that had not answered yet (counts toward the limit).
        """
        self.event("lost", reason=exc.message)
        delay = self._after_refusal(exc) if refused else self.backoff.lost()
        self.status(f"{exc.message}; reconnecting in {delay:g} s ({self.quit_hint})")
        while not self.stop.wait(delay):
            try:
                self.transport.reopen()
            except (AuthFailed, PermissionDenied):
                raise
            except SessionClosed as closed:  # refused before it answered
                delay = self._after_refusal(closed)
                self.status(f"{closed.message}; trying again in {delay:g} s ({self.quit_hint})")
                continue
            except ConnectionLost:  # no answer at all: the network is still down
                delay = self.backoff.lost()
                continue
            except SerconError as error:  # an answer that says no (409, 404, ...)
                delay = self._after_refusal(error)
                self.status(f"{error.message}; trying again in {delay:g} s ({self.quit_hint})")
                continue
            self.backoff.opened()
            self.status(f"reconnected to {self.transport.label}")
            self.event("reconnected", target=self.transport.label)
            return True
        return False

    def _after_refusal(self, error: SerconError) -> float:
        delay = self.backoff.refused()
        if delay is None:
            hint = getattr(self.transport, "doctor_hint", lambda: None)() or error.hint
            raise ConnectionLost(f"{self.transport.label}: {self.backoff.refusals} sessions in a row were refused "
                                 f"or closed before the console answered (last: {error.message})", hint)
        return delay
