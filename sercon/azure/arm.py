"""A thin Azure Resource Manager client on requests: retries, paging, ARM errors as sercon errors."""

from __future__ import annotations

import email.utils
import json
import math
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import sercon
from sercon import __version__
from sercon.azure import background
from sercon.errors import (
    AuthFailed,
    ConnectionLost,
    DeviceBusy,
    PermissionDenied,
    PreconditionFailed,
    SerconError,
    TargetNotFound,
    redact,
)
from sercon.trust import Trust

if TYPE_CHECKING:
    from sercon.azure.auth import TokenChain

API_VERSIONS = {
    "compute": "2023-09-01",
    "serialconsole": "2024-07-01",
    "storage": "2023-01-01",
    "permissions": "2022-04-01",
    "locks": "2016-09-01",
}
MAX_ATTEMPTS = 5
MAX_WAIT = 30.0
NOTICE_QUIET = 1.0  # s: at least this long between two identical retry notices
TIMEOUT = 30


@dataclass(frozen=True)
class ArmFailure:
    status: int
    code: str
    message: str


@dataclass(frozen=True)
class ArmReply:
    """A successful answer whole: long-running operations need its status and headers too."""

    status: int
    headers: Mapping[str, str]  # case-insensitive when it comes from requests
    body: Any


def hide(text: str, secrets: tuple[str, ...]) -> str:
    """*text* with every secret of this request blanked, as it is and as JSON escapes it: an answer
    that quotes the request (an error naming a bad value) must not carry a password on."""
    for secret in secrets:
        for form in {secret, json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]}:
            if form:
                text = text.replace(form, "<redacted>")
    return text


def parse_error(status: int, body: Any) -> ArmFailure:
    """ARM's error shapes: {"error": {...}}, a flat {"code", "message"}, or {"errorMessage"}."""
    if isinstance(body, dict):
        error = body.get("error")
        inner = error if isinstance(error, dict) else body
        code = inner.get("code") or body.get("code") or f"HTTP{status}"
        message = inner.get("message") or body.get("errorMessage") or ""
        return ArmFailure(status, str(code), redact(str(message)))
    return ArmFailure(status, f"HTTP{status}", redact(str(body)[:300]))


def error_for(failure: ArmFailure, what: str) -> SerconError:
    """One place that turns an ARM failure into the contract's error, with the fix."""
    text = f"{what}: {failure.message} ({failure.code}, HTTP {failure.status})"
    if failure.status == 401:
        return AuthFailed(text, "sign in again: `sercon login` (or check the AZURE_CLIENT_* credentials)")
    if failure.code == "SubscriptionNotEnabled":
        return PreconditionFailed(text, "enable the serial console for the subscription: `sercon enable`")
    if failure.status == 403:
        return PermissionDenied(text, "ask for the Virtual Machine Contributor role on the VM "
                                "(`az role assignment create --role \"Virtual Machine Contributor\" ...`)")
    if failure.status == 404:
        return TargetNotFound(text, "check the name, resource group and subscription (`sercon doctor` helps)")
    if failure.status == 409:
        return PreconditionFailed(text)
    if failure.status == 412:
        return ChangedMeanwhile(text)
    if failure.status >= 500:  # still failing after every retry: Azure's side, not a bug of sercon's
        return ConnectionLost(f"{text}, still after {MAX_ATTEMPTS} attempts: Azure Resource Manager has a problem",
                              "try again in a few minutes; Azure's status page (https://azure.status.microsoft) "
                              "says whether the region is affected")
    return SerconError(text)


class ChangedMeanwhile(PreconditionFailed):
    """412: the resource is no longer what the If-Match of the write says was read (another client wrote it)."""


