"""The wire trace (`--trace FILE`, `SERCON_TRACE=FILE`): one line per wire event, for support.

One `Tracer`, opened by the CLI and published as ``sercon.TRACE``; the hooks in the transports and
the Azure clients call ``sercon.TRACE.event(...)`` only when it is not None, so a run without a trace
never imports this module and formats nothing. Every line goes through ``redact()``, and the hooks
give sizes, names and statuses, never console bytes (they may hold a password) nor query strings.
"""

from __future__ import annotations

import contextlib
import os
import stat
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TextIO
from urllib.parse import urlsplit, urlunsplit

import sercon
from sercon.errors import UsageError, redact

TRACE_FIX = "give --trace a file in a folder you can write (or - for standard error)"
# The answer headers support asks for: which request it was (Azure's id), and how close to throttling.
HEADERS = ("x-ms-request-id", "x-ms-correlation-request-id", "retry-after")
RATELIMIT = "x-ms-ratelimit-remaining-"
OPCODES = {0: "CONT", 1: "TEXT", 2: "BINARY", 8: "CLOSE", 9: "PING", 10: "PONG"}  # WebSocket frames by name


class Tracer:
    """Writes the trace lines: an ISO time with ms, seconds since the trace began, the thread, the event."""

    def __init__(self, stream: TextIO, owned: bool) -> None:
        self.stream, self.owned = stream, owned
        self.end = "\n"
        with contextlib.suppress(OSError, ValueError, AttributeError):
            if stream.isatty():  # `--trace -` beside a session, whose terminal is in raw mode: no staircase
                self.end = "\r\n"
        self.started = time.monotonic()
        self.lock = threading.Lock()
        self.failed: OSError | None = None  # a write failed (a full disk): the trace stops, the command goes on

    def event(self, category: str, what: str, **fields: object) -> None:
        """One line: `<time> +<seconds> [<thread>] <category> <what> key=value ...`, redacted."""
        now = time.time()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"
        extra = "".join(f" {key.replace('_', '-')}={value}" for key, value in fields.items() if value is not None)
        line = redact(f"{stamp} +{time.monotonic() - self.started:.3f} [{threading.current_thread().name}] "
                      f"{category} {what}{extra}")
        with self.lock:
            if self.failed is not None:
                return
            try:
                self.stream.write(line.replace("\n", "\\n").replace("\r", "\\r") + self.end)
                self.stream.flush()
            except (OSError, ValueError) as exc:
                self.failed = exc if isinstance(exc, OSError) else OSError(str(exc))

    def frame(self, direction: str, opcode: int, data: bytes | str) -> None:
        """A WebSocket frame's opcode and size, never its bytes (console output may hold a password)."""
        size = len(data.encode() if isinstance(data, str) else data)
        self.event("ws", f"{direction} {OPCODES.get(opcode, str(opcode))}", size=size)

    def http(self, category: str, method: str, url: str, response: Any, started: float,
             file_only: bool = False) -> None:
        """One HTTP call answered: method, path (never the query; *file_only*: its last part only, for a URL
        whose path may be part of the secret), status, elapsed ms and Azure's headers."""
        self.event(category, f"{method} {_path(url, file_only)}", status=getattr(response, "status_code", None),
                   ms=f"{(time.monotonic() - started) * 1000:.0f}",
                   **answer_headers(getattr(response, "headers", None) or {}))

    def http_failed(self, category: str, method: str, url: str, exc: BaseException, started: float,
                    file_only: bool = False) -> None:
        """One HTTP call that got no answer: the exception's class only (its text may quote the request)."""
        self.event(category, f"{method} {_path(url, file_only)}", failed=exc.__class__.__name__,
                   ms=f"{(time.monotonic() - started) * 1000:.0f}")

    @staticmethod
    def bare_url(url: str) -> str:
        """The module's bare_url, for a hook that holds the tracer and has not imported this module."""
        return bare_url(url)

    def close(self) -> None:
        if self.owned:
            with contextlib.suppress(OSError, ValueError):
                self.stream.close()


def start(target: str, stderr: TextIO) -> Tracer:
    """Open the trace *target* (a path, appended to, mode 0600; `-`: standard error) and make it the
    one every hook writes to."""
    tracer = Tracer(stderr, owned=False) if target == "-" else Tracer(_open_private(target), owned=True)
    sercon.TRACE = tracer
    tracer.event("trace", "start", sercon=sercon.__version__, pid=os.getpid())
    return tracer


def stop(tracer: Tracer) -> str | None:
    """The end of the run: the last line, and the file closed (a later run in this process traces nothing).
    Returns what to tell the user when a write failed (the trace then ended there; the command did not)."""
    tracer.event("trace", "end")
    if sercon.TRACE is tracer:
        sercon.TRACE = None
    tracer.close()
    if tracer.failed is None:
        return None
    return f"warning: the trace ended early, a line could not be written: {tracer.failed.strerror or tracer.failed}"


def _open_private(path: str) -> TextIO:
    """*path* for appending, line by line (a crash keeps every line written), created 0600; an existing
    file is made 0600 too, since it will hold this run's trace. A pipe or a terminal (`/dev/fd/3`, a FIFO
    a `tail` reads) is written as it is; a FIFO nobody reads is refused rather than waited on."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
    try:
        fd = os.open(path, flags, 0o600)
    except OSError as exc:
        raise UsageError(f"cannot write the trace to {path}: {exc.strerror or exc}", TRACE_FIX) from exc
    info = os.fstat(fd)
    if stat.S_ISREG(info.st_mode) and stat.S_IMODE(info.st_mode) & 0o077:
        try:
            os.fchmod(fd, 0o600)
        except OSError as exc:
            os.close(fd)
            raise UsageError(f"cannot write the trace to {path}: others can read it, and it cannot be made "
                             f"private ({exc.strerror})", TRACE_FIX) from exc
    os.set_blocking(fd, True)
    return os.fdopen(fd, "a", buffering=1, encoding="utf-8", errors="backslashreplace")


def bare_url(url: str) -> str:
    """*url* without what may be secret: no user or password, and the query's names without their values
    (a SAS signature, a token)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    query = "&".join(f"{pair.split('=', 1)[0]}=..." for pair in parts.query.split("&") if pair)
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def answer_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The answer's request id, throttling budget and Retry-After, as trace fields."""
    found = {}
    for name, value in headers.items():
        low = name.lower()
        if low in HEADERS or low.startswith(RATELIMIT):
            found[low] = value
    return found


def _path(url: str, file_only: bool) -> str:
    path = urlsplit(url).path
    return ".../" + path.rsplit("/", 1)[-1] if file_only else path


def response_hook(category: str) -> Callable[..., None]:
    """A requests response hook that traces every call of a session (msal's sign-in calls)."""

    def hook(response: Any, *args: object, **kwargs: object) -> None:
        tracer = sercon.TRACE
        if tracer is None:
            return
        request = getattr(response, "request", None)
        elapsed = getattr(response, "elapsed", None)
        tracer.event(category, f"{getattr(request, 'method', '?')} {urlsplit(response.url).path}",
                     status=response.status_code, ms=f"{elapsed.total_seconds() * 1000:.0f}" if elapsed else None,
                     **answer_headers(response.headers))

    return hook
