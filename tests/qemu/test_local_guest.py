"""sercon against a real kernel over QEMU's telnet serial port, with QMP for NMI and reset."""

from __future__ import annotations

import re
import subprocess

from tests.conftest import SERCON, Terminal, cli_env, run_cli
from tests.qemu.conftest import PASSWORD

PROMPT = r"guest@sercon-guest:~\$ $"
SCREEN_PROMPT = rb"guest@sercon-guest:~\$ (\x1b\[6n)?$"  # busybox asks for the cursor position after it


def send(guest, *args, timeout="30"):
    return run_cli("send", guest.telnet_url, *args, "--timeout", timeout, timeout=90)


def test_wrong_password_then_login_and_uname_in_a_pipeline(guest):
    assert send(guest, "", "--expect", "login: $").returncode == 0
    assert send(guest, "guest", "--expect", "Password: $").returncode == 0
    wrong = send(guest, "not-the-password", "--expect", "login: $")
    assert wrong.returncode == 0 and b"Login incorrect" in wrong.stdout
    assert send(guest, "guest", "--expect", "Password: $").returncode == 0
    assert send(guest, PASSWORD, "--expect", PROMPT).returncode == 0
    script = (f"printf 'uname -a\\n' | {' '.join(SERCON)} send {guest.telnet_url} --expect '\\$ $' --timeout 60 "
              "| grep sercon-guest")
    result = subprocess.run(["/bin/sh", "-c", script], capture_output=True, env=cli_env(), timeout=90)
    assert result.returncode == 0, result.stderr
    assert re.search(rb"Linux sercon-guest 6\.\d+\.\d+-\S+-cloud-amd64", result.stdout)


def test_a_guest_that_never_prompts_times_out(guest):
    result = send(guest, "sleep 5", "--expect", "NEVER-PRINTED", timeout="2")
    assert result.returncode == 3
    assert send(guest, "", "--expect", PROMPT, timeout="15").returncode == 0  # the shell is back


def connect(guest, *args) -> Terminal:
    term = Terminal(["connect", guest.telnet_url, "--qmp", guest.qmp_path, *args], cols=120, rows=30)
    term.connected()
    return term


def wait_output(term: Terminal, pattern: bytes, mark: int, timeout: float = 60) -> int:
    term.wait_screen(lambda t: re.search(pattern, bytes(t.raw[mark:])), timeout, repr(pattern))
    return len(term.raw)


def test_session_sysrq_nmi_resize_and_reset(guest):
    term = connect(guest, "--resize", "auto")
    try:
        mark = len(term.raw)
        term.send(b"\r")
        mark = wait_output(term, SCREEN_PROMPT, mark)
        term.send(b"uname -a\r")
        mark = wait_output(term, rb"Linux sercon-guest .*\r\n", mark)
        term.send(b"stty size\r")
        mark = wait_output(term, rb"\r\n30 120\r\n", mark)  # typed at the first prompt by --resize auto

        term.send(b"\x1ds")  # SysRq from the menu: BREAK (IAC BRK) then the key
        term.send(b"h")
        mark = wait_output(term, rb"sysrq: HELP", mark)

        result = run_cli("sysrq", "h", guest.telnet_url, timeout=60)  # the CLI, through the running session
        assert result.returncode == 0, result.stderr
        mark = wait_output(term, rb"sysrq: HELP", mark)

        result = run_cli("nmi", "--yes", guest.telnet_url, "--qmp", guest.qmp_path, timeout=60)
        assert result.returncode == 0, result.stderr
        mark = wait_output(term, rb"NMI received for unknown reason", mark)
        term.send(b"\recho still-alive\r")
        mark = wait_output(term, rb"still-alive\r\n", mark)

        term.child.setwinsize(40, 150)
        term.screen.resize(40, 150)
        mark = wait_output(term, rb"stty rows 40 cols 150", mark)
        term.send(b"stty size\r")
        mark = wait_output(term, rb"\r\n40 150\r\n", mark)

        result = run_cli("reset", "--yes", guest.telnet_url, "--qmp", guest.qmp_path, timeout=60)
        assert result.returncode == 0, result.stderr
        mark = wait_output(term, rb"Linux version 6\.", mark, timeout=90)  # the new boot, in the same session
        wait_output(term, rb"sercon-guest login: ", mark, timeout=90)
        term.send(b"\x1dq")
        assert term.wait_exit() == 0
    finally:
        term.close()