class ArmClient:
    def __init__(self, base_url: str, credential: TokenChain, scope: str, trace: Callable[[str], None] | None = None,
                 notify: Callable[[str], None] | None = None, sleep: Callable[[float], None] = time.sleep,
                 trust: Trust | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.credential, self.scope = credential, scope
        self.trace, self.notify, self.sleep = trace, notify, sleep
        self.trust = trust or Trust()
        self.notices = Notices()  # shared by copies (lro's poller): one line for calls that retry alike
        self.session = self.trust.session()
        self.session.headers.update({"Accept": "application/json", "Accept-Language": "en",
                                     "User-Agent": f"sercon/{__version__}"})

    def url(self, path: str) -> str:
        return path if path.startswith("https://") else self.base_url + path

    def get(self, path: str, api: str, **params: str) -> Any:
        return self.request("GET", path, api, params)

    def post(self, path: str, api: str, **params: str) -> Any:
        return self.request("POST", path, api, params)

    def patch(self, path: str, api: str, body: Any, headers: Mapping[str, str] | None = None) -> ArmReply:
        return self.send("PATCH", path, api, body=body, headers=headers)

    def list(self, path: str, api: str, **params: str) -> Iterator[dict[str, Any]]:
        """Every item of a paged list, following nextLink."""
        page = self.request("GET", path, api, params)
        while True:
            yield from page.get("value", [])
            if not page.get("nextLink"):
                return
            page = self.request("GET", page["nextLink"], None, {})

    def request(self, method: str, path: str, api: str | None, params: dict[str, str]) -> Any:
        return self.send(method, path, api, params).body

    def send(self, method: str, path: str, api: str | None, params: dict[str, str] | None = None,
             body: Any = None, secrets: tuple[str, ...] = (), headers: Mapping[str, str] | None = None) -> ArmReply:
        """One call, retried as ARM asks; *body* goes as JSON, *headers* with it (If-Match), and no error
        carries any of *secrets*."""
        query = dict(params or {})
        if api is not None:
            query["api-version"] = API_VERSIONS.get(api, api)
        url = self.url(path)
        what = f"{method} {urlsplit(url).path}"
        data = json.dumps(body).encode() if body is not None else None
        refreshed = False
        for attempt in range(1, MAX_ATTEMPTS + 1):
            sent = {**(headers or {}), "Authorization": f"Bearer {self.credential.get_token(self.scope).token}"}
            if method in ("POST", "PUT", "PATCH"):
                sent["Content-Type"] = "application/json"
            started = time.monotonic()
            response = self._once(method, url, query, data, sent, attempt, what, secrets)
            if response is None:
                continue  # nothing answered; waited, as after a 5xx
            self._trace(method, response, started)
            if sercon.TRACE is not None:
                sercon.TRACE.http("arm", method, url, response, started)
            if response.status_code < 300:
                return ArmReply(response.status_code, response.headers, _json_or_text(response) if response.content
                                else {})
            failure = parse_error(response.status_code, _json_or_text(response))
            failure = replace(failure, message=hide(failure.message, secrets), code=hide(failure.code, secrets))
            if response.status_code == 401 and not refreshed:
                refreshed = True
                self.credential.invalidate()  # expired or revoked: fetch a fresh token, once, then give up
                continue
            if (response.status_code == 429 or response.status_code >= 500) and attempt < MAX_ATTEMPTS:
                self._wait(attempt, response.headers.get("Retry-After"), f"Azure answered HTTP {response.status_code}")
                continue
            if response.status_code == 429:
                raise throttled(failure, what, response.headers.get("Retry-After"))
            raise error_for(failure, what)
        raise SerconError(f"{what}: no answer after {MAX_ATTEMPTS} attempts")  # pragma: no cover

    def _once(self, method: str, url: str, query: dict[str, str], data: bytes | None, headers: dict[str, str],
              attempt: int, what: str, secrets: tuple[str, ...]) -> Any:
        """One request's answer; None when nothing answered and a retry waited (the last one raises)."""
        import requests

        started = time.monotonic()
        try:
            return self.session.request(method, url, params=query, data=data, headers=headers, timeout=TIMEOUT)
        except requests.exceptions.SSLError as exc:
            _trace_failure(method, url, exc, started)
            raise ConnectionLost(f"{what}: TLS verification failed: {exc.__class__.__name__}",
                                 "trust the endpoint's CA with REQUESTS_CA_BUNDLE / SSL_CERT_FILE") from (
                None if secrets else exc)  # requests' exception holds the request, body and all
        except requests.RequestException as exc:
            _trace_failure(method, url, exc, started)
            failed = f"the connection to {urlsplit(url).netloc} failed ({exc.__class__.__name__})"
            if attempt == MAX_ATTEMPTS:
                raise ConnectionLost(f"{what}: {failed}, {MAX_ATTEMPTS} times: Azure Resource Manager could not "
                                     "be reached", "check the network (and SERCON_ARM_ENDPOINT if set)") from (
                    None if secrets else exc)
            self._wait(attempt, None, failed)
            return None

    def _wait(self, attempt: int, retry_after: str | None, why: str) -> None:
        """The wait before a retry, said once however many calls in flight wait alike (ARM throttles a
        subscription, not a call), and cut short when the command is being interrupted."""
        asked = retry_delay(retry_after) if retry_after else None
        delay = min(MAX_WAIT, asked if asked is not None else 0.5 * 2 ** (attempt - 1))
        notice = f"{why}; retrying in {delay:g} s"
        if sercon.TRACE is not None:
            sercon.TRACE.event("arm", "retry", attempt=attempt + 1, wait=f"{delay:g}s", why=repr(why))
        if self.notify is not None and self.notices.first(notice, max(delay, NOTICE_QUIET)):
            self.notify(notice)
        background.wait(delay, self.sleep)

    def _trace(self, method: str, response: Any, started: float) -> None:
        if self.trace is not None:
            elapsed = (time.monotonic() - started) * 1000
            self.trace(redact(f"{method} {response.url} -> {response.status_code} ({elapsed:.0f} ms)"))


def _trace_failure(method: str, url: str, exc: Exception, started: float) -> None:
    if sercon.TRACE is not None:
        sercon.TRACE.http_failed("arm", method, url, exc, started)


class Notices:
    """Which retry notices were said lately: the same one again within its wait is not repeated."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.quiet_until: dict[str, float] = {}

    def first(self, notice: str, quiet: float) -> bool:
        with self.lock:
            now = time.monotonic()
            if self.quiet_until.get(notice, 0.0) > now:
                return False
            self.quiet_until[notice] = now + quiet
            return True


def throttled(failure: ArmFailure, what: str, retry_after: str | None) -> SerconError:
    """429 after every retry: busy (exit 9), and when to try again, as Azure said."""
    delay = retry_delay(retry_after) if retry_after else None
    if delay is None:
        when = "try again in a minute (Azure gave no Retry-After)"
    else:
        when = f"try again in {max(1, math.ceil(min(delay, 86400.0))):d} s (Azure's Retry-After)"
    return DeviceBusy(f"Azure Resource Manager is throttling these requests: {what}: {failure.message} "
                      f"({failure.code}, HTTP 429), still after {MAX_ATTEMPTS} attempts",
                      f"{when}; other tools calling Azure with the same account count against the same limit")


def retry_delay(value: str) -> float | None:
    """Retry-After in seconds or as an HTTP date; None when it is neither (the caller's default applies)."""
    try:
        seconds = float(value)
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _json_or_text(response: Any) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text
