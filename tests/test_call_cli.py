"""call_cli (sercon in this process) gives what run_cli (sercon as a process) gives, and leaves the
process as it found it."""

from __future__ import annotations

import os
import signal

import pytest

from tests.conftest import call_cli, run_cli


@pytest.mark.parametrize("args, input", [
    (["--version"], None),
    (["connect"], None),  # a usage error: exit 2
    (["send", "/dev/nonexistent-sercon-device", "x"], None),  # not found: exit 4
    (["send", "loop://", "-", "--expect", "hello", "--timeout", "5"], b"hello\n"),  # stdin read, output echoed
    (["completion", "bash"], None),
])
def test_call_cli_and_run_cli_agree(args, input):
    inside, outside = call_cli(*args, input=input), run_cli(*args, input=input)
    assert (inside.returncode, inside.stdout, inside.stderr) == (outside.returncode, outside.stdout, outside.stderr)


def test_call_cli_puts_back_the_signal_handlers_and_leaves_os_environ_alone():
    before = signal.getsignal(signal.SIGTERM), dict(os.environ)
    result = call_cli("--version", env={"SERCON_CONFIG": "/nonexistent/sercon.toml", "SERCON_MARK": "1"})
    assert result.returncode == 0
    assert (signal.getsignal(signal.SIGTERM), dict(os.environ)) == before
