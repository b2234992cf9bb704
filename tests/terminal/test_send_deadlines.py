"""`sercon send` deadlines: validated, and kept even by a pattern that backtracks catastrophically."""

from __future__ import annotations

import subprocess
import time

import pytest

from tests.conftest import SERCON, cli_env, run_cli


@pytest.mark.parametrize("flag, value", [("--timeout", "nan"), ("--timeout", "inf"), ("--timeout", "0"),
                                         ("--wait-idle", "nan"), ("--wait-idle", "inf")])
def test_deadlines_must_be_positive_and_finite(device, flag, value):
    result = run_cli("send", device.path, "x", flag, value)
    assert result.returncode == 2, result.stderr
    assert b"fix:" in result.stderr
    assert device.buffer == b""  # refused before anything was sent


def test_a_catastrophic_expect_pattern_still_times_out(device):
    started = time.monotonic()
    proc = subprocess.Popen([*SERCON, "send", device.path, "", "--expect", "(a+)+$", "--timeout", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env())
    device.expect(b"\r")  # sercon is reading: what comes now is output
    device.write(b"a" * 40 + b"!")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 3, err
    assert time.monotonic() - started < 15  # the re module took minutes here; the deadline holds
    assert out.startswith(b"a" * 40)  # the output so far is kept


def test_a_bad_pattern_is_a_usage_error_before_sending(device):
    result = run_cli("send", device.path, "x", "--expect", "(unclosed")
    assert result.returncode == 2 and b"not a valid regular expression" in result.stderr
    assert device.buffer == b""
