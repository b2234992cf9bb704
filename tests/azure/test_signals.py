"""A signal while Azure is still connecting ends sercon cleanly."""

from __future__ import annotations

import os
import signal

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
