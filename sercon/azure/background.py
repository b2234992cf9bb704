"""ARM calls made beside the main thread (the console's state while the VM is read, doctor's checks),
and the retry waits that an interrupt must cut short.

The main thread's waits end at a signal (Ctrl-C raises at once). A worker thread's do not: with a
thread pool, Ctrl-C during ARM's retries left the pool's shutdown, then the interpreter's exit, waiting
for every worker's Retry-After. So the workers here are daemon threads (nothing waits for them at
exit), and when the main thread leaves a `Tasks` block by an exception, the workers' retry waits end
at once and their calls stop.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any, TypeVar

from sercon.errors import SerconError

T = TypeVar("T")
_local = threading.local()  # .stop: the Event of the Tasks block a worker runs for


class Stopped(SerconError):
    """A worker's call, stopped because the command is ending (nobody reads its result)."""


class Tasks:
    """Functions run each in its own daemon thread, their results as futures."""

    def __init__(self) -> None:
        # A block opened in a worker (doctor's checks beside a connect) stops with the block around it.
        self.stop = getattr(_local, "stop", None) or threading.Event()

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        future: Future[T] = Future()

        def run() -> None:
            _local.stop = self.stop
            if not future.set_running_or_notify_cancel():
                return
            try:
                future.set_result(fn(*args))
            except BaseException as exc:  # noqa: BLE001 - the future carries it to whoever reads it
                future.set_exception(exc)

        threading.Thread(target=run, name="sercon-arm", daemon=True).start()
        return future


@contextmanager
def tasks() -> Iterator[Tasks]:
    """A block whose workers stop when it is left by an exception (Ctrl-C, a signal, an error)."""
    block = Tasks()
    try:
        yield block
    except BaseException:
        block.stop.set()
        raise


def wait(seconds: float, sleep: Callable[[float], None]) -> None:
    """A retry's wait: *sleep* in the main thread (a signal ends it); in a worker, until its block stops."""
    stop = getattr(_local, "stop", None)
    if stop is None:
        sleep(seconds)
    elif stop.wait(seconds):
        raise Stopped("stopped: the command is ending")
