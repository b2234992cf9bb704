"""Exit statuses and the one error hierarchy every layer raises.

Lower layers raise these; only ``sercon.cli.main`` turns them into messages and exit codes.
"""

from __future__ import annotations

import re
from enum import IntEnum, unique


@unique
class ExitStatus(IntEnum):
    SUCCESS = 0
    ERROR = 1
    USAGE = 2
    TIMEOUT = 3
    NOT_FOUND = 4
    AUTH = 5
    PRECONDITION = 6
    CONNECTION_LOST = 7
    TAKEN_OVER = 8
    DEVICE_BUSY = 9
    INTERRUPTED = 130
    OUTPUT_CLOSED = 141  # 128 + SIGPIPE: the reader of stdout went away (`| head`), as for any Unix filter


class SerconError(Exception):
    """An error the user can act on: a message, a hint (the fix), and an exit status."""

    exit_status: ExitStatus = ExitStatus.ERROR

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(redact(message))
        self.message = redact(message)
        self.hint = redact(hint) if hint else None


class UsageError(SerconError):
    exit_status = ExitStatus.USAGE


class ExpectTimeout(SerconError):
    exit_status = ExitStatus.TIMEOUT


class TargetNotFound(SerconError):
    exit_status = ExitStatus.NOT_FOUND


class PermissionDenied(SerconError):
    exit_status = ExitStatus.AUTH


class AuthFailed(SerconError):
    """A credential source tried and failed: stop the chain."""

    exit_status = ExitStatus.AUTH


class AuthUnavailable(SerconError):
    """A credential source has nothing to offer: try the next one."""

    exit_status = ExitStatus.AUTH


class PreconditionFailed(SerconError):
    exit_status = ExitStatus.PRECONDITION


class NotSupported(PreconditionFailed):
    """The target cannot do this action (e.g. BREAK over a transport without it)."""


class ConnectionLost(SerconError):
    exit_status = ExitStatus.CONNECTION_LOST


class TakenOver(SerconError):
    exit_status = ExitStatus.TAKEN_OVER


class SessionClosed(ConnectionLost):
    """The far end closed the session on purpose (a WebSocket close frame), not a network fault.

    Reconnecting would open a new session, which takes a shared console from whoever holds it now,
    so callers never do it on their own (docs/azure.md, "Reconnect policy"). Exit 8 when the reason
    says another session took over, 7 otherwise.
    """

    def __init__(self, message: str, hint: str | None = None, code: int | None = None, reason: str = "",
                 taken_over: bool = False) -> None:
        super().__init__(message, hint)
        self.code, self.reason, self.taken_over = code, reason, taken_over
        self.exit_status = ExitStatus.TAKEN_OVER if taken_over else ExitStatus.CONNECTION_LOST


class InputNotText(UsageError):
    """Input the far end cannot carry (the Azure gateway takes UTF-8 text only); the rest was sent."""

    def __init__(self, dropped: int, where: str = "the Azure gateway") -> None:
        super().__init__(f"{dropped} byte{'s' if dropped != 1 else ''} of input not sent: not UTF-8 text, which "
                         f"{where} cannot carry", "send UTF-8 text (the rest of the input was sent)")
        self.dropped = dropped


class DeviceBusy(SerconError):
    exit_status = ExitStatus.DEVICE_BUSY


class OutputClosed(SerconError):
    """Whoever read our output is gone (a closed pipe): end quietly, saying nothing."""

    exit_status = ExitStatus.OUTPUT_CLOSED


class OutputFailed(UsageError):
    """Standard output cannot be written (a full disk, /dev/full): where it points is the problem."""


class Interrupted(SerconError):
    """Ended by a signal; the status is 128 + the signal number (130 for Ctrl-C)."""

    def __init__(self, signum: int, name: str) -> None:
        super().__init__(f"interrupted by {name}")
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


# Pattern sources, compiled on first use (re caches them): not at import, on the way to the first byte.
_JWT = r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"
_SECRET_PARAM = (
    r"(?i)\b(authorization|access_token|refresh_token|client_secret|password|sig|token)"
    r"(=|:\s*(?:bearer\s+)?|\"\s*:\s*\")([^&\s\"',;]+)"
)
_BEARER = r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]+"


def redact(text: str) -> str:
    """Blank out tokens, secrets and SAS signatures so that no message or log carries one."""
    text = re.sub(_JWT, "<redacted-token>", text)
    text = re.sub(_BEARER, "Bearer <redacted>", text)
    return re.sub(_SECRET_PARAM, lambda m: f"{m.group(1)}{m.group(2)}<redacted>", text)
