"""Waiting for a long-running ARM operation (a VM start, an update, an extension) to end.

As ARM's "Track asynchronous Azure operations" says: when the first answer has an Azure-AsyncOperation
URL, poll it until its status is Succeeded, Failed or Canceled; else poll the Location URL of a 201 or
202 until it answers something other than 202. Wait what Retry-After says before each poll (at least
1 s, at most 30 s, so a slow operation is still seen to move), and give up at an overall deadline,
which also bounds the client's own retries of a poll. Operation URLs are followed only on ARM's own
host: they get the caller's token.

Once the request is sent, an end sercon cannot see (the deadline, a status that cannot be read or is
not a JSON object, a 202 with no URL to follow) is `Unconfirmed`, not a failure: Azure may still
carry it out. A Retry-After that is neither seconds nor a date is as if absent.
"""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from sercon.azure.arm import ArmClient, ArmReply, hide, retry_delay
from sercon.errors import ExitStatus, ExpectTimeout, SerconError

MIN_RETRY_AFTER = 1.0  # seconds: Retry-After 0, or a date gone by, must not make a tight loop of polls
MAX_RETRY_AFTER = 30.0  # seconds: Azure may ask for minutes; a progress line should still move
DEFAULT_DELAY = 5.0  # when an answer has no Retry-After
DEADLINE = 600.0  # seconds for the whole operation
IN_PROGRESS = "InProgress"
ENDED_BADLY = ("failed", "canceled")
NOT_THE_END = (401, 403, 404, 408, 429)  # a Location URL answering these says nothing of the operation's end
AGAIN = "run `sercon doctor` again in a while to see whether it did"


class Unconfirmed(SerconError):
    """The request was sent and Azure took it, but its end was not seen: Azure may still carry it out.
    The exit status is that of what stopped sercon from seeing it (a refusal to read it, 5), else 3."""

    exit_status = ExitStatus.TIMEOUT

    def __init__(self, what: str, why: str, hint: str | None = None, status: ExitStatus | None = None) -> None:
        super().__init__(f"{what}: {why}; sent, and Azure has not confirmed it yet", hint or AGAIN)
        if status not in (None, ExitStatus.ERROR):
            self.exit_status = status


class StillRunning(Unconfirmed, ExpectTimeout):
    """Still in progress at the deadline (exit 3)."""

    def __init__(self, what: str, deadline: float) -> None:
        super().__init__(what, f"still in progress after {deadline:g} s", "Azure may still finish it: " + AGAIN)


class _PastDeadline(Exception):
    """A retry of a poll would sleep past the deadline."""


def header(reply: ArmReply, name: str) -> str | None:
    return next((value for key, value in reply.headers.items() if key.lower() == name.lower()), None)


def wait(arm: ArmClient, reply: ArmReply, what: str, progress: Callable[[str], None] | None = None,
         deadline: float = DEADLINE, secrets: tuple[str, ...] = (), sleep: Callable[[float], None] = time.sleep,
         clock: Callable[[], float] = time.monotonic) -> ArmReply:
    """The operation's last answer once it has succeeded; *progress* hears "WHAT: STATUS (N s)" after each poll.

    Raises SerconError when it failed or was canceled; Unconfirmed when its end could not be seen
    (StillRunning after *deadline* seconds).
    """
    status_url = header(reply, "Azure-AsyncOperation")
    location = header(reply, "Location") if reply.status in (201, 202) else None
    url = status_url or location
    if url is None:
        return _done_at_once(reply, what, secrets)
    _same_host(arm, url, what)
    started, delay = clock(), _delay(reply, DEFAULT_DELAY)
    poller = _bounded(arm, started + deadline, sleep, clock)
    if progress is not None:  # something to see before the first Retry-After has passed
        props = reply.body.get("properties") if isinstance(reply.body, dict) else None
        state = props.get("provisioningState") if isinstance(props, dict) else None
        progress(f"{what}: {state or 'Accepted'} (0 s)")
    while True:
        remaining = deadline - (clock() - started)
        if remaining <= 0:
            raise StillRunning(what, deadline)
        sleep(min(delay, remaining))
        try:
            answer = _poll(poller, url, what, secrets, location=status_url is None)
        except _PastDeadline:
            raise StillRunning(what, deadline) from None
        state = _status(answer, what, secrets) if status_url else (IN_PROGRESS if answer.status == 202
                                                                    else "Succeeded")
        if progress is not None:
            progress(f"{what}: {state} ({clock() - started:.0f} s)")
        if state.lower() == "succeeded":
            return answer
        if state.lower() in ENDED_BADLY:
            raise SerconError(hide(f"{what}: {state}: {_reason(answer)}", secrets))
        delay = _delay(answer, delay)