def test_logout_on_exit_leaves_the_getty_at_a_login_prompt(guest):
    assert send(guest, "", "--expect", "login: $", timeout="60").returncode == 0
    assert send(guest, "guest", "--expect", "Password: $").returncode == 0
    assert send(guest, PASSWORD, "--expect", PROMPT).returncode == 0
    term = connect(guest, "--logout-on-exit", "--logout-sequence", r"exit\r")
    try:
        term.send(b"\r")
        wait_output(term, SCREEN_PROMPT, 0)
        term.send(b"\x1dq")
        term.wait_text("logged out: the console is at a login prompt", timeout=30)
        assert term.wait_exit() == 0
    finally:
        term.close()
    assert send(guest, "", "--expect", "login: $").returncode == 0


def test_enter_tilde_dot_quits_at_a_busybox_prompt_that_asks_for_the_cursor(guest):
    """busybox asks the terminal where the cursor is at each prompt; the answer must not count as typing."""
    term = connect(guest)
    try:
        mark = len(term.raw)
        term.send(b"\r")
        mark = wait_output(term, rb"login: $|\$ \x1b\[6n$", mark)
        if term.raw.endswith(b"login: "):
            term.send(b"guest\r")
            mark = wait_output(term, rb"Password: $", mark)
            term.send(PASSWORD.encode() + b"\r")
            mark = wait_output(term, rb"\$ \x1b\[6n$", mark)
            term.send(b"\x1b[3;23R")
        mark = len(term.raw)
        term.send(b"\r")
        wait_output(term, rb"\$ \x1b\[6n$", mark)  # the prompt, then the query
        term.send(b"\x1b[3;23R")  # the local terminal's answer (pyte does not send one itself)
        term.send(b"~.")
        assert term.wait_exit(15) == 0
    finally:
        term.close()


def test_guest_killed_mid_session_exits_7_with_the_terminal_restored(guest):
    from tests.support.shell_around import modes, shell_around

    term = shell_around([*SERCON, "connect", "--no-reconnect", guest.telnet_url])
    try:
        term.wait_text("[sercon] connected")
        guest.process.kill()
        before, after, status = modes(term)
        assert status == 7 and before == after
    finally:
        term.close()


def test_sysrq_over_a_pty_goes_through_qmp(guest_image, tmp_path):
    """A pty cannot carry BREAK; with --qmp sercon has QEMU put it on the line (chardev-send-break)."""
    from sercon_emulator.qemu import QemuGuest

    vm = QemuGuest(guest_image, tmp_path, serial="pty").start()
    try:
        vm.wait_for(b"login: ", timeout=90)
        for qmp_args, works in (([], False), (["--qmp", vm.qmp_path], True)):
            term = Terminal(["connect", vm.pty_path, *qmp_args], cols=200, rows=30)
            try:
                assert sysrq_help_seen(term, works) == works, qmp_args  # tcsendbreak on a pty reaches nobody
                term.send(b"\x1dq")
                assert term.wait_exit() == 0
            finally:
                term.close()
    finally:
        vm.stop()


def sysrq_help_seen(term: Terminal, expected: bool) -> bool:
    term.connected()
    mark = 0
    for _ in range(40):  # QEMU notices a reader on its pty within a second or two
        term.send(b"\r")
        try:
            mark = wait_output(term, rb"login: ", mark, timeout=0.5)
            break
        except AssertionError:
            continue
    term.send(b"\x1ds")
    if not expected:  # a pty without --qmp cannot carry BREAK: the menu says so and sends nothing
        term.wait_text("sysrq is not available on this console")
        term.send(b"\x1b")
        try:
            wait_output(term, rb"sysrq: HELP", mark, timeout=3)
        except AssertionError:
            return False
        return True
    term.send(b"h")
    try:
        wait_output(term, rb"sysrq: HELP", mark, timeout=30)
    except AssertionError:
        return False
    return True


def test_a_password_that_looks_like_an_option(tmp_path):
    import gzip

    from sercon_emulator.qemu import initramfs

    archive = gzip.decompress(initramfs(tmp_path, "-QwU-leading-dash").read_bytes())
    assert b"guest:$6$" in archive
