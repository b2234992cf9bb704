"""pyserial's open failures become the contract's exit codes, each with a fix line (no DNS asked here:
the failures are built from the text pyserial gives, so the test sends nothing off the machine)."""

from __future__ import annotations

import serial

from sercon.errors import ExitStatus
from sercon.transport.serial import open_error
from tests.conftest import run_cli


def test_an_unknown_host_is_not_found_with_a_fix():
    exc = serial.SerialException("Could not open port socket://nosuchhost:23: [Errno -2] Name or service not known")
    error = open_error("socket://nosuchhost:23", exc)
    assert error.exit_status == ExitStatus.NOT_FOUND and error.hint


def test_a_bad_port_is_a_usage_error():
    result = run_cli("send", "socket://127.0.0.1:99999", "x")
    assert result.returncode == 2, result.stderr
    assert b"fix:" in result.stderr


def test_a_refused_connection_is_not_found():
    result = run_cli("send", "socket://127.0.0.1:1", "x")
    assert result.returncode == 4 and b"fix:" in result.stderr
