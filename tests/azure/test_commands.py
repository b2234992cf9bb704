"""enable/disable, the boot log (tail and follow), and ARM retries, against the emulator."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import time

import pexpect
import pytest

from tests.azure.conftest import SUB_DISABLED
from tests.conftest import SERCON


def test_disable_then_enable(azure):
    assert azure.cli("disable", "--yes").returncode == 0
    assert azure.cli("connect", "-g", "prod-rg", "web1").returncode == 6
    result = azure.cli("enable")
    assert result.returncode == 0 and b"enabled for subscription" in result.stderr
    assert azure.cli("doctor", "-g", "prod-rg", "web1").returncode == 0


def test_enable_another_subscription(azure):
    assert azure.cli("enable", "--subscription", SUB_DISABLED).returncode == 0
    assert azure.cli("doctor", "vm2", "--subscription", SUB_DISABLED).returncode == 0


def test_disable_asks_first(azure):
    piped = azure.cli("disable")
    assert piped.returncode == 2 and b"--yes" in piped.stderr
    child = pexpect.spawn(SERCON[0], [*SERCON[1:], "disable"], env=azure.env, timeout=20)
    child.expect(r"\[y/N\]")
    child.sendline("n")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 6  # declined, as a declined doctor --fix
    assert azure.cli("doctor", "-g", "prod-rg", "web1").returncode == 0  # still enabled


def test_log_whole_and_tail(azure):
    whole = azure.cli("log", "-g", "prod-rg", "web1")
    assert whole.returncode == 0, whole.stderr
    assert whole.stdout == b"boot line 1\r\nboot line 2\r\nweb1 login: "
    tail = azure.cli("log", "web1", "--tail", "2")
    assert tail.stdout == b"boot line 2\r\nweb1 login: "


def test_log_of_a_scale_set_instance(azure):
    result = azure.cli("log", "-g", "prod-rg", "set1/0", "--tail", "1")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"set1_0 login: "


def test_log_without_boot_diagnostics(azure):
    result = azure.cli("log", "-g", "prod-rg", "nodiag")
    assert result.returncode == 6
    assert b"Boot diagnostics are not enabled" in result.stderr and b"sercon doctor" in result.stderr


def read_until(stream, needle: bytes, timeout: float = 20) -> bytes:
    """What a pipe delivers until *needle* has arrived (fails the test after *timeout*)."""
    out = b""
    deadline = time.monotonic() + timeout
    while needle not in out:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"never saw {needle!r} in {out!r}"
        if select.select([stream], [], [], remaining)[0]:
            chunk = os.read(stream.fileno(), 65536)
            assert chunk, f"the stream ended before {needle!r}: {out!r}"
            out += chunk
    return out


def test_log_follow_prints_new_bytes_only(azure):
    proc = subprocess.Popen([*SERCON, "log", "-g", "prod-rg", "web1", "--follow", "--interval", "0.2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=azure.env)
    try:
        out = read_until(proc.stdout, b"web1 login: ")
        azure.hook("bootlog/web1", data="password:\r\nwelcome\r\n")
        out += read_until(proc.stdout, b"welcome\r\n")
    finally:
        proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=10)
    assert proc.returncode == 130, err
    assert out + rest == b"boot line 1\r\nboot line 2\r\nweb1 login: password:\r\nwelcome\r\n"
    ranges = [r["range"] for r in azure.requests if r["url"].startswith("/blob/") and r["range"]]
    assert "bytes=38-" in ranges  # follow asks only for what is new (the first 38 bytes were printed)
    assert not any(r["authorization"] for r in azure.requests if r["url"].startswith("/blob/"))


def test_429_is_retried_honouring_retry_after(azure_with):
    azure = azure_with(faults=[{"match": "virtualMachines/web1$", "status": 429, "retry_after": 1,
                                "code": "TooManyRequests", "count": 2}])
    started = time.monotonic()
    result = azure.cli("doctor", "--json", "-g", "prod-rg", "web1")
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started >= 2  # two waits of Retry-After: 1
    assert result.stderr.count(b"Azure answered HTTP 429; retrying in 1 s") == 2


def test_5xx_is_retried(azure_with):
    azure = azure_with(faults=[{"match": "consoleServices", "status": 503, "count": 2}])
    result = azure.cli("doctor", "--json", "-g", "prod-rg", "web1")
    assert result.returncode == 0, result.stderr
    assert b"HTTP 503; retrying" in result.stderr


def test_persistent_throttling_gives_up_with_the_arm_code(azure_with):
    azure = azure_with(faults=[{"match": "virtualMachines/web1$", "status": 429, "retry_after": 0,
                                "code": "TooManyRequests", "count": -1}])
    result = azure.cli("log", "-g", "prod-rg", "web1")
    assert result.returncode == 9  # busy: docs/exit-codes.md
    assert b"TooManyRequests, HTTP 429" in result.stderr and b"\n  fix: try again in" in result.stderr
    assert sum(1 for r in azure.requests if r["url"].split("?")[0].endswith("web1")) == 5


@pytest.mark.parametrize("status, code", [(500, "InternalServerError"), (503, "ServiceUnavailable")])
def test_a_server_error_that_persists_is_a_lost_connection_with_a_fix_not_a_bug(azure_with, status, code):
    azure = azure_with(faults=[{"match": "virtualMachines/web1$", "status": status, "retry_after": 0,
                                "code": code, "count": -1}])
    result = azure.cli("log", "-g", "prod-rg", "web1")
    assert result.returncode == 7, result.stderr  # docs/exit-codes.md: 1 is for sercon's own bugs
    assert f"{code}, HTTP {status}".encode() in result.stderr and b"\n  fix: " in result.stderr, result.stderr
    assert b"unexpected error" not in result.stderr
    assert sum(1 for r in azure.requests if r["url"].split("?")[0].endswith("web1")) == 5


def test_rescue_refuses_a_windows_vm_before_any_reset(azure):
    result = azure.cli("rescue", "--yes", "-g", "prod-rg", "win1")
    assert result.returncode == 6 and b"Windows VM" in result.stderr and b"\n  fix: " in result.stderr, result.stderr
    assert not any("reset" in r["url"] for r in azure.requests)  # no admin command was posted
    assert b"Traceback" not in result.stderr
