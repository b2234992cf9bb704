"""The Azure path end to end against a real kernel: an emulated Azure VM backed by a QEMU guest."""

from __future__ import annotations

import re
import subprocess

import pytest

from sercon_emulator.server import Emulator
from sercon_emulator.world import World
from tests.conftest import SERCON, Terminal, cli_env
from tests.qemu.conftest import PASSWORD

SUB = "00000000-0000-4000-8000-00000000e001"
SCREEN_PROMPT = rb"guest@sercon-guest:~\$ (\x1b\[6n)?$"


@pytest.fixture(scope="module")
def azure_guest(guest_image, tmp_path_factory):
    world = World({"subscriptions": [{"id": SUB, "resource_groups": {"rg": {"vms": [
        {"name": "qvm", "password": PASSWORD,
         "qemu": {"kernel": str(guest_image.kernel), "initrd": str(guest_image.initrd)}}]}}}]})
    home = tmp_path_factory.mktemp("home")
    with Emulator(world) as emulator:
        env = cli_env(**emulator.environment(), HOME=str(home), XDG_RUNTIME_DIR=str(home))
        yield emulator, env


def wait_output(term: Terminal, pattern: bytes, mark: int, timeout: float = 60) -> int:
    term.wait_screen(lambda t: re.search(pattern, bytes(t.raw[mark:])), timeout, repr(pattern))
    return len(term.raw)


def cli(env, *args):
    return subprocess.run([*SERCON, *args], capture_output=True, env=env, timeout=120)


def test_azure_session_on_a_real_kernel(azure_guest):
    emulator, env = azure_guest
    term = Terminal(["connect", "-g", "rg", "qvm"], env=env, cols=120, rows=30)
    try:
        term.wait_raw(rb"\[sercon\] connected to", timeout=30)  # the boot log may scroll it off the screen
        mark = wait_output(term, rb"sercon-guest login: ", 0, timeout=90)  # booted when the session opened
        term.send(b"guest\r")
        mark = wait_output(term, rb"Password: ", mark)
        term.send(PASSWORD.encode() + b"\r")
        mark = wait_output(term, SCREEN_PROMPT, mark)
        term.send(b"uname -a\r")
        mark = wait_output(term, rb"Linux sercon-guest 6\.\S+-cloud-amd64", mark)
        assert b"stty rows" not in term.raw  # sercon types nothing by itself: --resize is opt-in

        sysrq = cli(env, "sysrq", "h", "-g", "rg", "qvm")  # through the running session
        assert sysrq.returncode == 0, sysrq.stderr
        mark = wait_output(term, rb"sysrq: HELP", mark)

        nmi = cli(env, "nmi", "--yes", "-g", "rg", "qvm")
        assert nmi.returncode == 0, nmi.stderr
        mark = wait_output(term, rb"NMI received for unknown reason", mark)
        term.send(b"\recho still-alive\r")
        mark = wait_output(term, rb"still-alive\r\n", mark)

        reset = cli(env, "reset", "--yes", "-g", "rg", "qvm")
        assert reset.returncode == 0, reset.stderr
        mark = wait_output(term, rb"Linux version 6\.", mark, timeout=90)
        wait_output(term, rb"sercon-guest login: ", mark, timeout=90)
        term.send(b"\x1dq")
        assert term.wait_exit() == 0
        commands = [r["url"].rsplit("/", 1)[1] for r in emulator.arm.requests if "/adminCommand/" in r["url"]]
        assert commands == ["sysrq", "nmi", "reset"]
    finally:
        term.close()


def test_send_expect_pipeline_through_the_gateway(azure_guest):
    emulator, env = azure_guest
    steps = [("", "login: $"), ("guest", "Password: $"), (PASSWORD, r"\$ $")]
    for text, expect in steps:
        result = cli(env, "send", "-g", "rg", "qvm", text, "--expect", expect, "--timeout", "60")
        assert result.returncode == 0, (text, result.stdout[-300:], result.stderr)
    script = (f"printf 'uname -a\\n' | {' '.join(SERCON)} send -g rg qvm --expect '\\$ $' --timeout 60 "
              "| grep sercon-guest")
    result = subprocess.run(["/bin/sh", "-c", script], capture_output=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert b"Linux sercon-guest" in result.stdout


def test_demo_with_qemu(guest_image, tmp_path):
    import os

    cache = tmp_path / "cache" / "sercon" / "guest"
    cache.mkdir(parents=True)
    for path in (guest_image.kernel,):  # reuse the downloaded kernel; the demo builds its own initramfs
        os.link(path, cache / path.name)
    term = Terminal(["demo", "--qemu"], env=cli_env(HOME=str(tmp_path), XDG_CACHE_HOME=str(tmp_path / "cache"),
                                                    XDG_RUNTIME_DIR=str(tmp_path)), cols=160, rows=40)
    try:
        password = term.wait_raw(rb"user guest, password (\S+)", timeout=60).group(1)
        term.wait_raw(rb"sercon-guest login: ", timeout=120)
        term.send(b"guest\r")
        term.wait_raw(rb"Password: ", timeout=30)
        term.send(password + b"\r")
        term.wait_raw(rb"guest@sercon-guest:~\$ ", timeout=30)
        term.send(b"\x1ds")
        term.send(b"h")
        term.wait_raw(rb"sysrq: HELP", timeout=30)
        term.send(b"\x1dq")
        assert term.wait_exit(30) == 0
    finally:
        term.close()
