"""The README's main job: `sercon demo`, the whole Azure flow against the embedded emulator."""

from __future__ import annotations

import re

from tests.conftest import Terminal, cli_env


def test_demo_signs_in_checks_and_connects(tmp_path):
    term = Terminal(["demo"], env=cli_env(HOME=str(tmp_path), XDG_RUNTIME_DIR=str(tmp_path)), cols=160, rows=40,
                    cwd=str(tmp_path))
    try:
        match = term.wait_raw(rb"user azureuser, password (\S+)", timeout=30)
        password = match.group(1)
        term.wait_text("permission")  # doctor's table
        assert "fail" not in term.text()
        term.wait_raw(rb"\[sercon\] connected to demo-rg/demo-vm", timeout=30)
        term.wait_raw(rb"demo-vm login: $", timeout=30)
        term.send(b"azureuser\r")
        term.wait_raw(rb"Password: ")
        term.send(password + b"\r")
        term.wait_raw(rb"azureuser@demo-vm:~\$ $", timeout=15)
        term.send(b"echo sum=$((40+2))\r")
        term.wait_screen(lambda t: re.search(rb"sum=42", bytes(t.raw)), 15, "sum=42")
        term.send(b"\x1dq")
        assert term.wait_exit() == 0
    finally:
        term.close()


def test_local_demo(tmp_path):
    term = Terminal(["demo", "--local"], env=cli_env(HOME=str(tmp_path)), cols=120)
    try:
        term.wait_raw(rb"demo\$ ", timeout=20)
        term.send(b"echo local-$((1+1))\r")
        term.wait_raw(rb"local-2", timeout=10)
        term.send(b"\r~.")
        assert term.wait_exit() == 0
    finally:
        term.close()
