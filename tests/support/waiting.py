"""Waiting on a condition instead of sleeping a guessed time."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest


def wait_for(condition: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    """Poll until `condition()` is truthy and return its value; fail the test after *timeout* seconds."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)
    return value


def wait_for_control_socket(device_path: str, env: dict[str, str], timeout: float = 20.0) -> None:
    """A session's control socket listens a moment after its banner (it starts after the console's
    reader): a one-shot that must go through the session waits for it, or it opens the device itself."""
    from sercon.transport.control import socket_path
    from sercon.transport.serial import console_key

    path = socket_path(console_key(device_path), env)
    wait_for(path.exists, timeout, f"the control socket {path}")
