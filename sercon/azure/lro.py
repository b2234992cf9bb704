"""Waiting for a long-running ARM operation (a VM start, an update, an extension) to end.

As ARM's "Track asynchronous Azure operations" says: when the first answer has an Azure-AsyncOperation
URL, poll it until its status is Succeeded, Failed or Canceled; else poll the Location URL of a 201 or
202 until it answers something other than 202. Wait what Retry-After says before each poll (capped, so
a slow operation is still seen to move), and give up at an overall deadline with a timeout error.
Operation URLs are followed only on ARM's own host: they get the caller's token.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import urlsplit

from sercon.azure.arm import ArmClient, ArmReply, hide, retry_delay
from sercon.errors import ExpectTimeout, PermissionDenied, SerconError

MAX_RETRY_AFTER = 30.0  # seconds: Azure may ask for minutes; a progress line should still move
DEFAULT_DELAY = 5.0  # when an answer has no Retry-After
DEADLINE = 600.0  # seconds for the whole operation
IN_PROGRESS = "InProgress"
ENDED_BADLY = ("failed", "canceled")


def header(reply: ArmReply, name: str) -> str | None:
    return next((value for key, value in reply.headers.items() if key.lower() == name.lower()), None)


def wait(arm: ArmClient, reply: ArmReply, what: str, progress: Callable[[str], None] | None = None,
         deadline: float = DEADLINE, secrets: tuple[str, ...] = (), sleep: Callable[[float], None] = time.sleep,
         clock: Callable[[], float] = time.monotonic) -> ArmReply:
    """The operation's last answer once it has succeeded; *progress* hears "WHAT: STATUS (N s)" after each poll.

    Raises SerconError when it failed or was canceled, ExpectTimeout after *deadline* seconds.
    """
    status_url = header(reply, "Azure-AsyncOperation")
    location = header(reply, "Location") if reply.status in (201, 202) else None
    url = status_url or location
    if url is None:
        return reply  # finished in the first answer (or nothing to follow)
    _same_host(arm, url, what)
    started, delay = clock(), _delay(reply, DEFAULT_DELAY)
    if progress is not None:  # something to see before the first Retry-After has passed
        props = reply.body.get("properties") if isinstance(reply.body, dict) else None
        state = props.get("provisioningState") if isinstance(props, dict) else None
        progress(f"{what}: {state or 'Accepted'} (0 s)")
    while True:
        remaining = deadline - (clock() - started)
        if remaining <= 0:
            raise ExpectTimeout(f"{what}: still in progress after {deadline:g} s",
                                "Azure may still finish it: run `sercon doctor` again in a while to see")
        sleep(min(delay, remaining))
        answer = _poll(arm, url, what, secrets)
        state = str(answer.body.get("status", "")) if status_url else (IN_PROGRESS if answer.status == 202
                                                                        else "Succeeded")
        if progress is not None:
            progress(f"{what}: {state} ({clock() - started:.0f} s)")
        if state.lower() == "succeeded":
            return answer
        if state.lower() in ENDED_BADLY:
            raise SerconError(hide(f"{what}: {state}: {_reason(answer)}", secrets))
        delay = _delay(answer, delay)


def _poll(arm: ArmClient, url: str, what: str, secrets: tuple[str, ...]) -> ArmReply:
    try:
        return arm.send("GET", url, None, secrets=secrets)
    except PermissionDenied as exc:
        raise PermissionDenied(f"{what}: Azure accepted it, but its progress may not be read: {exc.message}",
                               "it may still finish (following it needs a role on the resource group): run "
                               "`sercon doctor` again in a while to see") from None


def _reason(answer: ArmReply) -> str:
    error = answer.body.get("error") if isinstance(answer.body.get("error"), dict) else {}
    return f"{error.get('message') or 'no reason given'} ({error.get('code') or 'no code'})"


def _delay(reply: ArmReply, fallback: float) -> float:
    value = header(reply, "Retry-After")
    try:
        return min(MAX_RETRY_AFTER, retry_delay(value)) if value else fallback
    except (TypeError, ValueError):
        return fallback


def _same_host(arm: ArmClient, url: str, what: str) -> None:
    """An operation URL elsewhere would get the token: never follow one."""
    ours, theirs = urlsplit(arm.base_url), urlsplit(url)
    if (theirs.scheme, theirs.netloc.lower()) != (ours.scheme, ours.netloc.lower()):
        raise SerconError(f"{what}: Azure gave an operation URL on another host ({theirs.netloc}); it was not "
                          "followed", "check SERCON_ARM_ENDPOINT; the operation may still finish: run `sercon "
                          "doctor` again in a while")
