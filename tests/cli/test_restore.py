"""The terminal mode is restored on every way out of `sercon connect`.

sercon runs under a shell in a real pty; the shell prints `stty -g` before and after, as a user's
shell would see the terminal.
"""

from __future__ import annotations

import os
import re
import signal
import termios
import time
from pathlib import Path

import pytest

from tests.conftest import SERCON, Terminal
from tests.support.shell_around import modes, shell_around

FAULTY = [SERCON[0], "-c", "import serial, sys; serial.protocol_handler_packages.append('tests.handlers'); "
          "sys.argv[0] = 'sercon'; from sercon.cli import run; run()"]


def sercon_pid(shell_pid: int, timeout: float = 10) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        children = Path(f"/proc/{shell_pid}/task/{shell_pid}/children").read_text().split()
        if children:
            return int(children[0])
        time.sleep(0.02)
    raise AssertionError("sercon never started")


def raw_mode_seen(term: Terminal) -> bool:
    return not termios.tcgetattr(term.child.child_fd)[3] & termios.ICANON


def quit_by_menu(term, device):
    term.send(b"\x1dq")


def kill_with(signum):
    def action(term, device):
        os.kill(sercon_pid(term.child.pid), signum)
    return action


def unplug(term, device):
    device.close()


@pytest.mark.parametrize("how, action, expected", [
    ("quit", quit_by_menu, 0),
    ("SIGINT", kill_with(signal.SIGINT), 130),
    ("SIGTERM", kill_with(signal.SIGTERM), 128 + signal.SIGTERM),
    ("SIGHUP", kill_with(signal.SIGHUP), 128 + signal.SIGHUP),
    ("SIGQUIT", kill_with(signal.SIGQUIT), 128 + signal.SIGQUIT),
    ("SIGUSR1", kill_with(signal.SIGUSR1), 128 + signal.SIGUSR1),
    ("SIGALRM", kill_with(signal.SIGALRM), 128 + signal.SIGALRM),
    *[(name, kill_with(getattr(signal, name)), 128 + getattr(signal, name))  # the rarer ones whose default kills
      for name in ("SIGPROF", "SIGVTALRM", "SIGIO", "SIGPWR", "SIGXCPU", "SIGRTMIN", "SIGUSR2", "SIGSTKFLT")],
    ("SIGRTMAX-3", kill_with(signal.SIGRTMAX - 3), 128 + signal.SIGRTMAX - 3),
    ("device vanished", unplug, 7),
])
def test_mode_restored(device, how, action, expected):
    term = shell_around([*SERCON, "connect", "--no-reconnect", device.path])
    try:
        term.wait_text("[sercon] connected")
        assert raw_mode_seen(term)
        action(term, device)
        before, after, status = modes(term)
        assert status == expected
        assert before == after
        assert not raw_mode_seen(term)
        assert b"\x1b[?2004l" in term.raw  # bracketed paste handed back too
    finally:
        term.close()


def test_mode_restored_after_an_unexpected_exception():
    term = shell_around([*FAULTY, "connect", "faulty://"])
    try:
        term.wait_text("[sercon] connected")
        assert raw_mode_seen(term)
        term.send(b"boom")
        before, after, status = modes(term)
        assert status == 1 and before == after
        assert "unexpected error: RuntimeError: injected fault" in term.text()
        # the message comes after the terminal is restored: it sits at the start of its own line
        assert re.search(r"(?m)^sercon: error: unexpected error", term.text())
    finally:
        term.close()


def test_end_of_piped_input_sends_it_and_exits(device):
    term = shell_around([*SERCON, "connect", device.path], stdin="piped words\\r")
    try:
        before, after, status = modes(term)
        assert status == 0 and before == after
        device.expect(rb"piped words\r")
    finally:
        term.close()
