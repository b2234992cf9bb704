"""The Azure gateway's admin commands (SysRq, NMI, reset): a POST beside the session's WebSocket
(docs/azure-protocol.md section 6), retried with a fresh session when a one-shot command's session is refused.

A mixin of GatewayTransport, apart so that the socket's module stays about the socket.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

import sercon
from sercon.errors import AuthFailed, ConnectionLost, NotSupported, SerconError, SessionClosed, redact

if TYPE_CHECKING:
    import requests
    import websocket

    from sercon.transport.gateway import TokenSource
    from sercon.trust import Trust

ADMIN_TRIES = 3  # one-shot admin commands: a refused session or POST is retried with a fresh session
RETRYABLE_ADMIN = {404, 409, 429}  # and every 5xx: the session was refused or not ready


class AdminRefused(SerconError):
    """The gateway answered an admin command with something other than 200."""

    def __init__(self, command: str, status: int, text: str) -> None:
        super().__init__(f"the gateway refused {command}: HTTP {status} {text[:200]}".strip())
        self.status = status

    @property
    def retryable(self) -> bool:
        return self.status in RETRYABLE_ADMIN or self.status >= 500


def admin_url(connection_string: str, command: str) -> str:
    """wss://host/.../sessions/S/client -> https://host/.../sessions/S/adminCommand/COMMAND."""
    parts = urlsplit(connection_string)
    scheme = {"wss": "https", "ws": "http"}.get(parts.scheme, parts.scheme)
    path = parts.path.rsplit("/client", 1)[0] + f"/adminCommand/{command}"
    return urlunsplit((scheme, parts.netloc, path, "", ""))


class AdminCommands:
    """sysrq, nmi and reset of GatewayTransport (which gives the attributes and methods declared here)."""

    windows: bool
    one_shot: bool
    label: str
    url: str | None
    tokens: TokenSource
    trust: Trust
    _http: requests.Session | None
    _ws: websocket.WebSocket | None

    if TYPE_CHECKING:  # GatewayTransport's own
        def reopen(self) -> None: ...

        def read(self, timeout: float | None) -> bytes: ...

        def doctor_hint(self) -> str: ...

    def sysrq(self, key: str) -> None:
        if self.windows:
            raise NotSupported("You can only send a SysRq to a Linux VM: this is a Windows guest (use SAC)")
        self._admin("sysrq", {"SysRqCommand": key})

    def nmi(self) -> None:
        self._admin("nmi", {})

    def reset(self) -> None:
        self._admin("reset", {})

    def _admin(self, command: str, parameters: dict[str, str]) -> None:
        """One POST in a running session; a one-shot command retries refusals with a fresh session."""
        if not self.one_shot:
            self._post(command, parameters)
            return
        failures: list[str] = []
        for attempt in range(1, ADMIN_TRIES + 1):
            try:
                if attempt > 1:
                    time.sleep(min(2.0, 0.5 * attempt))
                    self.reopen()
                self._settle()
                self._post(command, parameters)
                return
            except AdminRefused as exc:
                if not exc.retryable:
                    raise
                failures.append(self._why_refused(exc.message))
            except SessionClosed as exc:
                if exc.taken_over:
                    raise
                failures.append(exc.message)
        raise ConnectionLost(f"{command} not sent: the gateway refused {ADMIN_TRIES} sessions in a row "
                             f"(last: {failures[-1]})", self.doctor_hint())

    def _why_refused(self, message: str) -> str:
        """A POST refused on a new session: the gateway's close of that session says why, if it came."""
        try:
            self._settle()
        except SessionClosed as closed:
            if closed.taken_over:
                raise
            return closed.message
        except SerconError:
            pass
        return message

    def _settle(self) -> None:
        """Take what the new session already received, without waiting: a close that came right
        after the token raises here (and is retried); otherwise the POST goes at once, as the
        official client's does, and a refused POST is retried with a fresh session all the same."""
        while self.read(0):
            pass

    def _post(self, command: str, parameters: dict[str, str]) -> None:
        import requests

        http = self._http
        if http is None:
            http = self._http = self.trust.session()
        if self.url is None or self._ws is None:
            raise ConnectionLost(f"{self.label}: not connected")
        body = json.dumps({"command": command, "requestId": str(uuid.uuid4()), "commandParameters": parameters})
        token = self.tokens.get()
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {token}", "Accept": "application/json",
                       "Accept-Language": "en", "Content-Type": "application/json"}
            url, started = admin_url(self.url, command), time.monotonic()
            try:
                response = http.post(url, data=body, headers=headers, timeout=30)
            except requests.RequestException as exc:
                if sercon.TRACE is not None:
                    sercon.TRACE.http_failed("admin", "POST", url, exc, started)
                raise ConnectionLost(f"{command} failed: {exc.__class__.__name__}") from exc
            if sercon.TRACE is not None:
                sercon.TRACE.http("admin", "POST", url, response, started)
            if response.status_code == 200:
                return
            if response.status_code != 401:
                raise AdminRefused(command, response.status_code, redact(response.text))
            if attempt == 1:
                token = self.tokens.refresh()  # the token expired during a long session: once more, fresh
        raise AuthFailed(f"the gateway refused {command}: HTTP 401 with a fresh token", "sign in again: `sercon login`")
