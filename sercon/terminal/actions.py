"""The console's control actions (BREAK, SysRq, NMI, reset), from the menu or the control socket.

Each runs on the session's writer thread, in order with the input around it, and ends as a status
line. One asked through the control socket (`sercon sysrq` beside a running `connect`) is waited
for, and its result or error goes back to the asking command.
"""

from __future__ import annotations

from collections.abc import Callable

from sercon.errors import ConnectionLost, SerconError, UsageError
from sercon.sysrq import VALID_KEYS
from sercon.transport.base import Transport

REPLY_WAIT = 60.0


class Actions:
    def __init__(self, transport: Transport, run_in_order: Callable[[Callable[[], object]], None]) -> None:
        self.transport = transport
        self.run_in_order = run_in_order  # the writer thread's queue
        self.table: dict[str, Callable[[str | None], str]] = {
            "break": lambda _: _done(transport.send_break, "BREAK sent"),
            "sysrq": lambda key: _done(lambda: transport.sysrq(_sysrq_key(key)), f"SysRq {key} sent"),
            "nmi": lambda _: _done(transport.nmi, "NMI sent"),
            "reset": lambda _: _done(transport.reset, "reset sent"),
        }

    def __contains__(self, name: str) -> bool:
        return name in self.table

    def queue(self, name: str, arg: str | None = None) -> None:
        """From the menu: run it after the input typed before it; the outcome is a status line."""
        self.run_in_order(lambda: self.table[name](arg))

    def run_and_wait(self, name: str, arg: str | None) -> str:
        """From the control socket: run it in order, wait, and return its status line (or raise)."""
        if name not in self.table:
            raise UsageError(f"unknown control action {name!r}")
        from concurrent import futures  # the control socket's first request loads it, not the start-up

        reply: futures.Future[str] = futures.Future()

        def job() -> str:
            try:
                message = self.table[name](arg)
            except SerconError as exc:
                reply.set_exception(exc)
                raise
            except Exception as exc:
                reply.set_exception(SerconError(f"{name} failed: {type(exc).__name__}: {exc}"))
                raise
            reply.set_result(message)
            return message

        self.run_in_order(job)
        try:
            return reply.result(REPLY_WAIT)
        except futures.TimeoutError:
            raise ConnectionLost(f"the session did not run {name} in time") from None


def _done(action: Callable[[], None], message: str) -> str:
    """Run *action*; its status line."""
    action()
    return message


def _sysrq_key(key: str | None) -> str:
    if not isinstance(key, str) or key not in VALID_KEYS:
        raise UsageError(f"{key!r} is not a SysRq key (keys: {''.join(sorted(VALID_KEYS))})")
    return key
