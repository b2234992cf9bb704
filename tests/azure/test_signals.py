"""A signal while Azure is still connecting ends sercon cleanly."""

from __future__ import annotations

import os
import signal
import time

import pytest

from tests.conftest import Terminal


def test_sigterm_while_connecting_gives_the_cursor_back(azure_with):
    azure = azure_with(faults=[{"match": "serialPorts/0/connect", "delay": 20, "count": -1}])
    term = Terminal(["connect", "-g", "prod-rg", "web1"], env=azure.env, cols=120)
    try:
        term.wait_text("connecting to the serial console")
        assert b"\x1b[?25l" in term.raw  # the spinner hid the cursor
        os.kill(term.child.pid, signal.SIGTERM)
        assert term.wait_exit(10) == 128 + signal.SIGTERM
        assert term.raw.rfind(b"\x1b[?25h") > term.raw.rfind(b"\x1b[?25l")  # and showed it again
        assert "Traceback" not in term.text()
    finally:
        term.close()


THROTTLED = [{"match": "/subscriptions/", "status": 429, "retry_after": 10, "code": "TooManyRequests", "count": -1}]


@pytest.mark.parametrize("command", [["connect"], ["doctor"], ["nmi", "--yes"]])
def test_ctrl_c_during_arm_retries_ends_at_once(azure_with, command):
    """Every call throttled, each retry waiting 10 s (in the main thread and in the checks' threads):
    Ctrl-C ends sercon at once with 130, not after the waits."""
    azure = azure_with(faults=THROTTLED)
    term = Terminal([*command, "-g", "prod-rg", "web1"], env=azure.env, cols=120)
    try:
        term.wait_text("retrying in 10 s", timeout=15)
        started = time.monotonic()
        term.send(b"\x03")
        status = term.wait_exit(15)
        assert time.monotonic() - started < 1.0, term.text()
        assert status == 130, term.text()
        assert "Traceback" not in term.text()
    finally:
        term.close()
