"""`sercon connect` against the emulated Azure (the `azure` fixture): a session in a real pty, a login
on the emulated VM, a command's answer, and the gateway's side (its connect calls, a close it sends)."""

from __future__ import annotations

import re
import subprocess
import threading
from typing import Any

from tests.conftest import SERCON, Terminal

PASSWORD = "web1-password"


def start(azure, *args, cols=120) -> Terminal:
    term = Terminal(["connect", *args], env=azure.env, cols=cols, rows=30)
    term.connected()
    return term


def log_in(term: Terminal, user: str = "azureuser", password: str = PASSWORD) -> None:
    term.send(b"\r")
    term.wait_raw(rb"login: $|login: \S*\s*$", timeout=15)
    term.send(f"{user}\r".encode())
    term.wait_raw(rb"Password: ", timeout=15)
    term.send(f"{password}\r".encode())
    term.wait_raw(rb"~\$ $", timeout=15)


def run(term: Terminal, command: str, expect: str, timeout: float = 15) -> None:
    mark = len(term.raw)
    term.send(command.encode() + b"\r")
    deadline_pattern = re.compile(expect.encode())
    term.wait_screen(lambda t: deadline_pattern.search(bytes(t.raw[mark:])), timeout, expect)


def connect_calls(azure) -> int:
    return sum(1 for r in azure.requests if r["url"].split("?")[0].endswith("serialPorts/0/connect"))


def close_console(azure, vm: str, code: int, reason: str) -> None:
    azure.hook(f"gateway/{vm}/close", json={"code": code, "reason": reason})


def piped_connect(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    """`sercon connect` with no terminal: stdin a pipe kept open, so only the gateway ends it."""
    return subprocess.Popen([*SERCON, "connect", *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)


def ended(proc: subprocess.Popen[bytes], timeout: float = 20) -> bytes:
    """Wait for a piped_connect to end by itself and return its stderr. Its stdin stays open until it
    has ended (communicate() would close it first, and an end of input can beat the gateway's close
    frame: the command then exits 0, as it should for an input that ended)."""
    drained = threading.Thread(target=proc.stdout.read, daemon=True)  # the console's output, not looked at
    drained.start()
    try:
        proc.wait(timeout=timeout)
    finally:
        proc.stdin.close()
    return proc.stderr.read()


def answered(proc: subprocess.Popen[bytes], gateway: Any) -> None:
    """Wait until a piped_connect holds the console and the console has answered (Enter, then `login: `),
    so that a close the gateway sends next is a close of sercon's session, not a refusal."""
    from tests.support.waiting import wait_for

    wait_for(lambda: gateway.sessions_opened >= 1, 20, "the session authenticated")
    proc.stdin.write(b"\r")
    proc.stdin.flush()
    seen = b""
    while b"login: " not in seen:
        chunk = proc.stdout.read1(4096)
        assert chunk, proc.stderr.read()
        seen += chunk