def _done_at_once(reply: ArmReply, what: str, secrets: tuple[str, ...]) -> ArmReply:
    """A first answer with no URL to follow: done, unless it says otherwise (a 202 accepts and no more;
    a resource still Creating or Updating is not there yet)."""
    if reply.status == 202:
        raise Unconfirmed(what, "accepted (HTTP 202) with no URL to follow")
    props = reply.body.get("properties") if isinstance(reply.body, dict) else None
    state = str(props.get("provisioningState") or "") if isinstance(props, dict) else ""
    if state.lower() in ENDED_BADLY:
        raise SerconError(hide(f"{what}: {state}", secrets))
    if state and state.lower() != "succeeded":
        raise Unconfirmed(what, f"Azure answered {hide(state, secrets)} with no URL to follow")
    return reply


def _status(answer: ArmReply, what: str, secrets: tuple[str, ...]) -> str:
    """The operation's status from its status URL's answer, which must be a JSON object with one."""
    body = answer.body
    if not isinstance(body, dict) or not isinstance(body.get("status"), str):
        shown = "not a JSON object" if not isinstance(body, dict) else "a JSON object with no status"
        raise Unconfirmed(what, f"its status could not be read: Azure's answer (HTTP {answer.status}) is {shown}")
    return body["status"]


def _bounded(arm: ArmClient, end: float, sleep: Callable[[float], None], clock: Callable[[], float]) -> ArmClient:
    """The client for the polls: the same, but its own retries (a 429, a 5xx) stop at the deadline."""
    poller = copy.copy(arm)

    def bounded_sleep(seconds: float) -> None:
        if clock() + seconds > end:
            raise _PastDeadline
        sleep(seconds)

    poller.sleep = bounded_sleep
    return poller


def _poll(arm: ArmClient, url: str, what: str, secrets: tuple[str, ...], location: bool) -> ArmReply:
    try:
        return arm.send("GET", url, None, secrets=secrets)
    except SerconError as exc:
        if location and _ended_badly(exc):  # the Location URL answers a failed operation with its error
            raise SerconError(hide(f"{what}: Failed: {exc.message}", secrets)) from None
        # Otherwise its progress could not be read: it may still end well.
        denied = exc.exit_status == ExitStatus.AUTH
        hint = "following it needs a role on the resource group; " + AGAIN if denied else None
        raise Unconfirmed(what, f"its status could not be read: {hide(exc.message, secrets)}", hint,
                          exc.exit_status) from None


def _ended_badly(exc: SerconError) -> bool:
    """An answer of the operation's own failure (a 4xx that is not about reading it: 400, 409...), as
    arm.error_for words it: "... (CODE, HTTP NNN)"."""
    answered = re.search(r", HTTP (\d{3})\)$", exc.message)
    return answered is not None and 400 <= int(answered[1]) < 500 and int(answered[1]) not in NOT_THE_END


def _reason(answer: ArmReply) -> str:
    error = answer.body.get("error") if isinstance(answer.body.get("error"), dict) else {}
    return f"{error.get('message') or 'no reason given'} ({error.get('code') or 'no code'})"


def _delay(reply: ArmReply, fallback: float) -> float:
    value = header(reply, "Retry-After")
    asked = retry_delay(value) if value else None
    return fallback if asked is None else max(MIN_RETRY_AFTER, min(MAX_RETRY_AFTER, asked))


def _same_host(arm: ArmClient, url: str, what: str) -> None:
    """An operation URL elsewhere would get the token: never follow one."""
    ours, theirs = urlsplit(arm.base_url), urlsplit(url)
    if (theirs.scheme, theirs.netloc.lower()) != (ours.scheme, ours.netloc.lower()):
        raise SerconError(f"{what}: Azure gave an operation URL on another host ({theirs.netloc}); it was not "
                          "followed", "check SERCON_ARM_ENDPOINT; the operation may still finish: run `sercon "
                          "doctor` again in a while")
