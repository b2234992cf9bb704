"""The first session of an emulated VM sees its login prompt once, however the attach and the boot interleave.

The VM's console starts at the first connect call, so its login program may print its banner before
the WebSocket is attached (then nobody would see a prompt) or after (then an Enter typed to ask for
one gives a second). The first session gets what the console printed since it started; the login
program drops what was typed before its first prompt, as agetty does.
"""

from __future__ import annotations

import os
import sys

from tests.conftest import ROOT, Terminal, cli_env
from tests.emulator.conftest import Stream
from tests.support.waiting import wait_for

PASSWORD = "box-password"


def test_the_first_session_sees_a_banner_printed_before_it_attached(emu):
    env = emu(vms=[{"name": "box", "password": PASSWORD}])
    url = env.connect("box")  # starts the VM's console: the login program prints to nobody yet
    console = next(iter(env.gateway.consoles.values()))
    wait_for(lambda: b"box login: " in console.held, 10, "the login prompt, printed before any session")
    vm = Stream(env.session(url))
    vm.expect(rb"Ubuntu 22\.04\.4 LTS box ttyS0\r\n.*\r\n\r\nbox login: ")
    vm.send("azureuser\r")
    vm.expect(rb"Password: ")
    assert vm.seen.count(b"login: ") == 1, vm.seen
    assert console.held == b""  # given to the first session; later sessions see the line as it is


def test_an_enter_typed_before_the_login_program_starts_gives_no_second_prompt(tmp_path):
    go = tmp_path / "go"
    os.mkfifo(go)
    login = f"read x < {go}; exec {sys.executable} -m sercon_emulator.login --hostname h1"
    term = Terminal([], command=["sh", "-c", login], env=cli_env(HOME=str(tmp_path)), cwd=str(ROOT))
    try:
        term.send(b"\r")  # typed at the booting machine: queued in its terminal before the getty runs
        term.wait_raw(rb"\r\n")  # the terminal echoed it: it is in the queue
        with open(go, "w") as fifo:
            fifo.write("\n")
        term.wait_raw(rb"h1 login: $")
        term.send(b"azureuser\r")
        term.wait_raw(rb"Password: $")
        assert term.raw.count(b"login: ") == 1, bytes(term.raw)
    finally:
        term.close()
